"""Surface registration of a scan (point cloud or mesh) to a reference, from any pose.

1. Global initialisation with Open3D: both sides are thinned to a voxel grid,
   described by FPFH features and matched by RANSAC (or Fast Global
   Registration); several hypotheses are scored after a short ICP, so a partial
   scan or a few outliers do not lock onto a wrong pose.
2. Refinement: robust point-to-plane ICP against the exact reference surface
   (:mod:`sim.registration.icp`) when the reference is a mesh, Open3D's
   point-to-plane ICP with a Tukey loss when it is only a point cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.geometry.rigid import apply_transform
from sim.geometry.triangles import points_on_triangles
from sim.inspection.distance import MeshDistance, triangles_of
from sim.progress import Progress, no_progress, sub_progress
from sim.registration.hypotheses import (
    AMBIGUITY_MARGIN,
    Candidate,
    SurfaceSamples,
    balanced_sample,
    coarse,
    dominant_plane,
    plane_family,
    rank,
)
from sim.registration.icp import IcpResult, evaluate, point_to_mesh_icp

GLOBAL_METHODS = ("ransac", "fgr", "none")
_GLOBAL_POINTS = 4000  # about this many points per side for the feature match
_FINE_POINTS = 20_000  # moving points used in ICP (the result is scored on all of them)
_FEATURE_RADIUS = 5.0  # FPFH radius in voxels
_RANSAC_ITERATIONS = 100_000
_MESH_SAMPLES = 100_000  # points drawn from a moving mesh's surface
_GOOD_FIT = 0.8  # coarse fitness (on the normal-balanced sample: walls and rims weigh as
# much as the big faces, so a right pose scores 0.85-0.9) above which no other RANSAC draw is tried
_SCORE_POINTS = 8000  # scan points on which competing poses are judged


@dataclass(frozen=True)
class SurfaceResult:
    """Registration outcome: the moving -> fixed matrix and how well it fits."""

    matrix: np.ndarray
    fitness: float  # fraction of moving points within inlier_distance of the reference
    inlier_rms: float  # mm
    inlier_distance: float  # mm
    method: str
    iterations: int
    details: dict[str, Any] = field(default_factory=dict)
    # True when other, clearly different poses fit the scan about as well: ``matrix`` is then
    # only the best-scoring of ``candidates`` and must not be applied without landmarks.
    ambiguous: bool = False
    candidates: tuple[Candidate, ...] = ()  # the poses that fit about equally (ambiguous only)

    @property
    def message(self) -> str:
        if not self.ambiguous:
            return ""
        return (f"Ambiguous: {len(self.candidates)} clearly different poses fit the scan about "
                "equally well (a flat or nearly symmetric part), so none is reported as the "
                "answer. Register with landmarks instead: three or more points picked at the "
                "same features on both objects.")

    def summary(self) -> dict[str, Any]:
        out = {"method": self.method, "matrix": self.matrix.tolist(),
               "fitness": self.fitness, "inlier_rms_mm": self.inlier_rms,
               "inlier_distance_mm": self.inlier_distance, "iterations": self.iterations,
               **self.details, "ambiguous": self.ambiguous}
        if self.ambiguous:
            out["message"] = self.message
            out["candidates"] = [c.as_dict(self.matrix) for c in self.candidates]
        return out


def _o3d():
    import open3d as o3d

    return o3d


def _has_triangles(data: pv.DataSet) -> bool:
    return isinstance(data, pv.PolyData) and data.faces.size > 0 or (
        not isinstance(data, pv.PolyData) and data.n_cells > 0
        and data.extract_surface().faces.size > 0)


def _points_of(data: pv.DataSet, what: str) -> np.ndarray:
    p = np.asarray(data.points, dtype=np.float64)
    if len(p) < 10:
        raise InputError(f"The {what} object has too few points ({len(p)}) to register.")
    if not np.isfinite(p).all():
        raise InputError(f"The {what} object has non-finite coordinates.")
    return p


def _sample_surface(data: pv.DataSet, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points on a mesh with their face normals (area weighted)."""
    v, f = triangles_of(data)
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=1)
    idx, pts = points_on_triangles(tri, n, np.random.default_rng(seed))
    normals = cross[idx] / np.maximum(area[idx, None], 1e-300)
    return pts, normals


def _cloud(points: np.ndarray, normals: np.ndarray | None = None):
    o3d = _o3d()
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    if normals is not None:
        pc.normals = o3d.utility.Vector3dVector(normals)
    return pc


def _features(points: np.ndarray, voxel: float):
    """Voxel-thinned cloud with outward-ish normals and its FPFH features."""
    o3d = _o3d()
    down = _cloud(points).voxel_down_sample(voxel)
    # Stray points (dust, reflections) become lone voxels that would swamp the features;
    # a surface voxel has a dozen neighbours within two voxels, a stray one almost none.
    kept, _ = down.remove_radius_outlier(nb_points=5, radius=2.0 * voxel)
    if len(kept.points) >= 10:
        down = kept
    if not down.has_normals():
        down.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2.5 * voxel, max_nn=30))
        # FPFH is sensitive to the sign of normals and a bare scan has none: propagate a
        # consistent orientation over the surface, then let most of it face outwards.
        if len(down.points) > 3:
            down.orient_normals_consistent_tangent_plane(10)
        c = np.asarray(down.points).mean(axis=0)
        n = np.asarray(down.normals)
        if np.einsum("ij,ij->i", np.asarray(down.points) - c, n).mean() < 0:
            down.normals = o3d.utility.Vector3dVector(-n)
    fpfh = o3d.pipelines.registration.compute_fpfh_feature(
        down, o3d.geometry.KDTreeSearchParamHybrid(radius=_FEATURE_RADIUS * voxel, max_nn=100))
    return down, fpfh


def _global_hypotheses(src, src_f, dst, dst_f, voxel: float, method: str,
                       tries: int, seed: int) -> list[np.ndarray]:
    """Candidate poses: FGR's answer, or those of ``tries`` seeded RANSAC runs."""
    o3d = _o3d()
    reg = o3d.pipelines.registration
    out = []
    if method == "fgr":
        opt = reg.FastGlobalRegistrationOption(maximum_correspondence_distance=1.5 * voxel,
                                               use_absolute_scale=True)
        out.append(np.asarray(reg.registration_fgr_based_on_feature_matching(
            src, dst, src_f, dst_f, opt).transformation))
    for k in range(tries if method == "ransac" else 0):
        o3d.utility.random.seed(seed + k)
        res = reg.registration_ransac_based_on_feature_matching(
            src, dst, src_f, dst_f, mutual_filter=False,
            max_correspondence_distance=1.5 * voxel,
            estimation_method=reg.TransformationEstimationPointToPoint(False), ransac_n=3,
            checkers=[reg.CorrespondenceCheckerBasedOnEdgeLength(0.9),
                      reg.CorrespondenceCheckerBasedOnDistance(1.5 * voxel)],
            criteria=reg.RANSACConvergenceCriteria(_RANSAC_ITERATIONS, 0.9995))
        out.append(np.asarray(res.transformation))
    return out


def register_surface(moving: pv.DataSet, fixed: pv.DataSet, *, init: np.ndarray | None = None,
                     method: str = "ransac", voxel_size: float | None = None,
                     inlier_distance: float | None = None, tries: int = 6, seed: int = 0,
                     progress: Progress = no_progress) -> SurfaceResult:
    """Align ``moving`` (scan or mesh) onto ``fixed`` (mesh or cloud); returns moving -> fixed.

    ``init`` skips the global step when given (method 'none' starts from identity).
    ``inlier_distance`` (mm) defines fitness and inlier RMS; by default it adapts to
    three robust sigmas of the final residuals, at least a tenth of the voxel size.
    """
    if method not in GLOBAL_METHODS:
        raise InputError(f"Unknown global method '{method}' (choose {', '.join(GLOBAL_METHODS)}).")
    mov = _points_of(moving, "moving")
    if _has_triangles(moving):  # a mesh: its vertices cluster at details, sample its surface
        mov = _sample_surface(moving, _MESH_SAMPLES, seed)[0]
    fixed_is_mesh = _has_triangles(fixed)
    fix = _points_of(fixed, "fixed")
    diag = float(np.linalg.norm(fix.max(axis=0) - fix.min(axis=0)))
    if diag <= 0.0:
        raise InputError("The fixed object has no extent.")
    progress(0.02, "Preparing the reference")
    reference = MeshDistance.from_mesh(fixed) if fixed_is_mesh else None
    if fixed_is_mesh:
        area = float(fixed.extract_surface().triangulate().area) if not isinstance(
            fixed, pv.PolyData) else float(fixed.triangulate().area)
        voxel = voxel_size or max(np.sqrt(area / _GLOBAL_POINTS), diag / 400.0)
    else:
        voxel = voxel_size or diag / 60.0
    rng = np.random.default_rng(seed)
    fine = mov if len(mov) <= _FINE_POINTS else mov[rng.choice(len(mov), _FINE_POINTS, False)]
    details: dict[str, Any] = {"voxel_mm": voxel}

    src = src_f = dst = dst_f = None
    if init is not None or method == "none":
        hypotheses = [np.eye(4) if init is None else np.asarray(init, float)]
        label = "ICP from the given pose"
    else:
        progress(0.05, "Matching shape features")
        if fixed_is_mesh:
            n = int(min(max(20 * area / voxel ** 2, 20_000), 400_000))
            fpts, fnrm = _sample_surface(fixed, n, seed)
        else:
            fpts, fnrm = fix, None
        # Normals for the features are estimated the same way on both sides (not taken
        # from the mesh): matching features need identically derived normals.
        dst, dst_f = _features(fpts, voxel)
        src, src_f = _features(mov, voxel)
        if len(src.points) < 10 or len(dst.points) < 10:
            raise InputError("Too few points survive thinning to register; the scan is too sparse.")
        hypotheses = _global_hypotheses(src, src_f, dst, dst_f, voxel, method, 1, seed)
        label = {"ransac": "FPFH RANSAC", "fgr": "FPFH FGR"}[method] + " + point-to-plane ICP"
    progress(0.3, "Scoring candidate poses")
    fine_prog = sub_progress(progress, 0.6, 0.95)
    candidates: list[Candidate] = []
    ambiguous = False
    if reference is not None:
        if init is None and method != "none":
            best_pose, candidates, ambiguous = _global_search(
                src, src_f, dst, dst_f, reference, SurfaceSamples(fpts, fnrm), fine,
                hypotheses, voxel, method, tries, seed, np.asarray(fixed.center, float), rng,
                sub_progress(progress, 0.3, 0.6), details)
        else:
            coarse_pts = fine[rng.choice(len(fine), min(len(fine), 3000), False)]
            best_pose = _score(coarse_pts, reference, hypotheses[0], voxel)[2]
        middle = fine[rng.choice(len(fine), min(len(fine), 10_000), False)]
        approx = point_to_mesh_icp(middle, reference, best_pose, 2.0 * voxel, exact=False,
                                   max_iterations=30, tolerance=1e-7)
        best = point_to_mesh_icp(fine, reference, approx.matrix, max(approx.inlier_distance,
                                                                     voxel / 5.0),
                                 progress=fine_prog)
        final = _final_score(mov, reference, best, inlier_distance, voxel)
        if ambiguous:  # the reported best is the refined one
            candidates[0] = Candidate(final.matrix, candidates[0].misfit, candidates[0].source)
    else:
        final = _cloud_icp(mov, fix, hypotheses, voxel, inlier_distance)
    progress(1.0, "Registered")
    if ambiguous:
        progress(1.0, "Ambiguous: several poses fit; landmarks needed")
    return SurfaceResult(final.matrix, final.fitness, final.inlier_rms, final.inlier_distance,
                         label, final.iterations, details, ambiguous,
                         tuple(candidates) if ambiguous else ())


def _global_search(src, src_f, dst, dst_f, reference: MeshDistance, samples: SurfaceSamples,
                   fine: np.ndarray, hypotheses: list[np.ndarray], voxel: float, method: str,
                   tries: int, seed: int, fixed_centre: np.ndarray, rng: np.random.Generator,
                   progress: Progress, details: dict[str, Any]
                   ) -> tuple[np.ndarray, list[Candidate], bool]:
    """Best pose, the candidates that fit about as well (best first), and whether there
    are several of them (ambiguous)."""
    pts = np.asarray(src.points)
    # Real scan points (voxel centroids sit off the surface at edges) with normals of their
    # own neighbourhood (the features' normals blur a voxel-wide band at every edge).
    o3d = _o3d()
    score = _cloud(fine[rng.choice(len(fine), min(len(fine), _SCORE_POINTS), False)])
    score.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(12))
    score_pts, score_nrm = np.asarray(score.points), np.asarray(score.normals)
    pick = balanced_sample(score_nrm, 800, rng)
    balanced, balanced_nrm = score_pts[pick], score_nrm[pick]
    progress(0.0, "Scoring candidate poses")
    fitted = coarse(balanced, balanced_nrm, samples,
                    [(h, "feature match") for h in hypotheses], voxel)
    # Another RANSAC draw only when no candidate fits well yet (hard, partial scans).
    while method == "ransac" and len(hypotheses) < tries and fitted[0][0] < _GOOD_FIT:
        more = _global_hypotheses(src, src_f, dst, dst_f, voxel, method, 1,
                                  seed + len(hypotheses))
        hypotheses = hypotheses + more
        fitted = sorted(fitted + coarse(balanced, balanced_nrm, samples,
                                        [(h, "feature match") for h in more], voxel),
                        key=lambda t: -t[0])
    plane = dominant_plane(pts, voxel / 5.0, seed)
    if plane is not None:  # a flat part: try every turn in the plane and the flips
        progress(0.2, "Trying turns and flips of a flat part")
        family = plane_family(fitted[0][1], plane[0], pts, fixed_centre, 2.0 * voxel)
        fitted = fitted + coarse(balanced, balanced_nrm, samples, family, voxel)
        details["plane_share"] = plane[1]
    details["hypotheses"] = len(fitted)
    progress(0.7, "Comparing the best poses")
    cands, tau = rank(balanced, balanced_nrm, score_pts, score_nrm, reference, samples,
                      fitted, voxel)
    details["misfit_tolerance_mm"] = tau
    details["misfit"] = cands[0].misfit
    if len(cands) > 1:
        details["runner_up_misfit"] = cands[1].misfit
    close = [c for c in cands if c.misfit - cands[0].misfit < AMBIGUITY_MARGIN]
    return cands[0].matrix, close, len(close) > 1


def _score(points: np.ndarray, reference: MeshDistance, init: np.ndarray,
           voxel: float) -> tuple[float, float, np.ndarray]:
    """(fitness, inlier RMS, refined pose) of a candidate after a short coarse ICP."""
    r = point_to_mesh_icp(points, reference, init, 6.0 * voxel, max_iterations=30,
                          tolerance=1e-6, exact=False)
    # Exact distances here: cheap, since the search stops at half a voxel.
    c = reference.closest(apply_transform(r.matrix, points), max_distance=voxel / 2)
    d = np.abs(c.signed[c.found])
    return float(c.found.mean()), float(np.sqrt(np.mean(d ** 2))) if d.size else np.inf, r.matrix


def _final_score(points: np.ndarray, reference: MeshDistance, res: IcpResult,
                 inlier_distance: float | None, voxel: float) -> IcpResult:
    dist = inlier_distance or max(res.inlier_distance, voxel / 10.0)
    return evaluate(points, reference, res.matrix, dist, iterations=res.iterations)


def _cloud_icp(mov: np.ndarray, fix: np.ndarray, hypotheses: list[np.ndarray], voxel: float,
               inlier_distance: float | None) -> IcpResult:
    """Point-to-plane ICP against a reference that is only a point cloud (Open3D)."""
    o3d = _o3d()
    reg = o3d.pipelines.registration
    src = _cloud(mov).voxel_down_sample(voxel / 4.0)
    dst = _cloud(fix)
    dst.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2.0 * voxel, max_nn=30))
    best = None
    for h in hypotheses:
        m = h
        for dist in (2.0 * voxel, voxel, voxel / 2.0):
            loss = reg.TukeyLoss(k=dist / 2.0)
            res = reg.registration_icp(
                src, dst, dist, m, reg.TransformationEstimationPointToPlane(loss),
                reg.ICPConvergenceCriteria(1e-9, 1e-9, 60))
            m = res.transformation
        if best is None or (res.fitness, -res.inlier_rmse) > (best.fitness, -best.inlier_rmse):
            best = res
    dist = inlier_distance or voxel / 2.0
    ev = reg.evaluate_registration(_cloud(mov), dst, dist, best.transformation)
    return IcpResult(np.asarray(best.transformation), float(ev.fitness), float(ev.inlier_rmse),
                     float(dist), 0)


def transformed(data: pv.DataSet, matrix: np.ndarray) -> pv.DataSet:
    """A copy of ``data`` moved by ``matrix`` (points and normals)."""
    out = data.copy(deep=True)
    out.points = apply_transform(matrix, np.asarray(data.points))
    if "Normals" in out.point_data:
        n = np.asarray(out.point_data["Normals"]) @ np.asarray(matrix)[:3, :3].T
        out.point_data["Normals"] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    return out

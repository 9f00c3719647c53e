"""Competing poses for a global registration, and telling them apart.

A scan of a flat part is mostly one plane: any pose that lays that plane on the
model's largest face fits most points to the noise level, whatever the turn in
the plane or a flip to the other side. Plain fitness cannot rank such poses, so:

* **Hypotheses**: besides the feature matches (RANSAC/FGR), when the scan has a
  dominant plane every turn about its normal (every ``_TURN_STEP`` degrees) and
  the flips to the other side are tried, centred where the feature match put the
  scan and where the model's centre is.
* **Balanced points**: the points each pose is refined and judged on are drawn
  evenly over normal directions (normal-space sampling), so walls, hole and
  pocket sides and rims weigh as much as the big face instead of a few percent.
* **Score**: the weighted fraction of those points that do *not* lie on the
  model (farther than a few noise sigmas, or with a normal across the surface's).
* **Ambiguity**: when the best pose and the best *different* one (turned by more
  than a few degrees or shifted) differ by fewer misfits than a margin, the data
  cannot choose between them; the result says so instead of picking one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.geometry.rigid import apply_transform, rotation_about, rotation_angle_deg, rotvec_matrices
from sim.inspection.distance import MeshDistance

_TURN_STEP = 15.0  # degrees between in-plane turns tried (coarse ICP covers the rest)
_PLANE_SHARE = 0.2  # a plane holding this share of the scan makes the part "flat"
_DISTINCT_DEG = 3.0  # poses farther apart than this are different answers
AMBIGUITY_MARGIN = 0.02  # best pose must misfit this much (weighted share) less than the next
_KEEP = 8  # poses refined exactly and scored


@dataclass(frozen=True)
class Candidate:
    """A refined pose (moving -> fixed) and how badly the balanced points misfit."""

    matrix: np.ndarray
    misfit: float  # weighted share of balanced points off the model (0 = all on it)
    source: str  # where the hypothesis came from

    def as_dict(self, best: np.ndarray | None = None) -> dict:
        out = {"matrix": np.asarray(self.matrix).tolist(), "misfit": float(self.misfit),
               "source": self.source}
        if best is not None:
            out["turn_from_best_deg"] = rotation_angle_deg(
                np.asarray(self.matrix)[:3, :3] @ np.asarray(best)[:3, :3].T)
        return out


def normal_bins(normals: np.ndarray) -> np.ndarray:
    """A bin index per normal direction (antipodal normals share a bin): about 60 bins."""
    n = np.asarray(normals, float)
    n = np.where(n[:, 2:3] < 0.0, -n, n)  # the upper hemisphere
    theta = np.arccos(np.clip(n[:, 2], -1.0, 1.0))  # 0..pi/2
    phi = np.arctan2(n[:, 1], n[:, 0])  # -pi..pi
    ring = np.minimum((theta / (np.pi / 2) * 5).astype(int), 4)
    sectors = np.array([1, 6, 12, 16, 24])[ring]
    sector = np.minimum(((phi + np.pi) / (2 * np.pi) * sectors).astype(int), sectors - 1)
    return ring * 100 + sector


def balanced_weights(normals: np.ndarray) -> np.ndarray:
    """Weights that give every normal bin the same total (each sums to one)."""
    bins = normal_bins(normals)
    _, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def balanced_sample(normals: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of about ``n`` points spread evenly over normal bins (normal-space sampling)."""
    w = balanced_weights(normals)
    if len(w) <= n:
        return np.arange(len(w))
    return rng.choice(len(w), size=n, replace=False, p=w / w.sum())


def dominant_plane(points: np.ndarray, distance: float,
                   seed: int = 0) -> tuple[np.ndarray, float] | None:
    """(unit normal, share of points) of the scan's largest plane, if it holds a big share."""
    import open3d as o3d

    if len(points) < 50:
        return None
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, float)))
    o3d.utility.random.seed(seed)
    model, inliers = pc.segment_plane(distance_threshold=distance, ransac_n=3,
                                      num_iterations=500)
    share = len(inliers) / len(points)
    if share < _PLANE_SHARE:
        return None
    normal = np.asarray(model[:3], float)
    return normal / np.linalg.norm(normal), share


def _turn(axis: np.ndarray, degrees: float, centre: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    r = rotation_about(axis, np.radians(degrees))
    m[:3, :3] = r
    m[:3, 3] = centre - r @ centre
    return m


def plane_family(anchor: np.ndarray, normal: np.ndarray, points: np.ndarray,
                 fixed_centre: np.ndarray, centre_shift: float) -> list[tuple[np.ndarray, str]]:
    """Poses that differ from ``anchor`` by a turn about the scan plane's normal (moving
    frame) and optionally a flip to the plane's other side; each about the scan's centre
    where ``anchor`` puts it, and also shifted to put that centre on ``fixed_centre``'s
    line along the normal (when that is more than ``centre_shift`` mm away)."""
    n = np.asarray(normal, float)
    c = np.asarray(points, float).mean(axis=0)
    u = np.cross(n, np.eye(3)[np.argmin(np.abs(n))])
    u /= np.linalg.norm(u)
    flip = _turn(u, 180.0, c)
    moved_c = apply_transform(anchor, c[None])[0]
    n_fixed = anchor[:3, :3] @ n
    shift = np.eye(4)
    d = fixed_centre - moved_c
    shift[:3, 3] = d - (d @ n_fixed) * n_fixed  # in the plane only
    out = []
    for deg in np.arange(0.0, 360.0, _TURN_STEP):
        turn = _turn(n, deg, c)
        for flipped in (False, True):
            local = turn @ flip if flipped else turn
            tag = f"turn {deg:.0f}{' flipped' if flipped else ''}"
            if deg or flipped:
                out.append((anchor @ local, tag))
            if np.linalg.norm(shift[:3, 3]) > centre_shift:
                out.append((shift @ anchor @ local, tag + " centred"))
    return out


def misfit(points: np.ndarray, normals: np.ndarray, reference: MeshDistance,
           matrix: np.ndarray, tau: float) -> np.ndarray:
    """Per point 1.0 where it is off the model under ``matrix`` (farther than ``tau``, or
    its normal more than 60 degrees from the surface's), else 0.0."""
    moved = apply_transform(matrix, points)
    c = reference.closest(moved, max_distance=tau)
    d = np.where(c.found, np.abs(np.nan_to_num(c.signed, nan=np.inf)), np.inf)
    rn = normals @ np.asarray(matrix)[:3, :3].T
    agree = np.abs(np.einsum("ij,ij->i", rn, np.nan_to_num(c.normals))) >= 0.5
    return (~((d <= tau) & agree)).astype(float)


class SurfaceSamples:
    """Dense samples of the reference surface with their face normals in a KD-tree: the
    closest sample and its tangent plane stand in for the surface in batched ICP."""

    def __init__(self, points: np.ndarray, normals: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        # Boxes not shrunk to their points (compact_nodes=False) prune these surface samples
        # twice as fast for the far-off points of wrong poses; same neighbours (measured).
        self.tree = cKDTree(np.asarray(points, float), balanced_tree=False, compact_nodes=False)
        self.normals = np.asarray(normals, float)

    def query(self, p: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found, closest sample, its normal) for (..., 3) points."""
        shape = p.shape[:-1]
        d, i = self.tree.query(p.reshape(-1, 3), distance_upper_bound=cutoff, workers=-1)
        found = np.isfinite(d)
        i = np.minimum(i, len(self.normals) - 1)
        return (found.reshape(shape), self.tree.data[i].reshape(*shape, 3),
                self.normals[i].reshape(*shape, 3))


def batch_icp(points: np.ndarray, normals: np.ndarray, samples: SurfaceSamples,
              inits: np.ndarray, start: float, stop: float,
              iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Point-to-plane ICP of the same points from many starting poses at once.

    The correspondence cutoff shrinks geometrically from ``start`` to ``stop`` (mm)
    instead of following the residuals, so a flat part's big face cannot pin it while
    walls and rims are still far off. Returns the poses (h, 4, 4) and, per pose, the
    weighted share of points (weights even over normal directions) within ``stop`` of
    the surface along its normal and with a normal within 60 degrees of the surface's.
    """
    weights = balanced_weights(normals)
    m = np.array(inits, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    shrink = (stop / start) ** (1.0 / max(iterations - 1, 1))
    cutoff = start
    for _ in range(iterations):
        moved = np.einsum("hij,nj->hni", m[:, :3, :3], p) + m[:, None, :3, 3]
        found, q, nrm = samples.query(moved, cutoff)
        r = np.einsum("hni,hni->hn", moved - q, nrm)
        k = max(cutoff, 1e-9)
        w = np.where(found & (np.abs(r) < k), (1.0 - (r / k) ** 2) ** 2, 0.0)
        a = np.concatenate([np.cross(moved, nrm), nrm], axis=2)
        aw = a * w[..., None]
        h = np.einsum("hni,hnj->hij", aw, a)
        g = np.einsum("hni,hn->hi", aw, r)
        reg = 1e-9 * np.trace(h, axis1=1, axis2=2)[:, None, None] + 1e-12
        delta = -np.linalg.solve(h + reg * np.eye(6), g[..., None])[..., 0]
        step = np.tile(np.eye(4), (len(m), 1, 1))
        step[:, :3, :3] = rotvec_matrices(delta[:, :3])
        step[:, :3, 3] = delta[:, 3:]
        m = step @ m
        cutoff = max(cutoff * shrink, stop)
    moved = np.einsum("hij,nj->hni", m[:, :3, :3], p) + m[:, None, :3, 3]
    found, q, nrm = samples.query(moved, 2.0 * stop)
    r = np.abs(np.einsum("hni,hni->hn", moved - q, nrm))
    turned = np.einsum("hij,nj->hni", m[:, :3, :3], normals)
    agree = np.abs(np.einsum("hni,hni->hn", turned, nrm)) >= 0.5
    return m, ((found & (r <= stop) & agree) * weights).sum(axis=1) / weights.sum()


def coarse(points: np.ndarray, normals: np.ndarray, samples: SurfaceSamples,
           hypotheses: list[tuple[np.ndarray, str]],
           voxel: float) -> list[tuple[float, np.ndarray, str]]:
    """(share of ``points`` on the surface, refined pose, tag) of each hypothesis after a
    short coarse ICP, best first."""
    if not hypotheses:
        return []
    mats, share = batch_icp(points, normals, samples, np.array([h for h, _ in hypotheses]),
                            6.0 * voxel, voxel / 8.0, 18)
    out = [(float(s), m, tag) for s, m, (_, tag) in zip(share, mats, hypotheses, strict=True)]
    out.sort(key=lambda t: -t[0])
    return out


def distinct(a: np.ndarray, b: np.ndarray, at: np.ndarray, shift: float) -> bool:
    """Whether two poses are different answers: turned or moved (at ``at``) apart."""
    turn = rotation_angle_deg(np.asarray(a)[:3, :3] @ np.asarray(b)[:3, :3].T)
    moved = np.linalg.norm(apply_transform(a, at[None]) - apply_transform(b, at[None]))
    return turn > _DISTINCT_DEG or moved > shift


def rank(balanced: np.ndarray, balanced_normals: np.ndarray, points: np.ndarray,
         normals: np.ndarray,
         reference: MeshDistance, samples: SurfaceSamples,
         fitted: list[tuple[float, np.ndarray, str]],
         voxel: float) -> tuple[list[Candidate], float]:
    """Refine the best distinct coarse poses finely and score them on ``points`` (real scan
    points with ``normals``) weighted evenly over normal directions: distinct candidates
    best first, and the distance (mm) that counted as on the model."""
    weights = balanced_weights(normals)
    centre = points.mean(axis=0)
    kept: list[tuple[np.ndarray, str]] = []
    for _, m, tag in sorted(fitted, key=lambda t: -t[0]):
        if all(distinct(m, k, centre, voxel) for k, _ in kept):
            kept.append((m, tag))
        if len(kept) == _KEEP:
            break
    mats, _ = batch_icp(balanced, balanced_normals, samples, np.array([m for m, _ in kept]),
                        voxel,
                        voxel / 20.0, 20)
    # The scan's noise: robust sigma of the exact distances under the best-fitting pose.
    sigmas = []
    for m in mats:
        c = reference.closest(apply_transform(m, points[::3]), max_distance=voxel / 4.0)
        d = np.abs(c.signed[c.found])
        sigmas.append(1.4826 * float(np.median(d)) if d.size > 10 else np.inf)
    tau = float(np.clip(4.0 * min(sigmas), voxel / 40.0, voxel / 2.0))
    out = []
    for m, (_, tag) in zip(mats, kept, strict=True):
        mis = misfit(points, normals, reference, m, tau)
        out.append(Candidate(m, float((weights * mis).sum() / weights.sum()), tag))
    out.sort(key=lambda c: c.misfit)
    unique: list[Candidate] = []
    for c in out:
        if all(distinct(c.matrix, u.matrix, centre, voxel) for u in unique):
            unique.append(c)
    return unique, tau

"""Robust point-to-plane ICP of points onto a triangle mesh (exact closest points).

Each iteration takes the exact closest point on the reference mesh for every
moving point (:class:`~sim.inspection.distance.MeshDistance`), drops pairs
beyond an adaptive distance (partial overlap, outliers), down-weights the rest
with Tukey's biweight, and solves the linearised point-to-plane problem.
Matching against the true surface rather than sampled points is what lets a
clean scan converge to the exact pose (to 1e-6) and a noisy one to its noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.geometry.rigid import apply_transform, rotation_about
from sim.inspection.distance import MeshDistance
from sim.progress import Progress, no_progress


@dataclass(frozen=True)
class IcpResult:
    matrix: np.ndarray  # moving -> fixed
    fitness: float  # fraction of moving points within the inlier distance
    inlier_rms: float  # RMS distance (mm) of those points
    inlier_distance: float  # mm
    iterations: int


def _robust_scale(d: np.ndarray) -> float:
    """1.4826 * median absolute distance: a noise sigma unaffected by outliers."""
    return 1.4826 * float(np.median(np.abs(d))) if d.size else 0.0


def point_to_mesh_icp(points: np.ndarray, reference: MeshDistance, init: np.ndarray,
                      max_distance: float, *, max_iterations: int = 60,
                      tolerance: float = 1e-10, min_distance: float = 0.0, exact: bool = True,
                      progress: Progress = no_progress) -> IcpResult:
    """Refine ``init`` (moving -> fixed) so ``points`` lie on the reference surface.

    ``max_distance`` bounds the first correspondences (mm); later ones shrink to
    three robust sigmas of the residuals, never below ``min_distance``. ``exact=False``
    matches against dense surface samples instead (coarse alignment from far away).
    """
    p = np.asarray(points, dtype=np.float64)
    m = np.asarray(init, dtype=np.float64).copy()
    cutoff = float(max_distance)
    it = 0
    for it in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        progress(it / max_iterations, "Refining the alignment (ICP)")
        moved = apply_transform(m, p)
        c = (reference.closest(moved, max_distance=cutoff) if exact
             else reference.approximate_closest(moved, max_distance=cutoff))
        diff = moved - c.points
        dist = np.linalg.norm(diff, axis=1)
        use = c.found & (dist <= cutoff)
        if use.sum() < 6:
            break
        # The normal of the plane to slide on: along the offset when it is clear,
        # else the surface's pseudo-normal (points lying on the surface).
        n = c.normals[use] / np.linalg.norm(c.normals[use], axis=1, keepdims=True)
        # Against samples the offset points at a sample, not across the surface: use the
        # face normal there (plain point-to-plane).
        off = (dist[use] > 1e-9 * (1.0 + cutoff)) & exact
        n[off] = diff[use][off] / dist[use][off, None]
        x, q = moved[use], c.points[use]
        r = np.einsum("ij,ij->i", x - q, n)
        sigma = max(_robust_scale(r), min_distance / 3.0, 1e-12)
        k = 4.685 * sigma  # Tukey's biweight constant for 95 % efficiency
        w = np.where(np.abs(r) < k, (1.0 - (r / k) ** 2) ** 2, 0.0)
        a = np.hstack([np.cross(x, n), n])
        aw = a * w[:, None]
        h = aw.T @ a
        g = aw.T @ r
        try:
            delta = -np.linalg.solve(h + 1e-12 * np.trace(h) * np.eye(6), g)
        except np.linalg.LinAlgError:
            break
        omega, t = delta[:3], delta[3:]
        angle = float(np.linalg.norm(omega))
        step = np.eye(4)
        step[:3, :3] = rotation_about(omega, angle) if angle > 0 else np.eye(3)
        step[:3, 3] = t
        m = step @ m
        cutoff = max(min(cutoff, 3.0 * max(_robust_scale(dist[use]), sigma) + 1e-9),
                     min_distance)
        if angle < tolerance and np.linalg.norm(t) < tolerance * (1.0 + cutoff):
            break
    if not exact:
        return IcpResult(m, float("nan"), float("nan"), max(cutoff, min_distance), it)
    return evaluate(points, reference, m, max(cutoff, min_distance), iterations=it)


def evaluate(points: np.ndarray, reference: MeshDistance, matrix: np.ndarray,
             inlier_distance: float, iterations: int = 0) -> IcpResult:
    """Fitness and inlier RMS of ``points`` under ``matrix`` against the reference."""
    c = reference.closest(apply_transform(matrix, points), max_distance=inlier_distance)
    d = np.abs(c.signed)
    inl = c.found & (d <= inlier_distance)
    fitness = float(inl.mean()) if len(d) else 0.0
    rms = float(np.sqrt(np.mean(d[inl] ** 2))) if inl.any() else float("nan")
    return IcpResult(matrix, fitness, rms, float(inlier_distance), iterations)

"""The numerical core of deformable registration: pose + load amplitudes fitted to sparse points.

Unknowns: a small rigid correction (rotation vector w, translation t) of the data and the
amplitudes a of the organ's load responses (:class:`~sim.registration.load_basis.LoadBasis`).
Each data point y_i pulls the nearest point c_i of the deformed surface (a boundary force:
point-to-plane, so the surface may slide under a point, as under a stylus):

    r_i = n_i . (y_i - c_i(a)),   c_i linear in a through the surface embedding.

Gauss-Newton iterations update correspondences, normals and robust Tukey weights, and
minimise   sum_i w_i r_i^2 / sigma^2  +  lam |a|^2.

**Balance of data and elasticity.** sigma is the stated noise level: it fixes the weight of
the data. lam = 1 / s^2, where s is the prior spread of the load amplitudes (mm), is chosen in
every iteration by maximising the Bayesian evidence (marginal likelihood) of the linearised
problem (MacKay's evidence framework): lam that makes the observed misfit most probable given
sigma. Data that the pose alone explains to within sigma give the largest lam (no
deformation: noise is not fitted); the more the data depart from the rigid shape, the
smaller lam. The posterior covariance H^-1 of the same problem is the uncertainty map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sim.geometry.rigid import rotation_about
from sim.inspection.distance import MeshDistance
from sim.progress import Progress, no_progress

TUKEY = 4.685  # biweight constant (95 % efficiency under Gaussian noise)
LAMBDAS = np.logspace(-3, 5, 41)  # the evidence search grid for lam (1/mm^2)


@dataclass
class FitState:
    """Pose, amplitudes and the data terms of one fit."""

    T: np.ndarray  # 4x4 data -> organ frame
    a: np.ndarray  # (m,) load amplitudes, mm
    residual: np.ndarray  # (n_data,) signed distance to the deformed surface (+ outside), mm
    weight: np.ndarray  # (n_data,) robust weight in [0, 1]
    lam: float
    H: np.ndarray  # (6 + m, 6 + m) posterior precision of (w, t, a)
    iterations: int = 0
    converged: bool = False

    @property
    def rms(self) -> float:
        """Weighted RMS of the residuals (the robust inliers' misfit), mm."""
        w = self.weight
        return float(np.sqrt((w * self.residual ** 2).sum() / max(w.sum(), 1e-300)))


def robust_weights(r: np.ndarray, sigma: float) -> np.ndarray:
    """Tukey biweights of residuals; the scale is the noise level or the residuals' robust
    spread when larger (early iterations, before the organ has deformed onto the data)."""
    mad = 1.4826 * float(np.median(np.abs(r))) if len(r) else 0.0
    c = TUKEY * max(sigma, mad)
    return np.where(np.abs(r) < c, (1.0 - (r / c) ** 2) ** 2, 0.0)


def barycentric(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (k, 3) of points p (k, 3) in triangles tri (k, 3, 3)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, p - a
    d00 = np.einsum("ij,ij->i", v0, v0)
    d01 = np.einsum("ij,ij->i", v0, v1)
    d11 = np.einsum("ij,ij->i", v1, v1)
    d20 = np.einsum("ij,ij->i", v2, v0)
    d21 = np.einsum("ij,ij->i", v2, v1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) > 0, den, 1.0)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    out = np.clip(np.column_stack([1.0 - v - w, v, w]), 0.0, 1.0)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-300)


def _apply(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ T[:3, :3].T + T[:3, 3]


class ReducedFit:
    """Surface vertices V (k, 3) of the organ at amplitudes ``a_ref`` (the pre-op organ at
    zero) and their basis responses Us (k, 3, m) there: surface(a) = V + Us (a - a_ref)
    (exact for the linear basis, the tangent for the co-rotational one)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, Us: np.ndarray,
                 a_ref: np.ndarray | None = None) -> None:
        self.V, self.faces, self.Us = vertices, faces, Us
        self.m = Us.shape[2]
        self.a_ref = np.zeros(self.m) if a_ref is None else np.asarray(a_ref, dtype=float)
        self._distance: MeshDistance | None = None  # the last surface's, its topology reused

    def surface(self, a: np.ndarray) -> np.ndarray:
        return self.V + self.Us @ (a - self.a_ref)

    def linearise(self, pts: np.ndarray, T: np.ndarray, a: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Residuals r (n,) and their Jacobian J (n, 6 + m) at (T, a)."""
        y = _apply(T, pts)
        v = self.surface(a)
        md = MeshDistance(v, self.faces) if self._distance is None else self._distance.deformed(v)
        self._distance = md
        c = md.closest(y)
        if len(md.vertices) != len(v):  # welded vertices would renumber the triangles
            raise ValueError("duplicate surface vertices")
        tri = md.faces[c.triangles]
        bary = barycentric(c.points, v[tri])
        n = c.normals / np.maximum(np.linalg.norm(c.normals, axis=1, keepdims=True), 1e-300)
        r = np.einsum("ij,ij->i", y - c.points, n)
        dc = np.einsum("ik,ikdm->idm", bary, self.Us[tri])  # (n, 3, m)
        J = np.hstack([np.cross(y, n), n, -np.einsum("id,idm->im", n, dc)])
        return r, J

    def fit(self, pts: np.ndarray, sigma: float, T0: np.ndarray, a0: np.ndarray,
            max_iterations: int = 40, lam: float | None = None,
            tolerance: float = 0.01, progress: Progress = no_progress) -> FitState:
        """Gauss-Newton from (T0, a0); ``lam`` fixed, or chosen by evidence (None).

        Stops when no surface point moves by more than ``tolerance`` * sigma in a step."""
        from threadpoolctl import threadpool_limits

        # Dense algebra of ~130 unknowns: threads only wait for each other (measured 25x
        # slower eigh with two OpenBLAS threads on a loaded two-core machine).
        with threadpool_limits(1, "blas"):
            return self._fit(pts, sigma, T0, a0, max_iterations, lam, tolerance * sigma,
                             progress)

    def _fit(self, pts: np.ndarray, sigma: float, T0: np.ndarray, a0: np.ndarray,
             max_iterations: int, lam: float | None, tolerance: float,
             progress: Progress) -> FitState:
        T, a = np.array(T0, dtype=float), np.array(a0, dtype=float)
        m = self.m
        D = np.concatenate([np.zeros(6), np.ones(m)])
        grid = LAMBDAS if lam is None else np.array([lam])
        chosen = float(grid[-1])
        reach = float(np.linalg.norm(self.V - self.V.mean(axis=0), axis=1).max())
        it, converged = 0, False
        r, J = self.linearise(pts, T, a)
        for it in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
            progress(it / (max_iterations + 1), f"Fitting the deformation (iteration {it})")
            w = robust_weights(r, sigma)
            Jw = J * (w / sigma ** 2)[:, None]
            JtJ = Jw.T @ J
            g = Jw.T @ r
            chosen, d, H = _best_step(JtJ, g, r, w, sigma, a, D, grid)
            if lam is None and it >= 8:  # settle the balance, then converge the geometry
                grid = np.array([chosen])
            before = float((w * r ** 2).sum() / sigma ** 2 + chosen * (a ** 2).sum())
            # Backtrack when a point jumping to another triangle makes the step overshoot.
            for _ in range(3):
                T_new, a_new = _twist(d[:3], d[3:6]) @ T, a + d[6:]
                r_new, J_new = self.linearise(pts, T_new, a_new)
                after = float((w * r_new ** 2).sum() / sigma ** 2 + chosen * (a_new ** 2).sum())
                if after <= before or _motion(self.Us, d, reach) < tolerance:
                    break
                d = 0.5 * d
            else:  # no step along this direction lowers the objective: at its floor
                converged = True
                break
            T, a, r, J = T_new, a_new, r_new, J_new
            # Converged when the surface stops moving, or the objective stops falling (a
            # point hopping between two triangles makes the last steps cycle).
            if abs(before - after) < 1e-6 * max(before, 1.0):
                converged = True
                break
            # Largest motion of the surface in this step: deformation plus the pose change
            # over the organ's reach.
            if _motion(self.Us, d, reach) < tolerance:
                converged = True
                break
        w = robust_weights(r, sigma)
        H = (J * (w / sigma ** 2)[:, None]).T @ J + chosen * np.diag(D)
        return FitState(T, a, r, w, chosen, H, it, converged)


def _motion(Us: np.ndarray, d: np.ndarray, reach: float) -> float:
    """Largest surface motion (mm) of a step: deformation plus pose change over the reach."""
    return float(np.abs(Us @ d[6:]).max()) + float(np.linalg.norm(d[3:6])) \
        + reach * float(np.linalg.norm(d[:3]))


def _twist(w: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    ang = float(np.linalg.norm(w))
    out[:3, :3] = rotation_about(w, ang) if ang > 0 else np.eye(3)
    out[:3, 3] = t
    return out


def _best_step(JtJ: np.ndarray, g: np.ndarray, r: np.ndarray, w: np.ndarray, sigma: float,
               a: np.ndarray, D: np.ndarray, grid: np.ndarray
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """The Gauss-Newton step for the lam of highest evidence on ``grid``.

    log p(data | lam) = -1/2 phi_min - 1/2 log det H + m/2 log lam (+ const), with phi the
    linearised objective at its minimum and H = J^T W J / sigma^2 + lam D its Hessian. The
    pose block is eliminated (Schur complement S) and S diagonalised once, so every lam on
    the grid costs a few matrix-vector products.
    """
    k = len(D) - int(D.sum())  # pose parameters (not regularised)
    scale = max(float(np.abs(JtJ).max()), 1.0)
    Arr = JtJ[:k, :k] + 1e-10 * scale * np.eye(k)
    Ara, Aaa = JtJ[:k, k:], JtJ[k:, k:]
    Arr_inv = np.linalg.inv(Arr)
    S = Aaa - Ara.T @ Arr_inv @ Ara
    h = g[k:] - Ara.T @ (Arr_inv @ g[:k])
    evals, Q = np.linalg.eigh(0.5 * (S + S.T))
    evals = np.maximum(evals, 0.0)
    logdet_rr = float(np.linalg.slogdet(Arr)[1])
    base = float((w * r ** 2).sum() / sigma ** 2)
    m = len(a)
    best = None
    for lam in grid:
        da = -Q @ ((Q.T @ (h + lam * a)) / (evals + lam))
        dr = -Arr_inv @ (g[:k] + Ara @ da)
        d = np.concatenate([dr, da])
        phi = base + 2 * g @ d + d @ (JtJ @ d) + lam * float(((a + da) ** 2).sum())
        logev = -0.5 * phi - 0.5 * (logdet_rr + float(np.log(evals + lam).sum())) \
            + 0.5 * m * np.log(lam)
        if best is None or logev > best[0]:
            best = (logev, float(lam), d)
    _, lam, d = best
    return lam, d, JtJ + lam * np.diag(D)


def strains(X: np.ndarray, x: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Largest principal strain magnitude |stretch - 1| of every tetrahedron."""
    dm = (X[cells[:, 1:]] - X[cells[:, :1]]).transpose(0, 2, 1)
    ds = (x[cells[:, 1:]] - x[cells[:, :1]]).transpose(0, 2, 1)
    s = np.linalg.svd(ds @ np.linalg.inv(dm), compute_uv=False)
    return np.abs(s - 1.0).max(axis=1)


def embedding_responses(E: sp.spmatrix, U: np.ndarray) -> np.ndarray:
    """Basis responses (k, 3, m) at k embedded points (embedding matrix E, (k, n))."""
    n = E.shape[1]
    U3 = U.reshape(n, 3, -1)
    return np.stack([E @ U3[:, d, :] for d in range(3)], axis=1)

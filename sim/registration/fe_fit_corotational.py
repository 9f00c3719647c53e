"""Co-rotational (rotation-corrected) deformation for the fit: large turns without inflation.

The linear basis (:mod:`sim.registration.load_basis`) answers a load with a displacement
proportional to it. Under small motion that is right; when part of the organ turns by tens of
degrees, linear elasticity represents the turn by its tangent (points move along straight
lines), which stretches and shears the turned part - the volume-inflation artefact. Here, as
in co-rotational FE, rotation is taken out of each element: the linear response's gradient
H = grad u splits into strain eps = sym H and infinitesimal rotation omega = skew H; the element
is given the finite rotation exp(omega) of that rotation vector and keeps the strain,
F = exp(omega) (I + eps), and the organ's positions are those whose element gradients best match
F (least squares: one P1 Laplacian, factorised once per organ; the idea of modal warping,
Choi & Ko 2005). A part turned rigidly keeps its size and shape. The fit works on the tangent
(the basis' gradients turned by the element rotations) at the current amplitudes; outer
iterations (fit, re-evaluate, re-linearise) repeat until the surface stops moving
(:func:`corotational_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sim.fem.body import Body
from sim.fem.linsolve import factorize
from sim.fem.materials import Material
from sim.mesh.tetmesh import TetMesh
from sim.registration.fe_fit import FitState, ReducedFit, embedding_responses
from sim.registration.load_basis import LoadBasis

if TYPE_CHECKING:
    from sim.registration.deformable import DeformableModel

MATERIAL_MODELS = ("auto", "linear", "corotational", "neo-hookean")
AUTO_ROTATION_DEG = 15.0  # "auto": co-rotational once the linear fit turns an element this much


@dataclass
class NonlinearDeformation:
    """The rotation-corrected deformation at amplitudes ``a`` and its tangent there."""

    a: np.ndarray  # (m,) load amplitudes, mm
    u: np.ndarray  # (n, 3) nodal displacement (organ frame, rigid part removed)
    U: np.ndarray  # (3n, m) tangent responses du/da
    max_rotation_deg: float  # largest element rotation
    law: str = "corotational"  # or "neo-hookean" (u: its equilibrium, U: this tangent)


def rotation_angles(R: np.ndarray) -> np.ndarray:
    """Angles (degrees) of rotation matrices (k, 3, 3)."""
    c = np.clip((np.einsum("kii->k", R) - 1.0) / 2.0, -1.0, 1.0)
    return np.degrees(np.arccos(c))


class CorotationalResponse:
    """Rotation-corrected (warped) responses of the basis: per element, the linear response's
    infinitesimal rotation is replaced by the finite rotation exp(omega) and its strain kept;
    the positions whose element gradients best match (one factored P1 Laplacian) are the
    deformed organ. A part turning rigidly keeps its size and shape."""

    def __init__(self, mesh: TetMesh, material: Material, basis: LoadBasis) -> None:
        body = Body(mesh, material.with_law("linear"))
        self.X = mesh.points.copy()
        self.n = len(self.X)
        cells = np.asarray(mesh.cells)
        g = np.asarray(body.geometry.grads[:, 0])  # (m, 4, 3)
        self.vol = np.asarray(body.geometry.dvol[:, 0])
        me = len(cells)
        rows = (np.arange(me)[:, None, None] * 3 + np.arange(3)[None, None, :])
        rows = np.broadcast_to(rows, (me, 4, 3))
        cols = np.broadcast_to(cells[:, :, None], (me, 4, 3))
        self.G = sp.csr_matrix((g.ravel(), (rows.ravel(), cols.ravel())), shape=(3 * me, self.n))
        w = np.repeat(self.vol, 3)
        self.GtW = (self.G.T.multiply(w[None, :])).tocsr()
        L = (self.GtW @ self.G).tocsc()
        tie = 1e-8 * float(L.diagonal().mean())
        self._solve = factorize(L + tie * sp.identity(self.n, format="csc"))
        self.U0 = basis.U
        self.m = basis.U.shape[1]
        self.me = me
        self.mass = basis.mass

    def _grad(self, u: np.ndarray) -> np.ndarray:
        """Element gradients (me, 3, 3) [i, j] = d u_i / d X_j of nodal fields u (n, 3)."""
        return (self.G @ u).reshape(self.me, 3, 3).transpose(0, 2, 1)

    def _poisson(self, F: np.ndarray) -> np.ndarray:
        """Nodal fields (n, 3, k) whose element gradients best match F (me, 3, 3, k)."""
        k = F.shape[-1]
        rhs = self.GtW @ F.transpose(0, 2, 1, 3).reshape(3 * self.me, 3 * k)
        x = np.asarray(self._solve(rhs)).reshape(self.n, 3, k)
        return x - (self.mass[:, None, None] * x).sum(axis=0) / self.mass.sum()

    def solve(self, a: np.ndarray, start: NonlinearDeformation | None = None
              ) -> NonlinearDeformation:
        """The deformation at amplitudes ``a`` and its tangent (``start``: unused, the map
        is explicit)."""
        from scipy.spatial.transform import Rotation

        a = np.asarray(a, dtype=float)
        H = self._grad((self.U0 @ a).reshape(self.n, 3))
        omega = 0.5 * (H - H.transpose(0, 2, 1))
        eps = 0.5 * (H + H.transpose(0, 2, 1))
        vec = np.stack([omega[:, 2, 1], omega[:, 0, 2], omega[:, 1, 0]], axis=1)
        R = Rotation.from_rotvec(vec).as_matrix()
        F = R @ (np.eye(3) + eps)
        x = self._poisson(F[..., None])[..., 0]
        Xc = self.X - (self.mass[:, None] * self.X).sum(axis=0) / self.mass.sum()
        u = x - Xc
        # Tangent: the basis' gradients turned by the element rotations.
        HU = (self.G @ self.U0.reshape(self.n, 3 * self.m)).reshape(self.me, 3, 3, self.m)
        HU = HU.transpose(0, 2, 1, 3)  # [e, i(u comp), j(deriv), col]
        RHU = np.einsum("eik,ekjc->eijc", R, HU)
        U = self._poisson(RHU).reshape(3 * self.n, self.m)
        turn = float(np.degrees(np.linalg.norm(vec, axis=1)).max())
        return NonlinearDeformation(a.copy(), u, U, turn)


def corotational_fit(model: DeformableModel, pts: np.ndarray, sigma: float, state: FitState,
                     start: NonlinearDeformation | None, iterations: int,
                     lam: float | None = None, outer: int = 8
                     ) -> tuple[FitState, NonlinearDeformation]:
    """Fit (pose, amplitudes) with the rotation-corrected organ, from ``state`` (e.g. the linear
    fit). Each outer iteration fits on the tangent at the current amplitudes, then re-solves
    the equilibrium there; stops when the exact surface is within 5 % of sigma of the
    tangent's prediction. The returned state's residuals are those of the exact surface."""
    cor = model.corotational
    E = model.surface_embedding.matrix
    V, faces = model.vertices, model.reduced.faces
    size = float(np.linalg.norm(np.ptp(V, axis=0)))
    nl = start or cor.solve(np.zeros(cor.m))
    a = state.a
    for k in range(outer):
        Us = embedding_responses(E, nl.U)
        fit = ReducedFit(V + E @ nl.u, faces, Us, nl.a)
        state = fit.fit(pts, sigma, state.T, a, iterations,
                        lam=lam if (lam is not None or k == 0) else state.lam)
        # Trust region: the tangent is followed by at most 10 % of the organ's size of
        # surface motion per outer iteration (a large turn is reached in several).
        step = state.a - nl.a
        reach = float(np.abs(Us @ step).max())
        a = nl.a + step * min(1.0, 0.1 * size / max(reach, 1e-300))
        predicted = fit.surface(a)
        nl = cor.solve(a, nl)
        if reach <= 0.1 * size and float(np.abs(V + E @ nl.u - predicted).max()) < 0.05 * sigma:
            break
    final = ReducedFit(V + E @ nl.u, faces, embedding_responses(E, nl.U), nl.a)
    done = final.fit(pts, sigma, state.T, state.a, 0, lam=state.lam)
    done.iterations, done.converged = state.iterations, state.converged
    return done, nl

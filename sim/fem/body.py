"""Body: a meshed elastic solid. Internal forces, tangent stiffness and mass for every law.

Laws (``Material.law``):
- ``linear``: small-strain isotropic elasticity (constant stiffness K).
- ``corotational``: per element, the rotation R of the deformation is factored out (polar
  decomposition) and linear elasticity applied in the rotated frame: exact rigid-body
  invariance, small strain.
- ``neo_hookean``: compressible neo-Hookean, W = mu/2 (I1 - 3) - mu ln J + lambda/2 (ln J)^2,
  total Lagrangian. Valid for large strain; J <= 0 (inversion) is detected and reported.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sim.errors import TwinsightError
from sim.fem.assembly import (
    assemble_matrix,
    assemble_vector,
    element_dofs,
    mesh_pattern,
)
from sim.fem.elements import mesh_geometry
from sim.fem.materials import Material
from sim.mesh.tetmesh import TetMesh


class InversionError(TwinsightError):
    """Elements turned inside out (det F <= 0) or produced NaN: the step must be rejected."""

    def __init__(self, count: int, example: int) -> None:
        self.count, self.example = count, example
        super().__init__(f"{count} element(s) inverted (e.g. element {example}); "
                         "the load or step is too large for this mesh.")


def polar_rotation(F: np.ndarray) -> np.ndarray:
    """Rotation factor R of F = R S for a batch (k, 3, 3), proper (det R = +1)."""
    U, _, Vt = np.linalg.svd(F)
    d = np.sign(np.linalg.det(U @ Vt))
    U[:, :, 2] *= d[:, None]
    return U @ Vt


def _cross_matrix(v: np.ndarray) -> np.ndarray:
    """[v]x for vectors (..., 3): the matrices with [v]x w = v x w, shape (..., 3, 3)."""
    out = np.zeros(v.shape + (3,))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def linear_element_stiffness(grads: np.ndarray, dvol: np.ndarray, lam: float, mu: float) -> np.ndarray:
    """Isotropic linear-elastic element matrices (m, 3n, 3n) from gradients (m, q, n, 3)."""
    from sim.fem.element_kernels import linear_elastic_matrices

    return linear_elastic_matrices(grads, dvol, lam, mu)


def linear_element_stiffness_numpy(grads: np.ndarray, dvol: np.ndarray, lam: float,
                                   mu: float) -> np.ndarray:
    """The same with numpy only (reference for the compiled kernel)."""
    g = grads * np.sqrt(dvol)[:, :, None, None]
    m, _, n, _ = g.shape
    ke = lam * np.einsum("mqai,mqbj->maibj", g, g)
    ke += mu * np.einsum("mqaj,mqbi->maibj", g, g)
    lap = np.einsum("mqak,mqbk->mab", g, g)
    ke += mu * lap[:, :, None, :, None] * np.eye(3)[None, None, :, None, :]
    return ke.reshape(m, 3 * n, 3 * n)


def neo_hookean_stress(F: np.ndarray, lam: float, mu: float,
                       tangent: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """First Piola-Kirchhoff stress P (k, 3, 3) and tangent dP/dF (k, 3, 3, 3, 3)."""
    J = np.linalg.det(F)
    Finv_T = np.linalg.inv(F).transpose(0, 2, 1)
    lnJ = np.log(J)
    P = mu * (F - Finv_T) + (lam * lnJ)[:, None, None] * Finv_T
    if not tangent:
        return P, None
    eye = np.eye(3)
    A = mu * np.einsum("ik,JL->iJkL", eye, eye)[None]
    A = A + (mu - lam * lnJ)[:, None, None, None, None] * np.einsum("miL,mkJ->miJkL", Finv_T, Finv_T)
    A = A + lam * np.einsum("miJ,mkL->miJkL", Finv_T, Finv_T)
    return P, A


class Body:
    """A tetrahedral mesh with a material: the elastic part of every analysis."""

    def __init__(self, mesh: TetMesh, material: Material) -> None:
        self.mesh = mesh
        self.material = material
        self.geometry = mesh_geometry(mesh)
        self.pattern = mesh_pattern(mesh)
        self.dofs = element_dofs(mesh.cells)
        self._ke: np.ndarray | None = None
        self._K: sp.csr_matrix | None = None

    @property
    def ndof(self) -> int:
        return 3 * self.mesh.n_nodes

    @property
    def law(self) -> str:
        return self.material.law

    # -- linear pieces (cached: the reference configuration never changes) -------------------
    def element_stiffness(self) -> np.ndarray:
        if self._ke is None:
            lam, mu = self.material.lame
            self._ke = linear_element_stiffness(self.geometry.grads, self.geometry.dvol, lam, mu)
        return self._ke

    def linear_stiffness(self) -> sp.csr_matrix:
        if self._K is None:
            self._K = assemble_matrix(self.pattern, self.element_stiffness())
        return self._K

    # -- kinematics ---------------------------------------------------------------------------
    def deformation_gradients(self, u: np.ndarray) -> np.ndarray:
        """F = I + grad u at every quadrature point, (m, q, 3, 3)."""
        ue = u.reshape(-1, 3)[self.mesh.cells]  # (m, n, 3)
        return np.eye(3) + np.einsum("mni,mqnj->mqij", ue, self.geometry.grads)

    def rotations(self, u: np.ndarray) -> np.ndarray:
        """Per-element rotation of the co-rotational frame, from the mean F of the element."""
        F = self.deformation_gradients(u).mean(axis=1)
        return polar_rotation(F)

    def inverted(self, u: np.ndarray) -> np.ndarray:
        """Boolean flag per element: det F <= 0 (or NaN) at some quadrature point."""
        J = np.linalg.det(self.deformation_gradients(u))
        return ~(J > 0).all(axis=1)

    def _check(self, u: np.ndarray) -> None:
        bad = self.inverted(u)
        if bad.any():
            raise InversionError(int(bad.sum()), int(np.flatnonzero(bad)[0]))

    # -- forces and stiffness -----------------------------------------------------------------
    def internal_force(self, u: np.ndarray) -> np.ndarray:
        """Elastic nodal forces f_int(u) (ndof,). Raises InversionError on inverted elements
        for the laws that cannot represent them (co-rotational, neo-Hookean)."""
        law = self.law
        if law == "linear":
            return self.linear_stiffness() @ u
        n_nodes = self.mesh.n_nodes
        cells = self.mesh.cells
        if law == "corotational":
            self._check(u)
            R = self.rotations(u)
            X = self.mesh.points[cells]
            x = X + u.reshape(-1, 3)[cells]
            local = np.einsum("mji,mnj->mni", R, x) - X  # R^T x - X
            g = np.einsum("mij,mj->mi", self.element_stiffness(), local.reshape(len(cells), -1))
            fe = np.einsum("mij,mnj->mni", R, g.reshape(len(cells), -1, 3))
            return assemble_vector(cells, n_nodes, fe.reshape(len(cells), -1))
        F = self.deformation_gradients(u)
        m, q = F.shape[:2]
        J = np.linalg.det(F)
        if not (J > 0).all():
            bad = ~(J > 0).all(axis=1)
            raise InversionError(int(bad.sum()), int(np.flatnonzero(bad)[0]))
        lam, mu = self.material.lame
        P, _ = neo_hookean_stress(F.reshape(-1, 3, 3), lam, mu, tangent=False)
        P = P.reshape(m, q, 3, 3) * self.geometry.dvol[:, :, None, None]
        fe = np.einsum("mqiJ,mqaJ->mai", P, self.geometry.grads)
        return assemble_vector(cells, n_nodes, fe.reshape(m, -1))

    def tangent(self, u: np.ndarray) -> sp.csr_matrix:
        """Stiffness dF_int/du at u (co-rotational: the rotated linear stiffness R K R^T)."""
        law = self.law
        if law == "linear":
            return self.linear_stiffness()
        if law == "corotational":
            return assemble_matrix(self.pattern, self._corotational_tangent(u))
        F = self.deformation_gradients(u)
        m, q = F.shape[:2]
        lam, mu = self.material.lame
        _, A = neo_hookean_stress(F.reshape(-1, 3, 3), lam, mu)
        A = A.reshape(m, q, 3, 3, 3, 3) * self.geometry.dvol[:, :, None, None, None, None]
        G = self.geometry.grads
        ke = np.einsum("mqaJ,mqiJkL,mqbL->maibk", G, A, G, optimize=True)
        n = G.shape[2]
        return assemble_matrix(self.pattern, ke.reshape(m, 3 * n, 3 * n))

    def _corotational_tangent(self, u: np.ndarray) -> np.ndarray:
        """Consistent element tangents R Ke R^T + (change of R) of the co-rotational forces.

        With F = R S and G = tr(S) I - S, a variation dx turns R by dR = R [w]x where
        w = G^-1 sum_a [grad_a]x R^T dx_a. The rotation term makes Newton converge
        quadratically under large rotations (the matrix is not symmetric).
        """
        cells = self.mesh.cells
        ke = self.element_stiffness()
        m, nd, _ = ke.shape
        n = nd // 3
        Fbar = self.deformation_gradients(u).mean(axis=1)
        R = polar_rotation(Fbar)
        S = np.einsum("mji,mjk->mik", R, Fbar)
        G = np.trace(S, axis1=1, axis2=2)[:, None, None] * np.eye(3) - S
        x = self.mesh.points[cells] + u.reshape(-1, 3)[cells]
        y = np.einsum("mji,mnj->mni", R, x)  # local current positions
        g = np.einsum("mij,mj->mi", ke, (y - self.mesh.points[cells]).reshape(m, -1)).reshape(m, n, 3)
        gbar = self.geometry.grads.mean(axis=1)  # (m, n, 3)
        # T = -[g_a]x + Ke [y_a]x  (12 x 3): how the local forces change with w.
        T = -_cross_matrix(g).reshape(m, nd, 3) + ke @ _cross_matrix(y).reshape(m, nd, 3)
        B = np.einsum("maij,mkj->maik", _cross_matrix(gbar), R)  # [grad_a]x R^T  (m, n, 3, 3)
        B = B.transpose(0, 2, 1, 3).reshape(m, 3, nd)
        extra = T @ np.linalg.solve(G, B)  # (m, nd, nd) in the local frame (rows)
        k5 = ke.reshape(m, n, 3, n, 3)
        kr = np.einsum("mij,majbl,mkl->maibk", R, k5, R, optimize=True).reshape(m, nd, nd)
        kr += np.einsum("mij,majc->maic", R, extra.reshape(m, n, 3, nd)).reshape(m, nd, nd)
        return kr

    # -- mass and body forces -----------------------------------------------------------------
    def _mass_geometry(self):
        return mesh_geometry(self.mesh, 2 if self.mesh.order == 1 else 4)

    def mass(self, lumped: bool = False) -> sp.csr_matrix:
        """Consistent mass matrix, or its HRZ-lumped diagonal (mass-preserving, positive)."""
        key = ("mass", lumped)
        if key in self.mesh._cache and self.mesh._cache[key][0] == self.material.density:
            return self.mesh._cache[key][1]
        geo = self._mass_geometry()
        rho = self.material.density
        me = rho * np.einsum("qa,qb,mq->mab", geo.N, geo.N, geo.dvol)  # (m, n, n) scalar
        m, n, _ = me.shape
        if lumped:
            diag = np.einsum("maa->ma", me)
            scale = me.sum(axis=(1, 2)) / diag.sum(axis=1)
            nodal = np.bincount(self.mesh.cells.ravel(), (diag * scale[:, None]).ravel(),
                                minlength=self.mesh.n_nodes)
            M = sp.diags(np.repeat(nodal, 3)).tocsr()
        else:
            full = me[:, :, None, :, None] * np.eye(3)[None, None, :, None, :]
            M = assemble_matrix(self.pattern, full.reshape(m, 3 * n, 3 * n))
        self.mesh._cache[key] = (rho, M)
        return M

    def body_force(self, acceleration: np.ndarray) -> np.ndarray:
        """Nodal forces of a uniform acceleration field (e.g. gravity, mm/s^2) on the body."""
        geo = self._mass_geometry()
        w = self.material.density * np.einsum("qa,mq->ma", geo.N, geo.dvol)  # (m, n)
        fe = w[:, :, None] * np.asarray(acceleration, dtype=float)[None, None, :]
        return assemble_vector(self.mesh.cells, self.mesh.n_nodes, fe.reshape(len(w), -1))

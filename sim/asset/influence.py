"""Unit-load solutions of the asset's FE model and the influence matrices built from them.

Each load channel's unit-load displacement is solved once (one factorisation for all
channels); from it come the influence matrix H (sensor readings per unit channel load), the
nodal stress influence (stress per unit load at every node) and, per region, the sensitivity
of H to a loss of stiffness there (for locating structural changes). The stiffness is
parameterised for calibration and for the simulated truth:

    K(theta) = E_scale * sum_e region_scale(e) K_e + sum_j support_scale_j K_spring_j
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from sim.asset.config import AssetConfig, SensorDef
from sim.asset.fe_kernels import (
    diagonal_positions,
    free_lower_pattern,
    scatter_rows,
    scatter_scaled,
)
from sim.errors import InputError
from sim.fem import cholmod
from sim.fem.body import Body
from sim.fem.elements import shape_functions
from sim.fem.linsolve import NOT_POSITIVE_DEFINITE, SingularSystemError, factorize
from sim.fem.results import nodal_gradients
from sim.fem.selection import select_nodes
from sim.fem.spec import AnalysisSpec, build_problem, load_mesh
from sim.mesh.tetmesh import TetMesh
from sim.progress import Progress, no_progress
from sim.threads import blas_threads

VOIGT = ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2))


@dataclass
class Params:
    """Model parameters (scales of the nominal values; 1 is the config's model)."""

    modulus: float = 1.0
    supports: dict[str, float] = field(default_factory=dict)
    regions: dict[str, float] = field(default_factory=dict)  # stiffness scale per region


def asset_mesh(cfg: AssetConfig, progress: Progress = no_progress) -> TetMesh:
    m = cfg.fe["mesh"]
    order = int(cfg.fe.get("order", 1))
    if isinstance(m, dict) and m.get("generator") == "l_bracket":
        from sim.asset.geometry import l_bracket_mesh

        keys = ("width", "leg", "thickness", "element_size")
        return l_bracket_mesh(**{k: float(m[k]) for k in keys if k in m}, order=order)
    mesh, _ = load_mesh(AnalysisSpec(cfg.fe, cfg.folder, cfg.name), progress)
    return mesh


class FeSystem:
    """The asset's FE model: stiffness pieces, channel load vectors, sensor operators."""

    def __init__(self, cfg: AssetConfig, progress: Progress = no_progress) -> None:
        self.cfg = cfg
        progress(0.02, "Meshing")
        self.mesh = mesh = asset_mesh(cfg, progress)
        raw = {**cfg.fe, "loads": [c.load for c in cfg.channels]}
        raw.pop("analysis", None)
        problem = build_problem(AnalysisSpec(raw, cfg.folder, cfg.name), mesh)
        self.body: Body = problem.body
        self.F = np.column_stack([ld.vector for ld in problem.loads])  # (ndof, C)
        fixed, values = problem.dirichlet()
        if np.abs(values).max(initial=0.0) > 0:
            raise InputError("Twin models take fixed supports only (no prescribed "
                             "displacements); use springs for elastic supports.")
        self.free = np.setdiff1d(np.arange(self.body.ndof), fixed)
        progress(0.1, "Element stiffness")
        self.ke = self.body.element_stiffness()
        self.springs: dict[str, sp.csr_matrix] = {}
        for s in cfg.supports:
            nodes = select_nodes(mesh, s.select, f"support '{s.name}'")
            diag = np.zeros((mesh.n_nodes, 3))
            diag[nodes] = np.asarray(s.stiffness) / len(nodes)
            self.springs[s.name] = sp.diags(diag.ravel()).tocsr()
        self.region_of = self._regions()
        self.points = mesh.points
        self._factor: Any = None  # CHOLMOD factor: ordering and analysis kept for new params
        self._lock = threading.Lock()

    def _regions(self) -> dict[str, np.ndarray]:
        """Elements of each named region (those whose corners are all selected)."""
        out = {}
        corners = self.mesh.cells[:, :4]
        for name, sel in self.cfg.regions.items():
            mask = np.zeros(self.mesh.n_nodes, dtype=bool)
            mask[select_nodes(self.mesh, sel, f"region '{name}'")] = True
            elems = np.flatnonzero(mask[corners].all(axis=1))
            if not len(elems):
                raise InputError(f"Region '{name}' holds no whole element of the mesh.")
            out[name] = elems
        return out

    def element_scale(self, p: Params) -> np.ndarray:
        scale = np.full(self.mesh.n_elements, p.modulus)
        for name, s in p.regions.items():
            if name not in self.region_of:
                raise InputError(f"There is no region '{name}'.")
            scale[self.region_of[name]] *= s
        return scale

    def _stiffness_data(self, p: Params) -> np.ndarray:
        """The CSR data array of K(p) on the body's pattern (compiled scatter, no temporaries)."""
        pat = self.body.pattern
        data = np.zeros(pat.nnz)
        scatter_scaled(pat.slots, self.ke.reshape(len(self.ke), -1), self.element_scale(p),
                       data)
        if self.springs:
            if not hasattr(self, "_diag"):
                self._diag = diagonal_positions(pat.indptr, pat.indices)
            for name, Ks in self.springs.items():
                data[self._diag] += p.supports.get(name, 1.0) * Ks.diagonal()
        return data

    def stiffness(self, p: Params) -> sp.csr_matrix:
        pat = self.body.pattern
        return sp.csr_matrix((self._stiffness_data(p), pat.indices, pat.indptr),
                             shape=(pat.ndof, pat.ndof))

    def _free_lower(self, data: np.ndarray) -> sp.csc_matrix:
        """Lower triangle (CSC) of K's free part, from K's CSR data."""
        if not hasattr(self, "_lower_pattern"):
            pat = self.body.pattern
            new = np.full(pat.ndof, -1, dtype=np.int64)
            new[self.free] = np.arange(len(self.free))
            self._lower_pattern = free_lower_pattern(pat.indptr, pat.indices, new)
        ptr, idx, src = self._lower_pattern
        return sp.csc_matrix((data[src], idx, ptr), shape=(len(self.free),) * 2)

    def region_force(self, name: str, p: Params, U: np.ndarray) -> np.ndarray:
        """d K / d(scale of region) @ U (ndof, k): element products over the region only
        (no global matrix assembled)."""
        elems = self.region_of[name]
        scale = self.element_scale(p)[elems]
        dofs = self.body.dofs[elems]  # (e, nd)
        out = np.zeros((self.body.ndof, U.shape[1]))
        fe = np.matmul(self.ke[elems], U[dofs]) * scale[:, None, None]  # (e, nd, k), BLAS
        for k in range(U.shape[1]):
            out[:, k] = np.bincount(dofs.ravel(), fe[:, :, k].ravel(), minlength=self.body.ndof)
        return out

    def solve(self, p: Params, rhs: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
        """Displacements (ndof, k) for the channel unit loads (or ``rhs``) and the solver.
        The solver is valid until the next call (the factor is reused for new parameters:
        the stiffness pattern never changes, so the ordering and symbolic analysis are
        kept and only the numbers are refactorised)."""
        pat = self.body.pattern
        data = self._stiffness_data(p)
        K = sp.csr_matrix((data, pat.indices, pat.indptr), shape=(pat.ndof, pat.ndof))
        free = self.free
        rhs = self.F if rhs is None else rhs
        with self._lock:
            solve = self._factorize(data, K)
            U = np.zeros((self.body.ndof, rhs.shape[1]))
            U[free] = np.asarray(solve(np.ascontiguousarray(rhs[free]))).reshape(len(free), -1)
        return U, (K, solve)

    def _factorize(self, data: np.ndarray, K: sp.csr_matrix) -> Any:
        free = self.free
        if not cholmod.AVAILABLE:
            return factorize(sp.csc_matrix(K[free][:, free]))
        A = self._free_lower(data)
        try:
            if self._factor is None:  # METIS orders the nodes (3 unknowns each)
                self._factor = cholmod.CholeskyFactor(A, groups=free // 3)
            else:
                self._factor.refactor(A.data)
        except cholmod.NotPositiveDefinite:
            self._factor = None
            raise SingularSystemError(NOT_POSITIVE_DEFINITE) from None
        factor = self._factor

        def solve(b: np.ndarray) -> np.ndarray:
            with blas_threads(1):  # triangular solves: one BLAS thread (see sim.fem.linsolve)
                return factor(b)

        return solve

    def sensitivity(self, name: str, p: Params, U: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """Z^T dK/d(scale of region) U (k_z, k_u), summed element by element over the
        region (the adjoint form of the sensitivity: Z = K^-1 Obs^T gives d(Obs U))."""
        elems = self.region_of[name]
        scale = self.element_scale(p)[elems]
        dofs = self.body.dofs[elems]  # (e, nd)
        out = np.zeros((Z.shape[1], U.shape[1]))
        for a in range(0, len(elems), 4096):  # bounded memory
            d = dofs[a:a + 4096]
            ku = np.matmul(self.ke[elems[a:a + 4096]], U[d]) * scale[a:a + 4096, None, None]
            out += np.einsum("eds,edc->sc", Z[d], ku, optimize=True)
        return out

    # -- observation --------------------------------------------------------------------------
    def observation_row(self, kind: str, point: Any, direction: Any
                        ) -> tuple[np.ndarray, np.ndarray]:
        return observation_row(self.mesh, kind, point, direction)

    def observation(self, sensors: list[SensorDef], problems: list[str]
                    ) -> tuple[sp.csr_matrix, list[SensorDef]]:
        """Rows of the FE sensors (load cells excluded); bad sensors go to ``problems``."""
        rows, cols, vals, kept = [], [], [], []
        for s in sensors:
            if s.kind == "load_cell":
                continue
            try:
                dofs, w = self.observation_row("strain" if s.kind == "strain" else "disp",
                                               s.point, s.direction)
            except InputError as exc:
                problems.append(f"Sensor '{s.id}' is left out: {str(exc).rstrip('.')}.")
                continue
            rows += [len(kept)] * len(dofs)
            cols += dofs.tolist()
            vals += w.tolist()
            kept.append(s)
        obs = sp.csr_matrix((vals, (rows, cols)), shape=(len(kept), self.body.ndof))
        return obs, kept

    # -- stress ---------------------------------------------------------------------------------
    def nodal_stress(self, U: np.ndarray, p: Params) -> np.ndarray:
        """Nodal Cauchy stress (n_nodes, 6, k) of displacement columns U (ndof, k), averaged
        over the elements at a node (volume-weighted), as :mod:`sim.fem.results` does."""
        mesh = self.mesh
        cells = mesh.cells
        m, n = cells.shape
        grads = nodal_gradients(mesh)  # (m, q, n, 3)
        lam, mu = self.body.material.lame
        scale = self.element_scale(p)
        w = np.repeat(np.abs(mesh.volumes), n)
        idx = cells.ravel()
        count = np.bincount(idx, weights=w, minlength=mesh.n_nodes)
        count[count == 0] = 1.0
        k = U.shape[1]
        acc = np.zeros((mesh.n_nodes, 6 * k))
        chunk = max(1, 2_000_000 // (n * n * k))  # elements per batch: bounded memory
        for a in range(0, m, chunk):
            b = min(m, a + chunk)
            g = grads[a:b].transpose(0, 1, 3, 2).reshape(b - a, n * 3, n)  # (e, q*3, n)
            ue = U.reshape(-1, 3, k)[cells[a:b]].reshape(b - a, n, 3 * k)  # (e, n, 3k)
            du = np.matmul(g, ue).reshape(b - a, n, 3, 3, k)  # [e, q, j, i, c] = du_i/dx_j
            eps = 0.5 * (du + du.transpose(0, 1, 3, 2, 4))
            tr = eps[:, :, 0, 0] + eps[:, :, 1, 1] + eps[:, :, 2, 2]
            sc = scale[a:b, None, None]
            wq = np.repeat(np.abs(mesh.volumes[a:b]), n)  # (e*q,)
            idx = cells[a:b].ravel()
            sig6 = np.empty(((b - a) * n, 6, k))
            for c6, (i, j) in enumerate(VOIGT):
                sig = 2 * mu * eps[:, :, i, j] + (lam * tr if i == j else 0.0)
                sig6[:, c6] = (sig * sc).reshape(-1, k) * wq[:, None]
            scatter_rows(acc, idx, sig6.reshape(len(idx), 6 * k))
        return acc.reshape(mesh.n_nodes, 6, k) / count[:, None, None]


def locate(mesh: TetMesh, point: np.ndarray) -> tuple[int, np.ndarray, float]:
    """Element, reference coordinates and distance outside the element (mm) of a point."""
    if "p1grid" not in mesh._cache:
        mesh._cache["p1grid"] = (mesh.with_order(1) if mesh.order == 2 else mesh).to_pyvista()
    grid = mesh._cache["p1grid"]
    cell = int(np.asarray(grid.find_closest_cell(point[None])).reshape(-1)[0])
    corners = mesh.points[mesh.cells[cell, :4]]
    T = (corners[1:] - corners[0]).T
    xi = np.linalg.solve(T, point - corners[0])
    bary = np.concatenate([[1 - xi.sum()], xi])
    clipped = np.clip(bary, 0.0, None)
    clipped /= clipped.sum()
    inside = clipped @ corners
    return cell, clipped[1:], float(np.linalg.norm(inside - point))


def observation_row(mesh: TetMesh, kind: str, point: Any, direction: Any
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(dofs, weights) of a point sensor: ``strain`` (microstrain along ``direction``) or
    displacement (mm along ``direction``). InputError when the point is off the model."""
    p = np.asarray(point, dtype=float)
    d = np.asarray(direction, dtype=float)
    if p.shape != (3,) or not np.isfinite(p).all():
        raise InputError("its point must be 3 finite numbers")
    if d.shape != (3,) or not np.linalg.norm(d) > 1e-12:
        raise InputError("its direction has zero length")
    d = d / np.linalg.norm(d)
    cell, xi, dist = locate(mesh, p)
    size = float(np.ptp(mesh.points, axis=0).max())
    if dist > max(0.5, 0.005 * size):
        raise InputError(f"its point {np.round(p, 3).tolist()} is {dist:.3g} mm outside "
                         "the model")
    nodes = mesh.cells[cell]
    N, dN = shape_functions(mesh.order, xi[None])
    dofs = (3 * nodes[:, None] + np.arange(3)).ravel()
    if kind == "strain":
        X = mesh.points[nodes]
        J = X.T @ dN[0]  # dx/dxi
        grads = dN[0] @ np.linalg.inv(J)  # (n, 3)
        w = 1e6 * (grads @ d)[:, None] * d[None, :]  # d.eps.d = sum_a (d.u_a)(g_a.d)
    else:
        w = N[0][:, None] * d[None, :]
    return dofs, w.ravel()

"""Interactive co-rotational dynamics for P1 bodies: fast, converged, one step at a time.

Each step is a linearly implicit (Baraff-Witkin) backward-Euler step of the co-rotational
model with Rayleigh damping:
    (M + h C + h^2 K_R) dv = h (f_ext - f_int(x) - C v - h K_R v),   C = alpha M + beta K_R
solved by preconditioned conjugate gradients to a relative residual (1e-3 by default) - not a
fixed small iteration count. The preconditioner is the Cholesky factor of the *rest* matrix
M + h C0 + h^2 K0, made once, "warped" by per-node rotations (z = W P^-1 W^T r) so it stays
close to the rotated system under large rotations. On large bodies a background thread
refactors it for the current element rotations when they have turned (CHOLMOD releases the GIL);
the step swaps the new factor in when it is ready and warps by the rotation since then. On a
52k-tet beam that halves the CG iterations. Element kernels are compiled with numba and run
on all cores.

Constraints hold nodes fixed or move them along prescribed targets (a grabbed node); extra
forces (rigid-tool contact, springs) plug in as :class:`~sim.fem.problem.ForceContributor`s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sim.errors import InputError
from sim.fem import cholmod
from sim.fem import corotational_kernels as kern
from sim.fem.assembly import mesh_pattern
from sim.fem.body import Body
from sim.fem.linsolve import factorize
from sim.fem.problem import ForceContributor
from sim.fem.static import ConvergenceError
from sim.threads import blas_threads, numba_threads

log = logging.getLogger(__name__)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # Not BLAS: numpy's threaded ddot was measured at 14 ms for 40k numbers on a loaded
    # 2-core machine (threads waiting for each other), einsum at a few microseconds.
    return float(np.einsum("ij,ij->", a, b))


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.einsum("ij,ij->", a, a)))


def _choose_threads() -> int:
    """All cores for the element kernels, unless the machine is already busy: OpenMP threads
    that wait for a descheduled sibling make a parallel loop far slower than a serial one."""
    import os

    import numba

    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] > cores if hasattr(os, "getloadavg") else False
    return 1 if busy else min(cores, numba.config.NUMBA_NUM_THREADS)


# Background refactoring: on when the unconstrained dofs exceed this (below it the solves are
# cheap and a second thread only takes CPU from the step), every REFACTOR_EVERY steps.
REFACTOR_MIN_DOFS = 20_000
REFACTOR_EVERY = 10
# ... and only when needed: some node turned more than this since the factor was made.
REFACTOR_ANGLE_DEG = 2.0


def pcg(apply: Callable[[np.ndarray], np.ndarray], precondition: Callable[[np.ndarray], np.ndarray],
        b: np.ndarray, x: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int, float]:
    """Preconditioned conjugate gradients from ``x`` until ||b - A x|| <= tol ||b||.

    ``apply`` and ``precondition`` must already zero the constrained dofs. Returns (x,
    iterations, relative residual); NaN or no convergence is a :class:`ConvergenceError`
    (the caller's state is untouched: x is a new array)."""
    x = x.copy()
    bnorm = _norm(b)
    r = b - apply(x)
    iters, rel = 0, (_norm(r) / bnorm if bnorm > 0 else 0.0)
    if rel > tol:
        z = precondition(r)
        p = z.copy()
        rz = _dot(r, z)
        while iters < max_iter:
            iters += 1
            Ap = apply(p)
            pAp = _dot(p, Ap)
            if pAp <= 0:  # breakdown (a direction of no stiffness): report what we have
                break
            alpha = rz / pAp
            x += alpha * p
            r -= alpha * Ap
            rel = _norm(r) / bnorm
            if rel <= tol or not np.isfinite(rel):
                break
            z = precondition(r)
            rz_new = _dot(r, z)
            p = z + (rz_new / rz) * p
            rz = rz_new
    if not np.isfinite(rel) or not np.isfinite(x).all():
        raise ConvergenceError("The interactive step produced NaN; the state was kept. "
                               "Lower the time step or the load.")
    if rel > tol:
        raise ConvergenceError(f"The interactive step did not converge in {max_iter} "
                               f"iterations (relative residual {rel:.2e}).")
    return x, iters, float(rel)


def warped_solve(W: np.ndarray, r: np.ndarray, free: np.ndarray,
                 solve: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """z = W P^-1 W^T r for nodal vectors r (n, 3): rotate into the nodes' frames by W, apply
    ``solve`` (P^-1) on the ``free`` dofs (the others stay zero) and rotate back."""
    local = np.empty_like(r)
    kern.rotate_nodes(W, r, True, local)
    z = np.zeros(r.size)
    z[free] = solve(local.ravel()[free])
    out = np.empty_like(r)
    kern.rotate_nodes(W, z.reshape(-1, 3), False, out)
    return out


@dataclass
class StepReport:
    iterations: int
    relative_residual: float
    inverted: int
    wall_time_s: float


class CorotationalSimulator:
    """State (positions, velocities) of a P1 co-rotational body advanced by :meth:`step`."""

    def __init__(self, body: Body, fixed_nodes: np.ndarray, dt: float = 1.0 / 60.0,
                 gravity: tuple[float, float, float] = (0.0, 0.0, -9810.0),
                 rayleigh_mass: float = 1.0, rayleigh_stiffness: float = 0.0,
                 tolerance: float = 1e-3, max_iterations: int = 200,
                 contributors: list[ForceContributor] | None = None,
                 background_refactor: bool | None = None) -> None:
        self.threads = _choose_threads()  # applied around each step, see step()
        mesh = body.mesh
        if mesh.order != 1:
            raise InputError("The interactive solver uses linear (P1) tetrahedra; use a P1 mesh.")
        if not dt > 0:
            raise InputError("The time step must be positive.")
        self.body, self.h = body, float(dt)
        self.alpha, self.beta = float(rayleigh_mass), float(rayleigh_stiffness)
        self.tol, self.max_iter = float(tolerance), int(max_iterations)
        self.contributors = list(contributors or [])
        n = mesh.n_nodes
        self.cells = np.ascontiguousarray(mesh.cells)
        self.X = mesh.points.copy()
        self.x = mesh.points.copy()
        self.v = np.zeros((n, 3))
        dm = (mesh.points[self.cells[:, 1:]] - mesh.points[self.cells[:, :1]]).transpose(0, 2, 1)
        self.dm_inv = np.ascontiguousarray(np.linalg.inv(dm))
        self.grads = np.ascontiguousarray(body.geometry.grads[:, 0])  # (m, 4, 3), P1: constant
        self.vol = np.ascontiguousarray(body.geometry.dvol[:, 0])
        self.lam, self.mu = body.material.lame
        self.inc = kern.incidence(self.cells, n)
        self.R = np.tile(np.eye(3), (len(self.cells), 1, 1))
        self.W = np.tile(np.eye(3), (n, 1, 1))
        self.mass = np.asarray(body.mass(lumped=True).diagonal()).reshape(n, 3)
        self.fext = self.mass * np.asarray(gravity, dtype=float)
        self.fixed = np.zeros((n, 3), dtype=bool)
        self.fixed[np.asarray(fixed_nodes, dtype=np.int64)] = True
        self.targets: dict[int, np.ndarray] = {}
        self._buf_e = np.empty((len(self.cells), 12))
        self._buf_n = np.empty((n, 3))
        self._dv = np.zeros((n, 3))
        self._dv_prev = np.zeros((n, 3))
        if background_refactor is None:
            background_refactor = 3 * n - int(self.fixed.sum()) > REFACTOR_MIN_DOFS
        # Refactoring needs the GIL-free binding: with scikit-sparse it would stall the step.
        self._refactor = _Refactorer(self) if background_refactor and cholmod.AVAILABLE else None
        self._warp = self.W  # rotation from the active factor's frame to the current one
        self._factor()

    # -- set-up ------------------------------------------------------------------------------
    def _factor(self) -> None:
        h, a, b = self.h, self.alpha, self.beta
        K0 = self.body.linear_stiffness()
        M = sp.diags(self.mass.ravel())
        P = (1 + h * a) * M + (h * h + h * b) * K0
        free = np.flatnonzero(~self.fixed.ravel())
        self.free = free
        self._solve = factorize(sp.csc_matrix(P[free][:, free]))
        self._factor_rotations: np.ndarray | None = None  # nodal rotations it was made for
        if self._refactor is not None:
            self._refactor.invalidate()

    def set_time_step(self, dt: float) -> None:
        self.h = float(dt)
        self._factor()

    def grab(self, node: int, target: np.ndarray | None) -> None:
        """Drive ``node`` to ``target`` (mm) from the next step on; ``None`` lets it go."""
        if target is None:
            self.targets.pop(int(node), None)
        else:
            self.targets[int(node)] = np.asarray(target, dtype=float)

    # -- operators ---------------------------------------------------------------------------
    def _k_apply(self, v: np.ndarray, forces: bool) -> np.ndarray:
        """Co-rotational elastic forces at positions v (``forces``) or the product K_R v."""
        kern.rotated_apply(v, self.cells, self.R, self.grads, self.vol, self.lam, self.mu,
                           forces, self._buf_e)
        out = np.empty_like(v)
        kern.gather(self._buf_e, self.inc[0], self.inc[1], self.inc[2], out)
        return out

    def _A(self, p: np.ndarray, mask: np.ndarray) -> np.ndarray:
        h = self.h
        y = (1 + h * self.alpha) * self.mass * p + (h * h + h * self.beta) * self._k_apply(p, False)
        for c in self.contributors:
            k = c.stiffness(self.x.ravel() - self.X.ravel())
            if k is not None:
                y += h * h * (k @ p.ravel()).reshape(-1, 3)
        y[mask] = 0.0
        return y

    def _precondition(self, r: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """z = W P^-1 W^T r on the unconstrained dofs (prescribed ones stay zero: symmetric)."""
        out = warped_solve(self._warp, r, self.free, self._solve)
        out[mask] = 0.0
        return out

    # -- one step ----------------------------------------------------------------------------
    def step(self) -> StepReport:
        # One BLAS thread for the triangular solves (see sim.fem.linsolve), also with a
        # factor swapped in by the background refactor.
        with numba_threads(self.threads), blas_threads(1):
            return self._step()

    def _rotations(self) -> int:
        """Update the element and nodal rotations to the current shape (fixed nodes keep the
        identity); the number of inverted elements."""
        inverted = kern.element_rotations(self.x, self.cells, self.dm_inv, self.R)
        kern.nodal_rotations(self.R, self.inc[0], self.inc[1], self.W)
        self.W[self.fixed.any(axis=1)] = np.eye(3)
        return inverted

    def _step(self) -> StepReport:
        t0 = time.perf_counter()
        h = self.h
        inverted = self._rotations()
        fint = self._k_apply(self.x, True)
        f = self.fext - fint
        u = (self.x - self.X).ravel()
        for c in self.contributors:
            f += c.force(u).reshape(-1, 3)
        Kv = self._k_apply(self.v, False)
        b = h * (f - self.alpha * self.mass * self.v - (self.beta + h) * Kv)
        # Prescribed motion: fixed nodes stay (dv = -v), grabbed nodes head for their target.
        dv_c = np.zeros_like(self.v)
        dv_c[self.fixed] = -self.v[self.fixed]
        moving = np.zeros_like(self.fixed)
        for node, target in self.targets.items():
            moving[node] = True
            dv_c[node] = (target - self.x[node]) / h - self.v[node]
        mask = self.fixed | moving
        if moving.any():
            self.W[moving.any(axis=1)] = np.eye(3)
        if self._refactor is not None:
            self._refactor.swap_in()
        # Warp from the factor's frame: W for the rest factor, W Wf^T for a refactored one.
        self._warp = self.W if self._factor_rotations is None else np.einsum(
            "nij,nkj->nik", self.W, self._factor_rotations)
        if dv_c.any():
            b -= self._A(dv_c, np.zeros_like(mask))
        b[mask] = 0.0
        # Warm start: extrapolate the velocity change of the last two steps (10 % fewer CG
        # iterations than reusing the last one, 20 % fewer than starting from zero).
        dv = 2.0 * self._dv - self._dv_prev
        dv[mask] = 0.0
        dv, iters, rel = pcg(lambda p: self._A(p, mask), lambda r: self._precondition(r, mask),
                             b, dv, self.tol, self.max_iter)
        dv[mask] = 0.0
        dv += dv_c
        self._dv_prev = self._dv
        self._dv = np.where(mask, 0.0, dv)
        self.v = self.v + dv
        self.x = self.x + h * self.v
        if self._refactor is not None:
            self._refactor.after_step()
        return StepReport(iters, float(rel), int(inverted), time.perf_counter() - t0)

    @property
    def displacement(self) -> np.ndarray:
        return self.x - self.X


class _Refactorer:
    """Refactors a simulator's preconditioner for its current rotations on a background thread.

    The factor is P_R = (1 + h a) M + (h^2 + h b) sum_e R_e Ke R_e^T on the unconstrained dofs,
    assembled into the rest matrix's pattern, so after the first one (ordering and symbolic
    analysis) each refactor is numeric only. Two factors take turns: the one in use and the one
    being refilled. The step thread only swaps references; all heavy work is off it.
    """

    def __init__(self, sim: CorotationalSimulator) -> None:
        self.sim = sim
        self.refactors = 0  # factors swapped in (tests, reports)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready: tuple[int, cholmod.CholeskyFactor, np.ndarray] | None = None
        self._spare: cholmod.CholeskyFactor | None = None
        self._active: cholmod.CholeskyFactor | None = None
        self._generation = 0
        self._since = 0
        pattern = mesh_pattern(sim.body.mesh)
        self._slots = pattern.slots
        self._nnz = pattern.nnz
        rows = np.repeat(np.arange(pattern.ndof), np.diff(pattern.indptr))
        self._diag = np.flatnonzero(pattern.indices == rows)  # diagonal slots, row by row
        # Where each entry of the reduced lower-triangular CSC matrix comes from in the full
        # CSR data: a matrix of positions, reduced the way the factor reduces its input.
        positions = sp.csr_matrix((np.arange(1, pattern.nnz + 1, dtype=np.float64),
                                   pattern.indices, pattern.indptr),
                                  shape=(pattern.ndof, pattern.ndof))
        free = np.flatnonzero(~sim.fixed.ravel())
        reduced = sp.tril(positions[free][:, free], format="csc")
        reduced.sort_indices()
        self._source = reduced.data.astype(np.int64) - 1
        self._indptr, self._indices = reduced.indptr, reduced.indices

    def invalidate(self) -> None:
        """The time step or damping changed: factors in flight are for the old matrix."""
        with self._lock:
            self._generation += 1
            self._ready = None
            self._since = 0

    def swap_in(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is None or ready[0] != self._generation:
            return
        _gen, factor, rotations = ready
        sim = self.sim
        sim._solve, sim._factor_rotations = factor, rotations
        self._spare, self._active = self._active, factor
        self.refactors += 1
        self._since = 0

    def after_step(self) -> None:
        self._since += 1
        if self._since < REFACTOR_EVERY or (self._thread is not None and self._thread.is_alive()):
            return
        sim = self.sim
        # trace(W Wf^T) = 1 + 2 cos(angle turned since the factor); a body at rest keeps it.
        traces = np.einsum("nij,nij->n", sim.W, sim._factor_rotations) \
            if sim._factor_rotations is not None else np.einsum("nii->n", sim.W)
        if traces.min() > 1.0 + 2.0 * np.cos(np.radians(REFACTOR_ANGLE_DEG)):
            return
        args = (self._generation, sim.R.copy(), sim.W.copy(), sim.h, sim.alpha, sim.beta)
        self._thread = threading.Thread(target=self._work, args=args, daemon=True,
                                        name="twinsight-refactor")
        self._since = -10 ** 9  # no second job until this one is swapped in
        self._thread.start()

    def _work(self, generation: int, R: np.ndarray, W: np.ndarray, h: float, a: float,
              b: float) -> None:
        sim = self.sim
        try:
            data = np.zeros(self._nnz)
            kern.rotated_stiffness(sim.cells, R, sim.grads, sim.vol, sim.lam, sim.mu,
                                   self._slots, data)
            data *= h * h + h * b
            data[self._diag] += (1 + h * a) * sim.mass.ravel()
            values = data[self._source]
            factor = self._spare
            if factor is None:
                factor = cholmod.CholeskyFactor(sp.csc_matrix(
                    (values, self._indices, self._indptr), shape=(len(self._indptr) - 1,) * 2))
            else:
                factor.refactor(values)
        except Exception as exc:  # e.g. an inverted element made P_R indefinite: keep the old
            log.info("background refactor skipped: %s", exc)
            with self._lock:
                self._since = 0
            return
        with self._lock:
            self._ready = (generation, factor, W)

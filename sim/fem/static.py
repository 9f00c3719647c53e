"""Static analyses: linear, and nonlinear (Newton-Raphson, line search, adaptive load steps).

Divergence, NaN or inverted elements reject a load step, which is retried with half the
increment; below the smallest increment the solve stops with :class:`ConvergenceError`.
No NaN ever reaches a caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sim.errors import TwinsightError
from sim.fem.body import InversionError
from sim.fem.linsolve import SingularSystemError, factorize
from sim.fem.problem import Problem
from sim.progress import Progress, no_progress


class ConvergenceError(TwinsightError):
    """A nonlinear or dynamic solve did not converge even with the smallest step."""


@dataclass
class Solution:
    """Displacement (ndof,) and how it was obtained."""

    u: np.ndarray
    reactions: dict[str, list[float]]
    iterations: int
    converged: bool
    residual: float
    wall_time_s: float
    history: list[dict] = field(default_factory=list)


def free_dofs(ndof: int, fixed: np.ndarray) -> np.ndarray:
    mask = np.ones(ndof, dtype=bool)
    mask[fixed] = False
    return np.flatnonzero(mask)


def _reduce(K: sp.spmatrix, free: np.ndarray) -> sp.csc_matrix:
    return sp.csc_matrix(K[free][:, free])


def solve_linear(problem: Problem, progress: Progress = no_progress) -> Solution:
    """Small-displacement static equilibrium K u = f with prescribed displacements."""
    t0 = time.perf_counter()
    problem.check_supported()
    body = problem.body
    progress(0.05, "Assembling stiffness")
    K = body.linear_stiffness()
    fext = problem.external_force()
    fc, Kc = problem.contributed(np.zeros(body.ndof))
    if Kc is not None:
        K = K + Kc
    fixed, values = problem.dirichlet()
    free = free_dofs(body.ndof, fixed)
    u = np.zeros(body.ndof)
    u[fixed] = values
    rhs = (fext + fc - K @ u)[free]
    progress(0.3, "Factorising")
    u[free] = factorize(_reduce(K, free))(rhs)
    if not np.isfinite(u).all():
        raise SingularSystemError("The linear solve produced NaN: the system is singular.")
    residual_vec = K @ u - fext - fc
    scale = max(np.linalg.norm(fext + fc), np.linalg.norm(residual_vec[fixed]), 1e-30)
    rel = float(np.linalg.norm(residual_vec[free]) / scale)
    _check_absurd(problem, u)
    progress(1.0, "Solved")
    return Solution(u, problem.reactions(residual_vec), 1, True, rel, time.perf_counter() - t0)


def _check_absurd(problem: Problem, u: np.ndarray) -> None:
    """A displacement many times the body's size means wrong units or a missing support."""
    size = float(np.ptp(problem.body.mesh.points, axis=0).max())
    peak = float(np.abs(u).max(initial=0.0))
    if peak > 1e3 * size:
        raise ConvergenceError(f"The solution moves nodes by {peak:.3g} mm, over 1000 times the "
                               f"body's size ({size:.3g} mm): check units (MPa, N, mm) and supports.")


@dataclass
class NewtonSettings:
    steps: int = 1
    max_iterations: int = 25
    tolerance: float = 1e-8
    min_step_fraction: float = 1.0 / 1024
    line_search: bool = True


def _residual(problem: Problem, u: np.ndarray, factor: float, fext: np.ndarray):
    fint = problem.body.internal_force(u)
    fc, _ = problem.contributed(u)
    r = fint - factor * fext - fc
    if not np.isfinite(r).all():
        raise InversionError(0, -1)
    return r


def _newton(problem: Problem, u: np.ndarray, factor: float, fext: np.ndarray, free: np.ndarray,
            s: NewtonSettings, extra_matrix: sp.spmatrix | None = None,
            extra_force=None) -> tuple[np.ndarray, int, float]:
    """Newton iterations at a fixed load factor; raises InversionError/ConvergenceError on failure.

    ``extra_matrix``/``extra_force(u)`` let the dynamic solver add inertia and damping.
    """
    def res(v):
        r = _residual(problem, v, factor, fext)
        return r + extra_force(v) if extra_force is not None else r

    r = res(u)
    ref = max(np.linalg.norm(factor * fext[free]), np.linalg.norm(r[free]), 1e-30)
    for it in range(1, s.max_iterations + 1):
        K = problem.body.tangent(u)
        _, Kc = problem.contributed(u)
        if Kc is not None:
            K = K + Kc
        if extra_matrix is not None:
            K = K + extra_matrix
        spd = problem.body.law != "corotational"  # its consistent tangent is not symmetric
        try:
            du_free = factorize(_reduce(K, free), spd=spd)(-r[free])
        except SingularSystemError:
            du_free = factorize(_reduce(K, free), spd=False)(-r[free])
        if not np.isfinite(du_free).all():
            raise ConvergenceError("The tangent system produced NaN.")
        norm0 = np.linalg.norm(r[free])
        slope0 = abs(float(r[free] @ du_free))
        alpha = 1.0
        for _ in range(8 if s.line_search else 1):
            trial = u.copy()
            trial[free] += alpha * du_free
            try:
                r_trial = res(trial)
                # Accept when the residual or the energy slope along the step drops: the
                # residual norm alone rejects good Newton steps in bending.
                if (not s.line_search or np.linalg.norm(r_trial[free]) < norm0
                        or abs(float(r_trial[free] @ du_free)) < 0.9 * slope0 or alpha < 0.01):
                    break
            except InversionError:
                r_trial = None
            alpha *= 0.5
        if r_trial is None:
            raise InversionError(0, -1)
        u, r = trial, r_trial
        rel = float(np.linalg.norm(r[free]) / ref)
        step = float(np.linalg.norm(alpha * du_free) / max(np.linalg.norm(u[free]), 1e-30))
        # Converged on force, or on displacement (a correction below 1e-10 of u: the force
        # residual is then at its round-off floor, reached with tiny loads on stiff bodies).
        if rel < s.tolerance or (step < 1e-10 and rel < 1e-3):
            return u, it, rel
    raise ConvergenceError(f"Newton did not converge in {s.max_iterations} iterations "
                           f"(relative residual {rel:.2e}).")


def solve_nonlinear(problem: Problem, settings: NewtonSettings | None = None,
                    progress: Progress = no_progress, start: np.ndarray | None = None
                    ) -> Solution:
    """Large-deformation static equilibrium by load stepping from 0 to the full load.

    ``start``: the displacement at load factor 0 (an equilibrium of the contributors' forces
    alone, e.g. a solved state whose load is now a constant contributor): continuation."""
    s = settings or NewtonSettings()
    t0 = time.perf_counter()
    problem.check_supported()
    body = problem.body
    fext = problem.external_force()
    fixed, values = problem.dirichlet()
    free = free_dofs(body.ndof, fixed)
    u = np.zeros(body.ndof) if start is None else np.array(start, dtype=float)
    factor, dfac = 0.0, 1.0 / max(1, s.steps)
    total_iters, history = 0, []
    rel = 0.0
    while factor < 1.0 - 1e-12:
        target = min(1.0, factor + dfac)
        trial = u.copy()
        trial[fixed] = target * values
        try:
            trial, iters, rel = _newton(problem, trial, target, fext, free, s)
        except (InversionError, ConvergenceError, SingularSystemError) as exc:
            dfac *= 0.5
            history.append({"factor": target, "rejected": str(exc)})
            if dfac < s.min_step_fraction:
                raise ConvergenceError(f"The nonlinear solve failed at {100 * factor:.1f} % of the "
                                       f"load even with tiny steps: {exc}") from None
            continue
        u, factor = trial, target
        total_iters += iters
        history.append({"factor": factor, "iterations": iters, "residual": rel})
        progress(factor, f"Load {100 * factor:.0f} %")
        if iters <= 4:
            dfac = min(2 * dfac, 1.0)
    r = _residual(problem, u, 1.0, fext)
    _check_absurd(problem, u)
    return Solution(u, problem.reactions(r), total_iters, True, rel, time.perf_counter() - t0,
                    history)

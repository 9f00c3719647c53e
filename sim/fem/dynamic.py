"""Implicit dynamics: backward Euler with Rayleigh damping C = alpha M + beta K0.

Each step solves, for the end-of-step displacement u,
    M (u - u_n - h v_n) / h^2 + C (u - u_n) / h + f_int(u) - f_ext - f_contrib(u) = 0
by Newton's method. A step that diverges, inverts elements or meets NaN is rejected and
retried with half the time step (down to 1/64 of it); past that, ConvergenceError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from sim.errors import InputError
from sim.fem.body import InversionError
from sim.fem.linsolve import SingularSystemError
from sim.fem.problem import Problem
from sim.fem.static import ConvergenceError, NewtonSettings, _check_absurd, _newton, free_dofs
from sim.progress import Progress, no_progress


@dataclass
class DynamicSettings:
    dt: float = 0.01
    duration: float = 1.0
    rayleigh_mass: float = 0.0  # alpha (1/s)
    rayleigh_stiffness: float = 0.0  # beta (s)
    lumped_mass: bool = True
    newton: NewtonSettings = field(default_factory=lambda: NewtonSettings(tolerance=1e-6))
    min_dt_fraction: float = 1.0 / 64

    def __post_init__(self) -> None:
        if not (self.dt > 0 and self.duration > 0 and np.isfinite(self.dt + self.duration)):
            raise InputError("A dynamic analysis needs a positive time step and duration (s).")
        if self.duration / self.dt > 1e6:
            raise InputError(f"{self.duration / self.dt:.0f} time steps is too many; raise dt.")
        if self.rayleigh_mass < 0 or self.rayleigh_stiffness < 0:
            raise InputError("Rayleigh damping coefficients cannot be negative.")


@dataclass
class Trajectory:
    times: list[float]
    displacements: list[np.ndarray]
    velocity: np.ndarray
    iterations: int
    rejected_steps: int
    wall_time_s: float
    reactions: dict[str, list[float]]

    @property
    def u(self) -> np.ndarray:
        return self.displacements[-1]


class BackwardEuler:
    """A stepper object, so interactive callers can advance one step at a time."""

    def __init__(self, problem: Problem, settings: DynamicSettings) -> None:
        self.problem, self.s = problem, settings
        body = problem.body
        self.M = body.mass(lumped=settings.lumped_mass)
        self.K0 = body.linear_stiffness()
        self.fext = problem.external_force()
        self.fixed, self.values = problem.dirichlet()
        self.free = free_dofs(body.ndof, self.fixed)
        self.u = np.zeros(body.ndof)
        self.v = np.zeros(body.ndof)
        self.t = 0.0
        self.iterations = 0
        self.rejected = 0

    def _try(self, h: float, factor: float) -> tuple[np.ndarray, int]:
        s, M = self.s, self.M
        C = s.rayleigh_mass * M + s.rayleigh_stiffness * self.K0
        u_n, v_n = self.u, self.v
        jac = M / (h * h) + C / h

        def inertia(u):
            return M @ (u - u_n - h * v_n) / (h * h) + C @ (u - u_n) / h

        start = u_n + h * v_n
        start[self.fixed] = factor * self.values
        u, iters, _ = _newton(self.problem, start, 1.0, self.fext, self.free, s.newton,
                              extra_matrix=jac, extra_force=inertia)
        return u, iters

    def step(self, h: float | None = None, factor: float = 1.0) -> float:
        """Advance by h (default dt), halving on failure; returns the time step taken."""
        h = self.s.dt if h is None else h
        h_min = h * self.s.min_dt_fraction
        while True:
            try:
                u, iters = self._try(h, factor)
                break
            except (InversionError, ConvergenceError, SingularSystemError) as exc:
                self.rejected += 1
                h *= 0.5
                if h < h_min:
                    raise ConvergenceError(f"The dynamic step at t = {self.t:.4g} s failed even "
                                           f"with dt = {2 * h:.3g} s: {exc}") from None
        self.v = (u - self.u) / h
        self.u = u
        self.t += h
        self.iterations += iters
        return h


def solve_dynamic(problem: Problem, settings: DynamicSettings,
                  progress: Progress = no_progress) -> Trajectory:
    """Integrate from rest under the (constant) loads until ``duration``."""
    t0 = time.perf_counter()
    problem.check_supported()
    stepper = BackwardEuler(problem, settings)
    times, disps = [0.0], [stepper.u.copy()]
    while stepper.t < settings.duration - 1e-12:
        stepper.step(min(settings.dt, settings.duration - stepper.t))
        times.append(stepper.t)
        disps.append(stepper.u.copy())
        progress(stepper.t / settings.duration, f"t = {stepper.t:.3g} s")
    _check_absurd(problem, stepper.u)
    fint = problem.body.internal_force(stepper.u)
    fc, _ = problem.contributed(stepper.u)
    # Support forces balancing the elastic forces and loads at the end (inertia excluded).
    reactions = problem.reactions(fint - stepper.fext - fc)
    return Trajectory(times, disps, stepper.v, stepper.iterations, stepper.rejected,
                      time.perf_counter() - t0, reactions)

"""Neo-Hookean equilibrium for the fit: the organ solved as a large-strain elastic body.

The load-basis fit (:mod:`sim.registration.fe_fit`, co-rotational:
:mod:`sim.registration.fe_fit_corotational`) identifies the amplitudes a of the organ's
balanced load patterns and the pose. Here the organ is then solved to static equilibrium as a
compressible neo-Hookean body (:func:`sim.fem.static.solve_nonlinear`) under exactly those
loads, f(a) = K U a (the patterns' loads, inertia relief included), and corrected:

    repeat: fit (pose, a) on the tangent at the equilibrium surface (its sensitivity to the
            loads as the Jacobian, correspondences updated), re-solve the
            neo-Hookean equilibrium at the new a (continuation from the last one), and keep the
            step if the objective (robust data misfit / sigma^2 + lam |a|^2, lam from the
            evidence of the first fit) falls; halve it otherwise; stop when it stops falling.

**The free-floating organ.** The loads are self-equilibrated in the pre-op configuration, so
the body is held only by soft springs tying every node to its pre-op place (stiffness 1e-4 of
the mean diagonal stiffness: they remove the six rigid motions without prescribing any node).
A 3-2-1 support on three nodes was tried first: after large motion the dead loads are no longer
balanced about the deformed positions, the point supports take that moment and the bent bar
buckled locally there (indefinite tangent, Newton stalling). The springs' share of the applied
load is reported as a check (``support_reaction``; a few % on the 80 degree bent bar). The
solved positions are brought back to the fit's frame by a mass-weighted rigid alignment onto the
co-rotational deformation (first solve) or the last equilibrium (the pose is fitted separately).
The correction's Jacobian is the equilibrium's own sensitivity K_T(u)^-1 K U (one extra
factorisation per solve; the linear basis' sensitivity stalled after two steps on the bar),
rigid motion projected out.

Failure (Newton not converging even with small load steps, inverted elements) raises
:class:`NeoHookeanFailed`; the caller then keeps the co-rotational result and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sim.errors import TwinsightError
from sim.fem.body import Body, InversionError
from sim.fem.linsolve import SingularSystemError, factorize
from sim.fem.materials import Material
from sim.fem.problem import Load, Problem
from sim.fem.static import ConvergenceError, NewtonSettings, solve_nonlinear
from sim.mesh.tetmesh import TetMesh
from sim.registration.fe_fit import FitState, ReducedFit, embedding_responses
from sim.registration.fe_fit_corotational import NonlinearDeformation
from sim.registration.load_basis import LoadBasis, rigid_fields

if TYPE_CHECKING:
    from sim.registration.deformable import DeformableModel

NEWTON = NewtonSettings(steps=2, max_iterations=20, tolerance=1e-6, min_step_fraction=1.0 / 32)
# A correction step is small: if it needs more than 3 load halvings it is refused (and halved).
CONTINUE = NewtonSettings(steps=1, max_iterations=12, tolerance=1e-4, min_step_fraction=1.0 / 8)
SPRING = 1e-4  # soft springs' stiffness, share of the mean diagonal stiffness
SMALL = 1e-3  # mm: below this response Newton only chases round-off; the linear one is exact
TRUST = 0.03  # largest surface motion of one correction, share of the organ's size


class NeoHookeanFailed(TwinsightError):
    """The neo-Hookean equilibrium could not be solved under the identified loads."""


class _Forces:
    """Dead loads already applied (continuation) plus soft springs holding every node to its
    pre-op place: they remove the free body's rigid motion without prescribing any node."""

    def __init__(self, f: np.ndarray, k: float) -> None:
        self.f, self.k = f, k

    def force(self, u: np.ndarray) -> np.ndarray:
        return self.f - self.k * u

    def stiffness(self, u: np.ndarray) -> sp.spmatrix:
        return self.k * sp.identity(len(u), format="csr")


def rigid_align(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rotation R and translation t (x -> R x + t) that best match x (n, 3) onto y
    (weights w, least squares)."""
    cx = (w[:, None] * x).sum(axis=0) / w.sum()
    cy = (w[:, None] * y).sum(axis=0) / w.sum()
    M = ((x - cx) * w[:, None]).T @ (y - cy)
    u, _, vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(u @ vt))
    R = (u @ np.diag([1.0, 1.0, d]) @ vt).T
    return R, cy - R @ cx


@dataclass
class Equilibrium:
    """The neo-Hookean equilibrium at amplitudes ``a`` and its sensitivity there."""

    a: np.ndarray  # (m,)
    raw: np.ndarray  # (3n,) displacement as solved on the springs (continuation)
    u: np.ndarray  # (n, 3) aligned to the fit's frame
    U: np.ndarray  # (3n, m) du/da in the fit's frame, rigid motion projected out
    max_rotation_deg: float
    support_reaction: float  # share of the applied load carried by the supports
    newton_iterations: int


@dataclass
class NeoHookeanSolver:
    """The organ as a neo-Hookean body under the load basis' patterns."""

    mesh: TetMesh
    material: Material
    basis: LoadBasis
    body: Body = field(init=False)
    loads: np.ndarray = field(init=False)  # (3n, m): nodal loads of unit amplitudes
    spring: float = field(init=False)  # stiffness of the soft springs, N/mm per node

    def __post_init__(self) -> None:
        self.body = Body(self.mesh, self.material.with_law("neo_hookean"))
        K = Body(self.mesh, self.material.with_law("linear")).linear_stiffness()
        # K U: the balanced loads whose linear responses are the basis (K kills rigid motion).
        self.loads = np.asarray(K @ self.basis.U)
        self.spring = SPRING * float(K.diagonal().mean())

    def solve(self, a: np.ndarray, frame: np.ndarray, start: Equilibrium | None = None
              ) -> Equilibrium:
        """Equilibrium at ``a`` (from ``start``'s by continuation, or from the pre-op organ),
        rigidly aligned onto the nodal displacement ``frame`` (n, 3)."""
        from sim.registration.fe_fit_corotational import rotation_angles

        a = np.asarray(a, dtype=float)
        linear = self.basis.U @ a
        if np.abs(linear).max() < SMALL:  # infinitesimal strain: neo-Hookean is linear there
            return Equilibrium(a.copy(), linear, linear.reshape(-1, 3), self.basis.U, 0.0, 0.0, 0)
        if start is None:
            base, u0 = None, None
            f = self.loads @ a
        else:
            base, u0 = self.loads @ start.a, start.raw
            f = self.loads @ (a - start.a)
        springs = _Forces(np.zeros_like(f) if base is None else base, self.spring)
        problem = Problem(self.body, [], [Load("fit loads", "force", f)], [springs])
        try:
            sol = solve_nonlinear(problem, NEWTON if start is None else CONTINUE, start=u0)
            # Sensitivity to the (dead) loads: K_T(u) du = F da on the supported body.
            Kt = (self.body.tangent(sol.u) + springs.stiffness(sol.u)).tocsc()
            try:
                dU = np.asarray(factorize(Kt)(self.loads))
            except SingularSystemError:  # past a limit point: the tangent is indefinite
                dU = np.asarray(factorize(Kt, spd=False)(self.loads))
        except (ConvergenceError, InversionError, SingularSystemError) as exc:
            raise NeoHookeanFailed(str(exc)) from None
        total = self.loads @ a
        applied = float(np.linalg.norm(total.reshape(-1, 3), axis=1).sum())
        carried = float(np.linalg.norm(self.spring * sol.u.reshape(-1, 3), axis=1).sum())
        X, mass = self.mesh.points, self.basis.mass
        R, t = rigid_align(X + sol.u.reshape(-1, 3), X + frame, mass)
        x = (X + sol.u.reshape(-1, 3)) @ R.T + t
        n = len(X)
        U = np.einsum("ij,njm->nim", R, dU.reshape(n, 3, -1)).reshape(3 * n, -1)
        centre = (mass[:, None] * x).sum(axis=0) / mass.sum()
        Rg = rigid_fields(x, centre)  # the pose takes rigid motion
        wm = np.repeat(mass, 3)
        U -= Rg @ np.linalg.solve(Rg.T @ (Rg * wm[:, None]), Rg.T @ (U * wm[:, None]))
        turn = float(rotation_angles(self.body.rotations((x - X).ravel())).max())
        return Equilibrium(a.copy(), sol.u, x - X, U, turn, carried / max(applied, 1e-300),
                           sol.iterations)


def neo_hookean_fit(model: DeformableModel, pts: np.ndarray, sigma: float, state: FitState,
                    frame: np.ndarray, iterations: int, outer: int = 8
                    ) -> tuple[FitState, NonlinearDeformation, dict[str, float]]:
    """Correct the fit ``state`` (co-rotational, nodal deformation ``frame`` (n, 3)) with
    neo-Hookean equilibria.

    Returns the state (residuals of the equilibrium surface), the deformation (law
    'neo-hookean', tangent: the co-rotational sensitivity) and checks. Raises
    :class:`NeoHookeanFailed` when the first equilibrium cannot be solved."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        return _fit(model, pts, sigma, state, frame, iterations, outer)


def _fit(model: DeformableModel, pts: np.ndarray, sigma: float, state: FitState,
         frame: np.ndarray, iterations: int, outer: int) -> tuple[FitState, NonlinearDeformation, dict[str, float]]:
    solver = model.neo_hookean
    E, V, faces = model.surface_embedding.matrix, model.vertices, model.reduced.faces
    lam = state.lam
    size = model.size

    def evaluate(eq: Equilibrium, T: np.ndarray) -> tuple[FitState, float, ReducedFit]:
        fit = ReducedFit(V + E @ eq.u, faces, embedding_responses(E, eq.U), eq.a)
        st = fit.fit(pts, sigma, T, eq.a, 0, lam=lam)
        return st, float((st.weight * st.residual ** 2).sum() / sigma ** 2
                         + lam * (eq.a ** 2).sum()), fit

    eq = solver.solve(state.a, frame)
    newton = eq.newton_iterations
    st, obj, fit = evaluate(eq, state.T)
    steps = 0
    for _ in range(outer):
        prop = fit.fit(pts, sigma, st.T, eq.a, iterations, lam=lam)
        step = prop.a - eq.a
        reach = float(np.abs(fit.Us @ step).max())
        if reach < 0.01 * sigma:  # the data ask for no visible change: converged
            break
        step *= min(1.0, TRUST * size / max(reach, 1e-300))  # trust region
        better, frac = None, 1.0
        for _halving in range(3):
            a_new = eq.a + frac * step
            try:
                eq_new = solver.solve(a_new, eq.u, eq)
            except NeoHookeanFailed:
                frac *= 0.5
                continue
            newton += eq_new.newton_iterations
            st_new, obj_new, fit_new = evaluate(eq_new, _pose_between(st.T, prop.T, frac))
            if obj_new < obj:
                better = (eq_new, st_new, obj_new, fit_new)
                break
            frac *= 0.5
        if better is None:
            break
        gain = obj - better[2]
        eq, st, obj, fit = better
        steps += 1
        if gain < 0.01 * obj:  # the misfit stopped improving
            break
    st.iterations, st.converged = state.iterations + steps, True
    nl = NonlinearDeformation(eq.a, eq.u, eq.U, eq.max_rotation_deg, law="neo-hookean")
    return st, nl, {"support_reaction": eq.support_reaction, "newton_iterations": newton,
                    "corrections": steps}


def _pose_between(T0: np.ndarray, T1: np.ndarray, frac: float) -> np.ndarray:
    """The pose ``frac`` of the way from T0 to T1 (rotation vector and translation scaled)."""
    from scipy.spatial.transform import Rotation

    D = T1 @ np.linalg.inv(T0)
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(frac * Rotation.from_matrix(D[:3, :3]).as_rotvec()
                                       ).as_matrix()
    out[:3, 3] = frac * D[:3, 3]
    return out @ T0

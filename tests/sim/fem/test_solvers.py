"""Static nonlinear, dynamic and failure handling of the solvers (bad input, divergence, NaN)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sim.errors import InputError, TwinsightError
from sim.fem.body import Body
from sim.fem.dynamic import DynamicSettings, solve_dynamic
from sim.fem.materials import Material
from sim.fem.problem import Constraint, Load, Problem
from sim.fem.static import ConvergenceError, NewtonSettings, solve_linear, solve_nonlinear
from sim.mesh.generators import box
from sim.mesh.tetmesh import TetMesh
from tests.sim.fem.helpers import cantilever, tip_deflection


def test_small_load_nonlinear_laws_agree_with_linear():
    lin = cantilever(1, (20, 2, 2))
    ref = tip_deflection(lin, solve_linear(lin).u)
    for law in ("corotational", "neo_hookean"):
        p = cantilever(1, (20, 2, 2), law=law, load=1e-3)
        tip = tip_deflection(p, solve_nonlinear(p).u) / 1e-3
        assert abs(tip / ref - 1) < 2e-3, (law, tip, ref)


def test_large_deflection_stiffens_and_newton_reports_convergence():
    p = cantilever(1, (20, 2, 2), law="neo_hookean", load=2.0)
    sol = solve_nonlinear(p, NewtonSettings(steps=4))
    lin = cantilever(1, (20, 2, 2), load=2.0)
    tip_lin = tip_deflection(lin, solve_linear(lin).u)
    tip = tip_deflection(p, sol.u)
    assert sol.converged and sol.residual < 1e-8 and sol.iterations >= 4
    assert 0.3 * tip_lin < tip < 0.97 * tip_lin  # geometric stiffening of a large deflection
    assert sol.reactions["clamp"][2] == pytest.approx(2.0, rel=1e-8)
    assert all(np.isfinite(sol.u))


def test_corotational_large_rotation_close_to_neo_hookean():
    tips = {}
    for law in ("corotational", "neo_hookean"):
        p = cantilever(1, (20, 2, 2), law=law, load=0.4)
        tips[law] = tip_deflection(p, solve_nonlinear(p, NewtonSettings(steps=8)).u)
    assert abs(tips["corotational"] / tips["neo_hookean"] - 1) < 0.05


def test_impossible_load_fails_cleanly_without_nan():
    p = cantilever(1, (6, 1, 1), law="neo_hookean", load=1e6)
    with pytest.raises(ConvergenceError, match="load"):
        solve_nonlinear(p, NewtonSettings(steps=1, max_iterations=8, min_step_fraction=1 / 16))


def test_free_body_is_refused_with_the_missing_support_named():
    p = cantilever(1, (4, 1, 1))
    p.constraints = [Constraint("one axis", p.constraints[0].nodes, (2,))]
    with pytest.raises(InputError, match="not held.*x translation"):
        solve_linear(p)
    p.constraints = []
    with pytest.raises(InputError, match="not held"):
        solve_nonlinear(p)


def test_unit_mistakes_are_caught():
    with pytest.raises(InputError, match="pascals"):
        Material("steel in Pa", 2.0e11, 0.3)
    with pytest.raises(InputError, match="Density"):
        Material("kg/m3", 200.0, 0.3, density=7800.0)
    with pytest.raises(InputError, match="Poisson"):
        Material("bad", 200.0, 0.5)


def test_degenerate_and_inverted_input_tets_are_rejected():
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=float)
    with pytest.raises(InputError, match="inverted"):
        TetMesh(pts, [[0, 2, 1, 3]])
    with pytest.raises(InputError, match="degenerate"):
        TetMesh(pts, [[0, 1, 2, 4]])
    with pytest.raises(InputError, match="missing nodes"):
        TetMesh(pts, [[0, 1, 2, 9]])
    bad = pts.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        TetMesh(bad, [[0, 1, 2, 3]])


def test_dynamic_backward_euler_settles_on_the_static_answer():
    p = cantilever(1, (10, 2, 2))
    p.body.material = Material("beam", 1000.0, 0.3, density=1e-8)
    static = tip_deflection(p, solve_linear(p).u)
    traj = solve_dynamic(p, DynamicSettings(dt=1e-4, duration=0.02, rayleigh_mass=600.0))
    tips = np.array([tip_deflection(p, u) for u in traj.displacements])
    assert tips.max() > 1.2 * static  # it overshoots (inertia) ...
    assert abs(tips[-1] / static - 1) < 1e-3  # ... and damping brings it to rest
    assert traj.reactions["clamp"][2] == pytest.approx(1.0, rel=1e-3)


def test_dynamic_step_rejection_halves_the_time_step():
    p = cantilever(1, (6, 1, 1), law="neo_hookean", load=3.0)
    p.body.material = Material("soft", 10.0, 0.3, density=1e-9, law="neo_hookean")
    s = DynamicSettings(dt=0.05, duration=0.1, rayleigh_mass=50.0)
    s.newton.max_iterations = 6
    try:
        traj = solve_dynamic(p, s)
    except ConvergenceError as exc:
        assert "dt" in str(exc)
    else:
        assert np.isfinite(traj.u).all()


class _Spring:
    """A ground spring on one node: the shape a rigid-contact penalty plugs in with."""

    def __init__(self, ndof: int, node: int, k: float) -> None:
        self.dofs = 3 * node + np.arange(3)
        self.k = k
        self.K = sp.csr_matrix((np.full(3, k), (self.dofs, self.dofs)), shape=(ndof, ndof))

    def force(self, u):
        f = np.zeros_like(u)
        f[self.dofs] = -self.k * u[self.dofs]
        return f

    def stiffness(self, u):
        return self.K


def test_force_contributor_plugs_into_linear_and_newton_solvers():
    p = cantilever(1, (10, 2, 2))
    tip_node = int(np.flatnonzero(np.all(np.abs(p.body.mesh.points - [10, 1, 1]) < 1e-9, 1))[0])
    free_tip = solve_linear(p).u.reshape(-1, 3)[tip_node, 2]
    p.contributors = [_Spring(p.body.ndof, tip_node, 10.0)]
    held = solve_linear(p).u.reshape(-1, 3)[tip_node, 2]
    assert 0 > held > 0.5 * free_tip
    p2 = cantilever(1, (10, 2, 2), law="corotational", load=1e-3)
    p2.contributors = [_Spring(p2.body.ndof, tip_node, 10.0)]
    nl = solve_nonlinear(p2).u.reshape(-1, 3)[tip_node, 2] / 1e-3
    assert abs(nl / held - 1) < 5e-3


def test_twinsight_errors_never_leak_nan():
    mesh = box((1, 1, 1), (1, 1, 1))
    body = Body(mesh, Material("m", 1.0, 0.3, law="neo_hookean"))
    u = np.zeros(body.ndof)
    u[3 * 7 : 3 * 7 + 3] = -5.0  # drag one corner through the cube: inverted elements
    with pytest.raises(TwinsightError, match="inverted"):
        body.internal_force(u)
    assert body.inverted(u).any()


def test_prescribed_displacement_and_reactions_balance():
    mesh = box((2.0, 1.0, 1.0), (4, 2, 2))
    body = Body(mesh, Material("m", 100.0, 0.25))
    P = mesh.points
    cons = [Constraint("left", np.flatnonzero(P[:, 0] < 1e-9)),
            Constraint("right", np.flatnonzero(P[:, 0] > 2 - 1e-9), displacement=(0.01, 0, 0))]
    sol = solve_linear(Problem(body, cons, [Load("none", "none", np.zeros(body.ndof))]))
    left, right = np.array(sol.reactions["left"]), np.array(sol.reactions["right"])
    assert np.allclose(left + right, 0, atol=1e-9)
    assert right[0] > 0

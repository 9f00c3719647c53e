"""Verification against analytic solutions: patch tests, Timoshenko cantilever, Lamé cylinder
and sphere, neo-Hookean uniaxial stretch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from sim.fem.body import Body
from sim.fem.materials import Material
from sim.fem.problem import Constraint, Load, Problem, surface_traction
from sim.fem.results import compute_fields
from sim.fem.static import NewtonSettings, solve_linear, solve_nonlinear
from sim.mesh.generators import box, quarter_annulus, sphere_shell_octant
from tests.sim.fem.helpers import cantilever, tip_deflection

TIMOSHENKO_TIP = 4.0306


def _distorted_box(order: int):
    mesh = box((2.0, 1.0, 1.5), (3, 3, 3))
    rng = np.random.default_rng(7)
    inner = np.flatnonzero(~np.isin(np.arange(mesh.n_nodes), mesh.boundary_nodes))
    pts = mesh.points.copy()
    pts[inner] += rng.uniform(-0.08, 0.08, (len(inner), 3))
    return type(mesh)(pts, mesh.cells).with_order(order)


@pytest.mark.parametrize("order", [1, 2])
def test_patch_linear_field_reproduced_exactly(order):
    mesh = _distorted_box(order)
    body = Body(mesh, Material("m", 200.0, 0.3))
    A = np.array([[1e-3, 2e-3, -1e-3], [5e-4, -2e-3, 1e-3], [3e-3, 1e-3, 2e-3]])
    exact = mesh.points @ A.T + np.array([0.1, -0.2, 0.05])
    bnodes = mesh.boundary_nodes
    cons = [Constraint(f"n{k}", [k], displacement=tuple(exact[k])) for k in bnodes]
    sol = solve_linear(Problem(body, cons, []))
    u = sol.u.reshape(-1, 3)
    assert np.abs(u - exact).max() < 1e-12 * 10 + 1e-10 * np.abs(exact).max()
    fields = compute_fields(body, sol.u)
    eps = 0.5 * (A + A.T)
    lam, mu = body.material.lame
    sigma = lam * np.trace(eps) * np.eye(3) + 2 * mu * eps
    assert np.abs(fields.stress - sigma).max() < 1e-9 * np.abs(sigma).max()


@pytest.mark.parametrize("law", ["corotational", "neo_hookean"])
@pytest.mark.parametrize("order", [1, 2])
def test_rigid_rotation_gives_zero_force(law, order):
    mesh = _distorted_box(order)
    body = Body(mesh, Material("m", 200.0, 0.3, law=law))
    angle = np.radians(70.0)
    axis = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    Q = np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K
    u = (mesh.points @ Q.T - mesh.points + np.array([3.0, -1.0, 2.0])).ravel()
    f = body.internal_force(u)
    scale = np.abs(body.linear_stiffness() @ (0.01 * u)).max()
    assert np.abs(f).max() < 1e-10 * scale
    # ... while the linear law, which is not rotation invariant, produces large spurious forces
    assert np.abs(body.linear_stiffness() @ u).max() > 1e3 * np.abs(f).max()


def test_cantilever_p2_two_elements_through_thickness():
    problem = cantilever(2, (20, 2, 2))
    tip = tip_deflection(problem, solve_linear(problem).u)
    print(f"\nP2 20x2x2 tip deflection {tip:.4f} vs Timoshenko {TIMOSHENKO_TIP}")
    assert abs(tip / TIMOSHENKO_TIP - 1) < 0.015


def test_cantilever_mesh_convergence_study():
    """P1 locks (far from the answer); P2 converges; reported for the record."""
    rows = []
    for order, div in [(1, (10, 1, 1)), (1, (20, 2, 2)), (1, (40, 4, 4)), (2, (5, 1, 1)),
                       (2, (10, 1, 1)), (2, (20, 2, 2)), (2, (30, 3, 3))]:
        p = cantilever(order, div)
        rows.append((order, div, p.body.mesh.n_elements, tip_deflection(p, solve_linear(p).u)))
    print("\norder divisions elements tip ratio")
    for order, div, n, tip in rows:
        print(f"P{order} {div} {n} {tip:.4f} {tip / TIMOSHENKO_TIP:.3f}")
    p1 = [r[3] for r in rows if r[0] == 1]
    p2 = [r[3] for r in rows if r[0] == 2]
    assert p1 == sorted(p1) and p1[0] < 0.5 * TIMOSHENKO_TIP  # locking, slowly relieved
    assert p2 == sorted(p2) and abs(p2[-1] / TIMOSHENKO_TIP - 1) < 0.01


def _ring_constraints(points, height=None):
    cons = [Constraint("x=0", np.flatnonzero(np.abs(points[:, 0]) < 1e-9), (0,)),
            Constraint("y=0", np.flatnonzero(np.abs(points[:, 1]) < 1e-9), (1,))]
    if height is None:
        cons.append(Constraint("z=0", np.flatnonzero(np.abs(points[:, 2]) < 1e-9), (2,)))
    else:
        ends = (np.abs(points[:, 2]) < 1e-9) | (np.abs(points[:, 2] - height) < 1e-9)
        cons.append(Constraint("plane strain", np.flatnonzero(ends), (2,)))
    return cons


def _pressurised(mesh, radius_of, a, p, cons):
    body = Body(mesh, Material("m", 1000.0, 0.3))
    faces, _ = mesh.boundary
    inner = faces[np.all(np.abs(radius_of(mesh.points[faces]) - a) < 1e-6, axis=1)]
    load = Load("p", "pressure", surface_traction(body, inner, pressure=p))
    sol = solve_linear(Problem(body, cons, [load]))
    return body, sol, compute_fields(body, sol.u)


def test_lame_thick_cylinder_plane_strain():
    E, nu, p, a, b, h = 1000.0, 0.3, 1.0, 10.0, 20.0, 2.0
    mesh = quarter_annulus(a, b, h, 1.25)
    body, sol, fields = _pressurised(mesh, lambda x: np.hypot(x[..., 0], x[..., 1]), a, p,
                                     _ring_constraints(mesh.points, h))
    P = mesh.points
    r = np.hypot(P[:, 0], P[:, 1])
    u = sol.u.reshape(-1, 3)
    ur = (u[:, 0] * P[:, 0] + u[:, 1] * P[:, 1]) / r
    c, s = P[:, 0] / r, P[:, 1] / r
    S = fields.stress
    hoop = S[:, 0, 0] * s * s + S[:, 1, 1] * c * c - 2 * S[:, 0, 1] * s * c
    k = p * a * a / (b * b - a * a)
    for R in (a, b):
        on = np.abs(r - R) < 1e-6
        ur_exact = (1 + nu) / E * k * ((1 - 2 * nu) * R + b * b / R)
        hoop_exact = k * (1 + b * b / R**2)
        assert np.abs(ur[on] / ur_exact - 1).max() < 0.01
        assert np.abs(hoop[on] / hoop_exact - 1).max() < 0.01


def test_lame_thick_sphere():
    E, nu, p, a, b = 1000.0, 0.3, 1.0, 10.0, 20.0
    mesh = sphere_shell_octant(a, b, 1.5, inner_size=0.6)  # graded: the stress falls as 1/r^3
    body, sol, fields = _pressurised(mesh, lambda x: np.linalg.norm(x, axis=-1), a, p,
                                     _ring_constraints(mesh.points))
    P = mesh.points
    r = np.linalg.norm(P, axis=1)
    u = sol.u.reshape(-1, 3)
    ur = np.einsum("ij,ij->i", u, P) / r
    # Hoop stress = (trace - radial) / 2 by symmetry.
    n = P / r[:, None]
    radial = np.einsum("ni,nij,nj->n", n, fields.stress, n)
    hoop = 0.5 * (np.trace(fields.stress, axis1=1, axis2=2) - radial)
    k = p * a**3 / (b**3 - a**3)
    for R in (a, b):
        on = np.abs(r - R) < 1e-6
        ur_exact = k / E * ((1 - 2 * nu) * R + (1 + nu) * b**3 / (2 * R * R))
        hoop_exact = k * (1 + b**3 / (2 * R**3))
        # Within 1 % at every node of both surfaces (measured: hoop 0.88 % inside, 0.63 %
        # outside; a uniform 1.5 mm mesh scatters 3 % inside).
        assert np.abs(ur[on] / ur_exact - 1).max() < 0.01
        assert np.abs(hoop[on] / hoop_exact - 1).max() < 0.01


def test_neo_hookean_uniaxial_stretch_to_1_5():
    E, nu, stretch = 10.0, 0.3, 1.5
    mesh = box((1.0, 1.0, 1.0), (2, 2, 2))
    body = Body(mesh, Material("rubber", E, nu, law="neo_hookean"))
    P = mesh.points
    cons = [Constraint("x=0", np.flatnonzero(P[:, 0] < 1e-9), (0,)),
            Constraint("y=0", np.flatnonzero(P[:, 1] < 1e-9), (1,)),
            Constraint("z=0", np.flatnonzero(P[:, 2] < 1e-9), (2,)),
            Constraint("pull", np.flatnonzero(P[:, 0] > 1 - 1e-9), (0,),
                       displacement=(stretch - 1.0, 0.0, 0.0))]
    sol = solve_nonlinear(Problem(body, cons, []), NewtonSettings(steps=4))
    lam, mu = body.material.lame
    lat = brentq(lambda l2: mu * (l2 * l2 - 1) + lam * np.log(stretch * l2 * l2), 0.3, 1.0)
    J = stretch * lat * lat
    sigma11 = (mu * (stretch**2 - 1) + lam * np.log(J)) / J
    corner = np.flatnonzero(np.all(np.abs(P - 1.0) < 1e-9, axis=1))[0]
    assert abs((1 + sol.u.reshape(-1, 3)[corner, 1]) / lat - 1) < 1e-8
    force = sol.reactions["pull"][0]
    assert abs(force / (sigma11 * lat * lat) - 1) < 1e-8  # Cauchy stress x current area
    fields = compute_fields(body, sol.u)
    assert np.abs(fields.stress[:, 0, 0] / sigma11 - 1).max() < 1e-8

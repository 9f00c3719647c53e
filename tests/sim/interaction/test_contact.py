"""Rigid-tool contact: a flat probe indenting a block against a static FE solve of the same
indentation, no penetration, release on retraction, friction."""

from __future__ import annotations

import numpy as np
import pytest

from sim.fem.body import Body
from sim.fem.materials import Material
from sim.fem.problem import Constraint, Problem
from sim.fem.static import solve_linear
from sim.interaction.contact import ContactSimulator
from sim.interaction.tools import Instrument
from sim.mesh.generators import box

SIZE, DIV = (40.0, 40.0, 20.0), (16, 16, 8)
RADIUS, DEPTH = 6.2, 0.5  # 6.2 mm: no node of the 2.5 mm grid lies on the probe's rim
CENTRE = np.array([20.0, 20.0])
GEL = Material("gel", 0.01, 0.45, 1e-9, "linear")


@pytest.fixture(scope="module")
def block():
    mesh = box(SIZE, DIV)
    return mesh, np.flatnonzero(mesh.points[:, 2] < 1e-9)


def _probe_at(z: float) -> Instrument:
    probe = Instrument("probe", "probe", {"radius": RADIUS, "length": 30.0})
    probe.pose[:3, 3] = [CENTRE[0], CENTRE[1], z]
    return probe


def _indent(mesh, bottom, friction=0.0, hold=25):
    probe = _probe_at(SIZE[2] + 1.0)
    sim = ContactSimulator(Body(mesh, GEL), bottom, [probe], friction=friction, dt=0.1,
                           gravity=(0, 0, 0), rayleigh_mass=2.0, tolerance=1e-5,
                           max_iterations=400)
    push = 15
    for i in range(push + hold):
        probe.pose[2, 3] = SIZE[2] + 1.0 - (1.0 + DEPTH) * min(i + 1, push) / push
        sim.step()
    return sim, probe


def test_flat_probe_force_matches_static_indentation(block):
    mesh, bottom = block
    p = mesh.points
    under = np.flatnonzero((np.abs(p[:, 2] - SIZE[2]) < 1e-9)
                           & (np.hypot(p[:, 0] - CENTRE[0], p[:, 1] - CENTRE[1]) < RADIUS))
    # Static reference: frictionless flat punch = the footprint's vertical displacement is
    # prescribed, its lateral motion free.
    static = solve_linear(Problem(Body(mesh, GEL), [
        Constraint("base", bottom), Constraint("punch", under, (2,), (0.0, 0.0, -DEPTH))]))
    expected = -static.reactions["punch"][2]  # N pushing up on the punch
    assert expected > 0.05

    sim, probe = _indent(mesh, bottom)
    force = sim.contact_force("probe")
    assert force[2] == pytest.approx(expected, rel=0.05)
    assert abs(force[0]) < 0.01 * force[2] and abs(force[1]) < 0.01 * force[2]
    state = sim.contacts["probe"]
    assert set(state.nodes.tolist()) == set(under.tolist())
    # No node inside the probe beyond the 0.5 mm tolerance (in fact none at all).
    assert sim.penetration() < 0.5
    assert sim.penetration() < 1e-6
    np.testing.assert_allclose(sim.displacement[under, 2], -DEPTH, atol=1e-6)


def test_probe_release_leaves_no_adhesion(block):
    mesh, bottom = block
    sim, probe = _indent(mesh, bottom, hold=3)
    assert sim.contact_force("probe")[2] > 0
    probe.pose[2, 3] = SIZE[2] + 5.0  # pull the probe away
    for _ in range(30):
        sim.step()
    assert np.linalg.norm(sim.contact_force("probe")) == 0.0
    assert np.abs(sim.displacement).max() < 0.05 * DEPTH  # the block sprang back


def test_friction_drags_the_surface_along():
    mesh = box((40.0, 20.0, 10.0), (16, 8, 4))
    bottom = np.flatnonzero(mesh.points[:, 2] < 1e-9)
    results = {}
    for mu in (0.0, 1.0):
        # A blade wider than the block: its flat face is the only contact (no ploughing).
        spatula = Instrument("spatula", "spatula", {"width": 60.0, "thickness": 30.0,
                                                     "blade": 10.0})
        spatula.pose[:3, 3] = [20.0, 10.0, 10.0 - 0.4]
        sim = ContactSimulator(Body(mesh, GEL), bottom, [spatula], friction=mu, dt=0.1,
                               gravity=(0, 0, 0), tolerance=1e-5, max_iterations=400)
        for _ in range(5):
            sim.step()
        for _ in range(10):  # slide 2 mm along +x while pressing
            spatula.pose[0, 3] += 0.2
            sim.step()
        p = mesh.points  # the nodes under the middle of the blade
        under = np.flatnonzero((np.abs(p[:, 2] - 10.0) < 1e-9) & (np.abs(p[:, 0] - 20.0) < 2.6)
                               & (np.abs(p[:, 1] - 10.0) < 2.6))
        results[mu] = (sim.displacement[under, 0].mean(), sim.contact_force("spatula"))
        assert sim.penetration() < 0.5
    assert abs(results[0.0][0]) < 0.05  # frictionless: the blade slides over the tissue
    assert abs(results[0.0][1][0]) < 1e-3 * results[0.0][1][2]
    assert results[1.0][0] > 1.0  # sticking friction carries the tissue along (2 mm slide)
    assert results[1.0][1][0] < -0.05 * results[1.0][1][2]  # and resists the motion (-x)
    assert abs(results[1.0][1][0]) <= 1.0 * results[1.0][1][2] * 1.05  # Coulomb: |Ft| <= mu Fn


@pytest.mark.parametrize("kind, params", [("probe", {"radius": 3.0, "tip": "round"}),
                                          ("spatula", {"width": 12.0, "thickness": 3.0}),
                                          ("grasper", {"opening": 6.0})])
def test_no_node_ends_a_step_inside_a_moving_tool(block, kind, params):
    mesh, bottom = block
    tool = Instrument(kind, kind, params)
    tool.pose[:3, 3] = [12.0, 20.0, SIZE[2] + 0.5]
    sim = ContactSimulator(Body(mesh, GEL), bottom, [tool], dt=0.02, gravity=(0, 0, 0))
    worst = 0.0
    for i in range(30):  # down 3 mm into the block, then sideways 8 mm, 0.5 mm per step
        if i < 7:
            tool.pose[2, 3] -= 0.5
        else:
            tool.pose[0, 3] += 0.35
        sim.step()
        worst = max(worst, sim.penetration())
    assert np.linalg.norm(sim.contact_force(kind)) > 0
    assert worst < 0.5  # the stated tolerance (mm)


def test_thin_probe_between_coarse_nodes_pushes_the_collision_surface():
    """A 1.5 mm probe centred between the nodes of a 10 mm mesh touches no node: node contact
    alone gives no force and the tool sinks in. With the fine top surface embedded as the
    collision surface, the force appears, grows about linearly with depth and the fine surface
    stays on the tool (penetration well under the 0.5 mm tolerance)."""
    from sim.fem.embedding import embed
    from sim.interaction.contact import CollisionSurface

    mesh = box(SIZE, (4, 4, 2))
    bottom = np.flatnonzero(mesh.points[:, 2] < 1e-9)
    g = np.linspace(0.0, SIZE[0], 81)
    gx, gy = np.meshgrid(g, g)
    top = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, SIZE[2])])
    emb = embed(mesh, top)
    results = {}
    for with_surface in (False, True):
        for depth in (1.0, 2.0):
            probe = Instrument("probe", "probe", {"radius": 1.5, "length": 30.0})
            probe.pose[:3, 3] = [15.0, 15.0, SIZE[2] + 1.0]
            sim = ContactSimulator(
                Body(mesh, GEL), bottom, [probe], dt=0.1, gravity=(0, 0, 0),
                rayleigh_mass=2.0, tolerance=1e-5, max_iterations=400,
                collision_surface=CollisionSurface(top, emb.matrix) if with_surface else None)
            for i in range(40):
                probe.pose[2, 3] = SIZE[2] + 1.0 - (1.0 + depth) * min(i + 1, 15) / 15
                sim.step()
            d, _ = probe.signed_distance(top + emb.map(sim.displacement))
            results[with_surface, depth] = (sim.contact_force("probe")[2], -d.min())
    assert results[False, 1.0][0] == 0.0 and results[False, 2.0][1] > 1.0  # sinks in
    f1, pen1 = results[True, 1.0]
    f2, pen2 = results[True, 2.0]
    assert f1 > 0.05 and 1.6 < f2 / f1 < 2.2
    assert max(pen1, pen2) < 0.1

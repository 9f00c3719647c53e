"""The interactive co-rotational solver: converged steps, rest state, static limit, grabbing."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.fem.body import Body
from sim.fem.interactive import CorotationalSimulator
from sim.fem.materials import Material
from sim.fem.problem import Constraint, Load, Problem
from sim.fem.static import NewtonSettings, solve_nonlinear
from sim.mesh.generators import box


def _beam(E=0.05, div=(10, 3, 3)):
    mesh = box((100.0, 20.0, 20.0), div)
    body = Body(mesh, Material("soft", E, 0.45, density=1e-9, law="corotational"))
    return mesh, body, np.flatnonzero(mesh.points[:, 0] < 1e-9)


def test_rest_state_stays_at_rest_without_load():
    mesh, body, fixed = _beam()
    sim = CorotationalSimulator(body, fixed, gravity=(0, 0, 0))
    for _ in range(3):
        report = sim.step()
        assert report.iterations <= 1 and report.inverted == 0  # round-off only
    assert np.abs(sim.displacement).max() < 1e-12


def test_every_step_converges_to_the_tolerance_and_settles_on_the_static_solution():
    mesh, body, fixed = _beam()
    sim = CorotationalSimulator(body, fixed, dt=1 / 30, rayleigh_mass=8.0, tolerance=1e-6)
    for _ in range(150):
        report = sim.step()
        assert report.relative_residual <= 1e-6 and report.inverted == 0
    g = body.body_force(np.array([0.0, 0.0, -9810.0]))
    static = solve_nonlinear(Problem(body, [Constraint("wall", fixed)], [Load("g", "gravity", g)]),
                             NewtonSettings(steps=4))
    tip = mesh.points[:, 0] > 100 - 1e-9
    ours = sim.displacement[tip].mean(axis=0)
    ref = static.u.reshape(-1, 3)[tip].mean(axis=0)
    assert ref[2] < -20  # a large deflection: rotations matter
    assert np.linalg.norm(ours - ref) < 0.01 * np.linalg.norm(ref)


def test_grabbed_node_is_dragged_and_released():
    mesh, body, fixed = _beam(E=0.5)
    sim = CorotationalSimulator(body, fixed, gravity=(0, 0, 0), rayleigh_mass=5.0)
    node = int(np.argmax(mesh.points[:, 0] + mesh.points[:, 1] + mesh.points[:, 2]))
    target = mesh.points[node] + np.array([0.0, 15.0, 0.0])
    sim.grab(node, target)
    for _ in range(10):
        sim.step()
    assert np.allclose(sim.x[node], target, atol=1e-9)
    assert sim.displacement[mesh.points[:, 0] > 50, 1].mean() > 3.0  # the body came along
    sim.grab(node, None)
    sim.step()
    assert not np.allclose(sim.x[node], target, atol=1e-6)


def test_interactive_solver_needs_p1():
    mesh = box((1, 1, 1), (1, 1, 1), order=2)
    with pytest.raises(InputError, match="P1"):
        CorotationalSimulator(Body(mesh, Material("m", 1.0, 0.3)), [0])


def test_background_refactor_keeps_the_motion_and_cuts_cg_iterations():
    """The preconditioner refactored for the current rotations (on a background thread) changes
    only how fast CG converges, not where the body goes; large rotations need fewer iterations."""
    runs = {}
    for background in (False, True):
        mesh, body, fixed = _beam(div=(16, 4, 4))
        sim = CorotationalSimulator(body, fixed, dt=1 / 60, rayleigh_mass=2.0,
                                    background_refactor=background)
        iters = []
        for _ in range(60):
            iters.append(sim.step().iterations)
            if background and sim._refactor._thread is not None:
                sim._refactor._thread.join()  # deterministic swaps for the comparison
        runs[background] = (sim, np.mean(iters[30:]))
    off, on = runs[False][0], runs[True][0]
    assert on._refactor.refactors >= 3 and off._refactor is None
    sag = -off.displacement[:, 2].min()
    assert sag > 20.0  # large rotations: the rest-frame preconditioner is far off
    assert np.abs(on.x - off.x).max() < 1e-3 * sag
    assert runs[True][1] < 0.75 * runs[False][1]


def test_background_refactor_is_dropped_when_the_time_step_changes():
    mesh, body, fixed = _beam(div=(8, 2, 2))
    sim = CorotationalSimulator(body, fixed, background_refactor=True)
    for _ in range(40):  # until the first refactor job starts (after a step)
        sim.step()
        if sim._refactor._thread is not None:
            break
    sim._refactor._thread.join()  # finished, not yet swapped in (that happens at a step)
    assert sim._refactor.refactors == 0
    sim.set_time_step(1 / 120)  # the finished factor is for the old matrix
    sim.step()
    assert sim._factor_rotations is None and sim._refactor.refactors == 0


def test_a_body_at_rest_is_not_refactored():
    mesh, body, fixed = _beam(div=(8, 2, 2))
    sim = CorotationalSimulator(body, fixed, gravity=(0, 0, 0), background_refactor=True)
    for _ in range(25):
        sim.step()
    assert sim._refactor._thread is None and sim._refactor.refactors == 0

"""Cancel while a surface is filled with tetrahedra (gmsh and fTetWild run in a child)."""

from __future__ import annotations

import time

import pytest
import pyvista as pv

from sim.errors import Cancelled
from sim.mesh.tetrahedralize import tetrahedralize
from tests.sim.cancel_helpers import CancellableRun, children_running, pid_gone, wait_for_child


def _cancel_in_the_mesher(run: CancellableRun) -> None:
    """Cancel once the mesher child has run a while: the run ends within a second, as
    Cancelled, and the child is gone."""
    pids = wait_for_child("sim.mesh.mesher_worker", run)
    time.sleep(1.5)
    assert run.thread.is_alive(), run.error
    t_cancel = run.cancel()
    run.thread.join(10.0)
    assert isinstance(run.error, Cancelled), run.error
    assert run.ended_at - t_cancel < 1.0
    assert all(pid_gone(p) for p in pids)


@pytest.mark.parametrize("method", ["gmsh", "tetwild"])
def test_cancel_stops_the_mesher_within_a_second(method):
    # fine enough to run for tens of seconds with either mesher
    ball = pv.Sphere(radius=50.0, theta_resolution=120, phi_resolution=120)
    run = CancellableRun(lambda progress: tetrahedralize(
        ball, 0.5 if method == "gmsh" else 1.0, method=method, progress=progress,
        use_cache=False)).start()
    _cancel_in_the_mesher(run)
    assert not children_running("sim.mesh.mesher_worker")


def test_meshing_reports_a_moving_percentage():
    calls = []
    mesh, report = tetrahedralize(pv.Sphere(radius=10.0, theta_resolution=30, phi_resolution=30),
                                  1.0, method="gmsh", use_cache=False,
                                  progress=lambda f, m: calls.append((f, m)))
    assert report["method"] == "gmsh" and mesh.n_elements > 1000
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)  # never goes backwards
    assert any("3D" in m or "optimising" in m for _, m in calls)  # gmsh's own stages
    assert len({round(f, 2) for f in fractions if 0.05 < f < 1.0}) >= 3


def test_generated_gmsh_mesh_matches_in_process_and_cancels():
    from sim.mesh.generators import from_spec, generate

    spec = {"generator": "tube", "inner_radius": 5.0, "outer_radius": 8.0, "height": 10.0,
            "element_size": 1.5, "order": 2}
    calls = []
    child = generate(spec, lambda f, m: calls.append((f, m)))
    here = from_spec(spec)
    assert child.cells.shape == here.cells.shape and child.cells.shape[1] == 10
    assert child.volumes.sum() == pytest.approx(here.volumes.sum(), rel=1e-9)
    assert calls[-1][0] == 1.0
    fine = {**spec, "element_size": 0.12}  # hundreds of thousands of P2 elements
    run = CancellableRun(lambda progress: generate(fine, progress)).start()
    _cancel_in_the_mesher(run)

"""Cancel while a STEP part is being tessellated (issue #15, item 4)."""

from __future__ import annotations

import time

from sim.errors import Cancelled
from sim.io import load
from tests.sim.cancel_helpers import CancellableRun, children_running, pid_gone, wait_for_child


def test_cancel_stops_step_tessellation_within_a_second(shared_data):
    path = shared_data / "factory" / "featuretype.STEP"  # about 30 s of OpenCASCADE + gmsh
    run = CancellableRun(lambda progress: load(path, progress)).start()
    pids = wait_for_child("sim.io.cad_worker", run)
    time.sleep(2.0)  # let it get into the tessellation
    assert run.thread.is_alive(), run.error
    fractions = [f for _, f, _ in run.calls]
    assert fractions and all(0.0 <= f <= 1.0 for f in fractions)
    t_cancel = run.cancel()
    run.thread.join(10.0)
    assert isinstance(run.error, Cancelled), run.error
    latency = run.ended_at - t_cancel
    assert latency < 1.0, latency
    assert all(pid_gone(p) for p in pids)
    assert not children_running("sim.io.cad_worker")


def test_step_tessellation_reports_gmsh_progress(shared_data):
    calls = []
    case = load(shared_data / "factory" / "box_sides.STEP",
                lambda f, m: calls.append((f, m)))
    assert len(list(case.scene)) > 1
    messages = " | ".join(m for _, m in calls)
    assert "2D" in messages and "Tessellating" in messages  # gmsh's own stages came through
    inner = sorted({round(f, 2) for f, _ in calls if 0.0 < f < 1.0})
    assert len(inner) >= 4, inner  # a percentage that moves, not one fixed value

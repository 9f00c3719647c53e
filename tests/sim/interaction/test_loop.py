"""The threaded simulation loop: it steps on its own, applies posted events, and start /
pause / reset / stop never hang or leak threads."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

from sim.interaction.loop import SimulationLoop
from sim.interaction.session import InteractionSession, SessionSetup
from sim.mesh.generators import box

GEL = {"name": "gel", "youngs_modulus": 0.01, "poisson_ratio": 0.45, "density": 1e-9}


@pytest.fixture()
def session():
    mesh = box((20.0, 20.0, 10.0), (6, 6, 3))
    setup = SessionSetup(material=GEL, fixed={"side": "zmin"}, dt=0.05,
                         instruments=[{"name": "probe", "type": "probe", "radius": 3.0}])
    s = InteractionSession(mesh, setup, visual=mesh.surface())
    s.instruments["probe"].pose[:3, 3] = [10, 10, 12]
    return s


def test_loop_steps_and_applies_posted_events(session):
    loop = SimulationLoop(session)
    try:
        loop.set_field("von_mises")
        loop.start()
        assert loop.wait_for_step(5)
        pose = np.eye(4)
        pose[:3, 3] = [10, 10, 9.0]  # 1 mm into the top
        eid = loop.post({"type": "pose", "instrument": "probe", "pose": pose.tolist()})
        deadline = time.time() + 10
        while loop.latest.applied_event < eid and time.time() < deadline:
            time.sleep(0.005)
        step = loop.latest.step
        assert loop.wait_for_step(step + 10)
        snap = loop.latest
        assert snap.forces["probe"][2] > 0  # the tissue pushes the probe up
        assert snap.field_name == "von_mises" and snap.field_values.max() > 0
        assert snap.visual_points.shape == (session.visual.n_points, 3)
        assert loop.steps_per_second > 0
        loop.pause()
        time.sleep(0.1)
        paused_at = loop.latest.step
        time.sleep(0.2)
        assert loop.latest.step == paused_at
        loop.step_once()
        assert loop.wait_for_step(paused_at + 1)
    finally:
        assert loop.stop(5.0)


def test_rate_limit(session):
    loop = SimulationLoop(session, rate_hz=20)
    try:
        loop.start()
        time.sleep(1.2)
        assert 8 <= loop.latest.step <= 30
    finally:
        loop.stop()


def test_bad_event_pauses_instead_of_crashing(session):
    errors = []
    loop = SimulationLoop(session, on_error=errors.append)
    try:
        loop.start()
        loop.post({"type": "pose", "instrument": "nope", "pose": np.eye(4).tolist()})
        deadline = time.time() + 5
        while not errors and time.time() < deadline:
            time.sleep(0.01)
        assert errors and "nope" in str(errors[0])
        assert not loop.running
        loop.reset()  # a reset clears the error; the loop runs again
        loop.start()
        assert loop.wait_for_step(3)
    finally:
        loop.stop()


def test_start_stop_reset_fifty_times_without_leak_or_hang(session):
    base_threads = threading.active_count()
    tracemalloc.start()
    loop = SimulationLoop(session)
    mem = []
    for i in range(50):
        t0 = time.perf_counter()
        loop.start()
        loop.post({"type": "grab", "point": [10.0, 10.0, 10.0]})
        loop.post({"type": "drag", "target": [12.0, 10.0, 11.0]})
        loop.reset()
        loop.pause()
        assert loop.stop(5.0)
        assert time.perf_counter() - t0 < 5.0
        if i in (9, 49):
            gc.collect()
            mem.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert threading.active_count() == base_threads
    assert mem[1] - mem[0] < 2_000_000  # bytes: no growth per cycle


def test_tracked_tool_drives_the_instrument(session):
    from sim.interaction.tracked import follow_tracked_tool
    from sim.twin.tracking import TrackedTool, make_tool_object

    tool = TrackedTool("Stylus", make_tool_object("Stylus"))
    loop = SimulationLoop(session)
    try:
        stop = follow_tracked_tool(loop, tool, "probe")
        loop.start()
        world = np.eye(4)
        world[:3, 3] = [10.0, 10.0, 9.5]  # 0.5 mm into the block's top
        tool.place(world, time.time())  # what the link's reader thread does on a TRANSFORM
        deadline = time.time() + 10
        while time.time() < deadline and not np.allclose(loop.latest.poses["probe"], world):
            time.sleep(0.01)
        np.testing.assert_allclose(loop.latest.poses["probe"], world)
        step = loop.latest.step
        assert loop.wait_for_step(step + 5)
        assert loop.latest.forces["probe"][2] > 0
        assert any(e["type"] == "pose" for e in session.events)  # recorded like any move
        stop()
        world2 = world.copy()
        world2[2, 3] = 30.0
        tool.place(world2, time.time())
        time.sleep(0.2)
        np.testing.assert_allclose(loop.latest.poses["probe"], world)  # no longer following
    finally:
        loop.stop()

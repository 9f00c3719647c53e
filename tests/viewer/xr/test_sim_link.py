"""The workbench's interactive simulation seen and pulled from the headset (real session and
loop), whoever started it: the Simulate panel or a rehearsal attempt."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(params=["simulate", "rehearsal"])
def running_simulation(request):
    from sim.interaction.session import InteractionSession, SessionSetup
    from sim.mesh.generators import box
    from sim.model import Case, ObjectKind, SceneObject
    from sim.workbench import Workbench

    mesh = box((40.0, 40.0, 40.0), (4, 4, 4))
    session = InteractionSession(mesh, SessionSetup(
        fixed={"box": [-1, 41, -1, 41, -1, 1]}))
    case = Case(name="Tissue block")
    body = case.scene.add(SceneObject("Tissue", ObjectKind.SURFACE, mesh.surface(),
                                      color=(0.9, 0.2, 0.1)))
    bench = Workbench(case=case)
    running = bench.run_simulation(session, body, owner=request.param, start=False)
    yield case, bench, running
    bench.shutdown()


def test_the_running_simulation_is_drawn_and_pulled_from_the_headset(running_simulation):
    from viewer.xr.sim_link import SimulationLink
    from viewer.xr.stereo_renderer import StereoRenderer

    case, bench, running = running_simulation
    body, session, loop = running.body, running.session, running.loop
    stereo = StereoRenderer((120, 120))
    try:
        stereo.set_case(case)
        link = SimulationLink(bench)
        link.sync(stereo)
        # The eyes draw the simulation's own (deforming) surface; the rest shape is hidden.
        shown = [a for a in stereo.extra_actors if a.GetMapper().GetInput() is running.surface()]
        assert len(shown) == 1
        assert not any(a.GetVisibility() for a in stereo.adapters[body.uid].actors)

        other = case.scene.add(body.__class__("Other", body.kind, body.data.copy()))
        assert not link.begin(other, np.array([20.0, 20.0, 40.0]))  # not the simulated body
        assert link.begin(body, np.array([20.0, 20.0, 40.0]))
        link.move(np.array([20.0, 20.0, 50.0]))
        loop.step_once()
        assert loop.wait_for_step(1)
        assert session.grab_spring is not None  # the mouse's grab, posted from the hand
        for step in range(2, 7):
            loop.step_once()
            assert loop.wait_for_step(step)
        top = np.argmin(np.linalg.norm(session.mesh.points - [20.0, 20.0, 40.0], axis=1))
        assert session.sim.x[top, 2] > 40.5  # pulled up towards the hand
        link.end()
        loop.step_once()
        assert loop.wait_for_step(7)
        assert session.grab_spring is None

        # The eyes follow the deformation: the surface drawn is moved before the next frame.
        link.sync(stereo)
        assert running.surface().points[:, 2].max() > 40.5

        # Simulation over: the rest shape comes back, the simulated surface goes.
        bench.stop_simulation()
        link.sync(stereo)
        assert all(a.GetVisibility() for a in stereo.adapters[body.uid].actors)
        assert shown[0] not in stereo.extra_actors
    finally:
        stereo.close()

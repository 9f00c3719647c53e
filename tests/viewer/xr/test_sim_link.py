"""The GUI's interactive simulation seen and pulled from the headset (real session and loop)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture
def running_simulation():
    import pyvista as pv

    from sim.interaction.loop import SimulationLoop
    from sim.interaction.session import InteractionSession, SessionSetup
    from sim.mesh.generators import box
    from sim.model import Case, ObjectKind, SceneObject
    from viewer.interaction.sim_display import SimulationDisplay

    mesh = box((40.0, 40.0, 40.0), (4, 4, 4))
    session = InteractionSession(mesh, SessionSetup(
        fixed={"box": [-1, 41, -1, 41, -1, 1]}))
    loop = SimulationLoop(session)
    desktop = pv.Plotter(off_screen=True, window_size=[200, 200])
    display = SimulationDisplay(desktop, loop)
    case = Case(name="Tissue block")
    body = case.scene.add(SceneObject("Tissue", ObjectKind.SURFACE, mesh.surface(),
                                      color=(0.9, 0.2, 0.1)))
    panel = SimpleNamespace(loop=loop, display=display, body_obj=body)
    yield case, panel, session
    loop.stop()
    display.close()
    desktop.close()


def test_the_running_simulation_is_drawn_and_pulled_from_the_headset(running_simulation):
    from viewer.xr.sim_link import SimulationLink
    from viewer.xr.stereo_renderer import StereoRenderer

    case, panel, session = running_simulation
    body = panel.body_obj
    stereo = StereoRenderer((120, 120))
    try:
        stereo.set_case(case)
        link = SimulationLink(panel)
        link.sync(stereo)
        # The eyes draw the display's own (deforming) surface; the rest shape is hidden.
        shown = [a for a in stereo.extra_actors if a.GetMapper().GetInput() is panel.display.surface]
        assert len(shown) == 1
        assert not any(a.GetVisibility() for a in stereo.adapters[body.uid].actors)

        other = case.scene.add(body.__class__("Other", body.kind, body.data.copy()))
        assert not link.begin(other, np.array([20.0, 20.0, 40.0]))  # not the simulated body
        assert link.begin(body, np.array([20.0, 20.0, 40.0]))
        link.move(np.array([20.0, 20.0, 50.0]))
        panel.loop.step_once()
        assert panel.loop.wait_for_step(1)
        assert session.grab_spring is not None  # the mouse's grab, posted from the hand
        for step in range(2, 7):
            panel.loop.step_once()
            assert panel.loop.wait_for_step(step)
        top = np.argmin(np.linalg.norm(session.mesh.points - [20.0, 20.0, 40.0], axis=1))
        assert session.sim.x[top, 2] > 40.5  # pulled up towards the hand
        link.end()
        panel.loop.step_once()
        assert panel.loop.wait_for_step(7)
        assert session.grab_spring is None

        # Simulation over: the rest shape comes back, the simulated surface goes.
        panel.loop = panel.display = panel.body_obj = None
        link.sync(stereo)
        assert all(a.GetVisibility() for a in stereo.adapters[body.uid].actors)
        assert shown[0] not in stereo.extra_actors
    finally:
        stereo.close()

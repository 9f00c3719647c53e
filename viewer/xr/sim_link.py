"""The GUI's interactive simulation (the Simulate panel) in the headset.

While a simulation runs, its deforming surface (the very PolyData the desktop's
:class:`viewer.interaction.sim_display.SimulationDisplay` refreshes in place) is drawn in both
eyes instead of the body's rest shape, and a trigger-drag on the body posts the same grab,
drag and release events the mouse does to the simulation loop (so they are recorded too).
"""

from __future__ import annotations

import numpy as np
import vtk

from sim.model import SceneObject
from viewer.xr.stereo_renderer import StereoRenderer


class SimulationLink:
    """A :class:`~viewer.xr.deform_grab.DeformationGrab` for a panel with ``loop``,
    ``display`` and ``body_obj`` (all None while nothing is simulated)."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self._surface = None
        self._actor: vtk.vtkActor | None = None
        self._hidden: SceneObject | None = None

    def _running(self):
        p = self.panel
        loop, display, body = (getattr(p, "loop", None), getattr(p, "display", None),
                               getattr(p, "body_obj", None))
        return (loop, display, body) if None not in (loop, display, body) else None

    # -- the grab --------------------------------------------------------------------------------
    def begin(self, obj: SceneObject, point_mm: np.ndarray) -> bool:
        running = self._running()
        if running is None or obj is not running[2]:
            return False
        running[0].post({"type": "grab", "point": [float(v) for v in point_mm]})
        return True

    def move(self, target_mm: np.ndarray) -> None:
        running = self._running()
        if running is not None:
            running[0].post({"type": "drag", "target": [float(v) for v in target_mm]})

    def end(self) -> None:
        running = self._running()
        if running is not None:
            running[0].post({"type": "release"})

    def rate(self) -> float | None:
        running = self._running()
        return float(running[0].steps_per_second) or None if running is not None else None

    # -- what the eyes show ----------------------------------------------------------------------
    def sync(self, stereo: StereoRenderer) -> None:
        """Show the simulated surface (and hide the body's rest shape) while simulating."""
        running = self._running()
        surface = running[1].surface if running is not None else None
        if surface is self._surface:
            return
        self._drop(stereo)
        if surface is None:
            return
        body = running[2]
        mapper = vtk.vtkPolyDataMapper()
        mapper.SetInputData(surface)  # shared, not copied: refreshed in place by the display
        mapper.ScalarVisibilityOff()
        actor = vtk.vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*body.color)
        actor.GetProperty().SetInterpolationToPhong()
        stereo.add_overlay_actor(actor)
        for a in stereo.adapters[body.uid].actors if body.uid in stereo.adapters else []:
            a.SetVisibility(False)
        self._surface, self._actor, self._hidden = surface, actor, body

    def _drop(self, stereo: StereoRenderer) -> None:
        if self._actor is not None:
            stereo.remove_overlay_actor(self._actor)
        if self._hidden is not None and self._hidden.uid in stereo.adapters:
            for a in stereo.adapters[self._hidden.uid].actors:
                a.SetVisibility(bool(self._hidden.visible))
        self._surface = self._actor = self._hidden = None

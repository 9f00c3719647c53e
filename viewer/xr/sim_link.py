"""The workbench's interactive simulation in the headset, whoever started it.

While a simulation runs (the Simulate panel's, a rehearsal attempt's, a script's), its
deforming surface (:meth:`sim.workbench.RunningSimulation.surface`, refreshed from the loop
before each frame) is drawn in both eyes instead of the body's rest shape, and a trigger-drag
on the body posts the same grab, drag and release events the mouse does to the simulation
loop (so they are recorded too).
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

from sim.model import SceneObject
from sim.workbench import Workbench
from viewer.xr.stereo_renderer import StereoRenderer


class SimulationLink:
    """A :class:`~viewer.xr.deform_grab.DeformationGrab` for the workbench's simulation."""

    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench
        self._surface = None
        self._actor: vtkActor | None = None
        self._hidden: SceneObject | None = None

    def _running(self):
        sim = self.workbench.simulation
        return sim if sim is not None and sim.body is not None else None

    # -- the grab --------------------------------------------------------------------------------
    def begin(self, obj: SceneObject, point_mm: np.ndarray) -> bool:
        running = self._running()
        if running is None or obj is not running.body:
            return False
        running.post({"type": "grab", "point": [float(v) for v in point_mm]})
        return True

    def move(self, target_mm: np.ndarray) -> None:
        running = self._running()
        if running is not None:
            running.post({"type": "drag", "target": [float(v) for v in target_mm]})

    def end(self) -> None:
        running = self._running()
        if running is not None:
            running.post({"type": "release"})

    def rate(self) -> float | None:
        running = self._running()
        return float(running.loop.steps_per_second) or None if running is not None else None

    # -- what the eyes show ----------------------------------------------------------------------
    def sync(self, stereo: StereoRenderer) -> None:
        """Show the simulated surface (and hide the body's rest shape) while simulating, and
        the workbench's live overlays (sensor markers, alarm banner, tool tips)."""
        stereo.set_live(self.workbench.live_overlays)  # a no-op once it shows them
        running = self._running()
        surface = running.surface() if running is not None else None
        if surface is not None:
            running.refresh_surface()  # the loop's latest state, before this frame
        if surface is self._surface:
            return
        self._drop(stereo)
        if surface is None:
            return
        body = running.body
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(surface)  # shared, not copied: refreshed in place each frame
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
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

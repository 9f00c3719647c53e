"""The headset view of a case: session + hands + rays + text panel, one frame per tick.

Qt-free, so scripts and tests drive it the same way the GUI's timer does.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import numpy as np

from sim.model import Case, SceneObject
from viewer.xr.deform_grab import DeformationGrab
from viewer.xr.eye_camera import Pose
from viewer.xr.interaction import XRInteraction, world_bounds
from viewer.xr.overlay import HandRays, TextPanel
from viewer.xr.session import XRSession
from viewer.xr.xr_input import ControllerFrame

log = logging.getLogger(__name__)


class HeadsetView:
    """Shows ``case`` in the headset. ``sim_rate()`` (steps/s or None) feeds the panel;
    ``deformer`` is the interactive-deformation grab the trigger drives on tissue."""

    def __init__(self, case: Case, resolution_scale: float = 1.0, capture: bool = False,
                 on_object_moved: Callable[[SceneObject], None] | None = None,
                 sim_rate: Callable[[], float | None] | None = None,
                 view_distance_m: float = 0.5,
                 deformer: DeformationGrab | None = None) -> None:
        self.case = case
        # The panel's simulation rate: given, or the deformation grab's own stepping rate.
        self.sim_rate = sim_rate or getattr(deformer, "rate", None)
        self.view_distance_m = view_distance_m
        self.session = XRSession(case, resolution_scale=resolution_scale, capture=capture)
        stereo = self.session.stereo
        self.placement = stereo.placement
        self.interaction = XRInteraction(self.placement, lambda: list(case.scene),
                                         self._select, on_object_moved)
        self.interaction.deformer = deformer  # trigger-drag on simulated tissue, if any
        self.rays = HandRays()
        self.panel = TextPanel()
        for actor in [*self.rays.actors, self.panel.actor]:
            stereo.add_overlay_actor(actor)
        self.session.on_first_head_pose = self.place_scene
        self.session.on_controllers = self._on_controllers

    def place_scene(self, head: Pose) -> None:
        """Life size, centred a little below and in front of the head."""
        bounds = self.case.scene.bounds()
        if bounds is not None:
            self.placement.center_in_front(bounds, head, self.view_distance_m)

    def _select(self, obj: SceneObject | None) -> None:
        if obj is not None and obj not in list(self.case.scene):
            return
        self.case.scene.select(obj)

    def _on_controllers(self, frame: ControllerFrame) -> None:
        sync = getattr(self.interaction.deformer, "sync", None)
        if sync is not None:  # e.g. the GUI's running simulation: its surface into the eyes
            sync(self.session.stereo)
        self.interaction.update(frame)
        self.rays.update(frame, self.placement)
        self.panel.set_lines(self.panel_lines())
        self.panel.update(frame, self.session.head, self.placement)

    def panel_lines(self) -> list[str]:
        sel = self.case.scene.selected
        lines = [f"Selected: {sel.name}" if sel is not None else "Selected: (none)"]
        if sel is not None:
            lo, hi = world_bounds(sel)
            w, d, h = hi - lo
            lines.append(f"Size: {w:.0f} x {d:.0f} x {h:.0f} mm")
        span = self.interaction.hand_span_mm()
        if span is not None:
            lines.append(f"Between hands: {span:.0f} mm")
        rate = self.sim_rate() if self.sim_rate is not None else None
        lines.append(f"Simulation: {rate:.{1 if rate < 10 else 0}f} steps/s" if rate
                     else "Simulation: not running")
        lines.append(f"Headset: {self.session.stats.fps:.0f} fps, scale "
                     f"{self.placement.scale / 0.001:.2g}x")
        return lines

    def tick(self) -> bool:
        return self.session.tick()

    def eye_images(self) -> list[np.ndarray]:
        return self.session.eye_images

    def stop(self, timeout_s: float = 5.0) -> None:
        try:
            self.session.run_until_ended(timeout_s)
        finally:
            self.session.close()
            self.session.on_controllers = None
            self.interaction.deformer = None
            # The view, its hands and callbacks refer to each other; free their VTK and GL
            # memory now rather than whenever Python's collector next runs.
            gc.collect()

"""The headset view of a case: session + hands (controllers, rays, text panel), one frame per tick.

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
from viewer.xr.hands import XRHands
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
        self.view_distance_m = view_distance_m
        self.session = XRSession(case, resolution_scale=resolution_scale, capture=capture)
        self.placement = self.session.stereo.placement
        self.hands = XRHands(case, self.session.stereo, on_object_moved, deformer, sim_rate,
                             fps=lambda: self.session.stats.fps)
        self.interaction, self.rays, self.panel = (self.hands.interaction, self.hands.rays,
                                                   self.hands.panel)
        self.session.on_first_head_pose = self.place_scene
        self.session.on_controllers = self._on_controllers

    def place_scene(self, head: Pose) -> None:
        """Life size, centred a little below and in front of the head."""
        bounds = self.case.scene.bounds()
        if bounds is not None:
            self.placement.center_in_front(bounds, head, self.view_distance_m)

    def _on_controllers(self, frame: ControllerFrame) -> None:
        self.hands.update(frame, self.session.head)

    def panel_lines(self) -> list[str]:
        return self.hands.panel_lines()

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

"""The two controllers as the headset and the preview both use them.

What the hands do (:class:`XRInteraction`: grab, select, trigger-drag), how they look
(controller models with rays) and the text panel, updated from one :class:`ControllerFrame`
per frame. The headset reads that frame from the OpenXR runtime; the preview makes it from
the mouse and keyboard (:mod:`viewer.xr.preview_hands`). Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.model import Case, SceneObject
from viewer.xr.deform_grab import DeformationGrab
from viewer.xr.eye_camera import Pose
from viewer.xr.interaction import XRInteraction, world_bounds
from viewer.xr.overlay import ControllerModels, HandRays, TextPanel
from viewer.xr.stereo_renderer import StereoRenderer
from viewer.xr.xr_input import ControllerFrame


class XRHands:
    """``sim_rate()`` (steps/s or None) and ``fps()`` feed the panel; ``deformer`` is the
    interactive-deformation grab the trigger drives on tissue."""

    def __init__(self, case: Case, stereo: StereoRenderer,
                 on_object_moved: Callable[[SceneObject], None] | None = None,
                 deformer: DeformationGrab | None = None,
                 sim_rate: Callable[[], float | None] | None = None,
                 fps: Callable[[], float] | None = None, fps_label: str = "Headset") -> None:
        self.case = case
        self.stereo = stereo
        self.placement = stereo.placement
        # The panel's simulation rate: given, or the deformation grab's own stepping rate.
        self.sim_rate = sim_rate or getattr(deformer, "rate", None)
        self.fps = fps
        self.fps_label = fps_label
        self.interaction = XRInteraction(self.placement, lambda: list(case.scene),
                                         self._select, on_object_moved)
        self.interaction.deformer = deformer
        self.rays = HandRays()
        self.models = ControllerModels(self.rays)
        self.panel = TextPanel()
        for actor in [*self.rays.actors, *self.models.actors.values(), self.panel.actor]:
            stereo.add_overlay_actor(actor)

    def _select(self, obj: SceneObject | None) -> None:
        if obj is not None and obj not in list(self.case.scene):
            return
        self.case.scene.select(obj)

    def update(self, frame: ControllerFrame, head: Pose | None) -> None:
        sync = getattr(self.interaction.deformer, "sync", None)
        if sync is not None:  # e.g. the GUI's running simulation: its surface into the eyes
            sync(self.stereo)
        self.interaction.update(frame)
        self.rays.update(frame, self.placement)
        self.models.update(frame, self.placement)
        self.panel.set_lines(self.panel_lines())
        self.panel.update(frame, head, self.placement)

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
        fps = self.fps() if self.fps is not None else 0.0
        lines.append(f"{self.fps_label}: {fps:.0f} fps, scale {self.placement.scale / 0.001:.2g}x")
        return lines

    def release(self) -> None:
        """Let go of everything (a trigger-drag on tissue relaxes) and drop the deformer."""
        self.interaction.update(ControllerFrame())
        self.interaction.deformer = None

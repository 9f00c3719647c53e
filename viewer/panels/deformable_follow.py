"""*Follow tracked stylus*: the organ model follows the points a tracked stylus touches, live.

The stylus is a tool streaming over the Workbench's live link (OpenIGTLink, Live panel). Its
tip positions are collected as touched surface points (:class:`StylusTrace`, one per 2 mm);
once a second (at most) a background job fits the organ to all points so far, warm-started
(:class:`LiveDeformable`), and the view shows the deformed organ, the embedded targets where
they are now and the residual. Turning the toggle off keeps the last update in the case as one
undoable step (:func:`sim.registration.case_update.apply_update`).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QCheckBox

from sim.errors import InputError
from sim.model import ObjectKind, SceneObject
from viewer.errors import show_error

UPDATE_MS = 1000  # at most one update a second: a live increment takes ~0.5-1 s
LIVE_TAG = "deformable-live"


class StylusFollower:
    """The toggle and the live loop of the deformable update box (``box``)."""

    def __init__(self, box) -> None:
        self.box, self.window = box, box.window
        self.check = QCheckBox("Follow tracked stylus")
        self.check.setObjectName("followStylusCheck")
        self.check.setToolTip("Collect the tip of the tracked stylus (Live panel link) as "
                              "touched surface points and update the organ to them about "
                              "once a second; turning it off keeps the last update (undoable)")
        self.check.toggled.connect(self._toggled)
        self.timer = QTimer(self.check)
        self.timer.setInterval(UPDATE_MS)
        self.timer.timeout.connect(self.tick)
        self.trace = self.live = self.organ = self.tool = None
        self.busy = False
        self.updates = 0
        self._preview: SceneObject | None = None
        self._targets: SceneObject | None = None

    # -- on / off -------------------------------------------------------------------------
    def _toggled(self, on: bool) -> None:
        if on:
            try:
                self.start()
            except InputError as exc:
                self.window.last_error = show_error(self.check, "Cannot follow the stylus", exc)
                self.check.blockSignals(True)
                self.check.setChecked(False)
                self.check.blockSignals(False)
        else:
            self.stop()

    def _stylus(self):
        session = self.window.workbench.link
        tools = dict(session.instruments.tools) if session is not None else {}
        if not tools:
            raise InputError("No tracked tool: connect the Live panel to the tracker first.")
        named = [t for n, t in tools.items() if any(k in n.lower() for k in ("stylus", "pointer"))]
        if len(named) == 1 or len(tools) == 1:
            return (named or list(tools.values()))[0]
        raise InputError(f"Several tracked tools ({', '.join(tools)}); name the stylus's tool "
                         f"'Stylus' or 'Pointer' in the tracker.")

    def start(self) -> None:
        from sim.interaction.body_setup import world_surface
        from sim.registration.live_update import StylusTrace

        organ = self.box._organ()
        if organ is None:
            raise InputError("Choose the organ to update.")
        self.tool = self._stylus()
        self.organ = organ
        self.surface = world_surface(organ)
        self.trace = StylusTrace(self.tool, spacing_mm=2.0)
        self.live = None
        self.updates = 0
        self.box.label.setText(f"Following {self.tool.obj.name}: touch the organ's surface.")
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self.trace is not None:
            self.trace.stop()
        live, organ = self.live, self.organ
        self.trace = self.live = self.tool = None
        self._drop_previews()
        if organ is not None:
            organ.visible = True  # hidden for the preview; the update below hides it (undoable)
        if live is not None and live.latest is not None and organ is not None:
            self.box._apply(organ, live.latest)  # one undoable step with the last update

    def _drop_previews(self) -> None:
        case = self.box.case
        for obj in (self._preview, self._targets):
            if case is not None and obj is not None and case.scene.find(obj.uid) is not None:
                case.scene.remove(obj)
        self._preview = self._targets = None

    # -- the loop -------------------------------------------------------------------------
    def tick(self) -> None:
        """Start an update if the last one is done and new points have come (GUI timer)."""
        from sim.registration.deformable import MIN_POINTS, DeformableSettings

        if self.busy or self.trace is None:
            return
        points = self.trace.points
        if len(points) < MIN_POINTS or (self.live is not None and len(points) == self.live._used):
            return
        self.busy = True
        settings = DeformableSettings(noise_mm=float(self.box.noise_spin.value()),
                                      material_model="linear")
        live, surface, organ, box = self.live, self.surface, self.organ, self.box
        key = (organ.uid, surface.n_points, float(np.asarray(surface.points).sum()))
        cached = box._models.get(key)

        def job(_progress):
            from sim.registration.deformable import DeformableModel
            from sim.registration.live_update import LiveDeformable

            nonlocal live
            if live is None:
                live = LiveDeformable(cached or DeformableModel(surface, name=organ.name),
                                      settings)
            live.settings = settings
            live.step(points)
            return live

        def done(out) -> None:
            self.busy = False
            box._models = {key: out.model}
            if self.trace is None:  # stopped meanwhile
                return
            self.live = out
            if out.latest is not None:
                self.updates += 1
                self._show(out)

        job_ = self.window.run_task(f"Following the stylus on {organ.name}", job, done,
                                    background=True, group="deformable-follow")
        if job_ is None:
            self.busy = False

    def _show(self, live) -> None:
        from sim.registration.case_update import UPDATED_COLOUR, embedded_markups

        case, res = self.box.case, live.latest
        if case is None or self.trace is None:
            return
        surf = res.deformed_surface()
        surf.point_data["uncertainty_mm"] = res.surface_uncertainty()
        if self._preview is None or case.scene.find(self._preview.uid) is None:
            self._preview = case.scene.add(SceneObject(
                case.scene.unique_name(f"{self.organ.name} (live)"), ObjectKind.SURFACE, surf,
                color=UPDATED_COLOUR,
                metadata={"live": LIVE_TAG, "updated_from": self.organ.uid}))
            self.organ.visible = False
        else:
            self._preview.data = surf
        marks = embedded_markups(case, res)
        if marks:
            moved = res.move(np.vstack([np.asarray(m.points, dtype=float) for m in marks]))
            if self._targets is None or case.scene.find(self._targets.uid) is None:
                self._targets = case.scene.add(SceneObject(
                    case.scene.unique_name("targets (live)"), ObjectKind.POINTS,
                    pv.PolyData(moved), color=(0.9, 0.2, 0.2), metadata={"live": LIVE_TAG}))
            else:
                self._targets.data = pv.PolyData(moved)
        s = res.summary()
        self.box.label.setText(
            f"Following {self.tool.obj.name if self.tool else 'the stylus'}: "
            f"{s['points']} points, update {self.updates} ({live.last_step_s:.2f} s); "
            f"residual RMS {s['residual_rms_mm']:.2f} mm, deformation up to "
            f"{s['max_deformation_mm']:.1f} mm.")

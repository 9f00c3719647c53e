"""Inspect panel, registration area: *Update model (deformable)* after a rigid registration.

Fits the chosen organ (a closed surface) to the chosen intra-operative points with the
finite-element deformable registration (:mod:`sim.registration.deformable`) on a background
job (progress, Cancel). The result goes into the case as one undoable step
(:func:`sim.registration.case_update.apply_update`): the updated organ is added, the pre-op
organ hidden (*Show pre-op organ* toggles it), embedded markups (targets, trajectories) move,
and the report is saved in the case. The organ's prepared FE model is kept for repeat updates.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
)

from sim.errors import InputError
from sim.model import Case, ObjectKind, SceneObject
from sim.model.object_fields import INSTRUMENT_SOURCES, LiveSource
from sim.progress import sub_progress
from viewer.errors import show_error
from viewer.panels.case_settings import CaseSettings
from viewer.panels.deformable_follow import StylusFollower
from viewer.panels.spin import button, refill_objects


class DeformableUpdateBox(QGroupBox):
    def __init__(self, window, parent=None) -> None:
        super().__init__("Model update (deformable)", parent)
        self.setObjectName("deformableUpdateBox")
        self.window = window
        self.case: Case | None = None
        self.last_result = None
        self._models: dict[tuple, object] = {}  # (organ uid, geometry) -> DeformableModel
        form = QFormLayout(self)
        self.points_combo = QComboBox()
        self.organ_combo = QComboBox()
        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setRange(0.1, 10.0)
        self.noise_spin.setSingleStep(0.5)
        self.noise_spin.setValue(1.0)
        self.noise_spin.setSuffix(" mm")
        self.noise_spin.setToolTip("Position noise of the points: sets how closely the organ "
                                   "is made to follow them against its elasticity")
        self.material_combo = QComboBox()
        for label, key in (("Auto (co-rotational for large turns)", "auto"),
                           ("Linear (fastest)", "linear"), ("Co-rotational", "corotational"),
                           ("Neo-Hookean equilibrium (slowest)", "neo-hookean")):
            self.material_combo.addItem(label, key)
        self.material_combo.setToolTip(
            "How the organ deforms: linear elasticity; co-rotational (parts turning by tens of "
            "degrees keep their shape); neo-Hookean (the organ solved to large-strain "
            "equilibrium under the fitted loads and corrected, a few times slower)")
        self.update_button = button("Update model (deformable)", self.update_model,
                                    "After a rigid registration: deform the organ (finite "
                                    "elements) to the points; embedded targets and plans move")
        self.preop_check = QCheckBox("Show pre-op organ")
        self.preop_check.setEnabled(False)
        self.preop_check.toggled.connect(self._show_preop)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        form.addRow("Intra-op points", self.points_combo)
        form.addRow("Organ", self.organ_combo)
        form.addRow("Noise", self.noise_spin)
        form.addRow("Material", self.material_combo)
        form.addRow(self.update_button)
        form.addRow(self.preop_check)
        self.follower = StylusFollower(self)
        self.follow_check = self.follower.check
        self.follow_tool_combo = self.follower.tool_combo
        form.addRow("Stylus", self.follow_tool_combo)
        form.addRow(self.follow_check)
        form.addRow(self.label)
        s = self.settings = CaseSettings(self, "deformable_settings",
                                         "Change model update settings")
        s.add("points", self.points_combo, by_uid=True)
        s.add("organ", self.organ_combo, by_uid=True)
        s.add("noise_mm", self.noise_spin)
        s.add("material_model", self.material_combo, data=True)

    # -- case ----------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        self.follow_check.setChecked(False)  # the live loop belongs to the old case
        self.settings.detach()
        if self.case is not None:
            self.case.scene.added.disconnect(self.refresh)
            self.case.scene.removed.disconnect(self.refresh)
        self.case = case
        self.last_result = None
        self._models.clear()
        case.scene.added.connect(self.refresh)
        case.scene.removed.connect(self.refresh)
        self.label.setText("")
        self.refresh()
        self.settings.attach(case)

    def refresh(self, *_args) -> None:
        if self.case is None:
            return
        from sim.interaction.body_setup import closed_surfaces

        objs = [o for o in self.case.scene
                if o.live_source not in (*INSTRUMENT_SOURCES, LiveSource.DEFORMABLE)]
        organs = [o for o in closed_surfaces(self.case) if "updated_from" not in o.metadata]
        points = [o for o in objs if o.kind is ObjectKind.POINTS] or \
            [o for o in objs if o.kind in (ObjectKind.SURFACE, ObjectKind.PART)]
        for combo, items in ((self.points_combo, points), (self.organ_combo, organs)):
            refill_objects(combo, items, combo.currentData())
        self.update_button.setEnabled(bool(points) and bool(organs))
        organ = self._organ()
        updated = organ is not None and any(o.metadata.get("updated_from") == organ.uid
                                            for o in self.case.scene)
        self.preop_check.setEnabled(updated)
        self.preop_check.blockSignals(True)
        self.preop_check.setChecked(bool(organ is not None and organ.visible))
        self.preop_check.blockSignals(False)

    def _organ(self) -> SceneObject | None:
        return self.case.scene.find(self.organ_combo.currentData()) if self.case else None

    # -- the update ------------------------------------------------------------------------
    def update_model(self):
        from sim.interaction.body_setup import world_surface
        from sim.registration.deformable import DeformableModel, DeformableSettings
        from sim.registration.objects import world_geometry

        try:
            organ = self._organ()
            pts_obj = self.case.scene.find(self.points_combo.currentData()) if self.case else None
            if organ is None or pts_obj is None:
                raise InputError("Choose the intra-operative points and the organ to update.")
            surface = world_surface(organ)
            points = np.asarray(world_geometry(pts_obj).points, dtype=np.float64)
            settings = DeformableSettings(noise_mm=float(self.noise_spin.value()),
                                          material_model=self.material_combo.currentData())
            settings.check()
        except InputError as exc:
            self.window.last_error = show_error(self, "Cannot update the model", exc)
            return None
        key = (organ.uid, surface.n_points, float(np.asarray(surface.points).sum()))
        cached = self._models.get(key)

        def job(progress):
            model = cached or DeformableModel(surface, name=organ.name,
                                              progress=sub_progress(progress, 0.0, 0.7))
            return model, model.register(points, settings,
                                         progress=sub_progress(progress, 0.7, 1.0))

        def done(out) -> None:
            model, result = out
            self._models = {key: model}
            self._apply(organ, result)

        return self.window.run_task(f"Updating {organ.name} (deformable)", job, done)

    def _apply(self, organ: SceneObject, result) -> None:
        from sim.registration.case_update import apply_update

        if self.case is None or self.case.scene.find(organ.uid) is None:
            return
        self.last_result = result
        apply_update(self.case, organ, result)
        s = result.summary()
        cm = result.constraint_map()
        text = (f"Residual RMS {s['residual_rms_mm']:.2f} mm at {s['points']} points "
                f"({s['outliers']} outliers); deformation up to {s['max_deformation_mm']:.1f} mm, "
                f"strain {100 * s['max_strain']:.0f} %. Surface well constrained: "
                f"{100 * cm['well_constrained_fraction']:.0f} %.")
        moved = self.case.sections.get("deformable_update", {}).get("structures", [])
        if moved:
            text += " Moved: " + ", ".join(f"{m['name']} {m['max_displacement_mm']:.1f} mm"
                                           for m in moved) + "."
        if s.get("message"):
            text = f"<b>{s['message']}</b> " + text
        if s.get("warning"):
            text = f"<b>{s['warning']}</b> " + text
        self.label.setText(text)
        self.refresh()
        self.window.status_label.setText(f"Updated {organ.name}: residual "
                                         f"{s['residual_rms_mm']:.2f} mm (Edit > Undo reverts)")

    def _show_preop(self, on: bool) -> None:
        organ = self._organ()
        if organ is not None:
            organ.visible = bool(on)

"""Landmark (paired-point) registration in the Inspect panel, with a tracked pointer.

Two point markups are the pairs: the fixed points (e.g. placed on the image or model
with the Markups panel) and the moving points, which can be collected by touching the
landmarks with a tracked pointer streamed over the Live panel's OpenIGTLink link: each
"Collect from pointer" averages the tip over a short window (the pointer held still)
and appends it to the "Pointer landmarks" markup. "Calibrate tip (pivot)" records the
pointer pivoting about its tip in a divot for a few seconds and sets its tip offset.
"Register landmarks" fits the rigid (or similarity) transform moving -> fixed, shows the
fiducial registration error per point, and applies it either to the live link's tracker
registration (so the tracked tools land on the patient) or to a scene object (one
undoable step). The tracker registration and tip calibrations are kept in the case
(section "link"), so the next connection, or the case reopened, starts registered.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
)

from sim.errors import InputError
from sim.markups import Markup, MarkupType
from sim.model import Case, ObjectKind
from sim.model.object_fields import INSTRUMENT_SOURCES
from sim.model.sections import set_section
from viewer.errors import show_error
from viewer.panels.spin import button, refill_objects

POINTER_MARKUP = "Pointer landmarks"
TRACKER = "Tracker registration (live link)"
_APPLICABLE = (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE, ObjectKind.POINTS)


class LandmarkRegistration(QGroupBox):
    def __init__(self, window, parent=None) -> None:
        super().__init__("Landmarks", parent)
        self.window = window
        self.case: Case | None = None
        self.averager = None  # the PoseWindow recording now (a landmark or a pivot)
        self.last_result = None  # the last LandmarkResult
        self.last_pivot = None  # the last PivotResult
        self.window_s = 0.5
        self.max_spread_mm = 1.0
        self.pivot_s = 5.0
        form = QFormLayout(self)
        self.fixed_combo = QComboBox()
        self.moving_combo = QComboBox()
        self.pointer_combo = QComboBox()
        self.pointer_combo.setEditable(True)
        self.pointer_combo.setToolTip("The tracked pointer's device name (Live panel link)")
        self.collect_button = button("Collect from pointer", self.collect,
                                     "Hold the pointer tip still on the next landmark: its "
                                     "position averaged over half a second is added to "
                                     f"'{POINTER_MARKUP}'")
        self.pivot_button = button("Calibrate tip (pivot)", self.calibrate_pivot,
                                   "Put the pointer tip in a divot and pivot it about the "
                                   "tip for five seconds: its tip offset is calibrated")
        self.scale_check = QCheckBox("Similarity (uniform scale)")
        self.target_combo = QComboBox()
        self.register_button = button("Register landmarks", self.register)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        form.addRow("Fixed points", self.fixed_combo)
        form.addRow("Moving points", self.moving_combo)
        form.addRow("Pointer", self.pointer_combo)
        form.addRow(self.pivot_button)
        form.addRow(self.collect_button)
        form.addRow("Apply to", self.target_combo)
        form.addRow(self.scale_check)
        form.addRow(self.register_button)
        form.addRow(self.label)
        self._poll = QTimer(self)
        self._poll.setInterval(30)
        self._poll.timeout.connect(self._check_collection)
        self._deadline = 0.0

    # -- case ----------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        if self.case is not None:
            for sig in (self.case.markups.added, self.case.markups.removed,
                        self.case.scene.added, self.case.scene.removed):
                sig.disconnect(self.refresh)
        self.case = case
        self._cancel()
        for sig in (case.markups.added, case.markups.removed, case.scene.added,
                    case.scene.removed):
            sig.connect(self.refresh)
        self.label.setText("")
        self.refresh()

    def refresh(self, *_args) -> None:
        """Refill the choices from the case's point markups, objects and live tools."""
        if self.case is None:
            return
        points = [m for m in self.case.markups if m.type is MarkupType.POINT]
        uids = [m.uid for m in points]
        pointer = next((m.uid for m in points if m.name == POINTER_MARKUP), None)
        # Fixed: kept, else the first markup not collected by the pointer. Moving: kept
        # unless it is the fixed one, else the pointer's, else another markup.
        fixed = self.fixed_combo.currentData()
        if fixed not in uids:
            fixed = next((u for u in uids if u != pointer), pointer)
        moving = self.moving_combo.currentData()
        if moving not in uids or moving == fixed:
            moving = pointer if pointer not in (None, fixed) else next(
                (u for u in uids if u != fixed), None)
        for combo, uid in ((self.fixed_combo, fixed), (self.moving_combo, moving)):
            refill_objects(combo, points, uid)
        current = self.target_combo.currentText()
        self.target_combo.clear()
        self.target_combo.addItem(TRACKER)
        for o in self.case.scene:
            if o.kind in _APPLICABLE and o.live_source not in INSTRUMENT_SOURCES:
                self.target_combo.addItem(o.name, o.uid)
        if self.target_combo.findText(current) >= 0:
            self.target_combo.setCurrentText(current)
        self._refresh_tools()

    def _refresh_tools(self) -> None:
        text, tools = self.pointer_combo.currentText(), sorted(self._tools())
        self.pointer_combo.clear()
        self.pointer_combo.addItems(tools)
        if text in tools:
            self.pointer_combo.setCurrentText(text)

    def _tools(self) -> dict:
        session = self.window.workbench.link
        return dict(session.instruments.tools) if session is not None else {}

    def _markup(self, combo: QComboBox) -> Markup | None:
        return self.case.markups.find(combo.currentData()) if self.case is not None else None

    # -- pointer collection --------------------------------------------------------------
    def pointer_tool(self):
        tools = self._tools()
        name = self.pointer_combo.currentText().strip()
        if name in tools:
            return tools[name]
        if len(tools) == 1:
            return next(iter(tools.values()))
        if not tools:
            raise InputError("No tracked tool: connect the Live panel to the tracker first.")
        raise InputError(f"Choose the pointer among the tracked tools ({', '.join(tools)}).")

    def collect(self) -> bool:
        """Start averaging the pointer tip; the landmark is added when the window is full."""
        from sim.twin.pointer import TipAverager

        return self._record(lambda tool: TipAverager(tool, self.window_s, self.max_spread_mm),
                            self.collect_button, "Hold still…")

    def calibrate_pivot(self) -> bool:
        """Start recording the pointer pivoting; its tip offset is set when done."""
        from sim.twin.pointer import PoseWindow

        return self._record(lambda tool: PoseWindow(tool, self.pivot_s, min_samples=20),
                            self.pivot_button, "Pivot the tip…")

    def _record(self, make, button: QPushButton, busy: str) -> bool:
        from time import monotonic

        if self.case is None or self.averager is not None:
            return False
        self._refresh_tools()
        try:
            tool = self.pointer_tool()
        except InputError as exc:
            self.window.last_error = show_error(self, "Cannot use the pointer", exc)
            return False
        self.averager = make(tool).start()
        self._deadline = monotonic() + self.averager.window_s + 3.0  # no poses: say why
        self.collect_button.setEnabled(False)
        self.pivot_button.setEnabled(False)
        button.setText(busy)
        self._poll.start()
        return True

    def _check_collection(self) -> None:
        from time import monotonic

        from sim.twin.pointer import TipAverager

        avg = self.averager
        if avg is None or not (avg.done.is_set() or monotonic() > self._deadline):
            return
        self._cancel()
        try:
            if isinstance(avg, TipAverager):
                self._add_landmark(avg, *avg.result())
            else:
                self._set_tip(avg.tool, avg.poses())
        except InputError as exc:
            self.window.last_error = show_error(self, "Pointer", exc)

    def _add_landmark(self, avg, tip: np.ndarray, spread: float) -> None:
        markup = self._pointer_markup()
        index = markup.add_point(tip)  # undoable like any markup edit
        self.refresh()
        self.moving_combo.setCurrentIndex(self.moving_combo.findData(markup.uid))
        if self.fixed_combo.currentData() == markup.uid:
            self.fixed_combo.setCurrentIndex(int(self.moving_combo.currentIndex() == 0))
        self.label.setText(f"{markup.label(index)} at ({', '.join(f'{x:.2f}' for x in tip)}) mm "
                           f"from {avg.samples} poses, spread {spread:.2f} mm")

    def _set_tip(self, tool, poses: np.ndarray) -> None:
        from sim.twin.pointer import pivot_calibration

        # The poses carry the current calibration (patient_T_tip); undo it to get the
        # tool's own frame, in which the tip offset is solved.
        res = pivot_calibration(poses @ np.linalg.inv(tool.tool_T_tip))
        ins = self.window.workbench.link.instruments
        ins.set_calibration(tool.device, res.calibration())
        link = self.case.sections.get("link")
        set_section(self.case, "link", {**(link if isinstance(link, dict) else {}),
                                        **ins.settings()}, f"Calibrate tip of {tool.device}")
        self.last_pivot = res
        offset = ", ".join(f"{x:.2f}" for x in res.tip_offset)
        self.label.setText(f"'{tool.device}' tip offset ({offset}) mm, "
                           f"pivot RMS {res.rms:.2f} mm over {len(poses)} poses, "
                           f"tilted {res.angle_deg:.0f} degrees")

    def _pointer_markup(self) -> Markup:
        try:
            return self.case.markups[POINTER_MARKUP]
        except KeyError:
            return self.case.markups.add(Markup(POINTER_MARKUP, MarkupType.POINT,
                                                color=(0.2, 0.8, 1.0)))

    def _cancel(self) -> None:
        self._poll.stop()
        if self.averager is not None:
            self.averager.stop()
            self.averager = None
        self.collect_button.setEnabled(True)
        self.collect_button.setText("Collect from pointer")
        self.pivot_button.setEnabled(True)
        self.pivot_button.setText("Calibrate tip (pivot)")

    # -- registration --------------------------------------------------------------------
    def register(self):
        """Fit moving -> fixed, show the FRE, apply to the chosen target. Returns the result."""
        from sim.geometry.rigid import apply_transform
        from sim.registration.landmarks import paired_point, pairs_from_markups
        from sim.registration.objects import apply_registration

        try:
            fixed, moving = self._markup(self.fixed_combo), self._markup(self.moving_combo)
            if fixed is None or moving is None or fixed is moving:
                raise InputError("Choose two different point markups: the fixed and the "
                                 "moving landmarks.")
            m, f, names = pairs_from_markups(moving, fixed)
            res = paired_point(m, f, scale=self.scale_check.isChecked(), names=names)
            target = self.target_combo.currentText()
            if res.scale != 1.0 and target == TRACKER:
                raise InputError("The tracker registration must be rigid: clear 'Similarity'.")
            session = self.window.workbench.link
            obj = None
            if target == TRACKER:
                if session is None:
                    raise InputError("The live link is not running (Live panel).")
            else:
                obj = self.case.scene.find(self.target_combo.currentData())
                if obj is None:
                    raise InputError(f"'{target}' is no longer in the scene.")
        except InputError as exc:
            self.window.last_error = show_error(self, "Landmark registration", exc)
            return None
        # One undoable step: the registration, and the moving landmarks (measured on what
        # moved) following it.
        with self.case.history.macro(f"Register landmarks to {target}"):
            if obj is None:
                ins = session.instruments
                ins.set_registration(res.matrix @ ins.patient_T_tracker)
                link = self.case.sections.get("link")
                set_section(self.case, "link", {**(link if isinstance(link, dict) else {}),
                                                **ins.settings()}, "Tracker registration")
            else:
                apply_registration(obj, res.matrix)
            moved = apply_transform(res.matrix, np.asarray(moving.points, dtype=float))
            moving.points = tuple(tuple(map(float, p)) for p in moved)
        self.last_result = res
        per_point = ", ".join(f"#{k + 1} {e:.2f}" for k, e in enumerate(res.fre))
        self.label.setText(f"FRE RMS {res.fre_rms:.3f} mm, max {res.fre.max():.3f} mm"
                           + (f", scale {res.scale:.4f}" if res.scale != 1.0 else "")
                           + f"; applied to {target}.\nPer point (mm): {per_point}")
        self.window.status_label.setText(f"Landmark registration: FRE RMS {res.fre_rms:.3f} mm")
        return res

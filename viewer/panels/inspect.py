"""The Inspect panel: register a scan to a model, then map its deviation with tolerances.

Registration and deviation run off the GUI thread (``window.run_task``). A
registration result becomes the moving object's transform (one undoable step in
the case history; the geometry is untouched until hardened); an ambiguous one (several
clearly different poses fit, e.g. a flat part) is not applied, and the panel asks for
landmarks instead. A deviation result
becomes a new point-cloud object coloured by tolerance band, with a legend,
statistics, automatically found out-of-tolerance regions and callouts here, a
histogram, and a section view: a plane swept along an axis cuts the nominal model and
the scan, the deviation whiskers along the cut drawn here and the plane shown in 3D.
Landmark (paired-point) registration takes two point markups; the moving one can
be collected with a tracked pointer streamed by the Live panel's OpenIGTLink link.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt6.QtCore import QEvent, Qt, QTimer
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim.errors import InputError
from sim.model import Case, ObjectKind, SceneObject
from sim.model import overlays as ov
from sim.model.object_fields import INSTRUMENT_SOURCES
from viewer.errors import show_error
from viewer.panels.case_settings import CaseSettings
from viewer.panels.landmarks import LandmarkRegistration
from viewer.panels.spin import CasePanel, button, follow_membership, refill_objects, scroll_body

_USABLE = (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE, ObjectKind.POINTS)
_METHODS = {"Feature match (RANSAC) + ICP": "ransac", "Fast global (FGR) + ICP": "fgr",
            "ICP from current pose": "none"}


class DeviationLegend(QWidget):
    """A vertical colour bar of the deviation map with its tolerance limits marked."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.colours: list[str] = []
        self.clim = (0.0, 0.0)
        self.limits = (0.0, 0.0)
        self.setMinimumHeight(150)
        self.setMinimumWidth(120)

    def set_map(self, colours: list[str], clim, limits) -> None:
        self.colours, self.clim, self.limits = list(colours), tuple(clim), tuple(limits)
        self.update()

    def paintEvent(self, _event) -> None:
        if not self.colours:
            return
        p = QPainter(self)
        h = self.height() - 20
        lo, hi = self.clim
        n = len(self.colours)
        for i, c in enumerate(self.colours):  # top = most positive
            y0 = 10 + int(h * (n - 1 - i) / n)
            p.fillRect(10, y0, 24, max(int(h / n) + 1, 1), QColor(c))

        def y_of(v: float) -> int:
            return 10 + int(h * (hi - v) / max(hi - lo, 1e-12))

        p.setPen(QColor(self.palette().windowText().color()))
        for v in (hi, self.limits[1], 0.0, self.limits[0], lo):
            y = y_of(v)
            p.drawLine(34, y, 40, y)
            p.drawText(44, y + 5, f"{v:+.3f} mm")
        p.end()


class InspectPanel(CasePanel):
    def __init__(self, window) -> None:
        super().__init__(window, "inspectPanel")
        self.result = None  # the last DeviationResult
        self.deviation_obj: SceneObject | None = None
        self.last_registration = None
        self.regions: list = []
        self.callouts: list = []
        self.nominal = None
        self.spacing = 1.0
        inner = QWidget()
        scroll_body(self, inner)  # a small minimum height: the docks beside it keep their room
        layout = QVBoxLayout(inner)

        reg = QGroupBox("Registration")
        form = QFormLayout(reg)
        self.moving_combo = QComboBox()
        self.fixed_combo = QComboBox()
        self.method_combo = QComboBox()
        self.method_combo.addItems(list(_METHODS))
        self.register_button = button("Register moving to fixed", self.register)
        self.reg_label = QLabel("")
        self.reg_label.setWordWrap(True)
        form.addRow("Moving / measured", self.moving_combo)
        form.addRow("Fixed / nominal", self.fixed_combo)
        form.addRow("Start", self.method_combo)
        form.addRow(self.register_button)
        form.addRow(self.reg_label)
        layout.addWidget(reg)
        self.landmarks = LandmarkRegistration(window)
        layout.addWidget(self.landmarks)
        from viewer.panels.deformable_update import DeformableUpdateBox

        self.deformable = DeformableUpdateBox(window)
        layout.addWidget(self.deformable)

        dev = QGroupBox("Deviation")
        dform = QFormLayout(dev)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setDecimals(3)
        self.tolerance.setRange(0.001, 100.0)
        self.tolerance.setValue(0.2)
        self.tolerance.setSuffix(" mm")
        self.measure_button = button("Measure deviation", self.measure)
        self.stats_label = QLabel("")
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.legend = DeviationLegend()
        dform.addRow("Tolerance ±", self.tolerance)
        dform.addRow(self.measure_button)
        row = QHBoxLayout()
        row.addWidget(self.legend)
        row.addWidget(self.stats_label, 1)
        dform.addRow(row)
        self.callout_edit = QLineEdit()
        self.callout_edit.setPlaceholderText("X, Y, Z in mm")
        self.callout_button = button("Add callout", self.add_callout_from_text)
        self.pick_button = QPushButton("Pick in view")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Click points of the deviation map to add callouts there")
        crow = QHBoxLayout()
        crow.addWidget(self.callout_edit, 1)
        crow.addWidget(self.callout_button)
        crow.addWidget(self.pick_button)
        dform.addRow("Callout at", crow)
        self.sections_edit = QLineEdit()
        self.sections_edit.setPlaceholderText("e.g. z=5; x=12 (for the report)")
        dform.addRow("Sections", self.sections_edit)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Label", "Status", "Deviation (mm)", "Where (mm)"])
        self.table.verticalHeader().setVisible(False)
        dform.addRow(self.table)
        self.report_button = button("Export report…", self.export_report_dialog)
        dform.addRow(self.report_button)
        layout.addWidget(dev)

        hist = QGroupBox("Histogram")
        hl = QVBoxLayout(hist)
        self.hist_canvas, self.hist_axes = _canvas(2.4)
        hl.addWidget(self.hist_canvas)
        layout.addWidget(hist)

        sec = QGroupBox("Section")
        sl = QVBoxLayout(sec)
        self.section_axis = QComboBox()
        self.section_axis.addItems(["x", "y", "z"])
        self.section_axis.currentTextChanged.connect(lambda _t: self._section_moved())
        self.section_slider = QSlider(Qt.Orientation.Horizontal)
        self.section_slider.setRange(0, 1000)
        self.section_slider.setValue(500)
        self.section_slider.valueChanged.connect(lambda _v: self._section_moved())
        self.section_label = QLabel("")
        self.section_report_button = button("Add to report", self.add_section_to_report,
                                            "Add this section to the report's sections")
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Normal"))
        srow.addWidget(self.section_axis)
        srow.addWidget(self.section_slider, 1)
        srow.addWidget(self.section_label)
        srow.addWidget(self.section_report_button)
        sl.addLayout(srow)
        self.section_canvas, self.section_axes = _canvas(3.0)
        sl.addWidget(self.section_canvas)
        layout.addWidget(sec)
        self.section = None  # the Section shown
        self._section_timer = QTimer(self)  # a dragged slider recomputes once per pause
        self._section_timer.setSingleShot(True)
        self._section_timer.setInterval(40)
        self._section_timer.timeout.connect(self._show_slider_section)
        layout.addStretch(1)
        self._sync_enabled()
        self._press = None
        self._bind_settings()
        window.view.plotter.interactor.installEventFilter(self)

    def _bind_settings(self) -> None:
        """The inspection's set-up is saved with the case (section "inspect"); "Pick in view"
        is a mouse mode, not saved."""
        s = self.settings = CaseSettings(self, "inspect", "Change inspection settings")
        s.add("moving", self.moving_combo, by_uid=True)
        s.add("fixed", self.fixed_combo, by_uid=True)
        s.add("method", self.method_combo)
        s.add("tolerance_mm", self.tolerance)
        s.add("report_sections", self.sections_edit)
        s.add("section_axis", self.section_axis)
        s.add("section_position", self.section_slider)
        lm = self.landmarks
        s.add("landmarks_fixed", lm.fixed_combo, by_uid=True)
        s.add("landmarks_moving", lm.moving_combo, by_uid=True)
        s.add("landmarks_pointer", get=lm.pointer_combo.currentText,
              put=lambda v: lm.pointer_combo.setEditText(str(v or "")))
        lm.pointer_combo.editTextChanged.connect(lambda _t: s.changed())
        s.add("landmarks_apply_to", lm.target_combo)
        s.add("landmarks_similarity", lm.scale_check)

    # -- picking callouts in the 3D view ---------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if not self.pick_button.isChecked() or self.deviation_obj is None:
            return False
        if event.type() == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
        elif (event.type() == QEvent.Type.MouseButtonRelease and self._press is not None
              and event.button() == Qt.MouseButton.LeftButton):
            pos, pressed, self._press = event.position(), self._press, None
            if (pos - pressed).manhattanLength() <= 4:  # a click, not a camera drag
                self.pick_callout_at(*self.window.view.to_display(pos))
        return False

    def pick_callout_at(self, x: int, y: int) -> bool:
        """Add a callout at the map point under display pixel (x, y): the measured point
        nearest the camera among those within a few point spacings of the view ray."""
        if self.result is None or self.deviation_obj is None:
            return False
        ren = self.window.view.plotter.renderer
        ends = []
        for depth in (0.0, 1.0):
            ren.SetDisplayPoint(float(x), float(y), depth)
            ren.DisplayToWorld()
            w = np.array(ren.GetWorldPoint(), dtype=float)
            ends.append(w[:3] / w[3])
        near, far = ends
        ray = (far - near) / np.linalg.norm(far - near)
        rel = self.result.points - near
        along = rel @ ray
        off = np.linalg.norm(rel - along[:, None] * ray, axis=1)
        hits = np.flatnonzero(off < 3.0 * self.spacing)
        if hits.size == 0:
            return False
        self.add_callout(self.result.points[hits[np.argmin(along[hits])]])
        return True

    # -- model ---------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        self.settings.detach()
        follow_membership(self.case, case, self._refresh_objects)
        self.case = case
        self.result = None
        self.deviation_obj = None
        self.section = None
        for canvas, ax in ((self.hist_canvas, self.hist_axes),
                           (self.section_canvas, self.section_axes)):
            if ax.has_data():  # an empty plot needs no redraw (~80 ms each)
                ax.clear()
                canvas.draw_idle()
        self._refresh_objects()
        self.landmarks.set_case(case)
        self.deformable.set_case(case)
        self.table.setRowCount(0)
        self.stats_label.setText("")
        self.reg_label.setText("")
        self.settings.attach(case)

    def _objects(self) -> list[SceneObject]:
        if self.case is None:
            return []
        return [o for o in self.case.scene if o.kind in _USABLE and o is not self.deviation_obj
                and o.live_source not in INSTRUMENT_SOURCES]  # not tools/images

    def _refresh_objects(self, *_args) -> None:
        objs = self._objects()

        def first_points() -> int:  # measured data is usually a point cloud
            return next((i for i, o in enumerate(objs) if o.kind == ObjectKind.POINTS), 0)

        def other_than_moving() -> int | None:
            moving = self.moving_combo.currentData()
            return next(i for i, o in enumerate(objs) if o.uid != moving) if len(objs) > 1 else None

        refill_objects(self.moving_combo, objs, self.moving_combo.currentData(), first_points)
        refill_objects(self.fixed_combo, objs, self.fixed_combo.currentData(), other_than_moving)
        self._sync_enabled()

    def _sync_enabled(self) -> None:
        pair = len(self._objects()) >= 2
        self.register_button.setEnabled(pair)
        self.measure_button.setEnabled(pair)
        self.callout_button.setEnabled(self.result is not None)
        for w in (self.section_axis, self.section_slider, self.section_report_button):
            w.setEnabled(self.result is not None)
        self.pick_button.setEnabled(self.result is not None)
        self.report_button.setEnabled(self.result is not None)

    def _pair(self) -> tuple[SceneObject, SceneObject]:
        scene = self.case.scene
        moving = scene.find(self.moving_combo.currentData())
        fixed = scene.find(self.fixed_combo.currentData())
        if moving is None or fixed is None:
            raise InputError("Choose a moving and a fixed object.")
        if moving is fixed:
            raise InputError("The moving and the fixed object must differ.")
        return moving, fixed

    # -- registration --------------------------------------------------------------------
    def register(self):
        from sim.registration.objects import world_geometry
        from sim.registration.surface import register_surface

        try:
            moving, fixed = self._pair()
            m_data, f_data = world_geometry(moving), world_geometry(fixed)
        except InputError as exc:
            self.window.last_error = show_error(self, "Cannot register", exc)
            return None
        method = _METHODS[self.method_combo.currentText()]

        def job(progress):
            return register_surface(m_data, f_data, method=method, progress=progress)

        return self.window.run_task(f"Registering {moving.name}", job,
                                    lambda res: self._registered(moving, res))

    def _registered(self, moving: SceneObject, res) -> None:
        from sim.registration.objects import apply_registration

        if getattr(res, "ambiguous", False):  # several poses fit: apply none, ask for landmarks
            self.last_registration = None
            turns = ", ".join(f"{c['turn_from_best_deg']:.0f}°"
                              for c in res.summary()["candidates"][1:])
            self.reg_label.setText(
                f"<b>Registration is ambiguous</b>: {len(res.candidates)} clearly different "
                f"poses (turned {turns} from the best) fit '{moving.name}' about equally well, "
                "as happens with flat or nearly symmetric parts. <b>No pose was applied.</b> "
                "Pick three or more matching points on both objects and use <b>Register "
                "landmarks</b> below.")
            self.reg_label.setStyleSheet("color: #b26a00;")
            self.window.status_label.setText(
                f"Registration of {moving.name} is ambiguous: landmarks needed")
            return
        self.reg_label.setStyleSheet("")
        self.last_registration = res
        self.window.workbench.set_result("registration", res)
        if self.case is None or self.case.scene.find(moving.uid) is None:
            return
        apply_registration(moving, res.matrix)  # undoable: Edit > Undo restores the pose
        self.reg_label.setText(f"Fitness {res.fitness:.3f}, inlier RMS {res.inlier_rms:.4f} mm "
                               f"({res.method}); stored as the transform of '{moving.name}'.")
        self.window.status_label.setText(f"Registered {moving.name}: fitness {res.fitness:.3f}")

    # -- deviation -----------------------------------------------------------------------
    def measure(self):
        from sim.inspection.deviation import Tolerance, compute_deviation
        from sim.registration.objects import world_geometry

        try:
            moving, fixed = self._pair()
            m_data, f_data = world_geometry(moving), world_geometry(fixed)
            tol = Tolerance.symmetric(self.tolerance.value())
        except InputError as exc:
            self.window.last_error = show_error(self, "Cannot measure deviation", exc)
            return None

        def job(progress):
            from sim.inspection.callouts import out_of_tolerance_regions

            res = compute_deviation(m_data, f_data, tol, progress=progress)
            spacing = _spacing(res.points)
            return res, out_of_tolerance_regions(res, 3.0 * spacing), f_data, spacing

        return self.window.run_task(f"Measuring deviation of {moving.name}", job,
                                    lambda out: self._measured(moving, *out))

    def _measured(self, moving: SceneObject, res, regions, nominal, spacing: float) -> None:
        from sim.inspection.views import deviation_display, display_metadata

        if self.case is None:
            return
        self.result, self.regions, self.nominal, self.spacing = res, regions, nominal, spacing
        self.window.workbench.set_result("inspection", res)
        self.callouts = []
        meta = display_metadata(res)
        if self.deviation_obj is not None and self.case.scene.find(self.deviation_obj.uid):
            self.case.scene.remove(self.deviation_obj)
        self.deviation_obj = self.case.scene.add(SceneObject(
            f"Deviation of {moving.name}", ObjectKind.POINTS, res.as_polydata(),
            metadata={"source": moving.uid, "tolerance": meta["tolerance"]},
            display=deviation_display(res)))
        moving.visible = False  # the map sits exactly where the scan is
        self.legend.set_map(meta["cmap"], meta["clim"], meta["tolerance"])
        s = res.stats
        self.stats_label.setText(
            f"{s.count:,} points ({s.unmatched:,} unmatched)\nmean {s.mean:+.4f} mm\n"
            f"std {s.std:.4f} mm\nRMS {s.rms:.4f} mm\nmin {s.min:+.4f} / max {s.max:+.4f} mm\n"
            f"within {s.within_pct:.2f} %\nabove {s.above_pct:.2f} %, below {s.below_pct:.2f} %")
        self._fill_table()
        self._sync_enabled()
        self._draw_histogram()
        self._show_slider_section()
        self.window.status_label.setText(f"Deviation: {s.within_pct:.2f} % within tolerance")

    # -- histogram and section view ------------------------------------------------------
    def _draw_histogram(self) -> None:
        from sim.inspection.charts import draw_histogram

        ax = self.hist_axes
        ax.clear()
        draw_histogram(ax, self.result)
        ax.set_title("dashed: tolerance limits", fontsize=8)
        self.hist_canvas.figure.tight_layout()
        self.hist_canvas.draw_idle()

    def _section_moved(self) -> None:
        if self.result is not None:
            self._section_timer.start()

    def _axis_span(self, axis: str) -> tuple[float, float]:
        b = np.asarray(self.nominal.bounds).reshape(3, 2)["xyz".index(axis)]
        return float(b[0]), float(b[1])

    def _show_slider_section(self) -> None:
        if self.result is None or self.nominal is None:
            return
        axis = self.section_axis.currentText()
        lo, hi = self._axis_span(axis)
        self.show_section(axis, lo + (hi - lo) * self.section_slider.value() / 1000.0)

    def show_section(self, axis: str, position: float):
        """Cut nominal and scan by the plane ``axis = position`` (mm); draw it here and
        mark the plane in the 3D view. Returns the Section (None without a result)."""
        from sim.inspection.charts import draw_section
        from sim.inspection.sections import parse_plane, section

        if self.result is None or self.nominal is None:
            return None
        origin, normal = parse_plane(f"{axis}={position:.6g}", self.nominal.bounds)
        sec = section(self.result, self.nominal, origin, normal, label="view")
        self.section = sec
        ax = self.section_axes
        ax.clear()
        scale = draw_section(ax, sec, max(-self.result.tolerance.lower,
                                          self.result.tolerance.upper))
        d = sec.deviation
        ax.set_title(f"{axis} = {position:.2f} mm: {len(d)} points"
                     + (f", {np.nanmin(d):+.3f} .. {np.nanmax(d):+.3f} mm" if len(d) else "")
                     + f"\nwhiskers x{scale:.0f}", fontsize=8)
        self.section_canvas.figure.tight_layout()
        self.section_canvas.draw_idle()
        self.section_label.setText(f"{position:.2f} mm")
        extent = np.ptp(np.asarray(self.nominal.bounds).reshape(3, 2), axis=1)
        size = float(np.delete(extent, "xyz".index(axis)).max()) * 1.15  # just the part
        # The plane is a case overlay (saved, in screenshots and the headset); following the
        # slider is not an edit to undo.
        with self.case.history.paused():
            ov.set_overlay(self.case, ov.SectionPlane(
                id=SECTION_OVERLAY, label=f"Section {axis} = {position:.2f} mm",
                origin=tuple(map(float, origin)), normal=tuple(map(float, normal)), size=size))
        return sec

    def add_section_to_report(self) -> None:
        if self.section is None:
            return
        axis = self.section_axis.currentText()
        pos = self.section.origin["xyz".index(axis)]
        parts = [t.strip() for t in self.sections_edit.text().split(";") if t.strip()]
        self.sections_edit.setText("; ".join([*parts, f"{axis}={pos:.3f}"]))

    def add_callout(self, point) -> None:
        from sim.inspection.callouts import callout_at

        if self.result is None:
            return
        c = callout_at(self.result, point, f"C{len(self.callouts) + 1}", 3.0 * self.spacing)
        self.callouts.append(c)
        self._fill_table()

    def add_callout_from_text(self) -> None:
        try:
            vals = [float(v) for v in self.callout_edit.text().replace(";", ",").split(",")]
            if len(vals) != 3 or not np.isfinite(vals).all():
                raise ValueError
        except ValueError:
            self.window.last_error = show_error(
                self, "Callout", InputError("Type the callout position as X, Y, Z in mm."))
            return
        self.add_callout(vals)

    def _fill_table(self) -> None:
        rows = [(c.label, c.status, c.deviation, c.position) for c in self.callouts]
        rows += [(r.label, r.status, r.worst_deviation, r.worst_position) for r in self.regions]
        self.table.setRowCount(len(rows))
        for i, (label, status, d, pos) in enumerate(rows):
            for j, text in enumerate((label, status, f"{d:+.4f}",
                                      ", ".join(f"{x:.2f}" for x in pos))):
                self.table.setItem(i, j, QTableWidgetItem(text))

    # -- report --------------------------------------------------------------------------
    def export_report_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export inspection report", "inspection.pdf",
                                              "PDF (*.pdf);;HTML (*.html)")
        if path:
            self.export_report(path)

    def export_report(self, path: str | Path) -> Path | None:
        """Write the report on the GUI thread: VTK renders offscreen only there safely."""
        from sim.inspection.report import InspectionReport, write_report
        from sim.inspection.sections import parse_plane, section

        if self.result is None:
            return None
        moving, fixed = self._pair()
        try:
            sections = [section(self.result, self.nominal, *parse_plane(t, self.nominal.bounds),
                                label=f"S{k + 1}")
                        for k, t in enumerate(x for x in self.sections_edit.text().split(";")
                                              if x.strip())]
        except InputError as exc:
            self.window.last_error = show_error(self, "Report", exc)
            return None
        rep = InspectionReport(moving.name, fixed.name, self.result, self.nominal,
                               list(self.callouts), list(self.regions), sections)
        if self.last_registration is not None:
            rep.alignment = self.last_registration.summary()
        try:
            out = write_report(rep, path, progress=self.window.report_progress)
        except Exception as exc:  # shown to the user, never a crash
            self.window.last_error = show_error(self, "Report failed", exc)
            return None
        self.window.status_label.setText(f"Report written to {out}")
        return out


SECTION_OVERLAY = "inspect:section"


class _ShownCanvas(FigureCanvasQTAgg):
    """Draws only while shown: the Inspect dock is mostly hidden behind another tab, and every
    opened case cleared (and drew) both plots, ~80 ms each; a hidden plot draws when shown."""

    _stale = False

    def draw_idle(self) -> None:
        if self.isVisible():
            super().draw_idle()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            super().draw_idle()


def _canvas(height_in: float) -> tuple[FigureCanvasQTAgg, object]:
    """A small matplotlib canvas (one Axes) that fits the dock's width."""
    fig = Figure(figsize=(4.0, height_in), dpi=90)
    canvas = _ShownCanvas(fig)
    canvas.setMinimumHeight(int(height_in * 90))
    return canvas, fig.add_subplot()


def _spacing(points: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    sample = points[np.linspace(0, len(points) - 1, min(len(points), 2000)).astype(np.int64)]
    if len(sample) < 2:
        return 1.0
    d, _ = cKDTree(points).query(sample, k=2)
    return max(float(np.median(d[:, 1])), 1e-6)

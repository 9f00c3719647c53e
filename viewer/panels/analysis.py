"""The Analysis panel: a stress analysis of one part set up with clicks.

Choose the part and its material (defaults by the object's kind and name), P1 or P2
elements; pick faces in the 3D view and add them as a support (fixed, displacement) or a
load (force, pressure; gravity needs no face); Solve runs in the background with progress
and Cancel. The result is a new object coloured by von Mises stress or displacement with its
legend (warp by displacement with a factor); values under the cursor show as you move over
it; reactions are listed; Report writes PDF/HTML and Export spec writes what
``twinsight fem solve`` runs. The setup and the result's numbers are saved with the case
(section ``analysis``); the logic lives in :mod:`sim.fem.part_analysis`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QEvent, Qt, QTimer
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.fem import part_analysis as pa
from sim.fem.materials import library_material
from sim.model import Case, ObjectKind, SceneObject
from sim.model.display import Display
from sim.model.sections import section_events, set_section
from sim.render.result_fields import field_names, field_title
from viewer.errors import show_error
from viewer.panels.spin import (
    CasePanel,
    button,
    field_and_warp,
    follow_membership,
    material_combo,
    row,
    save_to,
    scroll_body,
    spin_box,
)

KIND_LABELS = {"fixed": "Fixed support", "displacement": "Prescribed displacement",
               "force": "Force (total)", "pressure": "Pressure", "gravity": "Gravity"}
_PARTS = (ObjectKind.PART, ObjectKind.SURFACE, ObjectKind.DEVICE)
RESULT_KEY = "analysis_result"  # metadata of a result object: the analysed part's uid
FACE_COLORS = {"pending": "#ffd23f", "support": "#3f8cff", "load": "#ff5a3f"}


class AnalysisPanel(CasePanel):
    def __init__(self, window) -> None:
        super().__init__(window, "analysisPanel")
        self.setup = pa.PartAnalysis()
        self.pending: list[list[float]] = []
        self.summary: dict | None = None
        self.job = None
        self._loading = False
        self._face_actors: list = []
        self._probe_surface: pv.PolyData | None = None
        self._build()
        window.view.click_handlers.append(self._view_clicked)
        window.view.plotter.interactor.installEventFilter(self)
        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(40)
        self._probe_timer.timeout.connect(self._probe_now)
        self._mouse = (0, 0)

    # -- widgets ---------------------------------------------------------------------------
    def _build(self) -> None:
        inner = QWidget()
        col = QVBoxLayout(inner)
        part = QGroupBox("Part")
        f = QFormLayout(part)
        self.part_combo = QComboBox()
        self.part_combo.currentIndexChanged.connect(self._part_changed)
        self.material_combo = material_combo()
        self.material_combo.currentIndexChanged.connect(self._settings_changed)
        self.material_label = QLabel()
        self.material_label.setWordWrap(True)
        self.order_combo = QComboBox()
        self.order_combo.addItem("P1 (linear tetrahedra)", 1)
        self.order_combo.addItem("P2 (quadratic, more accurate)", 2)
        self.order_combo.currentIndexChanged.connect(self._settings_changed)
        self.edge_spin = spin_box(0.0, 1000.0, 0.0, 0.5, 1, " mm")
        self.edge_spin.setSpecialValueText("auto")
        self.edge_spin.valueChanged.connect(self._settings_changed)
        f.addRow("Part", self.part_combo)
        f.addRow("Material", self.material_combo)
        f.addRow("", self.material_label)
        f.addRow("Elements", self.order_combo)
        f.addRow("Element size", self.edge_spin)
        col.addWidget(part)

        bcs = QGroupBox("Supports and loads")
        f = QFormLayout(bcs)
        self.kind_combo = QComboBox()
        for key, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, key)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.vx, self.vy, self.vz = (spin_box(-1e9, 1e9, 0.0, 10.0, 3) for _ in range(3))
        self.vector_row = row(self.vx, self.vy, self.vz)
        self.pressure_spin = spin_box(-1e6, 1e6, 1.0, 0.1, 4, " MPa")
        self.pick_button = QPushButton("Pick faces")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Click faces of the part in the 3D view (click again to "
                                    "unpick); then Add")
        self.pick_button.toggled.connect(self._pick_toggled)
        self.picked_label = QLabel("No face picked")
        self.add_button = button("Add", self.add_condition)
        self.conditions_list = QListWidget()
        self.conditions_list.setMaximumHeight(110)
        self.remove_button = button("Remove", self.remove_condition)
        f.addRow("Type", self.kind_combo)
        self.value_label = QLabel("Value")
        f.addRow(self.value_label, self.vector_row)
        f.addRow("Pressure", self.pressure_spin)
        f.addRow(row(self.pick_button, self.picked_label))
        f.addRow(row(self.add_button, self.remove_button))
        f.addRow(self.conditions_list)
        col.addWidget(bcs)

        solve = QGroupBox("Solve and results")
        f = QFormLayout(solve)
        self.solve_button = button("Solve", self.solve)
        self.cancel_button = button("Cancel", self.cancel)
        self.cancel_button.setEnabled(False)
        f.addRow(row(self.solve_button, self.cancel_button))
        self.status_label = QLabel("Set up supports and loads, then Solve.")
        self.status_label.setWordWrap(True)
        f.addRow(self.status_label)
        self.field_combo, self.warp_spin = field_and_warp(self._show_field)
        f.addRow("Colour by", self.field_combo)
        f.addRow("Warp", self.warp_spin)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f.addRow(self.summary_label)
        self.reactions = QTableWidget(0, 2)
        self.reactions.setHorizontalHeaderLabels(["Support", "Reaction (N)"])
        header = self.reactions.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.reactions.verticalHeader().setVisible(False)
        self.reactions.setWordWrap(True)
        self.reactions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.reactions.setMaximumHeight(100)
        f.addRow(self.reactions)
        self.probe_label = QLabel("Move the mouse over the result to read values.")
        self.probe_label.setObjectName("analysisProbe")
        self.probe_label.setWordWrap(True)
        f.addRow(self.probe_label)
        self.report_button = button("Report…", self.report_dialog)
        self.export_button = button("Export spec…", self.export_dialog,
                                    "Write the mesh and an analysis spec that "
                                    "'twinsight fem solve' runs")
        self.sweep_button = button("Sweep…", self.sweep,
                                   "Run this analysis over uncertain inputs on Dask (Tools > Sweep)")
        f.addRow(row(self.report_button, self.export_button, self.sweep_button))
        col.addWidget(solve)
        col.addStretch(1)
        scroll_body(self, inner)
        self._kind_changed()

    # -- case ------------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        if self.case is not None:
            section_events(self.case).changed.disconnect(self._section_changed)
        follow_membership(self.case, case, self._scene_changed)
        self.case = case
        self.pending = []
        section_events(case).changed.connect(self._section_changed)
        self._fill_parts()
        self._load()

    def _scene_changed(self, _obj=None) -> None:
        self._fill_parts()
        self._show_result_controls()

    def _fill_parts(self) -> None:
        current = self.part_combo.currentData()
        self._loading = True
        try:
            self.part_combo.clear()
            for obj in self.case.scene if self.case else []:
                if obj.kind in _PARTS and isinstance(obj.data, pv.PolyData) and \
                        RESULT_KEY not in obj.metadata and obj.data.n_cells:
                    self.part_combo.addItem(obj.name, obj.uid)
            index = self.part_combo.findData(current)
            if index >= 0:
                self.part_combo.setCurrentIndex(index)
        finally:
            self._loading = False

    def part(self) -> SceneObject | None:
        uid = self.part_combo.currentData()
        return self.case.scene.find(uid) if self.case is not None and uid else None

    def _stored(self) -> dict:
        doc = self.case.sections.get(pa.SECTION) if self.case is not None else None
        return doc if isinstance(doc, dict) else {}

    def _load(self) -> None:
        """Show what the case stores (or defaults for the chosen part)."""
        doc = self._stored()
        try:
            setup = pa.PartAnalysis.from_dict(doc["setup"]) if "setup" in doc else None
        except TwinsightError:
            setup = None
        self._loading = True
        try:
            if setup is not None and setup.object_uid:
                index = self.part_combo.findData(setup.object_uid)
                if index >= 0:
                    self.part_combo.setCurrentIndex(index)
            obj = self.part()
            if setup is None or obj is None or setup.object_uid != obj.uid:
                setup = self._default_setup(obj)
            self.setup = setup
            self.material_combo.setCurrentIndex(max(0, self.material_combo.findData(
                setup.material)))
            self.order_combo.setCurrentIndex(max(0, self.order_combo.findData(setup.order)))
            self.edge_spin.setValue(setup.edge_length)
            self.summary = (doc.get("result") or {}).get("summary") if \
                (doc.get("result") or {}).get("part_uid") == setup.object_uid else None
        finally:
            self._loading = False
        self._refresh()

    def _default_setup(self, obj: SceneObject | None) -> pa.PartAnalysis:
        if obj is None:
            return pa.PartAnalysis()
        return pa.PartAnalysis(object_uid=obj.uid, material=pa.default_material(obj.kind, obj.name))

    def _section_changed(self, name: str) -> None:
        if name == pa.SECTION and not self._loading:
            self._load()

    def _store(self, text: str = "Change analysis") -> None:
        if self.case is None or self._loading:
            return
        doc = dict(self._stored())
        doc["setup"] = self.setup.to_dict()
        if self.summary is None:
            doc.pop("result", None)
        self._loading = True
        try:
            set_section(self.case, pa.SECTION, doc, text)
        finally:
            self._loading = False

    # -- setup edits -----------------------------------------------------------------------
    def _part_changed(self) -> None:
        if self._loading:
            return
        self.pending = []
        obj = self.part()
        self.setup = self._default_setup(obj)
        self.setup.order = int(self.order_combo.currentData() or 1)  # not the part's
        self.setup.edge_length = float(self.edge_spin.value())
        self.summary = None
        self._loading = True
        try:
            self.material_combo.setCurrentIndex(max(0, self.material_combo.findData(
                self.setup.material)))
        finally:
            self._loading = False
        self._store("Choose the part to analyse")
        self._refresh()

    def _settings_changed(self, *_args) -> None:
        if self._loading:
            return
        self.setup.material = self.material_combo.currentData() or self.setup.material
        self.setup.order = int(self.order_combo.currentData() or 1)
        self.setup.edge_length = float(self.edge_spin.value())
        self._store()
        self._refresh()

    def _kind_changed(self, *_args) -> None:
        kind = self.kind_combo.currentData()
        self.vector_row.setEnabled(kind in ("displacement", "force", "gravity"))
        self.pressure_spin.setEnabled(kind == "pressure")
        self.pick_button.setEnabled(kind != "gravity")
        self.value_label.setText({"displacement": "Value (mm)", "force": "Value (N)",
                                  "gravity": "Value (mm/s²)"}.get(kind, "Value"))
        if kind == "gravity" and not any((self.vx.value(), self.vy.value(), self.vz.value())):
            self.vx.setValue(0.0)
            self.vz.setValue(pa.STANDARD_GRAVITY[2])

    def add_condition(self) -> pa.Condition | None:
        kind = self.kind_combo.currentData()
        value = self.pressure_spin.value() if kind == "pressure" else \
            [self.vx.value(), self.vy.value(), self.vz.value()]
        names = {c.name for c in self.setup.conditions}
        k = 1
        while f"{kind} {k}" in names:
            k += 1
        try:
            cond = pa.Condition(f"{kind} {k}", kind, [] if kind == "gravity" else self.pending,
                                value)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot add", exc)
            return None
        self.setup.conditions.append(cond)
        self.pending = []
        self.pick_button.setChecked(False)
        self._store(f"Add {KIND_LABELS[kind].lower()}")
        self._refresh()
        return cond

    def remove_condition(self) -> None:
        row_ = self.conditions_list.currentRow()
        if 0 <= row_ < len(self.setup.conditions):
            del self.setup.conditions[row_]
            self._store("Remove a support or load")
            self._refresh()

    # -- picking faces ---------------------------------------------------------------------
    def _pick_toggled(self, on: bool) -> None:
        self.picked_label.setText("Click faces of the part" if on else self._picked_text())

    def _picked_text(self) -> str:
        n = len(self.pending)
        return "No face picked" if not n else f"{n} face{'s' if n > 1 else ''} picked"

    def _view_clicked(self, x: int, y: int, _mods) -> bool:
        if not self.pick_button.isChecked() or not self.isVisible():
            return False
        hit = self.window.view.pick_surface(x, y)
        obj = self.part()
        if hit is None or obj is None or hit[0] is not obj:
            return True  # picking faces: a click elsewhere selects nothing
        self.pick_point(hit[1])
        return True

    def pick_point(self, point) -> None:
        """Add the face under ``point`` (world mm) to the pending pick, or drop it if it is
        already picked (a second click unpicks)."""
        obj = self.part()
        if obj is None:
            return
        surface = pa.world_surface(obj)
        p = [float(c) for c in point]
        if self.pending:
            labels_hit = pa.picked_faces(surface, [p], self.setup.angle)
            for k, seed in enumerate(self.pending):
                if (pa.picked_faces(surface, [seed], self.setup.angle) & labels_hit).any():
                    del self.pending[k]
                    break
            else:
                self.pending.append(p)
        else:
            self.pending.append(p)
        self.picked_label.setText(self._picked_text())
        self._draw_faces()

    def _draw_faces(self) -> None:
        plotter = self.window.view.plotter
        plotter.remove_actor(self._face_actors, render=False)
        self._face_actors = []
        obj = self.part()
        if obj is not None and obj.visible:
            surface = pa.world_surface(obj)
            groups = [("pending", self.pending)]
            groups += [("support" if c.kind in pa.CONSTRAINTS else "load", c.seeds)
                       for c in self.setup.conditions if c.seeds]
            for k, (role, seeds) in enumerate(groups):
                if not seeds:
                    continue
                try:
                    mask = pa.picked_faces(surface, seeds, self.setup.angle)
                except TwinsightError:
                    continue
                faces = surface.extract_cells(np.flatnonzero(mask)).extract_surface(
                    algorithm="dataset_surface")
                actor = plotter.add_mesh(faces, color=FACE_COLORS[role], name=f"analysis-faces-{k}",
                                         pickable=False, render=False, reset_camera=False,
                                         lighting=False)
                actor.SetPickable(False)
                # drawn just in front of the part so the faces are not hidden in it
                actor.GetMapper().SetResolveCoincidentTopologyToPolygonOffset()
                actor.GetMapper().SetRelativeCoincidentTopologyPolygonOffsetParameters(-2, -2)
                self._face_actors.append(actor)
        plotter.render()

    # -- solve -----------------------------------------------------------------------------
    def solve(self):
        obj = self.part()
        if obj is None or self.case is None:
            return None
        try:
            self.setup.check_runnable()
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot solve", exc)
            return None
        setup = pa.PartAnalysis.from_dict(self.setup.to_dict())
        surface, name = pa.world_surface(obj), obj.name
        self.solve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status_label.setText("Meshing and solving…")
        self.job = self.window.run_task(
            "Solving the stress analysis", lambda p: pa.run(setup, surface, name, p),
            lambda result: self._solved(obj, setup, result), on_finished=self._finished)
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _finished(self, job) -> None:
        self.job = None
        self.solve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job.cancelled:
            self.status_label.setText("Solve cancelled; nothing changed.")
        elif self.summary is None:
            self.status_label.setText("The solve did not finish (see the message).")

    def _solved(self, part: SceneObject, setup: pa.PartAnalysis, result: pa.PartResult) -> None:
        case = self.case
        old = self.result_object()
        grid = result.grid
        obj = SceneObject(f"{part.name} stress", part.kind, grid, color=part.color,
                          metadata={RESULT_KEY: part.uid}, display=Display(scalars="von_mises"))
        self.summary = result.summary
        with case.history.macro("Stress analysis result"):
            if old is not None:
                case.scene.remove(old)
            case.scene.add(obj)
            part.visible = False  # the coloured result takes its place
            doc = dict(self._stored())
            doc["setup"] = setup.to_dict()
            doc["result"] = {"part_uid": part.uid, "object_uid": obj.uid,
                             "summary": _jsonable(result.summary)}
            self._loading = True
            try:
                set_section(case, pa.SECTION, doc, "Stress analysis result")
            finally:
                self._loading = False
        self.status_label.setText(
            f"Solved: {result.summary['mesh']['elements']} elements, "
            f"{result.summary['wall_time_s']:.1f} s.")
        self._refresh()

    def result_object(self) -> SceneObject | None:
        obj = self.part()
        if self.case is None or obj is None:
            return None
        return next((o for o in self.case.scene if o.metadata.get(RESULT_KEY) == obj.uid), None)

    # -- results ---------------------------------------------------------------------------
    def _show_result_controls(self) -> None:
        res = self.result_object()
        self._loading = True
        try:
            self.field_combo.clear()
            if res is not None:
                for name in field_names(res.data):
                    self.field_combo.addItem(field_title(name), name)
                self.field_combo.setCurrentIndex(max(0, self.field_combo.findData(
                    res.display.scalars)))
                self.warp_spin.setValue(res.display.warp_factor)
        finally:
            self._loading = False
        for w in (self.field_combo, self.warp_spin, self.report_button):
            w.setEnabled(res is not None)
        self._probe_surface = None

    def _show_field(self, *_args) -> None:
        res = self.result_object()
        if self._loading or res is None:
            return
        res.display = res.display.replace(scalars=self.field_combo.currentData() or None,
                                          warp_factor=float(self.warp_spin.value()))

    def _refresh(self) -> None:
        m = library_material(self.setup.material)
        self.material_label.setText(f"E = {m.youngs_modulus:g} MPa, ν = {m.poisson_ratio:g}, "
                                    f"ρ = {m.density * 1e9:g} g/cm³")
        self.conditions_list.clear()
        for c in self.setup.conditions:
            self.conditions_list.addItem(f"{c.name}: {c.describe()}")
        s = self.summary
        if s:
            self.summary_label.setText(
                f"Max displacement {s['max_displacement_mm']:.4g} mm\n"
                f"Max von Mises stress {s['max_von_mises_mpa']:.4g} MPa\n"
                f"{s['mesh'].get('elements', '?')} P{s['mesh'].get('order', '?')} elements, "
                f"{'converged' if s['converged'] else 'NOT converged'}")
            reactions = s.get("reactions_n", {})
        else:
            self.summary_label.setText("")
            reactions = {}
        self.reactions.setRowCount(len(reactions))
        for i, (name, r) in enumerate(reactions.items()):
            self.reactions.setItem(i, 0, QTableWidgetItem(name))
            self.reactions.setItem(i, 1, QTableWidgetItem(
                "[" + ", ".join(f"{v:.4g}" for v in r) + "]"))
        self.reactions.resizeRowsToContents()
        self.export_button.setEnabled(self.part() is not None)
        self.solve_button.setEnabled(self.part() is not None and self.job is None)
        self._show_result_controls()
        self._draw_faces()

    # -- probe under the cursor --------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.MouseMove and self.isVisible() and \
                self.result_object() is not None:
            self._mouse = self.window.view.to_display(event.position())
            self._probe_timer.start()
        return False

    def _probe_now(self) -> None:
        self.probe_at(*self._mouse)

    def probe_at(self, x: int, y: int) -> dict | None:
        """Read the result under display pixel (x, y) into the probe line."""
        res = self.result_object()
        hit = self.window.view.pick_surface(x, y) if res is not None else None
        if hit is None or hit[0] is not res:
            return None
        if self._probe_surface is None:
            self._probe_surface = res.data.extract_surface(algorithm="dataset_surface")
        point = np.asarray(hit[1])
        factor = res.display.warp_factor
        if factor:  # the view shows the warped shape: find the undeformed point under it
            surf = self._probe_surface
            warped = surf.copy()
            warped.points = surf.points + factor * np.asarray(surf.point_data["displacement"])
            point = surf.points[warped.find_closest_point(point)]
        values = pa.probe_surface(self._probe_surface, point)
        u = values.get("displacement_mm", [0, 0, 0])
        self.probe_label.setText(
            f"At ({', '.join(f'{c:.1f}' for c in values['position_mm'])}) mm: "
            f"von Mises {values.get('von_mises_mpa', float('nan')):.4g} MPa, "
            f"|u| {values.get('displacement_magnitude_mm', 0):.4g} mm "
            f"[{', '.join(f'{c:.3g}' for c in u)}]")
        return values

    # -- files -----------------------------------------------------------------------------
    def report_dialog(self) -> None:
        save_to(self, "Analysis report", "analysis-report.pdf", "PDF (*.pdf);;HTML (*.html)",
                self.write_report)

    def write_report(self, path: str | Path):
        res, part = self.result_object(), self.part()
        if res is None or part is None or self.summary is None:
            return None
        from sim.fem.report import write_report

        setup, summary, grid, name = self.setup, self.summary, res.data, part.name
        return self.window.run_task("Writing the analysis report",
                                    lambda p: write_report(path, name, setup, summary, grid),
                                    lambda out: self.status_label.setText(f"Report: {out}"))

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the analysis spec into")
        if folder:
            self.export_spec(folder)

    def export_spec(self, folder: str | Path) -> Path | None:
        obj = self.part()
        if obj is None:
            return None
        try:
            path = pa.export_spec(self.setup, pa.world_surface(obj), folder, obj.name)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Export failed", exc)
            return None
        self.status_label.setText(f"Wrote {path.name}: run it with 'twinsight fem solve "
                                  f"{path.name}'")
        return path

    def sweep(self):
        """This analysis, exported to a private folder, in the Sweep dialog."""
        import tempfile

        from viewer.sweep_dialog import fem_sweep_base

        path = self.export_spec(tempfile.mkdtemp(prefix="twinsight-sweep-"))
        if path is None or self.window is None:
            return None
        return self.window.sweep_dialog(*fem_sweep_base(path), temporary_base=True)

    def shutdown(self) -> None:
        self._probe_timer.stop()


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value

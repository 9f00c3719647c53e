"""The Mesh panel, for the selected object: its length unit (a file saved in cm, m or inches
is rescaled to mm), mesh check and repair with the defects drawn on it (open edges red,
non-manifold edges magenta, degenerate faces yellow, duplicates cyan), and colouring by one
of its fields (a ``.vtu`` result: von Mises, displacement ...) with its legend and a warp by
displacement. What it changes (geometry, colouring) is the object's, saved with the case
and undoable; the findings are a view of the last check."""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from sim.io.mesh_check import check_mesh
from sim.io.mesh_findings import locate_defects
from sim.io.mesh_repair import repair_mesh
from sim.io.units import USER_UNITS, mm_per
from sim.model import Case, SceneObject
from sim.render.result_fields import DISPLACEMENT, field_names, field_title
from viewer.panels.spin import (
    CasePanel,
    button,
    field_and_warp,
    follow_selection,
    row,
    scroll_body,
)

UNIT_LABELS = {"mm": "millimetres", "cm": "centimetres", "m": "metres", "in": "inches"}


class MeshPanel(CasePanel):
    def __init__(self, window) -> None:
        super().__init__(window, "meshPanel")
        self.obj: SceneObject | None = None
        self.findings: list = []
        self._actors: list = []
        self._loading = False
        inner = QWidget()
        col = QVBoxLayout(inner)
        self.object_label = QLabel("Select an object.")
        self.object_label.setWordWrap(True)
        col.addWidget(self.object_label)

        units = QGroupBox("Units")
        f = QFormLayout(units)
        self.unit_combo = QComboBox()
        for key in USER_UNITS:
            self.unit_combo.addItem(UNIT_LABELS[key], key)
        self.rescale_button = button("Rescale to mm", self.rescale,
                                     "The file was saved in this unit: scale it to mm")
        f.addRow("File was in", row(self.unit_combo, self.rescale_button))
        col.addWidget(units)

        check = QGroupBox("Mesh check")
        f = QFormLayout(check)
        self.check_button = button("Check", self.check)
        self.repair_button = button("Repair", self.repair)
        f.addRow(row(self.check_button, self.repair_button))
        self.report_label = QLabel("")
        self.report_label.setObjectName("meshReport")
        self.report_label.setWordWrap(True)
        f.addRow(self.report_label)
        col.addWidget(check)

        colour = QGroupBox("Colour by field")
        f = QFormLayout(colour)
        self.field_combo, self.warp_spin = field_and_warp(self._colour_changed)
        f.addRow("Field", self.field_combo)
        f.addRow("Warp by displacement", self.warp_spin)
        col.addWidget(colour)
        col.addStretch(1)
        scroll_body(self, inner)
        self.show_object(None)

    def set_case(self, case: Case) -> None:
        follow_selection(self, case)

    def show_object(self, obj: SceneObject | None) -> None:
        if self.obj is not None:
            self.obj.events.display.disconnect(self._fill_fields)
            self.obj.events.data.disconnect(self._data_changed)
        self.obj = obj
        self._clear_findings()
        self.report_label.setText("")
        meshy = obj is not None and not isinstance(obj.data, pv.ImageData)
        for w in (self.rescale_button, self.check_button, self.repair_button):
            w.setEnabled(meshy)
        self.object_label.setText(f"{obj.name}: {obj.data.n_points:,} points, "
                                  f"{obj.data.n_cells:,} cells" if obj else "Select an object.")
        if obj is not None:
            obj.events.display.connect(self._fill_fields)
            obj.events.data.connect(self._data_changed)
        self._fill_fields()

    def _data_changed(self, *_args) -> None:
        self._clear_findings()
        self._fill_fields()

    # -- units -------------------------------------------------------------------------------
    def rescale(self) -> None:
        obj = self.obj
        factor = mm_per(self.unit_combo.currentData())
        if obj is None or factor == 1.0:
            return
        data = obj.data.copy()
        data.points = np.asarray(data.points) * factor
        obj.data = data  # one undoable step; the views rebuild from the new geometry
        self.window.status_label.setText(f"{obj.name}: scaled from "
                                         f"{UNIT_LABELS[self.unit_combo.currentData()]} to mm "
                                         f"(x{factor:g})")
        self.show_object(obj)

    # -- check and repair --------------------------------------------------------------------
    def check(self):
        obj = self.obj
        if obj is None:
            return None
        data = obj.data

        def work(progress):
            return check_mesh(data, progress), locate_defects(data)

        return self.window.run_task(f"Checking {obj.name}", work,
                                    lambda result: self._checked(obj, *result))

    def _checked(self, obj: SceneObject, report, findings) -> None:
        if obj is not self.obj:
            return
        self.findings = findings
        lines = [("No defects found: watertight and manifold." if report.ok
                  else "Defects found:")]
        for f in findings:
            lines.append(f"<span style='color:{f.color}'>■</span> {f.count} {f.name}")
        if report.inconsistent_edges:
            lines.append(f"{report.inconsistent_edges} edges with inconsistent winding")
        if report.inverted:
            lines.append("normals point inwards")
        if report.self_intersections:
            lines.append(f"{report.self_intersections} self-intersecting face pairs")
        lines.append(f"{report.components} component(s), area {report.area_mm2:,.1f} mm²" +
                     (f", volume {report.volume_mm3:,.1f} mm³" if report.volume_mm3 else ""))
        self.report_label.setText("<br>".join(lines))
        self._draw_findings()

    def repair(self):
        obj = self.obj
        if obj is None:
            return None
        data = obj.data
        return self.window.run_task(f"Repairing {obj.name}",
                                    lambda p: repair_mesh(data, p),
                                    lambda result: self._repaired(obj, result))

    def _repaired(self, obj: SceneObject, result) -> None:
        if not result.actions:
            self.report_label.setText("Nothing to repair.")
            return
        obj.data = result.mesh
        if obj is self.obj:
            self.check()
        self.window.status_label.setText(f"Repaired {obj.name}: {', '.join(result.actions)}")

    def _clear_findings(self) -> None:
        plotter = self.window.view.plotter
        plotter.remove_actor(self._actors, render=False)
        self._actors = []
        self.findings = []
        plotter.render()

    def _draw_findings(self) -> None:
        plotter = self.window.view.plotter
        plotter.remove_actor(self._actors, render=False)
        self._actors = []
        from sim.render.adapters import vtk_matrix

        matrix = vtk_matrix(self.obj.transform) if self.obj is not None else None
        for k, f in enumerate(self.findings):
            lines = f.geometry.n_lines > 0
            actor = plotter.add_mesh(f.geometry, color=f.color, line_width=4, point_size=10,
                                     render_points_as_spheres=True, lighting=False,
                                     name=f"mesh-finding-{k}", pickable=False, render=False,
                                     reset_camera=False, style=None if lines else "points")
            actor.SetPickable(False)
            if matrix is not None:
                actor.SetUserMatrix(matrix)
            self._actors.append(actor)
        plotter.render()

    # -- colour by field ---------------------------------------------------------------------
    def _fill_fields(self, *_args) -> None:
        obj = self.obj
        self._loading = True
        try:
            self.field_combo.clear()
            self.field_combo.addItem("Plain colour", "")
            if obj is not None and not isinstance(obj.data, pv.ImageData):
                for name in field_names(obj.data):
                    self.field_combo.addItem(field_title(name), name)
                self.field_combo.setCurrentIndex(max(0, self.field_combo.findData(
                    obj.display.scalars or "")))
                self.warp_spin.setValue(obj.display.warp_factor)
            has_disp = obj is not None and DISPLACEMENT in getattr(obj.data, "point_data", {})
            self.warp_spin.setEnabled(bool(has_disp))
            self.field_combo.setEnabled(self.field_combo.count() > 1)
        finally:
            self._loading = False

    def _colour_changed(self, *_args) -> None:
        obj = self.obj
        if self._loading or obj is None:
            return
        obj.display = obj.display.replace(scalars=self.field_combo.currentData() or None,
                                          warp_factor=float(self.warp_spin.value()))

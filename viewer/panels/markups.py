"""The markups panel: create by clicking in the 3D view, a table of measurements, Slicer I/O.

Placement: choose a type, then left-click on a surface or an image slice; each click
adds a control point (a plane takes its normal from the surface clicked). Points keep
coming until the type's count is reached (a point list until right-click or the
button is released). Everything edits ``case.markups``, so it is undoable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEvent, QPointF, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from vtkmodules.vtkRenderingCore import vtkCellPicker

from sim.errors import TwinsightError
from sim.markups import Markup, MarkupType
from sim.markups.model import POINT_COUNT
from sim.markups.slicer import export_markups, import_markups
from sim.model import Case
from viewer.errors import show_error
from viewer.panels.markup_layer import MarkupLayer
from viewer.views.scene_view import CLICK_PRESSES, click_tolerance_px

UID_ROLE = Qt.ItemDataRole.UserRole
TYPE_NAMES = {MarkupType.POINT: "Point", MarkupType.LINE: "Line", MarkupType.ANGLE: "Angle",
              MarkupType.PLANE: "Plane", MarkupType.ROI: "ROI", MarkupType.CURVE: "Curve",
              MarkupType.CLOSED_CURVE: "Closed curve"}
DEFAULT_COLORS = {MarkupType.POINT: (1.0, 0.55, 0.55), MarkupType.LINE: (1.0, 0.85, 0.3),
                  MarkupType.ANGLE: (0.5, 0.9, 1.0), MarkupType.PLANE: (0.6, 0.6, 1.0),
                  MarkupType.ROI: (0.5, 1.0, 0.5), MarkupType.CURVE: (1.0, 0.7, 0.2),
                  MarkupType.CLOSED_CURVE: (0.9, 0.5, 1.0)}
ROI_DEFAULT_MM = 20.0


def _axes_from_normal(normal) -> tuple[float, ...]:
    z = np.asarray(normal, dtype=float)
    z = z / np.linalg.norm(z) if np.linalg.norm(z) > 0 else np.array([0.0, 0.0, 1.0])
    hint = np.eye(3)[int(np.argmin(np.abs(z)))]
    x = hint - hint.dot(z) * z
    x /= np.linalg.norm(x)
    return tuple(np.column_stack([x, np.cross(z, x), z]).reshape(-1))


class MarkupsPanel(QWidget):
    placement_changed = pyqtSignal(object)  # the MarkupType being placed, or None

    def __init__(self, view=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("markupsPanel")
        self.view = view
        self.case: Case | None = None
        self.placing: MarkupType | None = None
        self.current: Markup | None = None
        self.last_error = None
        self._updating = False
        self._press: QPointF | None = None
        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0005)
        self.layer = MarkupLayer(view.plotter) if view is not None else None
        if view is not None:
            view.plotter.interactor.installEventFilter(self)

        layout = QVBoxLayout(self)
        grid = QGridLayout()
        self.type_buttons: dict[MarkupType, QPushButton] = {}
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)
        for i, t in enumerate(MarkupType):
            b = QPushButton(TYPE_NAMES[t])
            b.setObjectName(f"place{TYPE_NAMES[t]}")
            b.setCheckable(True)
            b.setToolTip(f"Place a {TYPE_NAMES[t].lower()}: click on a surface or slice")
            b.toggled.connect(lambda on, t=t: self.start_placement(t) if on else
                              self._released(t))
            grid.addWidget(b, i // 3, i % 3)
            self.type_buttons[t] = b
        layout.addLayout(grid)
        self.hint = QLabel("Choose a markup type, then click in the 3D view.")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("markupsTable")
        self.table.setHorizontalHeaderLabels(["Name", "Type", "Measurement", "Points"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._item_changed)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import 3D Slicer markups (.mrk.json)")
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Export to 3D Slicer markups (.mrk.json), LPS or RAS")
        self.export_button.clicked.connect(self.export_dialog)
        for b in (self.delete_button, self.import_button, self.export_button):
            row.addWidget(b)
        layout.addLayout(row)

    # -- model ------------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        self.finish_placement()
        if self.case is not None:
            self.case.markups.added.disconnect(self._on_added)
            self.case.markups.removed.disconnect(self._on_removed)
            for m in self.case.markups:
                m.events.disconnect(self.refresh)
        self.case = case
        case.markups.added.connect(self._on_added)
        case.markups.removed.connect(self._on_removed)
        for m in case.markups:
            m.events.connect(self.refresh)
        if self.layer is not None:
            self.layer.set_case(case)
        self.refresh()

    def _on_added(self, m: Markup) -> None:
        m.events.connect(self.refresh)
        self.refresh()

    def _on_removed(self, m: Markup) -> None:
        m.events.disconnect(self.refresh)
        if m is self.current:
            self.finish_placement()
        self.refresh()

    def refresh(self, *_args) -> None:
        """Rebuild the table from the model (it is small; simplicity beats bookkeeping)."""
        if self.case is None:
            return
        self._updating = True
        try:
            selected = self.selected()
            markups = list(self.case.markups)
            self.table.setRowCount(len(markups))
            for r, m in enumerate(markups):
                name = QTableWidgetItem(m.name)
                name.setData(UID_ROLE, m.uid)
                name.setFlags(name.flags() | Qt.ItemFlag.ItemIsUserCheckable
                              | Qt.ItemFlag.ItemIsEditable)
                name.setCheckState(Qt.CheckState.Checked if m.visible else Qt.CheckState.Unchecked)
                self.table.setItem(r, 0, name)
                for c, text in ((1, TYPE_NAMES[m.type]), (2, m.measurement_text()),
                                (3, str(len(m.points)))):
                    item = QTableWidgetItem(text)
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(r, c, item)
                if m is selected:
                    self.table.selectRow(r)
        finally:
            self._updating = False

    def row_of(self, m: Markup) -> int:
        return next(r for r in range(self.table.rowCount())
                    if self.table.item(r, 0).data(UID_ROLE) == m.uid)

    def selected(self) -> Markup | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or self.case is None:
            return None
        item = self.table.item(rows[0].row(), 0)
        return self.case.markups.find(item.data(UID_ROLE)) if item is not None else None

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._updating or self.case is None or item.column() != 0:
            return
        m = self.case.markups.find(item.data(UID_ROLE))
        if m is None:
            return
        # Read the cell first: any model edit below rebuilds the table (and deletes ``item``).
        visible, new = item.checkState() == Qt.CheckState.Checked, item.text().strip()
        if visible != m.visible:
            m.visible = visible
        if new and new != m.name:
            m.name = self.case.markups.unique_name(new)
        elif not new:
            self.refresh()

    def delete_selected(self) -> None:
        m = self.selected()
        if m is not None and self.case is not None:
            self.case.markups.remove(m)

    # -- placement --------------------------------------------------------------------------
    def start_placement(self, mtype: MarkupType | str) -> None:
        mtype = MarkupType(mtype)
        self.finish_placement()
        if self.case is None:
            return
        self.placing, self.current = mtype, None
        self._set_buttons(mtype)
        self.hint.setText(f"Click on a surface or slice to place the {TYPE_NAMES[mtype].lower()}"
                          + (" (right-click to finish)." if POINT_COUNT[mtype] is None else "."))
        self.placement_changed.emit(mtype)

    def _released(self, mtype: MarkupType) -> None:
        if self.placing is mtype:
            self.finish_placement()

    def finish_placement(self) -> None:
        if self.placing is None:
            return
        self.placing, self.current = None, None
        self._set_buttons(None)
        self.hint.setText("Choose a markup type, then click in the 3D view.")
        self.placement_changed.emit(None)

    def _set_buttons(self, active: MarkupType | None) -> None:
        for t, b in self.type_buttons.items():
            b.blockSignals(True)
            b.setChecked(t is active)
            b.blockSignals(False)

    def place_at(self, position, normal=None) -> Markup | None:
        """Add a control point at ``position`` (LPS mm) to the markup being placed."""
        if self.placing is None or self.case is None:
            return None
        mtype = self.placing
        m = self.current
        if m is None or m not in list(self.case.markups):
            kwargs = {}
            if mtype is MarkupType.PLANE and normal is not None:
                kwargs["orientation"] = _axes_from_normal(normal)
            if mtype is MarkupType.ROI:
                kwargs["size"] = (ROI_DEFAULT_MM,) * 3
            name = {MarkupType.POINT: "P", MarkupType.LINE: "L", MarkupType.ANGLE: "A",
                    MarkupType.PLANE: "Plane", MarkupType.ROI: "ROI", MarkupType.CURVE: "C",
                    MarkupType.CLOSED_CURVE: "CC"}[mtype]
            m = Markup(self.case.markups.unique_name(name), mtype,
                       color=DEFAULT_COLORS[mtype], **kwargs)
            m.points = (tuple(float(x) for x in position),)
            self.current = self.case.markups.add(m)
        else:
            m.add_point(position)
        need = POINT_COUNT[mtype]
        if need is not None and len(m.points) >= need:
            self.finish_placement()
        self.table.selectRow(self.row_of(m))
        return m

    def place_from_slice(self, world) -> Markup | None:
        """A click in a 2D slice view: a control point there, if a markup is being placed."""
        if self.placing is None:
            return None
        return self.place_at(np.asarray(world, dtype=float))

    def pick(self, x: int, y: int):
        """(position, normal) of the scene surface under display pixel (x, y), or None.

        Only the scene objects' actors are candidates: a click must never be lost to a drag
        handle, a label, the selection outline or another overlay in front of the surface."""
        view = self.view
        if view is None:
            return None
        picker = self._picker
        picker.InitializePickList()
        for adapter in view.renderer.adapters.values():
            if adapter.obj.visible:
                for actor in adapter.actors:
                    picker.AddPickList(actor)
        picker.PickFromListOn()
        if not picker.Pick(x, y, 0, view.plotter.renderer):
            return None
        actor = self._picker.GetActor()
        if actor is None or view.renderer.object_for_actor(actor) is None:
            return None  # only real objects (surfaces, slices), never markups or widgets
        return np.array(self._picker.GetPickPosition()), np.array(self._picker.GetPickNormal())

    def eventFilter(self, watched, event) -> bool:
        if self.placing is None:
            return False
        kind = event.type()
        # A press the window system counts as the second of a double click reaches a widget
        # as MouseButtonDblClick instead of MouseButtonPress (close clicks, or a display whose
        # event times are unreliable, as on some remote desktops): it is a click all the same.
        if kind in CLICK_PRESSES and event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
        elif kind == QEvent.Type.MouseButtonRelease and self._press is not None:
            pos, pressed, self._press = event.position(), self._press, None
            if (event.button() == Qt.MouseButton.LeftButton
                    and (pos - pressed).manhattanLength() <= click_tolerance_px()):
                hit = self.pick(*self.view.to_display(pos))
                if hit is not None:
                    self.place_at(*hit)
        elif (kind == QEvent.Type.MouseButtonRelease
              and event.button() == Qt.MouseButton.RightButton):
            self.finish_placement()
        return False

    # -- Slicer files ------------------------------------------------------------------------
    def import_file(self, path: str | Path) -> list[Markup]:
        markups, notes = import_markups(path)
        if self.case is None:
            return []
        with self.case.history.macro(f"Import {Path(path).name}"):
            added = [self.case.markups.add(m) for m in markups]
        msg = f"Imported {len(added)} markup(s) from {Path(path).name}"
        self.hint.setText(msg + (": " + "; ".join(notes) if notes else "."))
        return added

    def export_file(self, path: str | Path, coordinate_system: str = "LPS") -> Path:
        markups = list(self.case.markups) if self.case is not None else []
        out = export_markups(markups, path, coordinate_system)
        self.hint.setText(f"Exported {len(markups)} markup(s) to {Path(out).name} "
                          f"({coordinate_system}).")
        return out

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import Slicer markups", "",
                                              "Slicer markups (*.mrk.json *.json)")
        if path:
            try:
                self.import_file(path)
            except TwinsightError as exc:
                self.last_error = show_error(self, "Import failed", exc)

    def export_dialog(self) -> None:
        lps, ras = "Slicer markups, LPS (*.mrk.json)", "Slicer markups, RAS (*.mrk.json)"
        path, chosen = QFileDialog.getSaveFileName(self, "Export Slicer markups",
                                                   "markups.mrk.json", f"{lps};;{ras}")
        if path:
            try:
                self.export_file(path, "RAS" if chosen == ras else "LPS")
            except TwinsightError as exc:
                self.last_error = show_error(self, "Export failed", exc)

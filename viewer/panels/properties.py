"""Properties of the selected object: name, colour, opacity, and what it contains."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QColorDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QWidget,
)

from sim.model import Case, SceneObject
from viewer.panels.spin import follow_selection


class PropertiesPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("propertiesPanel")
        self.obj: SceneObject | None = None
        self.case: Case | None = None
        form = QFormLayout(self)
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(self._rename)
        self.kind_label = QLabel()
        self.color_button = QPushButton()
        self.color_button.setObjectName("colorButton")
        self.color_button.clicked.connect(self._pick_color)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.valueChanged.connect(self._set_opacity)
        self.details = QLabel()
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setWordWrap(True)
        form.addRow("Name", self.name_edit)
        form.addRow("Kind", self.kind_label)
        form.addRow("Colour", self.color_button)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow("Details", self.details)
        self.show_object(None)

    def set_case(self, case: Case) -> None:
        follow_selection(self, case)

    def show_object(self, obj: SceneObject | None) -> None:
        if self.obj is not None:
            self.obj.events.disconnect(self._refresh)
        self.obj = obj
        for w in (self.name_edit, self.color_button, self.opacity_slider):
            w.setEnabled(obj is not None)
        if obj is not None:
            obj.events.connect(self._refresh)
        self._refresh()

    def _refresh(self, *_args) -> None:
        obj = self.obj
        if obj is None:
            self.name_edit.setText("")
            self.kind_label.setText("")
            self.details.setText("Select an object in the tree or the 3D view.")
            return
        self.name_edit.setText(obj.name)
        self.kind_label.setText(str(obj.kind))
        c = QColor.fromRgbF(*obj.color)
        self.color_button.setStyleSheet(f"background-color: {c.name()}; min-height: 18px;")
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(round(obj.opacity * 100))
        self.opacity_slider.blockSignals(False)
        s = obj.summary()
        b = s["bounds_mm"]
        lines = [f"{s['points']:,} points, {s['cells']:,} cells",
                 "extent " + " x ".join(f"{b[i + 1] - b[i]:.1f}" for i in (0, 2, 4)) + " mm"]
        if "spacing_mm" in s:
            lines.append("spacing " + " x ".join(f"{v:g}" for v in s["spacing_mm"]) + " mm")
        if "area_mm2" in s:
            lines.append(f"area {s['area_mm2']:,.0f} mm²")
        self.details.setText("\n".join(lines))

    def _rename(self) -> None:
        if self.obj is not None and self.name_edit.text().strip() and self.case is not None:
            new = self.name_edit.text().strip()
            if new != self.obj.name:
                self.obj.name = self.case.scene.unique_name(new)

    def _set_opacity(self, value: int) -> None:
        if self.obj is not None:
            self.obj.opacity = value / 100.0

    def _pick_color(self) -> None:
        if self.obj is None:
            return
        color = QColorDialog.getColor(QColor.fromRgbF(*self.obj.color), self, "Object colour")
        if color.isValid():
            self.obj.color = (color.redF(), color.greenF(), color.blueF())

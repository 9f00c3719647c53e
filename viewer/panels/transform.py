"""The selected object's rigid transform: numeric fields, a 3D manipulator, reset and harden.

The transform lives in the model (``obj.transform``); the render adapters
(:mod:`sim.render.adapters`) show it as each actor's user matrix, so the geometry is
untouched until hardened.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkInteractionWidgets import vtkBoxRepresentation, vtkBoxWidget2

from sim.errors import TwinsightError
from sim.geometry import rigid
from sim.model import Case, SceneObject
from sim.model import transform as tf
from sim.render.adapters import vtk_matrix
from viewer.panels.spin import button, follow_selection


def _nearest_rigid(m: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rigid.nearest_rotation(m), m[:3, 3]
    return out


class Manipulator:
    """A box around the object with translate and rotate handles (no scaling)."""

    def __init__(self, plotter, obj: SceneObject, on_move) -> None:
        self.obj, self.on_move = obj, on_move
        rep = vtkBoxRepresentation()
        rep.SetPlaceFactor(1.05)
        rep.PlaceWidget(list(obj.data.bounds))
        rep.GetOutlineProperty().SetColor(1.0, 0.85, 0.2)
        self.widget = vtkBoxWidget2()
        self.widget.SetInteractor(plotter.iren.interactor)
        # Pin the main renderer: otherwise the widget attaches to whichever viewport the last
        # event hit (e.g. the orientation marker's, in the corner).
        self.widget.SetCurrentRenderer(plotter.renderer)
        self.widget.SetRepresentation(rep)
        self.widget.ScalingEnabledOff()
        self.widget.MoveFacesEnabledOff()
        self.widget.TranslationEnabledOn()
        self.widget.RotationEnabledOn()
        self.widget.AddObserver("InteractionEvent", self._moved)
        self.sync()
        self.widget.On()

    def current(self) -> np.ndarray:
        t = vtkTransform()
        self.widget.GetRepresentation().GetTransform(t)
        m = t.GetMatrix()
        return _nearest_rigid(np.array([[m.GetElement(i, j) for j in range(4)]
                                        for i in range(4)]))

    def _moved(self, *_args) -> None:
        self.on_move(self.current())

    def sync(self) -> None:
        """Show the object's current transform on the box (after undo or a typed value)."""
        t = vtkTransform()
        t.SetMatrix(vtk_matrix(self.obj.transform))
        self.widget.GetRepresentation().SetTransform(t)

    def close(self) -> None:
        self.widget.Off()
        self.widget.SetInteractor(None)


class TransformPanel(QWidget):
    """Translation (mm) and x-y-z rotation (degrees) of the selected object."""

    def __init__(self, view=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("transformPanel")
        self.view = view
        self.case: Case | None = None
        self.obj: SceneObject | None = None
        self.manipulator: Manipulator | None = None
        self._updating = False
        layout = QVBoxLayout(self)
        self.title = QLabel("No object selected")
        layout.addWidget(self.title)
        form = QFormLayout()
        self.spins: list[QDoubleSpinBox] = []
        for label, unit, limit in (("Translate x", " mm", 1e5), ("Translate y", " mm", 1e5),
                                   ("Translate z", " mm", 1e5), ("Rotate x", "°", 360),
                                   ("Rotate y", "°", 360), ("Rotate z", "°", 360)):
            spin = QDoubleSpinBox()
            spin.setObjectName(label.replace(" ", "").lower())
            spin.setRange(-limit, limit)
            spin.setDecimals(2)
            spin.setSuffix(unit)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._typed)
            form.addRow(label, spin)
            self.spins.append(spin)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.manip_button = QPushButton("Manipulator")
        self.manip_button.setObjectName("manipulatorButton")
        self.manip_button.setCheckable(True)
        self.manip_button.setToolTip("Drag inside the box to move, drag a face to rotate")
        self.manip_button.toggled.connect(self.set_manipulator)
        self.reset_button = button("Reset", self.reset)
        self.harden_button = button("Harden", self.harden,
                                    "Apply the transform to the geometry itself")
        for b in (self.manip_button, self.reset_button, self.harden_button):
            row.addWidget(b)
        layout.addLayout(row)
        layout.addStretch(1)
        self.show_object(None)

    def set_case(self, case: Case) -> None:
        follow_selection(self, case)

    def show_object(self, obj: SceneObject | None) -> None:
        if self.obj is not None:
            self.obj.events.transform.disconnect(self._refresh)
            self.obj.events.name.disconnect(self._refresh)
        self.set_manipulator(False)
        self.obj = obj
        if obj is not None:
            obj.events.transform.connect(self._refresh)
            obj.events.name.connect(self._refresh)
        for w in (*self.spins, self.manip_button, self.reset_button, self.harden_button):
            w.setEnabled(obj is not None)
        self._refresh()

    def _refresh(self, *_args) -> None:
        obj = self.obj
        self.title.setText(f"Transform of '{obj.name}'" if obj else "No object selected")
        t, r = rigid.to_parts(obj.transform) if obj is not None else (np.zeros(3), np.zeros(3))
        self._updating = True
        try:
            for spin, value in zip(self.spins, (*t, *r), strict=True):
                spin.setValue(float(value))
        finally:
            self._updating = False
        if self.manipulator is not None:
            self.manipulator.sync()

    def _typed(self, *_args) -> None:
        if self._updating or self.obj is None:
            return
        values = [s.value() for s in self.spins]
        self.set_transform(rigid.from_parts(values[:3], values[3:]))

    def set_transform(self, m: np.ndarray) -> None:
        if self.obj is None:
            return
        try:
            self.obj.transform = m
        except TwinsightError as exc:
            self.title.setText(str(exc))

    def reset(self) -> None:
        self.set_transform(np.eye(4))

    def harden(self) -> None:
        if self.obj is not None and self.case is not None:
            self.set_manipulator(False)
            tf.harden(self.obj, self.case.history)

    def set_manipulator(self, on: bool) -> None:
        had = self.manipulator is not None
        if on and self.manipulator is None and self.obj is not None and self.view is not None:
            self.manipulator = Manipulator(self.view.plotter, self.obj, self.set_transform)
        elif not on and self.manipulator is not None:
            self.manipulator.close()
            self.manipulator = None
        if self.manip_button.isChecked() != (self.manipulator is not None):
            self.manip_button.blockSignals(True)
            self.manip_button.setChecked(self.manipulator is not None)
            self.manip_button.blockSignals(False)
        if self.view is not None and had != (self.manipulator is not None):
            self.view.plotter.render()

"""The Segment panel: threshold presets with a live preview on the slice views, seed from the
crosshair, clean-up options, and 'Create surface' which runs the segmentation off the GUI thread."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim.imaging import segment as seg
from sim.imaging.pipeline import Recipe
from sim.imaging.volume import voxel_array
from sim.model import ObjectKind, SceneObject

CUSTOM = "custom"


class SegmentPanel(QWidget):
    """Builds a :class:`~sim.imaging.pipeline.Recipe` from its controls."""

    preview_changed = pyqtSignal(object)  # [i, j, k] bool mask, or None
    run_requested = pyqtSignal(object)  # Recipe
    labels_requested = pyqtSignal()  # one surface per label of the current label map

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.obj: SceneObject | None = None
        self.cursor: np.ndarray | None = None
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.addItems([*seg.PRESETS, CUSTOM])
        self.preset.currentTextChanged.connect(self._on_preset)
        form.addRow("Preset", self.preset)
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setRange(-100_000, 100_000)
            box.setDecimals(1)
            box.setSingleStep(10)
            box.valueChanged.connect(self._schedule_preview)
        form.addRow("Lower", self.low)
        form.addRow("Upper", self.high)
        self.seed = QCheckBox("Only the region at the crosshair (region growing)")
        self.largest = QCheckBox("Keep the largest connected part")
        self.fill = QCheckBox("Fill holes")
        self.close_mm = QDoubleSpinBox()
        self.close_mm.setRange(0, 20)
        self.close_mm.setSuffix(" mm")
        self.smooth = QSpinBox()
        self.smooth.setRange(0, 200)
        self.smooth.setValue(20)
        self.triangles = QSpinBox()
        self.triangles.setRange(0, 5_000_000)
        self.triangles.setSingleStep(10_000)
        self.triangles.setValue(40_000)
        form.addRow(self.seed)
        form.addRow(self.largest)
        form.addRow(self.fill)
        form.addRow("Closing", self.close_mm)
        form.addRow("Smoothing iterations", self.smooth)
        form.addRow("Target triangles", self.triangles)
        self.live = QCheckBox("Live preview on the slices")
        self.live.setChecked(True)
        self.live.toggled.connect(self._schedule_preview)
        self.info = QLabel("Open a CT or MR to segment.")
        self.info.setWordWrap(True)
        self.create = QPushButton("Create surface")
        self.create.clicked.connect(lambda: self.run_requested.emit(self.recipe()))
        self.from_labels = QPushButton("Surfaces from labels")
        self.from_labels.setToolTip("one named, coloured surface per label of this label map")
        self.from_labels.clicked.connect(self.labels_requested.emit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.live)
        layout.addWidget(self.create)
        layout.addWidget(self.from_labels)
        layout.addWidget(self.info)
        layout.addStretch(1)
        self._timer = QTimer(self)  # debounce: recompute once the user pauses
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.update_preview)
        self._on_preset(self.preset.currentText())
        self.set_volume(None)

    def set_volume(self, obj: SceneObject | None) -> None:
        self.obj = obj
        self.create.setEnabled(obj is not None)
        self.from_labels.setEnabled(obj is not None and obj.kind == ObjectKind.LABELMAP)
        self._schedule_preview()

    def set_cursor(self, world) -> None:
        self.cursor = np.asarray(world, dtype=float)

    def _on_preset(self, name: str) -> None:
        if name != CUSTOM:
            p = seg.preset(name)
            for box, value in ((self.low, p.low), (self.high, p.high)):
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
            self.largest.setChecked(p.keep_largest)
        self._schedule_preview()

    def recipe(self) -> Recipe:
        name = self.preset.currentText()
        seed = tuple(self.cursor) if self.seed.isChecked() and self.cursor is not None else None
        return Recipe(preset=None if name == CUSTOM else name, low=self.low.value(),
                      high=self.high.value(), seed=seed, largest=self.largest.isChecked(),
                      close_mm=self.close_mm.value(), fill_holes=self.fill.isChecked(),
                      smoothing_iterations=self.smooth.value(),
                      target_triangles=self.triangles.value() or None)

    def _schedule_preview(self, *_args) -> None:
        self._timer.start()

    def update_preview(self) -> None:
        """The threshold mask (the cheap, interactive part of the recipe) on the slice views."""
        if self.obj is None or not self.live.isChecked():
            self.preview_changed.emit(None)
            return
        values = voxel_array(self.obj.data)
        mask = (values >= self.low.value()) & (values <= self.high.value())
        n = int(np.count_nonzero(mask))
        ml = n * float(np.prod(self.obj.data.spacing)) / 1000.0
        self.info.setText(f"{n:,} voxels ({ml:.1f} ml) in {self.low.value():g}..{self.high.value():g}")
        self.preview_changed.emit(mask)

    @staticmethod
    def surface_object(result, recipe: Recipe) -> SceneObject:
        name = f"{recipe.preset or 'segment'} surface"
        return SceneObject(name, ObjectKind.SURFACE, result.surface, color=recipe.color(),
                           metadata={"segmentation": result.stats})

"""The Segment panel: threshold presets, region growing from a seed clicked in a slice view,
clean-up options, a live preview of the whole recipe on the slice views (computed off the GUI
thread, debounced), 'Create surface', and for label maps a named list of the structures to
turn into surfaces."""

from __future__ import annotations

import contextlib
import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim.imaging import segment as seg
from sim.imaging.pipeline import Recipe, make_mask, preview_mask
from sim.imaging.volume import is_rgb
from sim.model import ObjectKind, SceneObject
from viewer.panels.spin import button

CUSTOM = "custom"


class SegmentPanel(QWidget):
    """Builds a :class:`~sim.imaging.pipeline.Recipe` from its controls."""

    preview_changed = pyqtSignal(object)  # [i, j, k] bool mask, or None
    run_requested = pyqtSignal(object)  # Recipe
    labels_requested = pyqtSignal()  # one surface per checked label of the current label map
    seed_changed = pyqtSignal(object)  # world point or None
    seed_mode_changed = pyqtSignal(bool)  # True: the next click in a slice view sets the seed
    _computed = pyqtSignal(int, object, object)  # generation, mask, stats (from the worker)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.obj: SceneObject | None = None
        self.cursor: np.ndarray | None = None
        self.seed_point: np.ndarray | None = None
        self.last_preview: dict | None = None  # stats of the preview shown
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-preview")
        self._generation = itertools.count(1)
        self._latest = 0
        self._closed = False
        self._computed.connect(self._show_preview)
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
        self.seed = QCheckBox("Region growing from the seed")
        self.seed.setToolTip("keep only the part connected to the seed (green ring); "
                             "Shift+click in a slice view or the 3D view, or 'Pick seed', to set it")
        self.seed.toggled.connect(self._on_seed_toggled)
        self.pick_seed = QPushButton("Pick seed")
        self.pick_seed.setCheckable(True)
        self.pick_seed.setToolTip("the next click in a slice view or the 3D view sets the "
                                  "seed (Shift+click always does)")
        self.pick_seed.toggled.connect(self.seed_mode_changed.emit)
        self.seed_label = QLabel("no seed")
        self.largest = QCheckBox("Keep the largest connected part")
        self.fill = QCheckBox("Fill holes")
        self.close_mm = QDoubleSpinBox()
        self.close_mm.setRange(0, 20)
        self.close_mm.setSuffix(" mm")
        self.smooth = QSpinBox()
        self.smooth.setRange(0, 200)
        self.smooth.setValue(Recipe.smoothing_iterations)
        self.triangles = QSpinBox()
        self.triangles.setRange(0, 5_000_000)
        self.triangles.setSingleStep(10_000)
        self.triangles.setValue(Recipe.target_triangles)
        form.addRow(self.seed)
        form.addRow(self.pick_seed, self.seed_label)
        form.addRow(self.largest)
        form.addRow(self.fill)
        form.addRow("Closing", self.close_mm)
        form.addRow("Smoothing iterations", self.smooth)
        form.addRow("Target triangles", self.triangles)
        for box in (self.largest, self.fill):
            box.toggled.connect(self._schedule_preview)
        self.close_mm.valueChanged.connect(self._schedule_preview)
        self.live = QCheckBox("Live preview on the slices")
        self.live.setChecked(True)
        self.live.toggled.connect(self._schedule_preview)
        self.info = QLabel("Open a CT or MR to segment.")
        self.info.setWordWrap(True)
        self.create = QPushButton("Create surface")
        self.create.clicked.connect(lambda: self.run_requested.emit(self.recipe()))
        self.from_labels = button("Surfaces from labels", self.labels_requested.emit,
                                  "one named, coloured surface per checked structure")
        self.label_list = QListWidget()  # the label map's structures: "5  liver", checkable
        self.label_list.setToolTip("structures of this label map; uncheck to leave one out")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.live)
        layout.addWidget(self.create)
        layout.addWidget(self.from_labels)
        layout.addWidget(self.label_list, 1)
        layout.addWidget(self.info)
        layout.addStretch(0)
        self._timer = QTimer(self)  # debounce: recompute once the user pauses
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.update_preview)
        self._on_preset(self.preset.currentText())
        self.set_volume(None)

    def showEvent(self, event) -> None:
        """Opening the panel shows the preview: one computed while it was hidden was not
        drawn on the slices."""
        super().showEvent(event)
        self._schedule_preview()

    def set_volume(self, obj: SceneObject | None) -> None:
        self.obj = obj
        self.create.setEnabled(obj is not None)
        is_labels = obj is not None and obj.kind == ObjectKind.LABELMAP
        self.from_labels.setEnabled(is_labels)
        self.label_list.clear()
        for value, label in (obj.label_table.items() if is_labels else []):
            item = QListWidgetItem(f"{value:>4}  {label.name}")
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.label_list.addItem(item)
        self.label_list.setVisible(is_labels)
        if is_labels:
            self.info.setText(f"Label map with {self.label_list.count()} structures: check the "
                              "ones to turn into surfaces.")
        elif obj is not None and is_rgb(obj.data):  # thresholds need measured values
            self.create.setEnabled(False)
            self.info.setText("A colour (RGB) picture cannot be segmented: thresholds need a "
                              "greyscale CT or MR.")
        elif obj is None:
            self.info.setText("Open a CT or MR to segment.")
        self.set_seed(None)
        self._schedule_preview()

    def checked_labels(self) -> list[int]:
        """Label values whose structures are checked in the list."""
        items = (self.label_list.item(i) for i in range(self.label_list.count()))
        return [int(it.data(Qt.ItemDataRole.UserRole)) for it in items
                if it.checkState() == Qt.CheckState.Checked]

    def set_cursor(self, world) -> None:
        self.cursor = np.asarray(world, dtype=float)

    def set_seed(self, world) -> None:
        """The region-growing seed (world LPS mm), e.g. clicked in a slice view; None clears it."""
        self.seed_point = None if world is None else np.asarray(world, dtype=float)
        self.pick_seed.setChecked(False)
        if self.seed_point is None:
            self.seed_label.setText("no seed")
        else:
            self.seed_label.setText("seed at " + ", ".join(f"{c:.0f}" for c in self.seed_point)
                                    + " mm")
            self.seed.blockSignals(True)
            self.seed.setChecked(True)
            self.seed.blockSignals(False)
        self.seed_changed.emit(self.seed_point)
        self._schedule_preview()

    def _on_seed_toggled(self, on: bool) -> None:
        if on and self.seed_point is None and self.cursor is not None:
            self.set_seed(self.cursor)  # no seed clicked yet: start from the crosshair
            return
        self._schedule_preview()

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
        seed = (tuple(float(c) for c in self.seed_point)
                if self.seed.isChecked() and self.seed_point is not None else None)
        return Recipe(preset=None if name == CUSTOM else name, low=self.low.value(),
                      high=self.high.value(), seed=seed, largest=self.largest.isChecked(),
                      close_mm=self.close_mm.value(), fill_holes=self.fill.isChecked(),
                      smoothing_iterations=self.smooth.value(),
                      target_triangles=self.triangles.value() or None)

    def _schedule_preview(self, *_args) -> None:
        self._timer.start()

    def update_preview(self) -> None:
        """Compute the whole recipe's mask (threshold, seed, clean-up; see
        :func:`sim.imaging.pipeline.preview_mask`) in the worker; only the newest request's
        result is shown, so dragging a control never queues up stale work on screen."""
        if self._closed:  # a debounced request that fired after the window closed
            return
        gen = self._latest = next(self._generation)
        if (self.obj is None or not self.live.isChecked() or self.obj.kind == ObjectKind.LABELMAP
                or is_rgb(self.obj.data)):
            self.last_preview = None
            self.preview_changed.emit(None)
            return
        image, recipe = self.obj.data, self.recipe()
        self.info.setText("Updating preview…")

        def work() -> None:
            if gen != self._latest:
                return  # superseded while it waited
            try:
                mask, stats = preview_mask(image, recipe)
            except Exception as exc:  # bad settings (e.g. seed outside): say so, show nothing
                mask, stats = None, {"error": str(exc)}
            with contextlib.suppress(RuntimeError):  # RuntimeError: the panel was deleted
                self._computed.emit(gen, mask, stats)  # queued to the GUI thread
            if mask is None or stats["factor"] == 1 or gen != self._latest:
                return
            # The fast preview ran the clean-up on coarse blocks; follow it with the exact mask
            # 'Create surface' will use, so the count shown is the result's.
            start = time.perf_counter()
            exact = make_mask(image, recipe)
            n = int(np.count_nonzero(exact))
            stats = {"voxels": n, "ml": n * float(np.prod(image.spacing)) / 1000.0, "factor": 1,
                     "seconds": stats["seconds"] + time.perf_counter() - start, "exact": True}
            with contextlib.suppress(RuntimeError):
                self._computed.emit(gen, exact, stats)

        self._pool.submit(work)

    def _show_preview(self, gen: int, mask, stats: dict) -> None:
        if gen != self._latest or self.obj is None:
            return
        self.last_preview = stats
        if mask is None:
            self.info.setText(stats.get("error", "No preview"))
        else:
            coarse = (f", clean-up on {stats['factor']}x coarser blocks (exact count follows)"
                      if stats["factor"] > 1 else "")
            self.info.setText(f"{stats['voxels']:,} voxels ({stats['ml']:.1f} ml){coarse}; "
                              f"preview {stats['seconds'] * 1000:.0f} ms")
        self.preview_changed.emit(mask)

    def shutdown(self) -> None:
        """Stop the preview worker (waits for a running computation, drops queued ones)."""
        self._closed = True
        self._timer.stop()
        self._latest = -1
        self._pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def surface_object(result, recipe: Recipe) -> SceneObject:
        name = f"{recipe.preset or 'segment'} surface"
        return SceneObject(name, ObjectKind.SURFACE, result.surface, color=recipe.color(),
                           metadata={"segmentation": result.stats})

"""The Segment Editor dock: named segments of the scan shown, painted and cut by hand.

Segments live in one label-map object of the case (see :mod:`sim.imaging.segment_edit`); every
tool is an undoable step of the case (Edit > Undo). Tools:

- Paint / Erase: a sphere brush dragged on any slice view (radius in mm);
- Scissors: a lasso drawn with the left button in the 3D view cuts the selected segment
  through the view's depth (erase inside, or keep only inside);
- Islands: keep the island under the crosshair, keep the largest, split into segments, remove
  small ones;
- Logical: union / intersect / subtract another segment;
- Grow from seeds: paint a few strokes in each structure and a 'background' round them, then
  grow (in the background, with progress);
- Make surfaces: one smooth surface per segment in the scene.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QEvent, QObject, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.imaging.segment_edit import SegmentEditor
from sim.model import Case, ObjectKind, SceneObject
from viewer.panels.spin import button, spin_box

TOOLS = ("None", "Paint", "Erase", "Scissors")
SEGMENT_ALPHA = 0.5


def color_table(editor: SegmentEditor) -> np.ndarray:
    """uint8 RGBA row per label value (0 transparent) for the slice views."""
    segs = editor.segments()
    table = np.zeros((max(segs, default=0) + 1, 4), dtype=np.uint8)
    for v, info in segs.items():
        table[v, :3] = (np.asarray(info["color"]) * 255).astype(np.uint8)
        table[v, 3] = int(SEGMENT_ALPHA * 255)
    return table


class BrushTool:
    """Paint or erase with a sphere on a slice view (the view calls press/drag/release)."""

    def __init__(self, panel: SegmentEditorPanel, erase: bool) -> None:
        self.panel, self.erase = panel, erase

    def press(self, view, world) -> None:
        ed, value = self.panel.editor, self.panel.current_value()
        if ed is None or value is None:
            self.panel.say("Add a segment first.")
            return
        ed.begin_stroke(value, self.erase)
        ed.stroke_to(world, self.panel.radius.value())

    def drag(self, view, world) -> None:
        ed = self.panel.editor
        if ed is not None and ed._stroke is not None:
            ed.stroke_to(world, self.panel.radius.value())

    def release(self, view) -> None:
        if self.panel.editor is not None:
            self.panel.editor.end_stroke()


class LassoFilter(QObject):
    """Scissors in the 3D view: left press starts a lasso, moves add to it, release cuts."""

    def __init__(self, panel: SegmentEditorPanel, view) -> None:
        super().__init__(panel)
        self.panel, self.view = panel, view
        self.points: list[tuple[float, float]] = []

    def _display(self, event) -> tuple[float, float]:
        widget = self.view.plotter.interactor
        ratio = widget.devicePixelRatioF()
        pos = event.position()
        return pos.x() * ratio, (widget.height() - 1 - pos.y()) * ratio

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self.points = [self._display(event)]
            return True
        if kind == QEvent.Type.MouseMove and self.points:
            self.points.append(self._display(event))
            return True
        if kind == QEvent.Type.MouseButtonRelease and self.points:
            points, self.points = self.points, []
            self.panel.cut(np.asarray(points), world_to_display(self.view.plotter))
            return True
        return False


def world_to_display(plotter) -> np.ndarray:
    """4x4 matrix taking world points to the display pixels of ``plotter``'s renderer
    (VTK display coordinates, origin bottom-left), perspective or parallel."""
    ren = plotter.renderer
    w, h = ren.GetSize()
    x0, y0 = ren.GetOrigin()
    m = ren.GetActiveCamera().GetCompositeProjectionTransformMatrix(w / max(h, 1), -1, 1)
    proj = np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])
    ndc_to_px = np.array([[w / 2, 0, 0, x0 + w / 2], [0, h / 2, 0, y0 + h / 2],
                          [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    return ndc_to_px @ proj


class SegmentEditorPanel(QWidget):
    """See the module docstring. The window gives it the case, the scan shown in the slice
    views, the slice viewer (tools and overlay) and the 3D view (scissors)."""

    tool_changed = pyqtSignal(str)

    def __init__(self, window=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.case: Case | None = None
        self.volume: SceneObject | None = None
        self.editor: SegmentEditor | None = None
        self.slices = None  # the SliceViewer
        self.view3d = None  # the SceneView
        self._lasso: LassoFilter | None = None
        layout = QVBoxLayout(self)
        self.segment_list = QListWidget()
        self.segment_list.setToolTip("segments of the scan; the selected one is edited")
        self.segment_list.currentRowChanged.connect(lambda _r: self._update_buttons())
        self.name = QLineEdit()
        self.name.setPlaceholderText("new segment name, e.g. spinal cord")
        self.add_button = button("Add segment", self.add_segment)
        self.remove_button = button("Remove", self.remove_segment)
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout.addWidget(self.segment_list, 1)
        layout.addLayout(row)
        # tools
        tools = QGroupBox("Tool")
        tool_row = QHBoxLayout(tools)
        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[str, QRadioButton] = {}
        for name in TOOLS:
            b = QRadioButton(name)
            b.setToolTip({"Paint": "drag on a slice view to paint a sphere brush",
                          "Erase": "drag on a slice view to erase with the sphere brush",
                          "Scissors": "draw a lasso in the 3D view: cuts through the depth",
                          "None": "slice clicks move the crosshair"}[name])
            self.tool_group.addButton(b)
            self.tool_buttons[name] = b
            tool_row.addWidget(b)
        self.tool_buttons["None"].setChecked(True)
        self.tool_group.buttonToggled.connect(self._on_tool)
        layout.addWidget(tools)
        form = QFormLayout()
        self.radius = spin_box(0.5, 50.0, 4.0, 0.5, 1, " mm")
        self.radius.setToolTip("brush radius")
        form.addRow("Brush radius", self.radius)
        self.scissors_mode = QComboBox()
        self.scissors_mode.addItems(["erase inside", "keep inside"])
        form.addRow("Scissors", self.scissors_mode)
        layout.addLayout(form)
        # islands
        islands = QGroupBox("Islands")
        il = QHBoxLayout(islands)
        self.keep_island_button = button("Keep at crosshair", self.keep_island)
        self.largest_button = QPushButton("Keep largest")
        self.largest_button.clicked.connect(lambda: self._run(lambda ed, v: ed.keep_largest_island(v)))
        self.split_button = QPushButton("Split")
        self.split_button.clicked.connect(lambda: self._run(lambda ed, v: ed.split_islands(v)))
        self.min_voxels = QSpinBox()
        self.min_voxels.setRange(1, 10_000_000)
        self.min_voxels.setValue(100)
        self.min_voxels.setSuffix(" vox")
        self.small_button = QPushButton("Remove smaller")
        self.small_button.clicked.connect(
            lambda: self._run(lambda ed, v: ed.remove_small_islands(v, self.min_voxels.value())))
        for w in (self.keep_island_button, self.largest_button, self.split_button,
                  self.small_button, self.min_voxels):
            il.addWidget(w)
        layout.addWidget(islands)
        # logical
        logic = QGroupBox("Logical")
        ll = QHBoxLayout(logic)
        self.logic_op = QComboBox()
        self.logic_op.addItems(["union", "intersect", "subtract"])
        self.logic_with = QComboBox()
        self.logic_button = button("Apply", self.apply_logical)
        ll.addWidget(self.logic_op)
        ll.addWidget(QLabel("with"))
        ll.addWidget(self.logic_with, 1)
        ll.addWidget(self.logic_button)
        layout.addWidget(logic)
        self.grow_button = button("Grow from seeds", self.grow,
                                  "paint strokes in each structure and a segment named "
                                  "'background' round them (else the last segment is the "
                                  "background), then grow them to fill the region")
        self.surface_button = button("Make surfaces", self.make_surfaces,
                                     "one smooth surface per segment, added to the scene")
        row = QHBoxLayout()
        row.addWidget(self.grow_button)
        row.addWidget(self.surface_button)
        layout.addLayout(row)
        # Arguments of the tools and buttons (like the markup type being placed), not settings
        # of the case: the segments themselves are what the case keeps.
        for w in (self.name, self.radius, self.scissors_mode, self.min_voxels, self.logic_op,
                  self.logic_with, *self.tool_buttons.values()):
            w.setProperty("noSave", True)
        self.info = QLabel("Open a CT or MR, then add segments.")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        self._update_buttons()

    def showEvent(self, event) -> None:  # the slice views may have been made since
        super().showEvent(event)
        self._changed(None)
        self._on_tool()

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, slices, view3d) -> None:
        self.slices, self.view3d = slices, view3d

    def set_case(self, case: Case | None) -> None:
        self.case = case
        self._set_editor(None)

    def set_volume(self, obj: SceneObject | None) -> None:
        """The scan shown in the slice views: its segmentation (if the case has one) is edited."""
        if obj is not None and obj.kind == ObjectKind.LABELMAP and obj.segmentation_of:
            return  # the segmentation itself was chosen to be shown: keep editing it
        self.volume = obj if obj is not None and obj.kind == ObjectKind.VOLUME else None
        found = None
        if self.volume is not None and self.case is not None:
            found = next((o for o in self.case.scene if o.kind == ObjectKind.LABELMAP and
                          o.segmentation_of == self.volume.uid), None)
        self._set_editor(SegmentEditor(self.case, found) if found is not None else None)

    def _set_editor(self, editor: SegmentEditor | None) -> None:
        if self.editor is not None:
            self.editor.changed.disconnect(self._changed)
        self.editor = editor
        if editor is not None:
            editor.changed.connect(self._changed)
        self._changed(None)

    def _changed(self, _box=None) -> None:
        """Segments changed (an edit, undo or redo): list and slice overlays follow."""
        ed = self.editor
        current = self.current_value()
        self.segment_list.blockSignals(True)
        self.segment_list.clear()
        self.logic_with.clear()
        for v, info in (ed.segments() if ed is not None else {}).items():
            pix = QPixmap(12, 12)
            pix.fill(QColor.fromRgbF(*info["color"]))
            item = QListWidgetItem(QIcon(pix), info["name"])
            item.setData(Qt.ItemDataRole.UserRole, v)
            self.segment_list.addItem(item)
            self.logic_with.addItem(info["name"], v)
            if v == current:
                self.segment_list.setCurrentItem(item)
        if self.segment_list.currentRow() < 0 and self.segment_list.count():
            self.segment_list.setCurrentRow(self.segment_list.count() - 1)
        self.segment_list.blockSignals(False)
        if self.slices is not None:
            labels = ed.labels if ed is not None and ed.segments() else None
            table = color_table(ed) if labels is not None else None
            for v in self.slices.views:
                v.set_segments(labels, table)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.current_value() is not None
        for b in (self.remove_button, self.keep_island_button, self.largest_button,
                  self.split_button, self.small_button, self.logic_button):
            b.setEnabled(has)
        self.add_button.setEnabled(self.volume is not None)
        n = len(self.editor.segments()) if self.editor is not None else 0
        self.grow_button.setEnabled(n >= 2)
        self.surface_button.setEnabled(n >= 1)

    def current_value(self) -> int | None:
        item = self.segment_list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def say(self, text: str) -> None:
        self.info.setText(text)

    # -- tools ------------------------------------------------------------------------------
    def _on_tool(self, *_args) -> None:
        name = self.tool()
        brush = BrushTool(self, erase=name == "Erase") if name in ("Paint", "Erase") else None
        for v in (self.slices.views if self.slices is not None else []):
            v.tool = brush
        if self.view3d is not None:
            widget = self.view3d.plotter.interactor
            if name == "Scissors" and self._lasso is None:
                self._lasso = LassoFilter(self, self.view3d)
                widget.installEventFilter(self._lasso)
            elif name != "Scissors" and self._lasso is not None:
                widget.removeEventFilter(self._lasso)
                self._lasso = None
        self.tool_changed.emit(name)

    def tool(self) -> str:
        b = self.tool_group.checkedButton()
        return b.text() if b is not None else "None"

    def set_tool(self, name: str) -> None:
        self.tool_buttons[name].setChecked(True)

    def _run(self, fn) -> None:
        ed, v = self.editor, self.current_value()
        if ed is None or v is None:
            return
        try:
            fn(ed, v)
        except TwinsightError as exc:
            self.say(str(exc))

    # -- actions ------------------------------------------------------------------------------
    def add_segment(self, name: str | None = None) -> int | None:
        if self.volume is None or self.case is None:
            self.say("Open a CT or MR first.")
            return None
        name = name or self.name.text().strip() or f"Segment {self.segment_list.count() + 1}"
        try:
            if self.editor is None:
                self._set_editor(SegmentEditor.create(self.case, self.volume))
            value = self.editor.add_segment(name)
        except TwinsightError as exc:
            self.say(str(exc))
            return None
        self.name.clear()
        self._changed(None)
        for i in range(self.segment_list.count()):
            if int(self.segment_list.item(i).data(Qt.ItemDataRole.UserRole)) == value:
                self.segment_list.setCurrentRow(i)
        self.say(f"Segment '{name}' added: choose Paint and drag on a slice.")
        return value

    def remove_segment(self) -> None:
        self._run(lambda ed, v: ed.remove_segment(v))

    def keep_island(self) -> None:
        cursor = self.slices.cursor if self.slices is not None else None
        self._run(lambda ed, v: ed.keep_island(v, cursor))

    def apply_logical(self) -> None:
        other = self.logic_with.currentData()
        self._run(lambda ed, v: ed.logical(self.logic_op.currentText(), v, int(other)))

    def cut(self, polygon: np.ndarray, matrix: np.ndarray) -> None:
        """The lasso drawn in the 3D view (display pixels) with its world -> display matrix."""
        if len(polygon) < 3:
            return
        inside = self.scissors_mode.currentText() == "erase inside"
        self._run(lambda ed, v: self.say(
            f"Scissors removed {ed.scissors([v], polygon, matrix, inside=inside):,} voxels."))

    def grow(self) -> None:
        ed, vol = self.editor, self.volume
        if ed is None or vol is None or self.window is None:
            return
        image = vol.data

        def done(result) -> None:
            ed.apply_grown(*result)
            self.say("Grown from the seeds (Edit > Undo takes it back).")

        self.window.run_task("Growing segments from seeds",
                             lambda _p: ed.compute_grow(image), done)

    def make_surfaces(self) -> None:
        from sim.imaging.surface import mask_to_surface

        ed, case = self.editor, self.case
        if ed is None or case is None or self.window is None:
            return
        segs = ed.segments()
        masks = {v: ed.mask(v).astype(bool) for v in segs}
        image = ed.image

        def work(progress):
            out = []
            for i, (v, m) in enumerate(masks.items()):
                progress(i / max(len(masks), 1), f"Surface of {segs[v]['name']}")
                if m.any():
                    out.append((v, mask_to_surface(image, m)))
            return out

        def done(surfaces) -> None:
            for v, surf in surfaces:
                if surf.n_cells:
                    case.scene.add(SceneObject(segs[v]["name"], ObjectKind.SURFACE, surf,
                                               color=tuple(segs[v]["color"]),
                                               metadata={"segment": v}))
            self.say(f"Made {len(surfaces)} surface(s).")

        self.window.run_task("Making segment surfaces", work, done)

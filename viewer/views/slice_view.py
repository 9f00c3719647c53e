"""Three orthogonal slice views of a volume, linked by a crosshair, plus its slices and
volume rendering in the 3D view.

A ``SliceView`` shows one index plane of the volume (sagittal i, coronal j, axial k)
in radiological orientation: mouse wheel or arrow keys scroll, a left click moves the
shared crosshair (a world LPS point), Ctrl+left drag changes window/level (right: wider,
up: brighter level), Shift+click sets the segmentation seed, right drag zooms, middle drag
pans. Its Tilt/Spin boxes turn the plane into an oblique reformat through the crosshair
(rotated about the view's horizontal, then vertical screen axis); Alt+left drag turns it with
the mouse (up/down: tilt, right/left: spin) and keeps the boxes in step. The ``SliceViewer``
owns the crosshair, window and seed and keeps the three views and the 3D planes on them; it
also finds where a ray of the 3D view meets the slice planes drawn there (the seed picked in
3D).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
import vtk
from PyQt6.QtCore import QEvent, QSize, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from pyvistaqt import QtInteractor

from sim.imaging.display import AUTO, VOLUME_PRESETS, WINDOW_PRESETS, window_for
from sim.imaging.reslice import reslice, rotation
from sim.imaging.volume import affine_of, voxel_array
from sim.model import Case, SceneObject

AXIS_NAMES = ("Sagittal", "Coronal", "Axial")
CROSSHAIR_COLOR = (1.0, 0.85, 0.2)
PREVIEW_COLOR = (1.0, 0.25, 0.25)
SEED_COLOR = (0.2, 1.0, 0.35)
CUSTOM_WINDOW = "Custom"
WL_PIXELS = 250  # dragging this many pixels changes window/level by the current width
TURN_DEG_PER_PIXEL = 0.5  # Alt+drag: degrees of tilt/spin per pixel of mouse travel
TILT_LIMIT, SPIN_LIMIT = 85, 180


def index_of(image: pv.ImageData, world) -> np.ndarray:
    """Continuous voxel index (i, j, k) of a world point."""
    return np.linalg.solve(affine_of(image), np.append(np.asarray(world, dtype=float), 1.0))[:3]


def slab(image: pv.ImageData, axis: int, index: int) -> pv.ImageData:
    """The one-voxel-thick plane ``index`` across ``axis`` (world geometry kept)."""
    voi = [0, image.dimensions[0] - 1, 0, image.dimensions[1] - 1, 0, image.dimensions[2] - 1]
    voi[2 * axis] = voi[2 * axis + 1] = int(index)
    return image.extract_subset(voi, rebase_coordinates=False)


class SliceView(QWidget):
    """One 2D view across ``axis`` of the current volume."""

    cursor_picked = pyqtSignal(object)  # world point (LPS mm)
    seed_picked = pyqtSignal(object)  # world point: Shift+click, or any click in seed mode
    window_dragged = pyqtSignal(float, float)  # level, width
    scrolled = pyqtSignal(int, int)  # axis, step
    plane_turned = pyqtSignal()  # the oblique rotation changed

    def __init__(self, axis: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.axis = axis
        self.image: pv.ImageData | None = None
        self.index = 0
        self.clim = (-160.0, 240.0)
        self.cursor = np.zeros(3)
        self.preview: np.ndarray | None = None
        self.seed: np.ndarray | None = None
        self.seed_mode = False
        self._wl_drag: tuple[float, float, float, float] | None = None  # x, y, level, width
        self._turn_drag: tuple[float, float, int, int] | None = None  # x, y, tilt, spin
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel(AXIS_NAMES[axis])
        header.addWidget(self.title, 1)
        self.tilt_box, self.spin_box = QSpinBox(), QSpinBox()
        for box, name, limit, tip in (
                (self.tilt_box, "Tilt", TILT_LIMIT, "about the horizontal screen axis (Alt+drag up/down)"),
                (self.spin_box, "Spin", SPIN_LIMIT, "about the vertical screen axis (Alt+drag right/left)")):
            box.setRange(-limit, limit)
            box.setSuffix("\N{DEGREE SIGN}")
            box.setToolTip(f"oblique reformat: rotate the plane {tip}")
            box.valueChanged.connect(self._on_oblique)
            header.addWidget(QLabel(name))
            header.addWidget(box)
        layout.addLayout(header)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background("black")
        self.plotter.enable_parallel_projection()
        layout.addWidget(self.plotter.interactor, 1)
        style = vtk.vtkInteractorStyleImage()  # right drag zooms, middle drag pans, no rotation
        self.plotter.iren.interactor.SetInteractorStyle(style)
        self._style = style
        # Clicks, the wheel and arrow keys are taken at the Qt level before VTK sees them, so
        # the wheel scrolls slices instead of zooming and a click never starts window/level.
        self.plotter.interactor.installEventFilter(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- model -----------------------------------------------------------------------------
    def set_image(self, image: pv.ImageData | None, clim: tuple[float, float]) -> None:
        self.image = image
        self.clim = clim
        self.plotter.clear_actors()
        if image is not None:
            self.index = image.dimensions[self.axis] // 2
            self._render_slice()
            self._reset_camera()
        self.plotter.render()

    def set_clim(self, clim: tuple[float, float]) -> None:
        self.clim = clim
        if self.image is not None:
            self._render_slice()
            self.plotter.render()

    def show_at(self, cursor: np.ndarray) -> None:
        """Move to the plane through ``cursor`` and put the crosshair on it."""
        self.cursor = np.asarray(cursor, dtype=float)
        if self.image is None:
            return
        ijk = np.round(index_of(self.image, cursor)).astype(int)
        self.index = int(np.clip(ijk[self.axis], 0, self.image.dimensions[self.axis] - 1))
        self._render_slice()
        self.plotter.render()

    def set_preview(self, mask: np.ndarray | None) -> None:
        self.preview = mask
        if self.image is not None:
            self._render_slice()
            self.plotter.render()

    def set_seed(self, world) -> None:
        self.seed = None if world is None else np.asarray(world, dtype=float)
        if self.image is not None:
            self._render_seed()
            self.plotter.render()

    def set_oblique(self, tilt: float, spin: float) -> None:
        """Turn the plane by ``tilt`` degrees about the screen's horizontal axis, then ``spin``
        about its vertical axis (0, 0: the orthogonal index plane)."""
        for box, value in ((self.tilt_box, tilt), (self.spin_box, spin)):
            box.blockSignals(True)
            box.setValue(int(round(value)))
            box.blockSignals(False)
        self._on_oblique()

    @property
    def oblique(self) -> bool:
        return bool(self.tilt_box.value() or self.spin_box.value())

    def _on_oblique(self, *_args) -> None:
        if self.image is not None:
            self._render_slice()
            self._reset_camera()
            self.plotter.render()
        self.plane_turned.emit()

    # -- geometry ----------------------------------------------------------------------------
    def _base_frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, towards the viewer) of the orthogonal view, unit world vectors.

        Radiological orientation in the patient (LPS) frame, whatever the voxel order:
        axial seen from the feet with anterior up, coronal from the front, sagittal from the
        patient's left; on axial and coronal views the patient's left is on screen right."""
        image = self.image
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
        normal = d[:, self.axis] / np.linalg.norm(d[:, self.axis])
        world_axis = int(np.argmax(np.abs(normal)))
        normal = normal * np.sign(normal[world_axis])  # +x, +y or +z-ish
        up = np.array([0.0, -1.0, 0.0]) if world_axis == 2 else np.array([0.0, 0.0, 1.0])
        up = up - normal * (up @ normal)
        up /= np.linalg.norm(up)
        side = 1.0 if world_axis == 0 else -1.0  # sagittal from +x (left), others from -z / -y
        towards = side * normal
        return np.cross(up, towards), up, towards

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, towards the viewer) of the plane shown, with the oblique rotation."""
        right, up, towards = self._base_frame()
        turn = rotation(up, self.spin_box.value()) @ rotation(right, self.tilt_box.value())
        return turn @ right, turn @ up, turn @ towards

    def plane_mesh(self, crop: bool = False) -> tuple[pv.DataSet, str]:
        """The slice shown (an index slab, or an oblique reformat through the cursor) and the
        name of its scalars. An oblique reformat's samples outside the volume are set below
        any window (black on the black view), or with ``crop`` cut away (for the 3D view)."""
        if not self.oblique:
            return slab(self.image, self.axis, self.index), self.image.active_scalars_name
        right, up, _ = self.frame()
        plane = reslice(self.image, self.cursor, right, up)
        values = plane.point_data["values"]
        outside = np.isnan(values)
        values[outside] = float(np.min(voxel_array(self.image))) - 1.0
        if crop:
            plane.point_data["inside"] = (~outside).astype(np.uint8)
            return plane.threshold(0.5, scalars="inside", all_scalars=True), "values"
        return plane, "values"

    def _on_plane(self, world) -> bool:
        """Whether ``world`` lies within half a voxel of the plane shown."""
        if self.oblique:
            towards = self.frame()[2]
            return abs(float((np.asarray(world) - self.cursor) @ towards)) <= 0.5 * min(self.image.spacing)
        return abs(float(index_of(self.image, world)[self.axis]) - self.index) <= 0.5

    # -- drawing ---------------------------------------------------------------------------
    def _render_slice(self) -> None:
        image = self.image
        plane, scalars = self.plane_mesh()
        self.plotter.add_mesh(plane, scalars=scalars, cmap="gray", clim=self.clim,
                              show_scalar_bar=False, lighting=False, name="slice",
                              pickable=True, render=False, reset_camera=False)
        self.plotter.remove_actor("preview", render=False)
        if self.preview is not None:
            if self.oblique:
                right, up, _ = self.frame()
                part = voxel_array(reslice(image, self.cursor, right, up,
                                           values=self.preview.view(np.uint8), order=0))
            else:
                sl = [slice(None)] * 3
                sl[self.axis] = slice(self.index, self.index + 1)
                part = self.preview[tuple(sl)]
            if part.any():
                plane.point_data["preview"] = part.ravel(order="F").astype(np.uint8)
                shown = plane.threshold(0.5, scalars="preview")
                if shown.n_cells:
                    self.plotter.add_mesh(shown, color=PREVIEW_COLOR, opacity=0.45, lighting=False,
                                          name="preview", pickable=False, render=False,
                                          reset_camera=False)
        self._render_crosshair()
        self._render_seed()
        self.plotter.renderer.ResetCameraClippingRange()  # the plane moved along the view axis
        if self.oblique:
            self.title.setText(f"{AXIS_NAMES[self.axis]} oblique")
        else:
            self.title.setText(f"{AXIS_NAMES[self.axis]}  {self.index + 1}/"
                               f"{image.dimensions[self.axis]}")

    def _render_crosshair(self) -> None:
        image = self.image
        right, up, towards = self.frame()
        centre = self.plane()[0] + towards * 0.01 * float(np.min(image.spacing))  # just above the slice
        half = float(np.linalg.norm(np.asarray(image.spacing) * np.asarray(image.dimensions)))
        lines = pv.Line(centre - half * right, centre + half * right).merge(
            pv.Line(centre - half * up, centre + half * up))
        self.plotter.add_mesh(lines, color=CROSSHAIR_COLOR, line_width=1,
                              name="crosshair", pickable=False, render=False, reset_camera=False)

    def _render_seed(self) -> None:
        """A green ring where the segmentation seed is, when it lies on this plane."""
        if self.seed is None or not self._on_plane(self.seed):
            self.plotter.remove_actor("seed", render=False)
            return
        towards = self.frame()[2]
        size = 0.035 * float(self.plotter.camera.parallel_scale)  # a few pixels, at any zoom
        ring = pv.Disc(center=self.seed + towards * 0.02 * float(np.min(self.image.spacing)),
                       inner=0.55 * size, outer=size, normal=towards, c_res=24)
        self.plotter.add_mesh(ring, color=SEED_COLOR, lighting=False, name="seed", pickable=False,
                              render=False, reset_camera=False)

    def _reset_camera(self) -> None:
        """Look along the plane's normal, the whole slice in view."""
        image = self.image
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing) * np.asarray(image.dimensions)
        right, up, towards = self.frame()
        in_plane = [d[:, i] for i in range(3) if i != self.axis]
        vertical = sum(abs(float(v @ up)) for v in in_plane)
        horizontal = sum(abs(float(v @ right)) for v in in_plane)
        centre = np.asarray(image.center)
        cam = self.plotter.camera
        cam.focal_point = tuple(centre)
        cam.position = tuple(centre + towards * 2 * float(np.linalg.norm(d, axis=0).max()))
        cam.up = tuple(up)
        width, height = max(self.plotter.interactor.width(), 1), max(self.plotter.interactor.height(), 1)
        # parallel scale is half the visible height in world units: fit both directions
        cam.parallel_scale = 0.52 * max(vertical, horizontal * height / width)
        self.plotter.renderer.ResetCameraClippingRange()

    def resizeEvent(self, event) -> None:  # keep the whole slice in view
        super().resizeEvent(event)
        if self.image is not None:
            self._reset_camera()

    # -- interaction -------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            step = 1 if event.angleDelta().y() > 0 else -1
            self.scrolled.emit(self.axis, step)
            return True
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.AltModifier:  # turn the plane (oblique reformat)
                pos = event.position()
                self._turn_drag = (pos.x(), pos.y(), self.tilt_box.value(), self.spin_box.value())
                return True
            if mods & Qt.KeyboardModifier.ControlModifier:  # window/level drag, like Slicer
                lo, hi = self.clim
                pos = event.position()
                self._wl_drag = (pos.x(), pos.y(), (lo + hi) / 2.0, hi - lo)
                return True
            world = self.world_at(*self._to_display(event.position()))
            if world is not None:
                seed = self.seed_mode or bool(mods & Qt.KeyboardModifier.ShiftModifier)
                (self.seed_picked if seed else self.cursor_picked).emit(world)
            return True
        if kind == QEvent.Type.MouseMove and self._wl_drag is not None:
            x0, y0, level, width = self._wl_drag
            pos = event.position()
            per_pixel = max(width, 1.0) / WL_PIXELS
            self.window_dragged.emit(level + (y0 - pos.y()) * per_pixel,
                                     max(1.0, width + (pos.x() - x0) * per_pixel))
            return True
        if kind == QEvent.Type.MouseMove and self._turn_drag is not None:
            self._turn(event.position())
            return True
        if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            self._wl_drag = self._turn_drag = None
            return True
        if kind == QEvent.Type.MouseMove and event.buttons() & Qt.MouseButton.LeftButton:
            return True
        if kind == QEvent.Type.KeyPress:
            steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: 10,
                     Qt.Key.Key_PageDown: -10}
            if event.key() in steps:
                self.scrolled.emit(self.axis, steps[event.key()])
                return True
        return False

    def _turn(self, pos) -> None:
        """Alt+drag: tilt follows the vertical mouse travel (up: more), spin the horizontal
        (right: more), from the values the drag started at; the boxes show the result."""
        x0, y0, tilt0, spin0 = self._turn_drag
        tilt = int(np.clip(round(tilt0 + (y0 - pos.y()) * TURN_DEG_PER_PIXEL), -TILT_LIMIT, TILT_LIMIT))
        spin = int(round(spin0 + (pos.x() - x0) * TURN_DEG_PER_PIXEL))
        spin = (spin + SPIN_LIMIT) % (2 * SPIN_LIMIT) - SPIN_LIMIT  # past 180 degrees wraps round
        if (tilt, spin) != (self.tilt_box.value(), self.spin_box.value()):
            self.set_oblique(tilt, spin)

    def plane(self) -> tuple[np.ndarray, np.ndarray]:
        """(a world point on, unit normal of) the plane shown."""
        towards = self.frame()[2]
        if self.oblique:
            return self.cursor.copy(), towards
        ijk = index_of(self.image, self.cursor)
        ijk[self.axis] = self.index
        return (affine_of(self.image) @ np.append(ijk, 1.0))[:3], towards

    def _to_display(self, pos) -> tuple[int, int]:
        ratio = self.plotter.interactor.devicePixelRatioF()
        height = self.plotter.interactor.height()
        return int(round(pos.x() * ratio)), int(round((height - pos.y() - 1) * ratio))

    def world_at(self, x: int, y: int) -> np.ndarray | None:
        """The slice point under display pixel (x, y) (VTK coordinates); None outside the image.

        The view is a parallel projection along the slice normal, so the pixel's world point at
        any depth, moved along the normal onto the current plane, is the point under the mouse.
        """
        if self.image is None:
            return None
        ren = self.plotter.renderer
        ren.SetDisplayPoint(float(x), float(y), 0.5)
        ren.DisplayToWorld()
        hx, hy, hz, hw = ren.GetWorldPoint()
        point = np.array([hx, hy, hz]) / (hw or 1.0)
        if self.oblique:
            towards = self.frame()[2]
            point = point - float((point - self.cursor) @ towards) * towards
            ijk = index_of(self.image, point)
        else:
            ijk = index_of(self.image, point)
            ijk[self.axis] = self.index
        dims = np.asarray(self.image.dimensions) - 1
        if (ijk < -0.5).any() or (ijk > dims + 0.5).any():
            return None  # outside the image
        return (affine_of(self.image) @ np.append(ijk, 1.0))[:3]

    def pick(self, x: int, y: int) -> None:
        """Move the crosshair to the slice point under display pixel (x, y)."""
        world = self.world_at(x, y)
        if world is not None:
            self.cursor_picked.emit(world)

    def screenshot(self) -> np.ndarray:
        self.plotter.render()
        return self.plotter.screenshot(None, return_img=True)

    def close_view(self) -> None:
        self.plotter.close()


class SliceViewer(QWidget):
    """Axial, coronal and sagittal views of one volume with window presets, a crosshair shared
    by all views, and (optionally) the same three planes and volume rendering in the 3D view."""

    cursor_changed = pyqtSignal(object)
    seed_picked = pyqtSignal(object)  # world point clicked as the segmentation seed
    volume_changed = pyqtSignal(object)  # SceneObject or None

    def sizeHint(self) -> QSize:
        # A third of a laptop screen: the 3D view stays the main view when the dock opens.
        return QSize(900, 300)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.case: Case | None = None
        self.obj: SceneObject | None = None
        self.main_plotter = None  # the 3D view's plotter, for slices in 3D and volume rendering
        self.adapters: dict = {}
        self.cursor = np.zeros(3)
        self.seed: np.ndarray | None = None
        self.seed_mode = False
        self.custom_window: tuple[float, float] | None = None  # (level, width) from mouse drags
        self._volume_actor = None
        top = QHBoxLayout()
        self.volume_box = QComboBox()
        self.volume_box.setToolTip("volume shown in the slice views")
        self.volume_box.currentIndexChanged.connect(self._on_volume_chosen)
        self.window_box = QComboBox()
        self.window_box.addItems([*WINDOW_PRESETS, AUTO])
        self.window_box.setToolTip("window/level preset")
        self.window_box.currentTextChanged.connect(self._on_window)
        self.slices3d = QCheckBox("Slices in 3D")
        self.slices3d.toggled.connect(self._update_3d)
        self.render_box = QCheckBox("Volume rendering")
        self.render_box.toggled.connect(self._update_volume_rendering)
        self.render_preset = QComboBox()
        self.render_preset.addItems(list(VOLUME_PRESETS))
        self.render_preset.currentTextChanged.connect(self._update_volume_rendering)
        for w in (QLabel("Volume"), self.volume_box, QLabel("Window"), self.window_box,
                  self.slices3d, self.render_box, self.render_preset):
            top.addWidget(w)
        top.addStretch(1)
        # The three render windows are made the first time the viewer is shown: a window that
        # never shows slices (most sessions on parts) should not pay for three GL contexts.
        self.views: list[SliceView] = []
        self._row = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addLayout(self._row, 1)

    def ensure_views(self) -> None:
        if self.views:
            return
        self.views = [SliceView(2), SliceView(1), SliceView(0)]  # axial, coronal, sagittal
        for v in self.views:
            v.cursor_picked.connect(self.set_cursor)
            v.seed_picked.connect(self.seed_picked)
            v.window_dragged.connect(self.set_window)
            v.scrolled.connect(self.scroll)
            v.plane_turned.connect(self._update_3d)
            v.seed_mode = self.seed_mode
            self._row.addWidget(v, 1)
        self._load_views()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.ensure_views()

    def _load_views(self) -> None:
        image = self.obj.data if self.obj is not None else None
        clim = self.clim()
        for v in self.views:
            v.seed = self.seed
            v.set_image(image, clim)
            if image is not None:
                v.show_at(self.cursor)

    # -- case and volume -------------------------------------------------------------------
    def set_case(self, case: Case | None) -> None:
        if self.case is not None:
            self.case.scene.added.disconnect(self._refresh_volumes)
            self.case.scene.removed.disconnect(self._refresh_volumes)
        self.case = case
        if case is not None:
            case.scene.added.connect(self._refresh_volumes)
            case.scene.removed.connect(self._refresh_volumes)
        self._refresh_volumes()

    def volumes(self) -> list[SceneObject]:
        if self.case is None:
            return []
        return [o for o in self.case.scene if isinstance(o.data, pv.ImageData)]

    def _refresh_volumes(self, *_args) -> None:
        current = self.obj
        self.volume_box.blockSignals(True)
        self.volume_box.clear()
        vols = self.volumes()
        for o in vols:
            self.volume_box.addItem(o.name, o.uid)
        self.volume_box.blockSignals(False)
        keep = current if current in vols else (vols[0] if vols else None)
        if keep is not None:
            self.volume_box.setCurrentIndex(vols.index(keep))
        if keep is not self.obj or keep is None:
            self.set_volume(keep)

    def _on_volume_chosen(self, index: int) -> None:
        vols = self.volumes()
        if 0 <= index < len(vols):
            self.set_volume(vols[index])

    def set_volume(self, obj: SceneObject | None) -> None:
        self._clear_3d()
        self.obj = obj
        self.seed = None  # a seed belongs to the volume it was clicked on
        self.custom_window = None
        self._drop_custom_window()
        image = obj.data if obj is not None else None
        if image is not None:
            self.cursor = np.asarray(image.center, dtype=float)
            preferred = "CT soft tissue" if obj.metadata.get("modality", "CT") == "CT" else AUTO
            if obj.kind == "labelmap" or np.ptp(voxel_array(image)) < 100:
                preferred = AUTO
            self.window_box.blockSignals(True)
            self.window_box.setCurrentText(preferred)
            self.window_box.blockSignals(False)
        self._load_views()
        self._update_3d()
        self._update_volume_rendering()
        self.volume_changed.emit(obj)

    def clim(self) -> tuple[float, float]:
        if self.obj is None:
            return (0.0, 1.0)
        name = self.window_box.currentText()
        if name == CUSTOM_WINDOW and self.custom_window is not None:
            level, width = self.custom_window
        else:
            level, width = window_for(name if name != CUSTOM_WINDOW else AUTO,
                                      voxel_array(self.obj.data))
        return (level - width / 2, level + width / 2)

    def _on_window(self, name: str) -> None:
        if name != CUSTOM_WINDOW:
            self._drop_custom_window()
        clim = self.clim()
        for v in self.views:
            v.set_clim(clim)
        self._update_3d()

    def set_window(self, level: float, width: float) -> None:
        """A window/level of the user's own (mouse drag); the presets box says "Custom"."""
        self.custom_window = (float(level), max(float(width), 1.0))
        self.window_box.blockSignals(True)
        if self.window_box.findText(CUSTOM_WINDOW) < 0:
            self.window_box.addItem(CUSTOM_WINDOW)
        self.window_box.setCurrentText(CUSTOM_WINDOW)
        self.window_box.blockSignals(False)
        self._on_window(CUSTOM_WINDOW)

    def _drop_custom_window(self) -> None:
        i = self.window_box.findText(CUSTOM_WINDOW)
        if i >= 0 and self.window_box.currentIndex() != i:
            self.window_box.blockSignals(True)
            self.window_box.removeItem(i)
            self.window_box.blockSignals(False)

    # -- crosshair -------------------------------------------------------------------------
    def set_cursor(self, world) -> None:
        self.cursor = np.asarray(world, dtype=float)
        for v in self.views:
            v.show_at(self.cursor)
        self._update_3d()
        self.cursor_changed.emit(self.cursor.copy())

    def scroll(self, axis: int, step: int) -> None:
        if self.obj is None:
            return
        image = self.obj.data
        view = next((v for v in self.views if v.axis == axis), None)
        if view is not None and view.oblique:  # step along the oblique plane's normal
            self.set_cursor(self.cursor + view.frame()[2] * step * float(min(image.spacing)))
            return
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
        ijk = index_of(image, self.cursor)
        ijk[axis] = np.clip(np.round(ijk[axis]) + step, 0, image.dimensions[axis] - 1)
        self.set_cursor(np.asarray(image.origin) + d @ ijk)

    def set_preview(self, mask: np.ndarray | None) -> None:
        for v in self.views:
            v.set_preview(mask)

    # -- segmentation seed -------------------------------------------------------------------
    def set_seed_mode(self, on: bool) -> None:
        """While on, a plain click in a slice view sets the seed instead of the crosshair."""
        self.seed_mode = bool(on)
        for v in self.views:
            v.seed_mode = self.seed_mode

    def set_seed(self, world) -> None:
        """Show the seed (a world point, or None) in the slice views and the 3D view."""
        self.seed = None if world is None else np.asarray(world, dtype=float)
        for v in self.views:
            v.set_seed(self.seed)
        if self.main_plotter is None:
            return
        if self.seed is None or self.obj is None:
            self.main_plotter.remove_actor("segment-seed", render=False)
        else:
            image = self.obj.data
            r = 0.02 * float(np.max(np.asarray(image.spacing) * np.asarray(image.dimensions)))
            self.main_plotter.add_mesh(pv.Sphere(radius=r, center=self.seed), color=SEED_COLOR,
                                       name="segment-seed", pickable=False, render=False,
                                       reset_camera=False)
        self.main_plotter.render()

    # -- the 3D view -------------------------------------------------------------------------
    def attach_3d(self, plotter, adapters: dict) -> None:
        """Draw into the main 3D view; ``adapters`` maps object uid -> render adapter."""
        self.main_plotter = plotter
        self.adapters = adapters

    def planes_3d(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(world point, unit normal) of each slice plane the 3D view shows of the volume:
        the slice views' planes with "Slices in 3D", else the volume's own three orthogonal
        slices through its centre (when the volume is visible)."""
        if self.obj is None:
            return []
        if self.slices3d.isChecked() and self.views:
            return [v.plane() for v in self.views]
        if not self.obj.visible:
            return []
        centre = np.asarray(self.obj.data.center, dtype=float)
        return [(centre, normal) for normal in np.eye(3)]  # as pyvista's slice_orthogonal

    def ray_hit(self, origin, direction) -> tuple[float, np.ndarray] | None:
        """Where the ray ``origin + t * direction`` (t > 0) first meets a slice plane shown in
        the 3D view inside the volume: (t, world point), or None."""
        if self.obj is None:
            return None
        image = self.obj.data
        origin, direction = np.asarray(origin, dtype=float), np.asarray(direction, dtype=float)
        top = np.asarray(image.dimensions) - 0.5
        best = None
        for point, normal in self.planes_3d():
            across = float(direction @ normal)
            if abs(across) < 1e-9:  # the ray runs along the plane
                continue
            t = float((point - origin) @ normal) / across
            hit = origin + t * direction
            ijk = index_of(image, hit)
            if t > 0 and (ijk >= -0.5).all() and (ijk <= top).all() and (best is None or t < best[0]):
                best = (t, hit)
        return best

    def _default_slices(self, visible: bool) -> None:
        adapter = self.adapters.get(self.obj.uid) if self.obj is not None else None
        for actor in getattr(adapter, "actors", []):
            actor.SetVisibility(bool(visible and self.obj.visible))

    def _clear_3d(self) -> None:
        if self.main_plotter is None:
            return
        for i in range(3):
            self.main_plotter.remove_actor(f"slice3d-{i}", render=False)
        if self._volume_actor is not None:
            self.main_plotter.remove_actor(self._volume_actor, render=False)
            self._volume_actor = None
        if self.obj is not None:
            self._default_slices(True)
        self.main_plotter.render()

    def _update_3d(self, *_args) -> None:
        if self.main_plotter is None or self.obj is None or not self.views:
            return
        on = self.slices3d.isChecked()
        self._default_slices(not on)
        for i, v in enumerate(self.views):
            name = f"slice3d-{i}"
            if on:
                mesh, scalars = v.plane_mesh(crop=True)
                self.main_plotter.add_mesh(
                    mesh, scalars=scalars, cmap="gray", clim=self.clim(), show_scalar_bar=False, lighting=False, name=name, pickable=False,
                    render=False, reset_camera=False)
            else:
                self.main_plotter.remove_actor(name, render=False)
        self.main_plotter.render()

    def _update_volume_rendering(self, *_args) -> None:
        if self.main_plotter is None:
            return
        if self._volume_actor is not None:
            self.main_plotter.remove_actor(self._volume_actor, render=False)
            self._volume_actor = None
        if self.render_box.isChecked() and self.obj is not None:
            self._volume_actor = volume_actor(self.obj.data, self.render_preset.currentText())
            self.main_plotter.add_actor(self._volume_actor, name="volume-rendering",
                                        pickable=False, render=False, reset_camera=False)
        self.main_plotter.render()

    def close_views(self) -> None:
        for v in self.views:
            v.close_view()


def volume_actor(image: pv.ImageData, preset: str) -> vtk.vtkVolume:
    """A ray-cast volume of ``image`` with one of the CT transfer-function presets."""
    p = VOLUME_PRESETS[preset]
    color = vtk.vtkColorTransferFunction()
    for value, r, g, b in p.colors:
        color.AddRGBPoint(value, r, g, b)
    opacity = vtk.vtkPiecewiseFunction()
    for value, a in p.opacity:
        opacity.AddPoint(value, a)
    prop = vtk.vtkVolumeProperty()
    prop.SetColor(color)
    prop.SetScalarOpacity(opacity)
    prop.SetInterpolationTypeToLinear()
    prop.ShadeOn()
    prop.SetAmbient(0.3)
    prop.SetDiffuse(0.7)
    prop.SetSpecular(0.2)
    mapper = vtk.vtkSmartVolumeMapper()
    mapper.SetInputData(image)
    volume = vtk.vtkVolume()
    volume.SetMapper(mapper)
    volume.SetProperty(prop)
    return volume

"""Three orthogonal slice views of a volume, linked by a crosshair, plus its slices and
volume rendering in the 3D view.

A ``SliceView`` shows one index plane of the volume (sagittal i, coronal j, axial k)
in radiological orientation: mouse wheel or arrow keys scroll, a left click moves the
shared crosshair (a world LPS point), right drag zooms, middle drag pans. The
``SliceViewer`` owns the crosshair and keeps the three views and the 3D planes on it.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
import vtk
from PyQt6.QtCore import QEvent, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from pyvistaqt import QtInteractor

from sim.imaging.display import AUTO, VOLUME_PRESETS, WINDOW_PRESETS, window_for
from sim.imaging.volume import affine_of, voxel_array
from sim.model import Case, SceneObject

AXIS_NAMES = ("Sagittal", "Coronal", "Axial")
CROSSHAIR_COLOR = (1.0, 0.85, 0.2)
PREVIEW_COLOR = (1.0, 0.25, 0.25)


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
    scrolled = pyqtSignal(int, int)  # axis, step

    def __init__(self, axis: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.axis = axis
        self.image: pv.ImageData | None = None
        self.index = 0
        self.clim = (-160.0, 240.0)
        self.cursor = np.zeros(3)
        self.preview: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(AXIS_NAMES[axis])
        layout.addWidget(self.title)
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

    # -- drawing ---------------------------------------------------------------------------
    def _render_slice(self) -> None:
        image = self.image
        plane = slab(image, self.axis, self.index)
        self.plotter.add_mesh(plane, scalars=image.active_scalars_name, cmap="gray", clim=self.clim,
                              show_scalar_bar=False, lighting=False, name="slice",
                              pickable=True, render=False, reset_camera=False)
        self.plotter.remove_actor("preview", render=False)
        if self.preview is not None:
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
        self.plotter.renderer.ResetCameraClippingRange()  # the plane moved along the view axis
        self.title.setText(f"{AXIS_NAMES[self.axis]}  {self.index + 1}/"
                           f"{image.dimensions[self.axis]}")

    def _render_crosshair(self) -> None:
        image = self.image
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
        ijk = index_of(image, self.cursor)
        ijk[self.axis] = self.index
        centre = (affine_of(image) @ np.append(ijk, 1.0))[:3]
        normal = d[:, self.axis] / np.linalg.norm(d[:, self.axis])
        centre = centre + normal * 0.01 * float(np.min(image.spacing))  # just above the slice
        lines = []
        for other in {0, 1, 2} - {self.axis}:
            half = d[:, other] * image.dimensions[other]
            lines.append(pv.Line(centre - half, centre + half))
        self.plotter.add_mesh(lines[0].merge(lines[1]), color=CROSSHAIR_COLOR, line_width=1,
                              name="crosshair", pickable=False, render=False, reset_camera=False)

    def _reset_camera(self) -> None:
        """Radiological orientation in the patient (LPS) frame, whatever the voxel order:
        axial seen from the feet with anterior up, coronal from the front, sagittal from the
        patient's left; on axial and coronal views the patient's left is on screen right."""
        image = self.image
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing) * np.asarray(image.dimensions)
        normal = d[:, self.axis] / np.linalg.norm(d[:, self.axis])
        world_axis = int(np.argmax(np.abs(normal)))
        normal = normal * np.sign(normal[world_axis])  # +x, +y or +z-ish
        up = np.array([0.0, -1.0, 0.0]) if world_axis == 2 else np.array([0.0, 0.0, 1.0])
        up = up - normal * (up @ normal)
        up /= np.linalg.norm(up)
        side = 1.0 if world_axis == 0 else -1.0  # sagittal from +x (left), others from -z / -y
        right = np.cross(-side * normal, up)
        in_plane = [d[:, i] for i in range(3) if i != self.axis]
        vertical = sum(abs(float(v @ up)) for v in in_plane)
        horizontal = sum(abs(float(v @ right)) for v in in_plane)
        centre = np.asarray(image.center)
        cam = self.plotter.camera
        cam.focal_point = tuple(centre)
        cam.position = tuple(centre + side * normal * 2 * float(np.linalg.norm(d, axis=0).max()))
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
            self.pick(*self._to_display(event.position()))
            return True
        if kind in (QEvent.Type.MouseButtonRelease, QEvent.Type.MouseMove) and \
                event.buttons() & Qt.MouseButton.LeftButton:
            return True
        if kind == QEvent.Type.KeyPress:
            steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: 10,
                     Qt.Key.Key_PageDown: -10}
            if event.key() in steps:
                self.scrolled.emit(self.axis, steps[event.key()])
                return True
        return False

    def _to_display(self, pos) -> tuple[int, int]:
        ratio = self.plotter.interactor.devicePixelRatioF()
        height = self.plotter.interactor.height()
        return int(round(pos.x() * ratio)), int(round((height - pos.y() - 1) * ratio))

    def pick(self, x: int, y: int) -> None:
        """Move the crosshair to the slice point under display pixel (x, y) (VTK coordinates).

        The view is a parallel projection along the slice normal, so the pixel's world point at
        any depth, moved along the normal onto the current plane, is the point under the mouse.
        """
        if self.image is None:
            return
        ren = self.plotter.renderer
        ren.SetDisplayPoint(float(x), float(y), 0.5)
        ren.DisplayToWorld()
        hx, hy, hz, hw = ren.GetWorldPoint()
        ijk = index_of(self.image, np.array([hx, hy, hz]) / (hw or 1.0))
        ijk[self.axis] = self.index
        dims = np.asarray(self.image.dimensions) - 1
        if (ijk < -0.5).any() or (ijk > dims + 0.5).any():
            return  # outside the image
        self.cursor_picked.emit((affine_of(self.image) @ np.append(ijk, 1.0))[:3])

    def screenshot(self) -> np.ndarray:
        self.plotter.render()
        return self.plotter.screenshot(None, return_img=True)

    def close_view(self) -> None:
        self.plotter.close()


class SliceViewer(QWidget):
    """Axial, coronal and sagittal views of one volume with window presets, a crosshair shared
    by all views, and (optionally) the same three planes and volume rendering in the 3D view."""

    cursor_changed = pyqtSignal(object)
    volume_changed = pyqtSignal(object)  # SceneObject or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.case: Case | None = None
        self.obj: SceneObject | None = None
        self.main_plotter = None  # the 3D view's plotter, for slices in 3D and volume rendering
        self.adapters: dict = {}
        self.cursor = np.zeros(3)
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
            v.scrolled.connect(self.scroll)
            self._row.addWidget(v, 1)
        self._load_views()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.ensure_views()

    def _load_views(self) -> None:
        image = self.obj.data if self.obj is not None else None
        clim = self.clim()
        for v in self.views:
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
        level, width = window_for(self.window_box.currentText(), voxel_array(self.obj.data))
        return (level - width / 2, level + width / 2)

    def _on_window(self, _name: str) -> None:
        clim = self.clim()
        for v in self.views:
            v.set_clim(clim)
        self._update_3d()

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
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
        ijk = index_of(image, self.cursor)
        ijk[axis] = np.clip(np.round(ijk[axis]) + step, 0, image.dimensions[axis] - 1)
        self.set_cursor(np.asarray(image.origin) + d @ ijk)

    def set_preview(self, mask: np.ndarray | None) -> None:
        for v in self.views:
            v.set_preview(mask)

    # -- the 3D view -------------------------------------------------------------------------
    def attach_3d(self, plotter, adapters: dict) -> None:
        """Draw into the main 3D view; ``adapters`` maps object uid -> render adapter."""
        self.main_plotter = plotter
        self.adapters = adapters

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
                self.main_plotter.add_mesh(
                    slab(self.obj.data, v.axis, v.index), scalars=self.obj.data.active_scalars_name,
                    cmap="gray", clim=self.clim(), show_scalar_bar=False, lighting=False,
                    name=name, pickable=False, render=False, reset_camera=False)
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

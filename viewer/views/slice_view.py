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

The plane geometry lives in :mod:`viewer.views.slice_geometry`, the mouse and keys in
:mod:`viewer.views.slice_interaction`, the preview/crosshair/seed in
:mod:`viewer.views.slice_overlays` and the 3D-view side in :mod:`viewer.views.slices_in_3d`.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QSize, QTimer, pyqtSignal
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
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage

from sim.imaging.display import AUTO, VOLUME_PRESETS, WINDOW_PRESETS, window_for
from sim.imaging.volume import is_rgb, voxel_array
from sim.model import Case, SceneObject
from viewer.views.cine import CineBar
from viewer.views.slice_geometry import SPIN_LIMIT, TILT_LIMIT, SlicePlane, index_of, slab
from viewer.views.slice_image import ImageLayer
from viewer.views.slice_interaction import TURN_DEG_PER_PIXEL, WL_PIXELS, SliceInteraction
from viewer.views.slice_overlays import CROSSHAIR_COLOR, PREVIEW_COLOR, SEED_COLOR, SliceOverlays
from viewer.views.slice_plan import PlanFollower, PlanOnSlice
from viewer.views.slices_in_3d import SlicesIn3D, volume_actor
from viewer.views.software_gl import no_msaa_on_software_gl
from viewer.views.teardown import close_plotter

__all__ = [
    "AXIS_NAMES", "CROSSHAIR_COLOR", "CUSTOM_WINDOW", "PREVIEW_COLOR", "SEED_COLOR", "SPIN_LIMIT",
    "TILT_LIMIT", "TURN_DEG_PER_PIXEL", "WL_PIXELS", "SliceView", "SliceViewer", "index_of",
    "slab", "volume_actor",
]

AXIS_NAMES = ("Sagittal", "Coronal", "Axial")
TITLE_DELAY_MS = 250  # the header's slice number follows this long after scrolling pauses
CROSSHAIR_LAG_MS = 100  # the other views' crosshair follows a scroll this often at most
CUSTOM_WINDOW = "Custom"


class SliceView(SliceInteraction, SliceOverlays, QWidget):
    """One 2D view across ``axis`` of the current volume."""

    cursor_picked = pyqtSignal(object)  # world point (LPS mm)
    seed_picked = pyqtSignal(object)  # world point: Shift+click, or any click in seed mode
    window_dragged = pyqtSignal(float, float)  # level, width
    scrolled = pyqtSignal(int, int)  # axis, step
    plane_turned = pyqtSignal()  # the oblique rotation changed
    slice_changed = pyqtSignal()  # a new plane was drawn (overlays of the plan follow)

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
        self.segments: tuple[np.ndarray, np.ndarray] | None = None  # labels, RGBA per label
        self._shown: tuple | None = None  # what the slice image shows (axis, index, ...)
        self._plane_cache: tuple | None = None  # (shown key, (plane mesh, scalars name))
        self._gl_tuned = False
        # Repainting any Qt widget of the main window costs ~20 ms of CPU with software OpenGL,
        # so while the slices scroll their number is drawn in the view (which renders anyway)
        # and the header label is set once the scrolling pauses.
        self._title_timer = QTimer(self)
        self._title_timer.setSingleShot(True)
        self._title_timer.setInterval(TITLE_DELAY_MS)
        self._title_timer.timeout.connect(self._show_title)
        self._lag_timer = QTimer(self)  # see show_at
        self._lag_timer.setSingleShot(True)
        self._lag_timer.setInterval(CROSSHAIR_LAG_MS)
        self._lag_timer.timeout.connect(self.request_render)
        self._wl_drag: tuple[float, float, float, float] | None = None  # x, y, level, width
        self._turn_drag: tuple[float, float, int, int] | None = None  # x, y, tilt, spin
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel(AXIS_NAMES[axis])
        # A label whose size is fixed does not relayout the window when its text changes: with
        # a dock full of panels that relayout cost ~30 ms of CPU on every slice scrolled.
        metrics = self.title.fontMetrics()
        self.title.setFixedSize(metrics.horizontalAdvance(f"{AXIS_NAMES[axis]}  8888/8888") + 8,
                                metrics.height() + 4)
        header.addWidget(self.title)
        header.addStretch(1)
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
        # Window/level and the value under the mouse: a Qt label, so moving the mouse never
        # re-renders the slice.
        self.info = QLabel("")
        self.info.setObjectName("sliceInfo")
        self.info.setTextInteractionFlags(self.info.textInteractionFlags())
        self.info.setFixedHeight(self.info.fontMetrics().height() + 4)  # and its width ignored:
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # (title)
        layout.addWidget(self.info)
        self.plotter.interactor.setMouseTracking(True)  # the value under the mouse
        self.plan = PlanOnSlice(self)
        self.case = None  # the case whose plan is drawn (set by the SliceViewer)
        self._slice_layer = ImageLayer(self.plotter, "slice")
        self._preview_layer = ImageLayer(self.plotter, "preview", rgba=True, linear=False)
        self._segments_layer = ImageLayer(self.plotter, "segments", rgba=True, linear=False)
        self.hu: float | None = None  # the value under the mouse (None: off the image)
        self.hover: np.ndarray | None = None  # the world point under the mouse
        self.unit = "HU"  # of the values shown (CT); none for MR and label maps
        style = vtkInteractorStyleImage()  # right drag zooms, middle drag pans, no rotation
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
        for layer in (self._slice_layer, self._preview_layer, self._segments_layer):
            layer.remove()
        self.plotter.clear_actors()
        self._letter_actors = {}
        self._cross = None
        self._seed_drawn = False
        self.plan.forget()
        self._number_actor = None
        self._shown = self._plane_cache = None
        self.hu = self.hover = None
        if image is not None:
            self.index = image.dimensions[self.axis] // 2
            self._render_slice()
            self._reset_camera()
        self._show_title()
        self.request_render()

    def set_clim(self, clim: tuple[float, float]) -> None:
        self.clim = clim
        if self.image is not None:
            self._slice_layer.set_window(*clim)
            self._show_info()
            self.request_render()

    def show_at(self, cursor: np.ndarray, scrolling: bool = False) -> None:
        """Move to the plane through ``cursor`` and put the crosshair on it. While another
        view is ``scrolling``, a crosshair that only moves on this plane is drawn at most every
        :data:`CROSSHAIR_LAG_MS` (the eye is on the view being scrolled)."""
        self.cursor = np.asarray(cursor, dtype=float)
        if self.image is None:
            return
        ijk = np.round(index_of(self.image, cursor)).astype(int)
        self.index = int(np.clip(ijk[self.axis], 0, self.image.dimensions[self.axis] - 1))
        if self._shown is not None and self._shown == self._shown_key():
            # same plane: only the crosshair (and seed ring) move
            self._render_crosshair()
            self._render_seed()
            if scrolling:
                if not self._lag_timer.isActive():
                    self._lag_timer.start()
                return
        else:
            self._render_slice()
        self.request_render()

    def set_preview(self, mask: np.ndarray | None) -> None:
        self.preview = mask
        if self.image is not None:
            self._render_preview(self.current_plane()[0])
            self.request_render()

    def set_segments(self, labels: np.ndarray | None, table: np.ndarray | None = None) -> None:
        """Show the label map being edited (``labels`` on the image grid, ``table`` the uint8
        RGBA row of each label value; 0 is transparent)."""
        self.segments = None if labels is None else (labels, table)
        if self.image is not None:
            self._render_segments(self.current_plane()[0])
            self.request_render()

    def set_seed(self, world) -> None:
        self.seed = None if world is None else np.asarray(world, dtype=float)
        if self.image is not None:
            self._render_seed()
            self.request_render()

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
            self._show_title()
            self.request_render()
        self.plane_turned.emit()

    # -- geometry ----------------------------------------------------------------------------
    def slice_plane(self) -> SlicePlane:
        """The plane shown, as geometry (see :class:`~viewer.views.slice_geometry.SlicePlane`)."""
        return SlicePlane(self.image, self.axis, self.index, self.cursor,
                          self.tilt_box.value(), self.spin_box.value())

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, towards the viewer) of the plane shown, with the oblique rotation."""
        return self.slice_plane().frame()

    def plane(self) -> tuple[np.ndarray, np.ndarray]:
        """(a world point on, unit normal of) the plane shown."""
        return self.slice_plane().point_normal()

    def plane_mesh(self, crop: bool = False) -> tuple[pv.DataSet, str]:
        """The slice shown (an index slab, or an oblique reformat through the cursor) and the
        name of its scalars. An oblique reformat's samples outside the volume are set below
        any window (black on the black view), or with ``crop`` cut away (for the 3D view)."""
        return self.slice_plane().mesh(crop)

    # -- drawing ---------------------------------------------------------------------------
    def _shown_key(self) -> tuple:
        """What decides the slice image: an oblique plane moves with the crosshair."""
        turn = (self.tilt_box.value(), self.spin_box.value())
        return (id(self.image), self.image.active_scalars_name if self.image is not None
                else None, self.axis, self.index, turn,  # the time point of a 4D volume too
                tuple(self.cursor) if any(turn) else None)

    def current_plane(self) -> tuple[pv.DataSet, str]:
        """:meth:`plane_mesh` of the plane shown, made once per plane (the 3D view shows it too)."""
        key = self._shown_key()
        if self._plane_cache is None or self._plane_cache[0] != key:
            self._plane_cache = (key, self.plane_mesh())
        return self._plane_cache[1]

    def _render_slice(self) -> None:
        image = self.image
        plane, scalars = self.current_plane()
        self._slice_layer.show(plane, np.asarray(plane.point_data[scalars]))
        self._slice_layer.set_window(*self.clim)
        self._shown = self._shown_key()
        self._render_preview(plane)
        self._render_segments(plane)
        self._render_crosshair()
        self._render_seed()
        self._render_letters()
        self._show_info()
        self.plan.update(self.case)
        self.slice_changed.emit()
        self._fit_clipping()  # the plane moved along the view axis
        self._render_number("oblique" if self.oblique
                            else f"{self.index + 1}/{image.dimensions[self.axis]}")
        self._title_timer.start()  # the header follows when scrolling pauses: see __init__

    def _show_title(self) -> None:
        if self.image is None:
            self.title.setText(AXIS_NAMES[self.axis])
        elif self.oblique:
            self.title.setText(f"{AXIS_NAMES[self.axis]} oblique")
        else:
            self.title.setText(f"{AXIS_NAMES[self.axis]}  {self.index + 1}/"
                               f"{self.image.dimensions[self.axis]}")

    def _show_info(self) -> None:
        lo, hi = self.clim
        text = f"W {hi - lo:.0f}  L {(lo + hi) / 2:.0f}"
        if self.hover is not None and self.hu is not None:
            x, y, z = self.hover
            unit = f" {self.unit}" if self.unit else ""
            text += f"   {self.hu:.0f}{unit} at ({x:.1f}, {y:.1f}, {z:.1f}) mm"
        self.info.setText(text)

    def value_at(self, world) -> float | None:
        """The volume's value at the voxel nearest ``world``; None outside the image."""
        if self.image is None or world is None or is_rgb(self.image):
            return None
        ijk = np.round(index_of(self.image, world)).astype(int)
        if (ijk < 0).any() or (ijk >= np.asarray(self.image.dimensions)).any():
            return None
        return float(voxel_array(self.image)[tuple(ijk)])

    def hover_at(self, world) -> None:
        """The mouse is over ``world`` (or off the image: None): show the value there."""
        self.hover = None if world is None else np.asarray(world, dtype=float)
        self.hu = self.value_at(self.hover)
        if self.hu is None:
            self.hover = None
        self._show_info()

    def _reset_camera(self) -> None:
        """Look along the plane's normal, the whole slice in view."""
        width, height = max(self.plotter.interactor.width(), 1), max(self.plotter.interactor.height(), 1)
        centre, position, up, scale = self.slice_plane().camera(width, height)
        cam = self.plotter.camera
        cam.focal_point = tuple(centre)
        cam.position = tuple(position)
        cam.up = tuple(up)
        cam.parallel_scale = scale
        self._fit_clipping()

    def _fit_clipping(self) -> None:
        """Near and far planes round the slice, from the camera's distance to it: VTK's
        ResetCameraClippingRange walks every actor's bounds (10 ms a slice on a 512^2 CT)."""
        cam = self.plotter.camera
        depth = float(np.linalg.norm(np.asarray(cam.position) - np.asarray(cam.focal_point)))
        ahead = (np.asarray(cam.focal_point) - np.asarray(cam.position)) / max(depth, 1e-9)
        at = float((self.plane()[0] - np.asarray(cam.position)) @ ahead)
        margin = 2.0 * float(np.max(self.image.spacing)) + 1.0  # overlays sit just above it
        self.plotter.renderer.GetActiveCamera().SetClippingRange(max(at - margin, 1e-3), at + margin)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._gl_tuned:  # the GL context exists once the view is shown
            self._gl_tuned = True
            QTimer.singleShot(0, self._tune_for_software_gl)

    def _tune_for_software_gl(self) -> None:
        """Software OpenGL (llvmpipe: VMs, remote desktops, CI) draws a slice view with 4x MSAA
        in 2.3x the time without it (measured 47 vs 21 ms a frame): it is turned off there, as
        in the 3D view. GPUs keep the smooth outlines."""
        if no_msaa_on_software_gl(self.plotter):
            self.request_render()

    def resizeEvent(self, event) -> None:  # keep the whole slice in view
        super().resizeEvent(event)
        if self.image is not None:
            self._reset_camera()

    def request_render(self) -> None:
        """Draw on the next paint: one render however many changes come before it (a direct
        render would be followed by the widget's own paint rendering the same frame again)."""
        self.plotter.interactor.update()

    def screenshot(self) -> np.ndarray:
        self.plotter.render()
        return self.plotter.screenshot(None, return_img=True)

    def close_view(self) -> None:
        close_plotter(self.plotter)


class SliceViewer(PlanFollower, SlicesIn3D, QWidget):
    """Axial, coronal and sagittal views of one volume with window presets, a crosshair shared
    by all views, and (optionally) the same three planes and volume rendering in the 3D view."""

    cursor_changed = pyqtSignal(object)
    cursor_picked = pyqtSignal(object)  # world point clicked in any of the views (markups)
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
        self.cine = CineBar(self)  # steps a time series (4D volume) through time
        layout.addWidget(self.cine)

    def ensure_views(self) -> None:
        if self.views:
            return
        self.views = [SliceView(2), SliceView(1), SliceView(0)]  # axial, coronal, sagittal
        for v in self.views:
            v.cursor_picked.connect(self.set_cursor)
            v.cursor_picked.connect(self.cursor_picked)
            v.seed_picked.connect(self.seed_picked)
            v.window_dragged.connect(self.set_window)
            v.scrolled.connect(self.scroll)
            v.plane_turned.connect(self._update_3d)
            v.seed_mode = self.seed_mode
            v.case = self.case
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
        self._follow_plan(self.case, case)
        self.case = case
        for v in self.views:
            v.case = case
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
        unit = ("HU" if obj is not None and obj.kind == "volume"
                and obj.metadata.get("modality", "CT") == "CT" else "")
        for v in self.views:
            v.unit = unit
        if image is not None:
            self.cursor = np.asarray(image.center, dtype=float)
            preferred = "CT soft tissue" if obj.metadata.get("modality", "CT") == "CT" else AUTO
            if obj.kind == "labelmap" or is_rgb(image) or np.ptp(voxel_array(image)) < 100:
                preferred = AUTO
            self.window_box.blockSignals(True)
            self.window_box.setCurrentText(preferred)
            self.window_box.blockSignals(False)
        self._load_views()
        self._update_3d()
        self._update_volume_rendering()
        self.cine.set_volume(obj)
        self.volume_changed.emit(obj)

    def clim(self) -> tuple[float, float]:
        if self.obj is None:
            return (0.0, 1.0)
        if is_rgb(self.obj.data):
            return (0.0, 255.0)  # a colour picture: its colours as stored
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
    def set_cursor(self, world, scrolling: int | None = None) -> None:
        """Move the crosshair to ``world``; ``scrolling``: the axis of the view being scrolled
        (the other views then redraw a crosshair that only moved a little later)."""
        self.cursor = np.asarray(world, dtype=float)
        for v in self.views:
            v.show_at(self.cursor, scrolling=scrolling is not None and v.axis != scrolling)
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
        self.set_cursor(np.asarray(image.origin) + d @ ijk, scrolling=axis)

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
        self._show_seed_3d()

    # -- the 3D view (the rest in viewer.views.slices_in_3d) ---------------------------------
    def close_views(self) -> None:
        for v in self.views:
            v.close_view()

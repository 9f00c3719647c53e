"""The central 3D view: a pyvistaqt interactor driven by :class:`sim.render.SceneRenderer`.

Drops on the view are told apart by MIME type: a catalogue device is placed where it lands
(``device_dropped``), local files are opened (``files_dropped``); pyvistaqt's own file drop
(which would add the mesh behind the model's back) never runs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QEvent, QPointF, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from vtkmodules.vtkRenderingCore import vtkCellPicker, vtkPropPicker

from sim.model import Case, ObjectKind, SceneObject
from sim.render import SceneRenderer
from viewer.panels.device_drag import device_from_mime, local_files
from viewer.views.software_gl import no_msaa_on_software_gl
from viewer.views.teardown import close_plotter

_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)

CLICK_TOLERANCE_PX = 4  # at least; the platform's drag distance when that is larger
# A press the window system counts as the second half of a double click arrives as
# MouseButtonDblClick, not MouseButtonPress: for clicking, both are presses.
CLICK_PRESSES = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick)


def click_tolerance_px() -> int:
    """How far the mouse may move between press and release of a click (a hand that is not
    perfectly still): the platform's start-drag distance (10 px by default)."""
    return max(CLICK_TOLERANCE_PX, QApplication.startDragDistance())
_SURFACE_KINDS = (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE)


class SceneView(QWidget):
    """Rotate (left drag), pan (middle or shift-left), zoom (wheel or right drag); click to pick
    (unless one of ``click_handlers`` takes the click, e.g. Shift+click for the segment seed)."""

    object_clicked = pyqtSignal(object)  # SceneObject or None
    device_dropped = pyqtSignal(object, object)  # (family id, size params), display (x, y)
    files_dropped = pyqtSignal(list)  # local paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.enable_trackball_style()
        layout.addWidget(self.plotter.interactor)
        self.renderer = SceneRenderer(self.plotter)
        self._press_pos: QPointF | None = None
        # Tools that take clicks before selection: each is called with (x, y, modifiers) of a
        # click, display pixels; one returning True has used it and nothing gets selected.
        self.click_handlers: list[Callable[[int, int, Qt.KeyboardModifier], bool]] = []
        self._picker = vtkPropPicker()
        self._surface_picker = vtkCellPicker()
        self._surface_picker.SetTolerance(0.0005)
        # Watch raw Qt mouse events: VTK's camera style consumes the button events it uses.
        self.plotter.interactor.installEventFilter(self)
        self._clip_widget = None
        self._gl_checked = False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._gl_checked:  # the GL context exists once the view is shown
            self._gl_checked = True
            QTimer.singleShot(0, self._tune_for_software_gl)

    def _tune_for_software_gl(self) -> None:
        """Software OpenGL (llvmpipe: VMs, remote desktops, CI) renders 4x MSAA at about 2.5x
        the cost of no MSAA (measured 132 vs 53 ms a frame for the liver): it is turned off
        there, so a running simulation keeps its CPU. GPUs keep the smooth edges."""
        if no_msaa_on_software_gl(self.plotter):
            self.plotter.render()

    def set_case(self, case: Case) -> None:
        old = self.renderer.case
        if old is not None:
            old.scene.added.disconnect(self._sync_ruler)
            old.scene.removed.disconnect(self._sync_ruler)
        self.renderer.set_case(case)
        case.scene.added.connect(self._sync_ruler)
        case.scene.removed.connect(self._sync_ruler)
        self._sync_ruler()

    def _sync_ruler(self, *_args) -> None:
        """The mm ruler only with something to measure: on an empty scene VTK labelled it
        with the size of nothing ("-0.00136 mm")."""
        bar = self.plotter.actors.get("scale-bar")
        if bar is not None:
            case = self.renderer.case
            bar.SetVisibility(case is not None and case.scene.bounds(visible_only=False)
                              is not None)
            self.plotter.render()

    def pick(self, x: int, y: int) -> SceneObject | None:
        """The object under display pixel (x, y), VTK coordinates (origin bottom-left)."""
        if self._picker.PickProp(x, y, self.plotter.renderer):
            return self.renderer.object_for_actor(self._picker.GetViewProp())
        return None

    def pick_surface(self, x: int, y: int):
        """(object, point, unit normal facing the viewer) of the surface under display pixel
        (x, y), or None. Only scene objects' surfaces count, not overlays or volumes."""
        picker = self._surface_picker
        picker.InitializePickList()
        for adapter in self.renderer.adapters.values():
            if adapter.obj.visible and adapter.obj.kind in _SURFACE_KINDS:
                for actor in adapter.actors:
                    picker.AddPickList(actor)
        picker.PickFromListOn()
        if not picker.Pick(x, y, 0, self.plotter.renderer):
            return None
        obj = self.renderer.object_for_actor(picker.GetActor())
        if obj is None:
            return None
        point = np.asarray(picker.GetPickPosition(), float)
        normal = np.asarray(picker.GetPickNormal(), float)
        normal /= max(np.linalg.norm(normal), 1e-12)
        if normal @ self.view_ray(x, y)[1] > 0:  # the side the user sees, whatever the winding
            normal = -normal
        return obj, point, normal

    def view_ray(self, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
        """Origin (on the near plane) and unit direction of the ray through display (x, y)."""
        ren = self.plotter.renderer
        pts = []
        for z in (0.0, 1.0):
            ren.SetDisplayPoint(x, y, z)
            ren.DisplayToWorld()
            w = ren.GetWorldPoint()
            pts.append(np.asarray(w[:3]) / w[3])
        d = pts[1] - pts[0]
        return pts[0], d / np.linalg.norm(d)

    def focal_plane_point(self, x: int, y: int) -> np.ndarray:
        """Where the ray through display (x, y) meets the plane through the camera's focal
        point facing the camera (where a drop on empty space lands)."""
        origin, d = self.view_ray(x, y)
        cam = self.plotter.camera
        focal = np.asarray(cam.focal_point, float)
        normal = np.asarray(cam.GetDirectionOfProjection(), float)
        return origin + d * float((focal - origin) @ normal) / float(d @ normal)

    def eventFilter(self, watched, event) -> bool:
        if event.type() in _DRAG_EVENTS:
            return self._drag_event(event)
        if event.type() in CLICK_PRESSES and event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.position()
        elif (event.type() == QEvent.Type.MouseButtonRelease
              and event.button() == Qt.MouseButton.LeftButton and self._press_pos is not None):
            pos, pressed, self._press_pos = event.position(), self._press_pos, None
            if (pos - pressed).manhattanLength() <= click_tolerance_px():
                x, y = self.to_display(pos)
                if not any(handler(x, y, event.modifiers()) for handler in self.click_handlers):
                    self.object_clicked.emit(self.pick(x, y))
        return False

    def _drag_event(self, event) -> bool:
        mime = event.mimeData()
        device, files = device_from_mime(mime), local_files(mime)
        if device is None and not files:
            event.ignore()
            return True
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        if event.type() == QEvent.Type.Drop:
            if device is not None:
                self.device_dropped.emit(device, self.to_display(event.position()))
            else:
                self.files_dropped.emit(files)
        return True

    def to_display(self, pos: QPointF) -> tuple[int, int]:
        """Qt widget coordinates (origin top-left) to VTK display pixels (origin bottom-left)."""
        ratio = self.plotter.interactor.devicePixelRatioF()
        height = self.plotter.interactor.height()
        return int(round(pos.x() * ratio)), int(round((height - pos.y() - 1) * ratio))

    # -- clipping plane widget -------------------------------------------------------------
    def set_clipping(self, enabled: bool) -> None:
        if enabled and self._clip_widget is None:
            bounds = self.renderer.case.scene.bounds() if self.renderer.case else None
            self._clip_widget = self.plotter.add_plane_widget(
                self.renderer.set_clip_plane, normal="x", bounds=bounds, implicit=True,
                outline_translation=False, origin_translation=True, color="white")
        elif not enabled and self._clip_widget is not None:
            self.plotter.clear_plane_widgets()
            self._clip_widget = None
            self.renderer.clear_clip_plane()

    def screenshot(self, path: str | None = None):
        self.plotter.render()
        return self.plotter.screenshot(path, return_img=True)

    def close_view(self) -> None:
        close_plotter(self.plotter)

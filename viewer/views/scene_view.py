"""The central 3D view: a pyvistaqt interactor driven by :class:`sim.render.SceneRenderer`."""

from __future__ import annotations

import vtk
from PyQt6.QtCore import QEvent, QPointF, Qt, pyqtSignal
from PyQt6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from sim.model import Case, SceneObject
from sim.render import SceneRenderer

CLICK_TOLERANCE_PX = 4  # a press and release closer than this is a click, not a drag


class SceneView(QWidget):
    """Rotate (left drag), pan (middle or shift-left), zoom (wheel or right drag); click to pick."""

    object_clicked = pyqtSignal(object)  # SceneObject or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.enable_trackball_style()
        layout.addWidget(self.plotter.interactor)
        self.renderer = SceneRenderer(self.plotter)
        self._press_pos: QPointF | None = None
        self._picker = vtk.vtkPropPicker()
        # Watch raw Qt mouse events: VTK's camera style consumes the button events it uses.
        self.plotter.interactor.installEventFilter(self)
        self._clip_widget = None

    def set_case(self, case: Case) -> None:
        self.renderer.set_case(case)

    def pick(self, x: int, y: int) -> SceneObject | None:
        """The object under display pixel (x, y), VTK coordinates (origin bottom-left)."""
        if self._picker.PickProp(x, y, self.plotter.renderer):
            return self.renderer.object_for_actor(self._picker.GetViewProp())
        return None

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.position()
        elif (event.type() == QEvent.Type.MouseButtonRelease
              and event.button() == Qt.MouseButton.LeftButton and self._press_pos is not None):
            pos, pressed, self._press_pos = event.position(), self._press_pos, None
            if (pos - pressed).manhattanLength() <= CLICK_TOLERANCE_PX:
                self.object_clicked.emit(self.pick(*self.to_display(pos)))
        return False

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
        self.plotter.close()

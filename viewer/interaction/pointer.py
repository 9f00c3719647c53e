"""Mouse and keyboard on the 3D view while simulating: grab and drag, brush, move instruments.

- Grab mode: press on the deforming surface and drag: the tissue follows the cursor point on
  the plane through the grabbed point facing the camera; release lets it relax. A press that
  misses the surface still rotates the camera.
- Brush mode: clicks on the surface add points to the fixed region.
- Instruments (any mode): Ctrl+drag moves the active instrument in the view plane,
  Ctrl+Shift+drag rotates it, Ctrl+wheel pushes it along the view direction; keys J/L, I/K,
  U/O translate it (1 mm, along the camera's right, up and view axes), with Shift they
  rotate it (5 degrees about the same axes); Page Down/Page Up advance/withdraw it 1 mm along
  its own axis (+z: an instrument's shaft, a device's planned direction), with Shift they roll
  it about that axis.
- The active name may also be a rigid device the session poses by events (a rehearsal's
  screw, listed in the snapshots' ``device_poses``): the same controls move it.
Every action is posted to the simulation loop as an event (so it is recorded).
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QEvent, QObject, Qt, pyqtSignal
from scipy.spatial.transform import Rotation
from vtkmodules.vtkRenderingCore import vtkCellPicker

MOVE_MM = 1.0
TURN_DEG = 5.0
_KEYS = {Qt.Key.Key_J: (0, -1), Qt.Key.Key_L: (0, 1), Qt.Key.Key_I: (1, 1),
         Qt.Key.Key_K: (1, -1), Qt.Key.Key_U: (2, -1), Qt.Key.Key_O: (2, 1)}


class PointerController(QObject):
    brushed = pyqtSignal(object)  # a world point on the body

    def __init__(self, view, parent=None) -> None:
        super().__init__(parent)
        self.view = view
        self.display = None  # SimulationDisplay
        self.loop = None  # SimulationLoop
        self.mode = "grab"  # grab | brush | none
        self.active_instrument: str | None = None
        self.move_mm, self.turn_deg = MOVE_MM, TURN_DEG  # one key press or button click
        self._drag_plane = None  # (point, normal) while dragging the tissue
        self._tool_drag = None  # (kind, start display pos, start pose, start hit)
        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0005)
        view.plotter.interactor.installEventFilter(self)

    def attach(self, display, loop) -> None:
        self.display, self.loop = display, loop
        self._commanded = None  # poses commanded to an earlier loop mean nothing here

    def detach(self) -> None:
        if self._drag_plane is not None and self.loop is not None:
            self.loop.post({"type": "release"})
        self.display = self.loop = None
        self._drag_plane = self._tool_drag = None

    # -- geometry helpers ------------------------------------------------------------------------
    def _camera_axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cam = self.view.plotter.camera
        forward = np.asarray(cam.focal_point) - np.asarray(cam.position)
        forward /= np.linalg.norm(forward)
        up = np.asarray(cam.up, dtype=float)
        right = np.cross(forward, up)
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return right, up, forward

    def _on_plane(self, x: int, y: int, point: np.ndarray, normal: np.ndarray) -> np.ndarray | None:
        origin, d = self.view.view_ray(x, y)
        denom = float(d @ normal)
        if abs(denom) < 1e-9:
            return None
        return origin + d * float((point - origin) @ normal) / denom

    def pick_surface(self, x: int, y: int) -> np.ndarray | None:
        """The point of the simulated surface under display pixel (x, y), or None."""
        if self.display is None or self.display.actor is None:
            return None
        self._picker.InitializePickList()
        self._picker.AddPickList(self.display.actor)
        self._picker.PickFromListOn()
        if self._picker.Pick(x, y, 0, self.view.plotter.renderer):
            return np.asarray(self._picker.GetPickPosition())
        return None

    def _pose(self, name: str) -> np.ndarray:
        return np.asarray(self.loop.session.instruments[name].pose).copy() \
            if self._latest_pose(name) is None else self._latest_pose(name)

    def _latest_pose(self, name: str) -> np.ndarray | None:
        snap = self.loop.latest
        pose = snap.poses.get(name, snap.device_poses.get(name))
        return None if pose is None else np.asarray(pose).copy()

    def post_pose(self, name: str, pose: np.ndarray) -> None:
        plain = np.asarray(pose).tolist()
        if name in self.loop.latest.device_poses:
            self.loop.post({"type": "device", "device": name, "pose": plain})
        else:
            self.loop.post({"type": "pose", "instrument": name, "pose": plain})
        self._commanded = (name, np.asarray(pose, dtype=float).copy())

    def _current_pose(self, name: str) -> np.ndarray:
        cmd = getattr(self, "_commanded", None)
        if cmd is not None and cmd[0] == name:
            return cmd[1].copy()
        return self._pose(name)

    # -- instrument motion -----------------------------------------------------------------------
    def nudge(self, axis: int, sign: int, rotate: bool) -> None:
        """Move the active instrument one step along/about a camera axis."""
        name = self.active_instrument
        if name is None or self.loop is None:
            return
        pose = self._current_pose(name)
        axes = self._camera_axes()
        if rotate:
            R = Rotation.from_rotvec(np.radians(self.turn_deg) * sign * axes[axis]).as_matrix()
            pose[:3, :3] = R @ pose[:3, :3]
        else:
            pose[:3, 3] += self.move_mm * sign * axes[axis]
        self.post_pose(name, pose)

    def slide(self, sign: int, rotate: bool) -> None:
        """Advance (+1) or withdraw the active instrument or device along its own axis, or
        roll it about that axis (a screw driven along its trajectory)."""
        name = self.active_instrument
        if name is None or self.loop is None:
            return
        pose = self._current_pose(name)
        axis = pose[:3, 2] / np.linalg.norm(pose[:3, 2])
        if rotate:
            pose[:3, :3] = Rotation.from_rotvec(np.radians(self.turn_deg) * sign * axis).as_matrix() \
                @ pose[:3, :3]
        else:
            pose[:3, 3] += self.move_mm * sign * axis
        self.post_pose(name, pose)

    # -- Qt events -------------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: C901 - one switch over event types
        if self.loop is None:
            return False
        t = event.type()
        if t == QEvent.Type.KeyPress and self.active_instrument is not None:
            key = Qt.Key(event.key())
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            hit = _KEYS.get(key)
            if hit is not None:
                self.nudge(hit[0], hit[1], shift)
                return True
            if key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                self.slide(1 if key == Qt.Key.Key_PageDown else -1, shift)
                return True
            return False
        if t == QEvent.Type.Wheel and self.active_instrument is not None and (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.nudge(2, 1 if event.angleDelta().y() < 0 else -1, False)
            return True
        if t not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                     QEvent.Type.MouseButtonRelease):
            return False
        x, y = self.view.to_display(event.position())
        mods = event.modifiers()
        if t == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            if mods & Qt.KeyboardModifier.ControlModifier and self.active_instrument is not None:
                pose = self._current_pose(self.active_instrument)
                kind = "rotate" if mods & Qt.KeyboardModifier.ShiftModifier else "move"
                start = self._on_plane(x, y, pose[:3, 3], self._camera_axes()[2])
                self._tool_drag = (kind, (x, y), pose, start)
                return True
            if self.mode == "none":
                return False
            point = self.pick_surface(x, y)
            if point is None:
                return False  # the camera gets the press
            if self.mode == "brush":
                self.brushed.emit(point)
                return True
            self.loop.post({"type": "grab", "point": point.tolist()})
            self._drag_plane = (point, self._camera_axes()[2])
            return True
        if t == QEvent.Type.MouseMove:
            if self._drag_plane is not None:
                target = self._on_plane(x, y, *self._drag_plane)
                if target is not None:
                    self.loop.post({"type": "drag", "target": target.tolist()})
                return True
            if self._tool_drag is not None:
                self._move_tool(x, y)
                return True
            return False
        if t == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            if self._drag_plane is not None:
                self._drag_plane = None
                self.loop.post({"type": "release"})
                return True
            if self._tool_drag is not None:
                self._tool_drag = None
                return True
        return False

    def _move_tool(self, x: int, y: int) -> None:
        kind, (x0, y0), pose0, start = self._tool_drag
        pose = pose0.copy()
        right, up, forward = self._camera_axes()
        if kind == "move":
            now = self._on_plane(x, y, pose0[:3, 3], forward)
            if now is None or start is None:
                return
            pose[:3, 3] = pose0[:3, 3] + (now - start)
        else:
            rot = (Rotation.from_rotvec(np.radians(0.5 * (x - x0)) * up)
                   * Rotation.from_rotvec(np.radians(-0.5 * (y - y0)) * right)).as_matrix()
            pose[:3, :3] = rot @ pose0[:3, :3]
        self.post_pose(self.active_instrument, pose)

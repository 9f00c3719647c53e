"""A headset-free XR preview: the scene in side-by-side stereo in a desktop window.

It uses the same per-eye camera code as the headset (:func:`stereo_eyes` ->
:func:`apply_eye_camera` with an asymmetric-capable projection and the same metres-to-mm
placement), with a simulated head: middle-drag or the arrow keys look around, W/S
forward/back, A/D sideways, R/F up/down, +/- scene scale. Cross-eyed or parallel
free-viewing shows the depth.

The two controllers are the headset's own (:class:`viewer.xr.hands.XRHands`: models, rays,
grab, select, trigger-drag, text panel), fed from the mouse by
:class:`viewer.xr.preview_hands.PreviewHands`: the active hand follows the mouse ray, right
button = squeeze (grab), left button = trigger (select, drag tissue), wheel = hand
nearer/further, H = other hand, Space = keep squeezing (for two-handed moves), [ and ] = turn
the hand.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleUser

from sim.model import Case
from viewer.xr.deform_grab import DeformationGrab
from viewer.xr.eye_camera import Fov, Pose, matrix_to_quat, stereo_eyes
from viewer.xr.hands import XRHands
from viewer.xr.preview_hands import PreviewHands
from viewer.xr.stereo_renderer import StereoRenderer

EYE_SIZE = (640, 600)
FOV_DEG = 90.0
STEP_M = 0.05
LOOK_RAD_PER_PX = 0.005
LOOK_KEY_RAD = 0.05
REACH_STEP_M = 0.03
HELP = ("Hand follows the mouse · right button: squeeze/grab · left: trigger/select · wheel: "
        "reach · H: other hand · Space: hold squeeze · [ ]: turn hand · middle-drag/arrows: "
        "look · W/S/A/D/R/F: move · +/-: scale")


def head_pose(position: np.ndarray, yaw: float, pitch: float) -> Pose:
    """A head at ``position`` turned by ``yaw`` about +y then tilted by ``pitch``."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    r_yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    return Pose(np.asarray(position, float), matrix_to_quat(r_yaw @ r_pitch))


class XRPreviewWindow(QWidget):
    """Side-by-side stereo of ``case`` from a simulated head, refreshed by a timer."""

    def __init__(self, case: Case, parent: QWidget | None = None, ipd_m: float = 0.063,
                 refresh_ms: int = 100, deformer: DeformationGrab | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"XR Preview (side-by-side stereo) — {case.name}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        def factory(**kwargs):
            kwargs.pop("window_size", None)
            kwargs.pop("off_screen", None)
            return QtInteractor(self, auto_update=False, **kwargs)

        self.stereo = StereoRenderer(EYE_SIZE, off_screen=False, plotter_factory=factory)
        self.plotter = self.stereo.plotter
        layout.addWidget(self.plotter.interactor)
        self.help = QLabel(HELP)
        self.help.setWordWrap(True)
        layout.addWidget(self.help)
        self.resize(2 * EYE_SIZE[0], EYE_SIZE[1] + 30)
        self.ipd_m = ipd_m
        self.fov = Fov.symmetric(FOV_DEG, EYE_SIZE[0] / EYE_SIZE[1])
        self.position = np.array([0.0, 1.6, 0.0])
        self.yaw = self.pitch = 0.0
        self.stereo.set_case(case)
        self.case = case
        self.stereo.placement.center_in_front(case.scene.bounds() or (-1, 1) * 3, self.head())
        self.hand_input = PreviewHands(self.head())
        self.hands = XRHands(case, self.stereo, deformer=deformer,
                             fps=lambda: 1000.0 / max(refresh_ms, 1), fps_label="Preview")
        iren = self.plotter.iren.interactor
        iren.SetInteractorStyle(vtkInteractorStyleUser())  # the head, not VTK, moves cameras
        self._last_mouse: tuple[int, int] | None = None
        for event, slot in (("MiddleButtonPressEvent", self._on_press),
                            ("MiddleButtonReleaseEvent", self._on_release),
                            ("MouseMoveEvent", self._on_move), ("KeyPressEvent", self._on_key),
                            ("LeftButtonPressEvent", self._on_trigger),
                            ("LeftButtonReleaseEvent", self._on_trigger),
                            ("RightButtonPressEvent", self._on_squeeze),
                            ("RightButtonReleaseEvent", self._on_squeeze),
                            ("MouseWheelForwardEvent", self._on_wheel),
                            ("MouseWheelBackwardEvent", self._on_wheel)):
            iren.AddObserver(event, slot)
        # VTK's interactor style answers the characters too (w: wireframe, s: surface, e: exit,
        # f: fly to, ...), which clashed with walking on W/S: the preview's keys are its own.
        swallow = iren.AddObserver("CharEvent", lambda *_a: iren.GetCommand(swallow)
                                   .SetAbortFlag(1), 10.0)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(refresh_ms)

    def head(self) -> Pose:
        return head_pose(self.position, self.yaw, self.pitch)

    def eyes(self):
        w, h = self.plotter.ren_win.GetSize()
        if w > 1 and h > 1:  # each eye gets half the window, whatever its size
            self.fov = Fov.symmetric(FOV_DEG, (w / 2) / h)
        return stereo_eyes(self.head(), self.ipd_m, self.fov)

    def refresh(self) -> None:
        """One preview frame: the hands act on the scene (as in the headset), then both eyes."""
        eyes = self.eyes()
        self.hands.update(self.hand_input.frame(self.head()), self.head())
        self.stereo.render(eyes)

    # -- simulated controllers -------------------------------------------------------------------
    def point_hand(self, x: int, y: int) -> None:
        """Put the active hand on the ray under render-window pixel (x, y) (VTK, from the
        bottom left); the eye under the cursor casts the ray."""
        w, h = self.plotter.ren_win.GetSize()
        half = w / 2
        eye_index = 0 if x < half else 1
        eye = self.eyes()[eye_index]
        u = x - eye_index * half
        self.hand_input.follow_cursor(self.head(), eye, u, h - 1 - y, (half, h))

    def squeeze(self, pressed: bool) -> None:
        """Squeeze the active hand; pressing over an object first moves the hand onto it."""
        hand = self.hand_input.active
        eye = self.hand_input.eye
        if pressed and eye is not None:
            sight = Pose(eye.pose.position, self.hand_input.aim(hand).orientation)
            _obj, hit = self.hands.interaction.ray_hit(sight)
            if hit is not None:
                self.hand_input.reach_to(
                    float(np.linalg.norm(self.stereo.placement.to_xr(hit) - eye.pose.position)))
        self.hand_input.squeeze[hand] = pressed

    def trigger(self, pressed: bool) -> None:
        self.hand_input.trigger[self.hand_input.active] = pressed

    def _on_trigger(self, _iren, event) -> None:
        self.trigger(event == "LeftButtonPressEvent")
        self.refresh()

    def _on_squeeze(self, _iren, event) -> None:
        self.squeeze(event == "RightButtonPressEvent")
        self.refresh()

    def _on_wheel(self, _iren, event) -> None:
        step = REACH_STEP_M if event == "MouseWheelForwardEvent" else -REACH_STEP_M
        self.hand_input.reach_to(self.hand_input.reach + step)

    # -- simulated head --------------------------------------------------------------------------
    def _on_press(self, iren, _event) -> None:
        self._last_mouse = iren.GetEventPosition()

    def _on_release(self, _iren, _event) -> None:
        self._last_mouse = None

    def _on_move(self, iren, _event) -> None:
        if self._last_mouse is None:
            self.point_hand(*iren.GetEventPosition())
            return
        x, y = iren.GetEventPosition()
        dx, dy = x - self._last_mouse[0], y - self._last_mouse[1]
        self._last_mouse = (x, y)
        self.yaw -= dx * LOOK_RAD_PER_PX
        self.pitch = float(np.clip(self.pitch + dy * LOOK_RAD_PER_PX, -1.4, 1.4))

    def move_head(self, forward: float = 0.0, right: float = 0.0, up: float = 0.0) -> None:
        rot = self.head().rotation
        fwd = rot @ np.array([0.0, 0.0, -1.0])
        fwd[1] = 0.0
        if np.linalg.norm(fwd) > 1e-6:
            fwd /= np.linalg.norm(fwd)
        side = np.cross(fwd, [0.0, 1.0, 0.0])
        self.position = self.position + forward * fwd + right * side + np.array([0.0, up, 0.0])

    def _on_key(self, iren, _event) -> None:
        key = (iren.GetKeySym() or "").lower()
        moves = {"w": (STEP_M, 0, 0), "s": (-STEP_M, 0, 0), "d": (0, STEP_M, 0),
                 "a": (0, -STEP_M, 0), "r": (0, 0, STEP_M), "f": (0, 0, -STEP_M)}
        looks = {"left": (LOOK_KEY_RAD, 0.0), "right": (-LOOK_KEY_RAD, 0.0),
                 "up": (0.0, LOOK_KEY_RAD), "down": (0.0, -LOOK_KEY_RAD)}
        if key in moves:
            self.move_head(*moves[key])
        elif key in looks:
            self.yaw += looks[key][0]
            self.pitch = float(np.clip(self.pitch + looks[key][1], -1.4, 1.4))
        elif key in ("plus", "equal", "minus"):
            self.scale_scene(1.25 if key != "minus" else 0.8)
        elif key == "h":
            self.hand_input.switch_hand()
        elif key == "space":
            self.hand_input.toggle_latch()
        elif key in ("bracketleft", "bracketright"):
            self.hand_input.turn_hand(1 if key == "bracketleft" else -1)

    def scale_scene(self, factor: float) -> None:
        """Scale the scene about the point straight ahead of the head, as two hands would."""
        head = self.head()
        pivot = head.position + head.rotation @ np.array([0.0, 0.0, -0.5])
        m = self.stereo.placement.matrix()
        step = np.eye(4)
        step[:3, :3] *= factor
        step[:3, 3] = pivot - factor * pivot
        self.stereo.placement.set_matrix(step @ m)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.hands.release()
        self.stereo.close()
        super().closeEvent(event)

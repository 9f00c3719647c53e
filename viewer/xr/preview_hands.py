"""Simulated controllers for the headset-free preview, driven by the mouse and keyboard.

The active hand follows the mouse ray: it sits ``reach`` metres from the eye under the
cursor (the wheel changes the reach), its aim ray points along the cursor's line of sight
and its grip keeps the head's orientation (tilted like a held controller), so moving the
mouse carries a grabbed object without turning it. Pressing squeeze with the cursor over an
object first puts the hand on that surface, so the squeeze grabs what the user points at.
The other hand stays parked where it was, holding a latched squeeze for two-handed moves.
The result is a :class:`ControllerFrame`, exactly what the headset reads from the runtime.
"""

from __future__ import annotations

import numpy as np

from viewer.xr.eye_camera import EyeView, Pose, matrix_to_quat
from viewer.xr.xr_input import HANDS, ControllerFrame, HandState

REACH_M = 0.45
REACH_RANGE_M = (0.1, 2.0)
GRIP_TILT_DEG = 40.0  # a held controller's tube leans forward-down, not straight ahead
TURN_DEG = 15.0
PARKED = {"left": (-0.18, -0.22, -0.4), "right": (0.18, -0.22, -0.4)}  # head frame, metres


def _rot_x(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def look_rotation(direction: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation whose -z is ``direction`` and whose +y leans towards ``up``."""
    z = -np.asarray(direction, float) / np.linalg.norm(direction)
    x = np.cross(up, z)
    if np.linalg.norm(x) < 1e-6:
        x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def cursor_ray(eye: EyeView, u: float, v: float, size: tuple[int, int]) -> np.ndarray:
    """Unit headset-space direction through pixel (u right, v down from the top) of an eye
    image of ``size`` (width, height), through that eye's (possibly asymmetric) frustum."""
    f = eye.fov
    tl, tr = np.tan(f.angle_left), np.tan(f.angle_right)
    tu, td = np.tan(f.angle_up), np.tan(f.angle_down)
    x = tl + (u / size[0]) * (tr - tl)
    y = tu - (v / size[1]) * (tu - td)
    d = eye.pose.rotation @ np.array([x, y, -1.0])
    return d / np.linalg.norm(d)


class PreviewHands:
    """Both hands' state; :meth:`frame` gives this frame's controller input."""

    def __init__(self, head: Pose) -> None:
        self.active = "right"
        self.reach = REACH_M
        self.position: dict[str, np.ndarray] = {}
        self.aim_dir: dict[str, np.ndarray] = {}
        self.turn = {h: 0.0 for h in HANDS}  # degrees about the head's vertical
        self.trigger = {h: False for h in HANDS}
        self.squeeze = {h: False for h in HANDS}
        self.latched = {h: False for h in HANDS}
        self.eye: EyeView | None = None  # the eye the cursor is over
        self._head = head
        for hand in HANDS:
            self.position[hand] = head.position + head.rotation @ np.array(PARKED[hand])
            self.aim_dir[hand] = head.rotation @ np.array([0.0, 0.0, -1.0])

    # -- input -----------------------------------------------------------------------------------
    def follow_cursor(self, head: Pose, eye: EyeView, u: float, v: float,
                      size: tuple[int, int]) -> None:
        """Move the active hand onto the cursor's ray, ``reach`` metres from the eye."""
        self._head, self.eye = head, eye
        d = cursor_ray(eye, u, v, size)
        self.aim_dir[self.active] = d
        self.position[self.active] = eye.pose.position + self.reach * d

    def reach_to(self, distance_m: float) -> None:
        """Put the active hand ``distance_m`` from the eye along its current ray."""
        self.reach = float(np.clip(distance_m, *REACH_RANGE_M))
        if self.eye is not None:
            hand = self.active
            self.position[hand] = self.eye.pose.position + self.reach * self.aim_dir[hand]

    def switch_hand(self) -> str:
        self.active = "left" if self.active == "right" else "right"
        return self.active

    def toggle_latch(self) -> bool:
        """Keep (or stop keeping) the active hand's squeeze after the button is let go."""
        hand = self.active
        self.latched[hand] = not self.latched[hand]
        return self.latched[hand]

    def turn_hand(self, sign: int) -> None:
        self.turn[self.active] += sign * TURN_DEG

    # -- output ----------------------------------------------------------------------------------
    def grip(self, hand: str) -> Pose:
        rot = self._head.rotation @ _rot_y(self.turn[hand]) @ _rot_x(-GRIP_TILT_DEG)
        return Pose(self.position[hand].copy(), matrix_to_quat(rot))

    def aim(self, hand: str) -> Pose:
        rot = look_rotation(self.aim_dir[hand], self._head.rotation @ np.array([0.0, 1.0, 0.0]))
        return Pose(self.position[hand].copy(), matrix_to_quat(rot))

    def frame(self, head: Pose | None = None) -> ControllerFrame:
        if head is not None:
            self._head = head
        out = ControllerFrame()
        for hand in HANDS:
            out.hands[hand] = HandState(
                grip=self.grip(hand), aim=self.aim(hand),
                trigger=1.0 if self.trigger[hand] else 0.0,
                squeeze=1.0 if (self.squeeze[hand] or self.latched[hand]) else 0.0)
        return out

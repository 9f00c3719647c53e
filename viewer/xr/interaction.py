"""What the hands do in the headset.

- Squeeze (grip) with the controller inside an object: the object follows the hand rigidly.
- Squeeze in empty space: the whole scene follows that hand; squeeze with both hands in
  empty space: move, turn (about the vertical) and scale the scene by the hands' span.
- Trigger: select the object the hand's ray points at (shown in the text panel); on tissue
  that is being simulated, hold the trigger and drag to pull it (the interactive-deformation
  grab, see :mod:`viewer.xr.deform_grab`).

Objects move through their rigid transform in the model (``obj.transform``,
evented), so the desktop view and the undo history see the same change;
the scene's placement in the headset is view state only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyvista as pv

from sim.model import ObjectKind, SceneObject
from viewer.xr.deform_grab import DeformationGrab
from viewer.xr.eye_camera import Pose, ScenePlacement
from viewer.xr.xr_input import HANDS, ControllerFrame, HandState, pose_delta

GRAB_MARGIN_MM = 5.0  # how far outside an object's box a squeeze still grabs it
RAY_LENGTH_M = 3.0
GRABBABLE = (ObjectKind.SURFACE, ObjectKind.DEVICE, ObjectKind.PART)


def object_matrix(obj: SceneObject) -> np.ndarray:
    return np.array(obj.transform, float)


def set_object_matrix(obj: SceneObject, m: np.ndarray) -> None:
    """Give ``obj`` a new rigid transform through the model (evented, undoable)."""
    obj.transform = m


def world_bounds(obj: SceneObject) -> np.ndarray:
    """Axis-aligned box (2x3: min, max) of the transformed object, in scene mm."""
    b = np.asarray(obj.data.bounds, float).reshape(3, 2).T
    corners = np.array([[x, y, z] for x in b[:, 0] for y in b[:, 1] for z in b[:, 2]])
    m = object_matrix(obj)
    moved = corners @ m[:3, :3].T + m[:3, 3]
    return np.array([moved.min(axis=0), moved.max(axis=0)])


@dataclass
class _Grab:
    target: SceneObject | None  # None: the whole scene
    start_grip: Pose
    start_matrix: np.ndarray  # the object's transform, or the placement matrix


class XRInteraction:
    """Turns each frame's controller state into object moves, scene moves and selection."""

    def __init__(self, placement: ScenePlacement, objects: Callable[[], list[SceneObject]],
                 select: Callable[[SceneObject | None], None],
                 on_object_moved: Callable[[SceneObject], None] | None = None) -> None:
        self.placement = placement
        self.objects = objects
        self.select = select
        self.on_object_moved = on_object_moved
        self.grabs: dict[str, _Grab] = {}
        self._two_hand: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._trigger_down = {h: False for h in HANDS}
        self.deformer: DeformationGrab | None = None  # trigger-drag on deformable tissue
        self._drags: dict[str, np.ndarray] = {}
        self.last: ControllerFrame = ControllerFrame()

    # -- queries ---------------------------------------------------------------------------------
    def object_at(self, p_xr: np.ndarray) -> SceneObject | None:
        """The smallest visible, grabbable object whose box holds the headset point ``p_xr``."""
        p = self.placement.to_scene(p_xr)
        best, best_size = None, np.inf
        for obj in self.objects():
            if not obj.visible or obj.kind not in GRABBABLE or obj.opacity < 0.5:
                continue
            lo, hi = world_bounds(obj)
            if np.all(p >= lo - GRAB_MARGIN_MM) and np.all(p <= hi + GRAB_MARGIN_MM):
                size = float(np.prod(hi - lo + 1.0))
                if size < best_size:
                    best, best_size = obj, size
        return best

    def ray_hit(self, aim: Pose) -> tuple[SceneObject | None, np.ndarray | None]:
        """First visible object surface along the aim ray, and the hit point (scene mm)."""
        origin = self.placement.to_scene(aim.position)
        direction = self.placement.direction_to_scene(aim.rotation @ np.array([0.0, 0.0, -1.0]))
        end = origin + direction * (RAY_LENGTH_M / self.placement.scale)
        best, best_point, best_t = None, None, np.inf
        for obj in self.objects():
            if not obj.visible or obj.opacity < 0.5 or not isinstance(obj.data, pv.PolyData):
                continue
            m = object_matrix(obj)
            inv = np.linalg.inv(m)
            o_local = inv[:3, :3] @ origin + inv[:3, 3]
            e_local = inv[:3, :3] @ end + inv[:3, 3]
            points, _ = obj.data.ray_trace(o_local, e_local, first_point=True)
            if len(points):
                hit = m[:3, :3] @ np.asarray(points, float).reshape(3) + m[:3, 3]
                t = float(np.linalg.norm(hit - origin))
                if t < best_t:
                    best, best_point, best_t = obj, hit, t
        return best, best_point

    # -- per frame -------------------------------------------------------------------------------
    def update(self, frame: ControllerFrame) -> None:
        for hand in HANDS:
            state = frame.hands[hand]
            if state.squeezing and state.tracked and hand not in self.grabs:
                self._start_grab(hand, state)
            elif (not state.squeezing or not state.tracked) and hand in self.grabs:
                del self.grabs[hand]
                self._restart_single_scene_grabs(frame)
            self._handle_trigger(hand, state)
        scene_hands = [h for h, g in self.grabs.items() if g.target is None]
        if len(scene_hands) == 2:
            self._two_hand_scene(frame)
        else:
            self._two_hand = None
            for hand, grab in self.grabs.items():
                grip = frame.hands[hand].grip
                if grip is None:
                    continue
                delta = pose_delta(grab.start_grip, grip)
                if grab.target is None:
                    self.placement.set_matrix(delta @ grab.start_matrix)
                else:
                    self._move_object(grab, delta)
        self.last = frame

    def _start_grab(self, hand: str, state: HandState) -> None:
        target = self.object_at(state.grip.position)
        start = object_matrix(target) if target is not None else self.placement.matrix()
        self.grabs[hand] = _Grab(target, state.grip, start)
        if target is not None:
            self.select(target)
        self._two_hand = None

    def _restart_single_scene_grabs(self, frame: ControllerFrame) -> None:
        """After one hand lets go of a two-handed grab, the other carries on from here."""
        for hand, grab in self.grabs.items():
            if grab.target is None and frame.hands[hand].grip is not None:
                self.grabs[hand] = _Grab(None, frame.hands[hand].grip, self.placement.matrix())

    def _move_object(self, grab: _Grab, delta_xr: np.ndarray) -> None:
        p = self.placement.matrix()
        delta_scene = np.linalg.inv(p) @ delta_xr @ p  # rigid: the scale cancels
        set_object_matrix(grab.target, delta_scene @ grab.start_matrix)
        if self.on_object_moved is not None:
            self.on_object_moved(grab.target)

    def _two_hand_scene(self, frame: ControllerFrame) -> None:
        left, right = frame.hands["left"].grip, frame.hands["right"].grip
        if left is None or right is None:
            return
        l_now, r_now = left.position, right.position
        if self._two_hand is None:
            self._two_hand = (l_now.copy(), r_now.copy(), self.placement.matrix())
            return
        l0, r0, m0 = self._two_hand
        span0, span = np.linalg.norm(r0 - l0), np.linalg.norm(r_now - l_now)
        if span0 < 1e-4 or span < 1e-4:
            return
        scale = span / span0
        d0, d1 = (r0 - l0)[[0, 2]], (r_now - l_now)[[0, 2]]
        yaw = np.arctan2(d0[1], d0[0]) - np.arctan2(d1[1], d1[0])  # turn about +y
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        mid0, mid = (l0 + r0) / 2.0, (l_now + r_now) / 2.0
        step = np.eye(4)
        step[:3, :3] = scale * turn
        step[:3, 3] = mid - scale * turn @ mid0
        self.placement.set_matrix(step @ m0)

    def _handle_trigger(self, hand: str, state: HandState) -> None:
        """Trigger: select along the ray; on deformable tissue, also drag it with the hand."""
        pressed = state.triggering and state.aim is not None
        if pressed and not self._trigger_down[hand] and hand not in self.grabs:
            obj, hit = self.ray_hit(state.aim)
            self.select(obj)
            if (obj is not None and self.deformer is not None and not self._drags
                    and self.deformer.begin(obj, hit)):
                # The grabbed point rides with the hand, fixed in the aim's frame.
                hit_xr = np.append(self.placement.to_xr(hit), 1.0)
                self._drags[hand] = np.linalg.inv(state.aim.matrix()) @ hit_xr
        elif pressed and hand in self._drags:
            target = (state.aim.matrix() @ self._drags[hand])[:3]
            self.deformer.move(self.placement.to_scene(target))
        elif not pressed and hand in self._drags:
            del self._drags[hand]
            self.deformer.end()
        self._trigger_down[hand] = pressed

    # -- for the panel ---------------------------------------------------------------------------
    def hand_span_mm(self) -> float | None:
        """Distance between the two controllers, in scene millimetres (a handy ruler)."""
        left, right = self.last.hands["left"].grip, self.last.hands["right"].grip
        if left is None or right is None:
            return None
        return float(np.linalg.norm(right.position - left.position) / self.placement.scale)

"""OpenXR actions for the two hand controllers: grip and aim poses, trigger, squeeze, buttons.

Bindings are suggested for the common profiles (Khronos simple, Valve Index, Oculus Touch,
HTC Vive); the runtime picks whichever matches the connected controllers.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

from viewer.xr.eye_camera import Pose

HANDS = ("left", "right")

# profile -> {action: component path under /user/hand/<hand>/input}
PROFILES: dict[str, dict[str, str]] = {
    "/interaction_profiles/khr/simple_controller": {
        "grip_pose": "grip/pose", "aim_pose": "aim/pose", "trigger": "select/click",
        "menu": "menu/click"},
    "/interaction_profiles/valve/index_controller": {
        "grip_pose": "grip/pose", "aim_pose": "aim/pose", "trigger": "trigger/value",
        "squeeze": "squeeze/value", "primary": "a/click", "menu": "b/click"},
    "/interaction_profiles/oculus/touch_controller": {
        "grip_pose": "grip/pose", "aim_pose": "aim/pose", "trigger": "trigger/value",
        "squeeze": "squeeze/value"},
    "/interaction_profiles/htc/vive_controller": {
        "grip_pose": "grip/pose", "aim_pose": "aim/pose", "trigger": "trigger/value",
        "squeeze": "squeeze/click", "menu": "menu/click"},
}
PRESS_THRESHOLD = 0.6  # analogue trigger/squeeze value that counts as pressed


@dataclass
class HandState:
    """One controller at one frame (headset space)."""

    grip: Pose | None = None
    aim: Pose | None = None
    trigger: float = 0.0
    squeeze: float = 0.0
    primary: bool = False
    menu: bool = False

    @property
    def tracked(self) -> bool:
        return self.grip is not None

    @property
    def squeezing(self) -> bool:
        return self.squeeze >= PRESS_THRESHOLD

    @property
    def triggering(self) -> bool:
        return self.trigger >= PRESS_THRESHOLD


@dataclass
class ControllerFrame:
    hands: dict[str, HandState] = field(default_factory=lambda: {h: HandState() for h in HANDS})


class ControllerInput:
    """Creates the action set, suggests bindings and reads both hands once per frame."""

    def __init__(self, xr, instance, session) -> None:
        self.xr, self.instance, self.session = xr, instance, session
        self.action_set = xr.create_action_set(instance, xr.ActionSetCreateInfo(
            action_set_name="twinsight", localized_action_set_name="Twinsight", priority=0))
        self.hand_paths = [xr.string_to_path(instance, f"/user/hand/{h}") for h in HANDS]
        kinds = {"grip_pose": xr.ActionType.POSE_INPUT, "aim_pose": xr.ActionType.POSE_INPUT,
                 "trigger": xr.ActionType.FLOAT_INPUT, "squeeze": xr.ActionType.FLOAT_INPUT,
                 "primary": xr.ActionType.BOOLEAN_INPUT, "menu": xr.ActionType.BOOLEAN_INPUT}
        self.actions = {}
        for name, kind in kinds.items():
            self.actions[name] = xr.create_action(self.action_set, xr.ActionCreateInfo(
                action_type=kind, action_name=name, localized_action_name=name.replace("_", " "),
                count_subaction_paths=2,
                subaction_paths=(xr.Path * 2)(*self.hand_paths)))
        for profile, components in PROFILES.items():
            bindings = [xr.ActionSuggestedBinding(
                self.actions[action], xr.string_to_path(instance, f"/user/hand/{h}/input/{c}"))
                for action, c in components.items() for h in HANDS]
            try:
                xr.suggest_interaction_profile_bindings(instance, xr.InteractionProfileSuggestedBinding(
                    interaction_profile=xr.string_to_path(instance, profile),
                    count_suggested_bindings=len(bindings),
                    suggested_bindings=(xr.ActionSuggestedBinding * len(bindings))(*bindings)))
            except xr.XrException:
                continue  # a runtime may not know every profile; the others still apply
        self.spaces: dict[tuple[str, str], object] = {}
        for pose_action in ("grip_pose", "aim_pose"):
            for hand, path in zip(HANDS, self.hand_paths, strict=True):
                self.spaces[(pose_action, hand)] = xr.create_action_space(
                    session, xr.ActionSpaceCreateInfo(action=self.actions[pose_action],
                                                      subaction_path=path))
        xr.attach_session_action_sets(session, xr.SessionActionSetsAttachInfo(
            count_action_sets=1, action_sets=ctypes.pointer(self.action_set)))

    def read(self, base_space, time) -> ControllerFrame:
        xr = self.xr
        active = xr.ActiveActionSet(self.action_set, xr.NULL_PATH)
        xr.sync_actions(self.session, xr.ActionsSyncInfo(
            count_active_action_sets=1, active_action_sets=ctypes.pointer(active)))
        frame = ControllerFrame()
        for hand, path in zip(HANDS, self.hand_paths, strict=True):
            state = frame.hands[hand]
            for pose_action in ("grip_pose", "aim_pose"):
                loc = xr.locate_space(self.spaces[(pose_action, hand)], base_space, time)
                valid = xr.SpaceLocationFlags.POSITION_VALID_BIT | \
                    xr.SpaceLocationFlags.ORIENTATION_VALID_BIT
                if (loc.location_flags & valid) == valid:
                    setattr(state, pose_action.split("_")[0], Pose.from_xr(loc.pose))
            for name in ("trigger", "squeeze"):
                s = xr.get_action_state_float(self.session, xr.ActionStateGetInfo(
                    self.actions[name], path))
                setattr(state, name, float(s.current_state) if s.is_active else 0.0)
            for name in ("primary", "menu"):
                s = xr.get_action_state_boolean(self.session, xr.ActionStateGetInfo(
                    self.actions[name], path))
                setattr(state, name, bool(s.current_state) if s.is_active else False)
        return frame

    def destroy(self) -> None:
        for space in self.spaces.values():
            self.xr.destroy_space(space)
        self.spaces.clear()
        if self.action_set is not None:
            self.xr.destroy_action_set(self.action_set)  # also destroys its actions
            self.action_set = None


def pose_delta(before: Pose, after: Pose) -> np.ndarray:
    """4x4 headset-space transform taking ``before`` to ``after``."""
    return after.matrix() @ np.linalg.inv(before.matrix())

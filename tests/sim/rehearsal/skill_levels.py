"""Scripted attempts at three skill levels for a built-from-plan scenario (retract the organ,
then place the planned screw), written from the scenario alone so the same levels run on the
demo case and on the TotalSegmentator case.

- **expert**: smooth - one push of ``push_mm`` (about 20 mm of retraction), the screw steered
  from its off-plan start onto the trajectory and driven straight down it; 6.5 s.
- **intermediate**: slower, re-tries - pushes part way, backs off, pushes again, pauses; the
  screw approaches, is withdrawn and re-driven, and ends ``offset_mm`` (2.5 mm) beside the
  plan; 16 s.
- **novice**: hesitant (long still periods, back-and-forth), over-retracts to ``over_mm``
  (tissue damage), drives the screw off the plan into the aorta (a critical contact), and
  leaves it 5 mm and 8 degrees off; 20.5 s.
- **idle**: presses Next at once for every step (and once more).
- **hopeless**: pokes the organ a few mm, leaves the screw 15 mm off its plan.
"""

from __future__ import annotations

import numpy as np

LEVELS = ("novice", "intermediate", "expert")


def _rotate(axis: np.ndarray, about: np.ndarray, deg: float) -> np.ndarray:
    """``axis`` turned by ``deg`` about ``about`` (Rodrigues)."""
    k = about / np.linalg.norm(about)
    a = np.radians(deg)
    return (axis * np.cos(a) + np.cross(k, axis) * np.sin(a)
            + k * (k @ axis) * (1 - np.cos(a)))


def _pose(anchor, axis, like: np.ndarray) -> list:
    """A device pose with its anchor at ``anchor`` and shaft along ``axis``; the roll as in
    ``like`` as far as it allows."""
    z = np.asarray(axis, float) / np.linalg.norm(axis)
    x = like[:3, 0] - z * (like[:3, 0] @ z)
    x /= np.linalg.norm(x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, np.cross(z, x), z, anchor
    return m.tolist()


def _offset(plan: np.ndarray, mm: float, deg: float = 0.0) -> list:
    """The planned pose moved ``mm`` sideways (its x axis) and tilted ``deg`` about its y."""
    axis = _rotate(plan[:3, 2], plan[:3, 1], deg) if deg else plan[:3, 2]
    return _pose(plan[:3, 3] + mm * plan[:3, 0], axis, plan)


def skill_script(scenario, level: str, world=None, push_mm: float = 29.0,
                 over_mm: float = 47.0, trainee: str | None = None) -> dict:
    """The timed actions of one attempt at ``level`` (see the module docstring). ``world``
    (the built :class:`RehearsalWorld`) is needed by the novice, whose screw goes into the
    aorta where it really is in the case."""
    x, y0, z = scenario.setup.instruments[0]["pose"]["position"]
    plan = scenario.devices[0]
    planned = plan.planned_pose
    start = np.asarray(plan.start_pose, float)

    def ret(t, dy):
        return {"t": t, "instrument": "retractor",
                "pose": {"position": [x, y0 + dy, z], "direction": [0, 0, 1]}}

    def dev(t, pose):
        return {"t": t, "device": plan.name,
                "pose": pose.tolist() if isinstance(pose, np.ndarray) else pose}

    def nxt(t):
        return {"t": t, "next": True}

    if level == "expert":
        aligned = plan.start_offset_pose(plan.start_offsets()[0])  # steered onto the line
        acts = [ret(0, 0), ret(3.0, push_mm), nxt(3.5), dev(3.5, start), dev(4.5, aligned),
                dev(6.0, planned), nxt(6.5)]
    elif level == "intermediate":
        short = planned.copy()
        short[:3, 3] -= 12.0 * short[:3, 2]
        acts = [ret(0, 0), ret(1.0, 0), ret(3.5, 15.0), ret(4.5, 8.0), ret(5.5, 8.0),
                ret(8.0, push_mm), nxt(8.5),
                dev(8.5, start), dev(9.5, start), dev(11.5, _offset(short, 2.5)),
                dev(12.5, _offset(short, 2.5)), dev(13.5, _offset(start, 1.0)),
                dev(15.5, _offset(planned, 2.5)), nxt(16.0)]
    elif level == "novice":
        acts = [ret(0, 0), ret(3.0, 0), ret(4.5, 10.0), ret(5.5, 4.0), ret(7.0, 4.0),
                ret(8.5, 25.0), ret(10.0, over_mm), ret(11.0, over_mm), ret(12.0, push_mm),
                nxt(12.5), dev(12.5, start), dev(14.5, start),
                dev(16.5, _into_aorta(scenario, world, planned)),
                dev(18.0, _offset(start, 3.0, 8.0)),
                dev(20.0, _offset(planned, 5.0, 8.0)), nxt(20.5)]
    elif level == "idle":
        acts = [nxt(0.0), nxt(0.05), nxt(0.1)]
    elif level == "hopeless":
        acts = [ret(0, 0), ret(2.0, 6.0), ret(3.0, 0.0), nxt(4.0), dev(4.0, start),
                dev(7.0, _offset(planned, 15.0, 12.0)), nxt(8.0)]
    else:
        raise ValueError(level)
    return {"trainee": trainee or level, "actions": acts}


def _into_aorta(scenario, world, planned: np.ndarray) -> list:
    """A screw pose whose tip is 3 mm inside the aorta's wall nearest the planned tip."""
    pts = world.structure_points["Aorta"][0]
    length = world.device_length(scenario.devices[0].name)
    entry = planned[:3, 3]
    tip = entry + length * planned[:3, 2]
    wall = pts[np.argmin(np.linalg.norm(pts - tip, axis=1))]
    axis = (wall - entry) / np.linalg.norm(wall - entry)
    return _pose(wall + 3.0 * axis - length * axis, axis, planned)

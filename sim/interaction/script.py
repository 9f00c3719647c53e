"""Scripts and recordings as one thing: a setup plus events keyed by step index.

A *script* (``ACTIONS.json``, written by hand) lists timed keyframes::

    {"setup": {"material": "liver", "fixed": {"side": "zmin"}, "dt": 0.02,
               "instruments": [{"name": "probe", "type": "probe", "radius": 4}]},
     "body": "Liver", "edge_length": 6, "duration": 2.0,
     "actions": [
        {"t": 0.0, "instrument": "probe", "pose": {"position": [0, 0, 30], "direction": [0, 0, 1]}},
        {"t": 1.0, "instrument": "probe", "pose": {"position": [0, 0, 22], "direction": [0, 0, 1]}},
        {"t": 0.2, "grab": [10, 0, 20]}, {"t": 0.8, "drag": [10, 0, 30]}, {"t": 1.5, "release": true},
        {"t": 1.0, "instrument": "grasper", "param": "opening", "value": 2.0}]}

Poses and drags between keyframes are interpolated every step (linear positions, slerp
rotations). A *recording* (``"format": "twinsight-interaction"``) has the same setup and the
exact events with their step indices; both become a :class:`Timeline`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from sim.errors import FileFormatError, InputError
from sim.interaction.session import EVENT_TYPES, SessionSetup
from sim.interaction.tools import pose_from_spec
from sim.io.json_file import read_json

if TYPE_CHECKING:
    from collections.abc import Callable

RECORDING_FORMAT = "twinsight-interaction"
MAX_STEPS = 1_000_000


@dataclass
class Timeline:
    setup: SessionSetup
    steps: int
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    body: str | None = None
    edge_length: float | None = None
    expected_digest: str | None = None  # a recording: the mesh it was made on
    expected_state: str | None = None

    def at(self, step: int) -> list[dict[str, Any]]:
        return self.events.get(step, [])


def read_timeline(path: str | Path) -> Timeline:
    path = Path(path)
    data = read_json(path, "script")
    try:
        return timeline_from_dict(data)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None


def timeline_from_dict(data: Any) -> Timeline:
    if not isinstance(data, dict):
        raise InputError("A script must be a JSON object with 'setup' and 'actions'.")
    setup_data = data.get("setup", {})
    if not isinstance(setup_data, dict):
        raise InputError("'setup' must be an object.")
    setup = SessionSetup.from_dict(setup_data)
    body = data.get("body")
    edge = data.get("edge_length")
    if edge is not None and not (isinstance(edge, int | float) and edge > 0):
        raise InputError("'edge_length' must be a positive number of mm.")
    if data.get("format") == RECORDING_FORMAT:
        return _recording(data, setup, body, edge)
    return _script(data, setup, body, edge)


def _recording(data, setup, body, edge) -> Timeline:
    steps = data.get("steps")
    if not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise InputError(f"A recording needs 'steps' (0..{MAX_STEPS}).")
    events: dict[int, list] = defaultdict(list)
    for ev in data.get("events", []):
        if not isinstance(ev, dict) or ev.get("type") not in EVENT_TYPES:
            raise InputError(f"Bad recorded event {str(ev)[:80]!r}.")
        step = ev.get("step")
        if not isinstance(step, int) or not 0 <= step <= steps:
            raise InputError(f"A recorded event has a bad step index {step!r}.")
        events[step].append({k: v for k, v in ev.items() if k not in ("step", "time", "wall_time")})
    return Timeline(setup, steps, dict(events), body, edge, data.get("mesh_digest"),
                    data.get("final_state"))


def _time(action: dict, what: str) -> float:
    t = action.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1e5:
        raise InputError(f"Every action needs a time 't' in seconds (>= 0); {what} has {t!r}.")
    return float(t)


def _script(data, setup, body, edge) -> Timeline:
    actions = data.get("actions", [])
    if not isinstance(actions, list):
        raise InputError("'actions' must be a list.")
    dt = float(setup.dt)
    names = {s.get("name") for s in setup.instruments if isinstance(s, dict)}
    poses: dict[str, list[tuple[float, np.ndarray]]] = defaultdict(list)
    grab_track: list[tuple[float, str, np.ndarray | None]] = []
    params: list[tuple[float, dict]] = []
    last = 0.0
    for i, a in enumerate(actions):
        if not isinstance(a, dict):
            raise InputError(f"Action {i} is not an object.")
        t = _time(a, f"action {i}")
        last = max(last, t)
        if "instrument" in a:
            if a["instrument"] not in names:
                raise InputError(f"Action {i} refers to instrument {a['instrument']!r}, which "
                                 "the setup does not define.")
            if "pose" in a:
                poses[a["instrument"]].append((t, pose_from_spec(a["pose"])))
            elif "param" in a:
                params.append((t, {"type": "param", "instrument": a["instrument"],
                                   "key": a["param"], "value": a.get("value")}))
            else:
                raise InputError(f"Action {i} for an instrument needs a 'pose' or a 'param'.")
        elif "grab" in a or "drag" in a:
            kind = "grab" if "grab" in a else "drag"
            p = np.asarray(a[kind], dtype=float)
            if p.shape != (3,) or not np.isfinite(p).all():
                raise InputError(f"Action {i}: '{kind}' needs a point [x, y, z] in mm.")
            grab_track.append((t, kind, p))
        elif a.get("release"):
            grab_track.append((t, "release", None))
        else:
            raise InputError(f"Action {i} does nothing: give an instrument pose, grab, drag or "
                             "release.")
    duration = data.get("duration", last + 0.5)
    if not isinstance(duration, int | float) or not 0 < duration <= 1e5:
        raise InputError("'duration' must be a positive number of seconds.")
    steps = int(round(duration / dt))
    if steps > MAX_STEPS:
        raise InputError(f"The script would run {steps} steps; the limit is {MAX_STEPS}.")
    events: dict[int, list] = defaultdict(list)

    def step_of(t: float) -> int:
        return min(int(round(t / dt)), steps)

    for name, keys in poses.items():
        for s, m in pose_track(keys, step_of):
            events[s].append(_pose_event(name, m))
    grab_track.sort(key=lambda g: g[0])
    current = None
    t_prev = 0.0
    for t, kind, p in grab_track:
        if kind == "grab":
            events[step_of(t)].append({"type": "grab", "point": p.tolist()})
            current = p
        elif kind == "drag":
            if current is None:
                raise InputError(f"A drag at t={t} s comes before any grab.")
            s0, s1 = step_of(t_prev), step_of(t)
            for s in range(s0 + 1, s1 + 1):
                f = (s - s0) / max(s1 - s0, 1)
                events[s].append({"type": "drag", "target": ((1 - f) * current + f * p).tolist()})
            current = p
        else:
            events[step_of(t)].append({"type": "release"})
            current = None
        t_prev = t
    for t, ev in params:
        events[step_of(t)].append(ev)
    return Timeline(setup, steps, dict(events), body, edge)


def pose_track(keys: list[tuple[float, np.ndarray]],
               step_of: Callable[[float], int]) -> list[tuple[int, np.ndarray]]:
    """(step, pose) every step from timed pose keyframes: linear positions, slerp rotations."""
    keys = sorted(keys, key=lambda k: k[0])
    out = [(step_of(keys[0][0]), keys[0][1])]
    for (t0, m0), (t1, m1) in zip(keys, keys[1:], strict=False):
        s0, s1 = step_of(t0), step_of(t1)
        slerp = Slerp([0.0, 1.0], Rotation.from_matrix([m0[:3, :3], m1[:3, :3]]))
        for s in range(s0 + 1, s1 + 1):
            f = (s - s0) / (s1 - s0)
            m = np.eye(4)
            m[:3, :3] = slerp([f]).as_matrix()[0]
            m[:3, 3] = (1 - f) * m0[:3, 3] + f * m1[:3, 3]
            out.append((s, m))
    return out


def _pose_event(name: str, m: np.ndarray) -> dict[str, Any]:
    return {"type": "pose", "instrument": name, "pose": m.tolist()}

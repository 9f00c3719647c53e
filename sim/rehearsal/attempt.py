"""Attempts: the recording of one trainee run, scripted attempts, running and replaying them.

An attempt file (JSON, ``"format": "twinsight-attempt"``, ``"version": 2``) holds the trainee,
the scenario's name and digest, the mesh digest and time step, every input event with its step
index, simulated and wall-clock time, key frames (state digest and device poses at every step
end), the metrics measured live, the scores, an optional OSATS rating and notes. Inputs are
stored as events only when they happen, so an attempt stays small (tens of kB a minute).

Version 2 (scoring formula 2, :mod:`sim.rehearsal.scoring`): the scores name the formula they
were computed with (``scores.formula``) and carry each step's explanation. A version-1 attempt
(a file, or one kept in a case) reads as version 2 with its scores marked ``"formula": 1``,
unchanged: :func:`rescore` recomputes them with the current formula from the recorded metrics
on request, keeping what they were (``scores.rescored_from``).

A *scripted* attempt (hand-written, for tests and demonstrations) is the interaction script
format of :mod:`sim.interaction.script` with two more actions::

    {"trainee": "A. Resident", "duration": 12.0,
     "actions": [{"t": 0, "instrument": "retractor", "pose": {...}}, ...,
                 {"t": 4.0, "next": true},
                 {"t": 5.0, "device": "Pedicle screw 6.5x45", "pose": {...}}, ...,
                 {"t": 11.0, "next": true}]}

Device poses are interpolated between keyframes like instrument poses.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.interaction.script import MAX_STEPS, pose_track, timeline_from_dict
from sim.interaction.session import EVENT_TYPES
from sim.interaction.tools import pose_from_spec
from sim.io.json_file import read_json
from sim.progress import Progress, no_progress
from sim.rehearsal.scenario import Scenario, check_format, write_json
from sim.rehearsal.scoring import FORMULA, check_osats, formula_of, score_attempt
from sim.rehearsal.session import REHEARSAL_EVENTS, RehearsalSession, RehearsalWorld

log = logging.getLogger(__name__)

FORMAT = "twinsight-attempt"
VERSION = 2


@dataclass
class Attempt:
    scenario: str
    scenario_digest: str
    mesh_digest: str
    dt: float
    steps: int  # simulation steps run
    events: list[dict[str, Any]]
    trainee: str = ""
    created: str = ""
    keyframes: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    osats: dict[str, int] = field(default_factory=dict)
    notes: str = ""

    KEYS = {"format", "version", "scenario", "scenario_digest", "mesh_digest", "dt", "steps",
            "events", "trainee", "created", "keyframes", "metrics", "scores", "osats", "notes"}

    def events_by_step(self) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list] = defaultdict(list)
        for ev in self.events:
            out[ev["step"]].append({k: v for k, v in ev.items()
                                    if k not in ("step", "time", "wall_time")})
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "scenario": self.scenario,
                "scenario_digest": self.scenario_digest, "trainee": self.trainee,
                "created": self.created, "mesh_digest": self.mesh_digest, "dt": self.dt,
                "steps": self.steps, "events": self.events, "keyframes": self.keyframes,
                "metrics": self.metrics, "scores": self.scores, "osats": self.osats,
                "notes": self.notes}

    @property
    def formula(self) -> int:
        """The scoring formula its scores were computed with (1: before completion gating)."""
        return formula_of(self.scores)

    @classmethod
    def from_dict(cls, d: Any) -> Attempt:
        check_format(d, "attempt", FORMAT, VERSION)
        d = migrate(d)
        unknown = set(d) - cls.KEYS
        if unknown:
            raise InputError(f"The attempt has unknown field(s) {sorted(unknown)}.")
        steps = d.get("steps")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
            raise InputError(f"An attempt needs 'steps' (0..{MAX_STEPS}).")
        dt = d.get("dt")
        if isinstance(dt, bool) or not isinstance(dt, int | float) or not 1e-5 <= dt <= 1.0:
            raise InputError("An attempt needs its time step 'dt' (s).")
        events = d.get("events")
        if not isinstance(events, list):
            raise InputError("An attempt needs a list of 'events'.")
        for i, ev in enumerate(events):
            if not isinstance(ev, dict) or ev.get("type") not in EVENT_TYPES + REHEARSAL_EVENTS:
                raise InputError(f"Event {i} is not a known event: {str(ev)[:80]!r}.")
            s = ev.get("step")
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= steps:
                raise InputError(f"Event {i} has a bad step index {s!r}.")
        for key in ("scenario", "scenario_digest", "mesh_digest", "trainee", "created", "notes"):
            if not isinstance(d.get(key, ""), str):
                raise InputError(f"'{key}' must be text.")
        for key in ("metrics", "scores"):
            if not isinstance(d.get(key, {}), dict):
                raise InputError(f"'{key}' must be an object.")
        return cls(d.get("scenario", ""), d.get("scenario_digest", ""), d.get("mesh_digest", ""),
                   float(dt), steps, events, d.get("trainee", ""), d.get("created", ""),
                   list(d.get("keyframes", [])), dict(d.get("metrics", {})),
                   dict(d.get("scores", {})), check_osats(d.get("osats", {})),
                   d.get("notes", ""))


def migrate(d: dict[str, Any]) -> dict[str, Any]:
    """An attempt document of an older version as the current version (a new dict). Version
    1 -> 2: the scores were computed with scoring formula 1; they are kept as they were and
    say so (``"formula": 1``) until :func:`rescore` is asked for."""
    if d.get("version") == 1:
        d = {**d, "version": 2}
        scores = d.get("scores")
        if isinstance(scores, dict) and scores and "formula" not in scores:
            d["scores"] = {**scores, "formula": 1}
    return d


def rescore(attempt: Attempt, scenario: Scenario) -> str:
    """Recompute the attempt's scores with the current formula from its recorded metrics (no
    replay needed: scores are a pure function of the metrics and the scenario). Returns what
    was done in plain words; the scores keep what they were (``rescored_from``)."""
    if not attempt.metrics or "steps" not in attempt.metrics:
        raise InputError("The attempt has no recorded metrics to re-score; replay it instead.")
    if len(attempt.metrics["steps"]) != len(scenario.steps):
        raise InputError(f"The attempt has {len(attempt.metrics['steps'])} steps, the scenario "
                         f"{len(scenario.steps)}: it was recorded on another scenario.")
    old = attempt.scores or {}
    before = formula_of(old)
    new = score_attempt(scenario, attempt.metrics)
    new["rescored_from"] = {"formula": before, "score": old.get("score"),
                            "passed": old.get("passed")}
    attempt.scores = new
    was = (f" (was {old['score']:.1f} with formula {before})"
           if isinstance(old.get("score"), int | float) else f" (was formula {before})")
    changed = (" The scenario has changed since the attempt was recorded."
               if attempt.scenario_digest and attempt.scenario_digest != scenario.digest()
               else "")
    return (f"Re-scored with scoring formula {FORMULA}: {new['score']:.1f} / 100, "
            f"{'passed' if new['passed'] else 'failed'}{was}.{changed}")


ATTEMPTS_SECTION = "rehearsal_attempts"  # case.sections key: the attempts made on this case


def attempts_from_case(case: Any) -> list[Attempt]:
    """The attempts kept in ``case`` (an invalid entry is skipped with a warning: one bad
    attempt must not hide the others)."""
    out = []
    for i, doc in enumerate(case.sections.get(ATTEMPTS_SECTION) or []):
        try:
            out.append(Attempt.from_dict(doc))
        except InputError as exc:
            log.warning("attempt %d stored in the case is invalid: %s", i + 1, exc)
    return out


def store_attempts(case: Any, attempts: list[Attempt], text: str) -> bool:
    """Keep ``attempts`` in ``case`` as one undoable step (the case is then unsaved)."""
    from sim.model.sections import set_section

    return set_section(case, ATTEMPTS_SECTION, [a.to_dict() for a in attempts], text)


def read_attempt(path: str | Path) -> Attempt:
    path = Path(path)
    data = read_json(path, "attempt")
    try:
        return Attempt.from_dict(data)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None


def save_attempt(attempt: Attempt, path: str | Path) -> Path:
    return write_json(attempt.to_dict(), path)


def attempt_from_session(session: RehearsalSession, trainee: str = "") -> Attempt:
    """The finished (or stopped) session as an attempt, with its metrics and scores."""
    session.finish()
    metrics = session.result()
    return Attempt(session.scenario.name, session.scenario.digest(), session.digest,
                   float(session.sim.h), session.step_index, list(session.events), trainee,
                   datetime.now(UTC).isoformat(timespec="seconds"), list(session.keyframes),
                   metrics, score_attempt(session.scenario, metrics))


# -- scripted attempts -----------------------------------------------------------------------------
@dataclass
class ScriptedAttempt:
    trainee: str
    steps: int
    events: dict[int, list[dict[str, Any]]]


def script_from_dict(scenario: Scenario, data: Any) -> ScriptedAttempt:
    """A hand-written attempt (timed actions) as events keyed by simulation step."""
    if not isinstance(data, dict):
        raise InputError("A scripted attempt must be a JSON object with 'actions'.")
    unknown = set(data) - {"trainee", "duration", "actions"}
    if unknown:
        raise InputError(f"A scripted attempt has unknown field(s) {sorted(unknown)}.")
    actions = data.get("actions", [])
    if not isinstance(actions, list):
        raise InputError("'actions' must be a list.")
    trainee = data.get("trainee", "")
    if not isinstance(trainee, str):
        raise InputError("'trainee' must be text.")
    ours, theirs = [], []
    for i, a in enumerate(actions):
        if isinstance(a, dict) and ("next" in a or "device" in a):
            t = a.get("t")
            if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1e5:
                raise InputError(f"Action {i} needs a time 't' in seconds (>= 0).")
            ours.append((i, a))
        else:
            theirs.append(a)
    last = max([a["t"] for _, a in ours] + [a.get("t", 0) for a in theirs
                                             if isinstance(a, dict)
                                             and isinstance(a.get("t"), int | float)] + [0.0])
    duration = data.get("duration", last + 0.5)
    timeline = timeline_from_dict({"setup": scenario.setup.to_dict(), "duration": duration,
                                   "actions": theirs})
    dt, steps = float(scenario.setup.dt), timeline.steps
    events: dict[int, list] = defaultdict(list)
    for s, evs in timeline.events.items():
        events[s].extend(evs)

    def step_of(t: float) -> int:
        return min(int(round(t / dt)), steps)

    devices: dict[str, list] = defaultdict(list)
    nexts = []
    for i, a in ours:
        if "device" in a:
            if not isinstance(a.get("device"), str) or scenario.device(a["device"]) is None:
                raise InputError(f"Action {i} moves an unknown device {a.get('device')!r}.")
            try:
                devices[a["device"]].append((float(a["t"]), pose_from_spec(a.get("pose"))))
            except InputError as exc:
                raise InputError(f"Action {i}: {str(exc).rstrip('.')}.") from None
        elif a.get("next") is True:
            nexts.append(step_of(a["t"]))
        else:
            raise InputError(f"Action {i}: 'next' must be true.")
    for s in sorted(nexts):  # first at its step: actions at the same time are the next step's
        events[s].insert(0, {"type": "next"})
    for name, keys in devices.items():
        for s, m in pose_track(keys, step_of):
            events[s].append({"type": "device", "device": name, "pose": m.tolist()})
    return ScriptedAttempt(trainee, steps, dict(events))


def read_script(scenario: Scenario, path: str | Path) -> ScriptedAttempt:
    path = Path(path)
    data = read_json(path, "script")
    try:
        return script_from_dict(scenario, data)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None


# -- running and replaying --------------------------------------------------------------------------
def run_events(world: RehearsalWorld, steps: int, events: dict[int, list[dict[str, Any]]],
               progress: Progress = no_progress,
               on_step: Callable[[RehearsalSession], None] | None = None,
               session: RehearsalSession | None = None) -> RehearsalSession:
    """Run inputs keyed by simulation step from the start; the session stops where the inputs
    end (or when the last step ends). Given a ``session`` that this function already ran to
    an earlier step, it continues from there (a replay timeline scrubbing forward), reaching
    exactly the state a run from the start reaches."""
    if session is None:
        session = world.session()
    elif session.step_index > steps:
        raise InputError("A replay can only continue forward; start a new one to go back.")
    every = max(1, steps // 100)
    for s in range(session.step_index, steps):
        if s > session.events_applied_at:
            for ev in events.get(s, []):
                if not session.finished:
                    session.apply(ev)
            session.events_applied_at = s
        if session.finished:
            break
        session.step()
        if on_step is not None:
            on_step(session)
        if s % every == 0:
            progress(s / max(steps, 1), f"Step {s} of {steps}")
    if not session.finished and steps > session.events_applied_at:
        for ev in events.get(steps, []):
            if not session.finished:
                session.apply(ev)
        session.events_applied_at = steps
    progress(1.0, f"Ran {session.step_index} steps")
    return session


def run_script(world: RehearsalWorld, script: ScriptedAttempt,
               progress: Progress = no_progress) -> Attempt:
    session = run_events(world, script.steps, script.events, progress)
    return attempt_from_session(session, script.trainee)


@dataclass
class Replay:
    session: RehearsalSession
    metrics: dict[str, Any]
    scores: dict[str, Any]
    matches: bool  # the recomputed metrics and key frames equal the recorded ones


def replay(world: RehearsalWorld, attempt: Attempt, progress: Progress = no_progress,
           on_step: Callable[[RehearsalSession], None] | None = None) -> Replay:
    """Re-run the attempt's recorded inputs and recompute its metrics and scores."""
    scenario = world.scenario
    if attempt.mesh_digest and attempt.mesh_digest != _mesh_digest(world):
        raise InputError("The attempt was recorded on a different simulation mesh (its digest "
                         "does not match): replay it with the same case and scenario.")
    if not np.isclose(attempt.dt, scenario.setup.dt, rtol=0, atol=1e-12):
        raise InputError(f"The attempt ran with a time step of {attempt.dt} s, the scenario "
                         f"has {scenario.setup.dt} s.")
    session = run_events(world, attempt.steps, attempt.events_by_step(), progress, on_step)
    session.finish()
    metrics = session.result()
    scores = score_attempt(scenario, metrics)
    recorded = attempt.metrics or None
    same_frames = [k["state"] for k in session.keyframes] == [
        k.get("state") for k in attempt.keyframes] if attempt.keyframes else True
    matches = recorded is not None and _plain(metrics) == _plain(recorded) and same_frames
    return Replay(session, metrics, scores, matches)


def _mesh_digest(world: RehearsalWorld) -> str:
    from sim.interaction.session import mesh_digest

    return mesh_digest(world.mesh)


def _plain(data: Any) -> Any:
    """As it reads back from JSON (tuples to lists), for an exact comparison."""
    return json.loads(json.dumps(data))

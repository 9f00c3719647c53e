"""What a trainee sees during an attempt: the current step's criteria with whether each is
met right now, its limits, the time left for the step and the attempt; and afterwards, in
plain words, why a failed step failed. Computed from the live session with the same rules
the final score uses (:func:`sim.rehearsal.scoring.progress`), so the panel never promises
a pass the score then denies."""

from __future__ import annotations

import html
from typing import Any

from sim.rehearsal.metrics import device_accuracy
from sim.rehearsal.scoring import progress


def step_status(session: Any) -> dict[str, Any]:
    """The current step's criteria (met now or not, what is measured) and its clocks (s)."""
    step = session.current_step
    m = session.tracker.current.to_dict(session.time)
    for name in step.devices:  # where each device is now (the step's end fixes it)
        if name not in m["accuracy"] and name in session.device_poses:
            m["accuracy"][name] = device_accuracy(session.scenario.device(name),
                                                  session.device_poses[name],
                                                  session.world.device_length(name))
    criteria = []
    for c in step.criteria:
        ok, measured, _credit, _curve = progress(c, m)
        criteria.append({"criterion": c.describe(), "passed": bool(ok), "measured": measured})
    elapsed = float(m["time_s"])
    limit = step.time_limit_s
    total = session.scenario.time_limit_s
    return {"step": session.step_number + 1, "steps": len(session.scenario.steps),
            "title": step.title, "criteria": criteria, "time_s": elapsed,
            "time_limit_s": limit, "remaining_s": None if limit is None else limit - elapsed,
            "attempt_time_s": float(session.time), "attempt_limit_s": total,
            "attempt_remaining_s": None if total is None else total - float(session.time)}


def _clock(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(int(round(seconds)))
    return f"{sign}{s // 60}:{s % 60:02d}"


def status_html(status: dict[str, Any]) -> str:
    """The status as rich text: a tick or cross per criterion, the clocks (red when over)."""
    lines = []
    for c in status["criteria"]:
        mark, colour = ("✔", "#2e9d4a") if c["passed"] else ("✘", "#c0392b")
        lines.append(f"<span style='color:{colour}'>{mark}</span> "
                     f"{html.escape(c['criterion'])} <i>(now {html.escape(c['measured'])})</i>")
    if not lines:
        lines.append("No criteria: end the step with Next.")
    for label, left, limit in (("Step", status["remaining_s"], status["time_limit_s"]),
                               ("Attempt", status["attempt_remaining_s"],
                                status["attempt_limit_s"])):
        if limit is None:
            continue
        colour = "#c0392b" if left < 0 else ("#d68910" if left < 0.2 * limit else "inherit")
        word = "over by" if left < 0 else "left"
        lines.append(f"{label} time: <span style='color:{colour}'><b>"
                     f"{_clock(abs(left))}</b> {word}</span> of {_clock(limit)}")
    return "<br>".join(lines)


def why_failed(scores: dict[str, Any], titles: list[str] | None = None) -> list[str]:
    """One sentence per failed step naming the checks it missed and what was measured, plus
    the attempt's time limit if it was exceeded."""
    out = []
    for k, s in enumerate(scores.get("steps", [])):
        if s.get("passed"):
            continue
        missed = [f"{c['criterion']} (measured: {c['measured']})"
                  for c in s.get("checks", []) if not c.get("passed")]
        title = s.get("title") or (titles[k] if titles and k < len(titles) else f"step {k + 1}")
        out.append(f"Step {k + 1} '{title}' failed: " + ("; ".join(missed) or "not passed") + ".")
    if scores.get("within_time_limit") is False:
        out.append("The attempt took longer than its time limit.")
    return out

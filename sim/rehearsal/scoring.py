"""Scores from metrics: completion first, efficiency only on completed steps, safety penalties.

Scoring formula 2 (``FORMULA``; attempts scored before it carry ``"formula": 1``). Every
scored metric is "lower is better" and has a band ``[good, bad]``::

    s(x) = 100                               if x <= good
         = 100 * (bad - x) / (bad - good)    if good < x < bad
         = 0                                 if x >= bad

A step's criteria are of three kinds:

- **task** (``retraction``, ``on_plan``, ``time`` and the step's time limit, and ending the
  step with *Next*): what the step is for;
- **safety** (``no_damage``, ``no_contact``, ``max_force`` and every critical structure
  damaged or touched): penalties;
- the step's **quality metrics** (time, path, movements, idle, peak and mean force, and the
  device's entry / angle / tip error) scored on their bands and weights.

A step whose task criteria all hold is *completed* and scores in the upper band::

    step = 60 + 40 * Q,   Q = sum(w_k * s_k) / sum(w_k) / 100   over its quality metrics

A step with a failed task criterion scores in the capped band, whatever its efficiency::

    step = 40 * P,        P = product of the task criteria's partial credits p_i

with the documented partial-credit curves ``p`` (:func:`progress`): retraction ``v / min_mm``;
device on plan ``min`` over its limited errors of ``clip((5 L - e) / (4 L), 0, 1)`` (full
credit within the tolerance ``L``, none at five times it; 0 when not placed); a time limit
``limit / time``; a step not ended with *Next* ``0.5`` (``0`` if never reached).

Safety penalties are then subtracted (the step fails, the score never goes below 0), so no
efficiency can offset them: 30 points per contact with a critical structure; tissue damage
``20 + 10 * (1 - s(damage_time_s)) + 10 * (1 - s(damage_volume_mm3))`` (20 to 40 points);
15 points when a ``max_force`` limit is exceeded.

The attempt's score is the mean of the step scores weighted by each step's ``weight``. A step
passes when it is completed and safe; the attempt passes when every step passes and the
scenario's time limit was kept. Every step carries its explanation (``explain``: each
criterion and metric with its measured value, band and points gained or lost; the points add
up to the step's score) and the attempt the largest losses (``costs``). Scores are a pure
function of the metrics and the scenario: the same attempt always gets the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.rehearsal.scenario import Scenario

FORMULA = 2  # the scoring formula's version, recorded with every score

COMPLETED_FLOOR = 60.0  # a completed step scores 60..100
CAP = 40.0  # a step whose task is not achieved scores 0..40
ZERO_CREDIT_FACTOR = 5.0  # a device error of 5x its tolerance earns no partial credit
UNFINISHED = 0.5  # partial credit of a step that was started but not ended with Next
CONTACT_PENALTY = 30.0  # per contact with a critical structure
DAMAGE_PENALTY = (20.0, 10.0, 10.0)  # base, + by time above, + by volume above the threshold
FORCE_PENALTY = 15.0  # a max_force limit exceeded

OSATS_DOMAINS = (
    "Respect for tissue",
    "Time and motion",
    "Instrument handling",
    "Knowledge of instruments",
    "Use of assistants",
    "Knowledge of specific procedure",
    "Flow of operation and forward planning",
)


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    band: tuple[float, float]  # default [good, bad]
    kind: str = "efficiency"  # efficiency, handling, accuracy (quality) or safety (penalty)


METRICS: dict[str, Metric] = {
    "time_s": Metric("Elapsed time", "s", (30.0, 180.0)),
    "path_mm": Metric("Instrument path length", "mm", (150.0, 1500.0)),
    "movements": Metric("Number of movements", "", (5.0, 40.0)),
    "idle_s": Metric("Idle time", "s", (10.0, 90.0)),
    "peak_force_n": Metric("Peak contact force", "N", (3.0, 12.0), "handling"),
    "mean_force_n": Metric("Mean contact force", "N", (2.0, 8.0), "handling"),
    "damage_time_s": Metric("Time above damage threshold", "s", (0.0, 2.0), "safety"),
    "damage_volume_mm3": Metric("Tissue volume above damage threshold", "mm³", (0.0, 2000.0),
                                "safety"),
    "critical_contacts": Metric("Contacts with critical structures", "", (0.0, 1.0), "safety"),
    "entry_mm": Metric("Entry-point distance", "mm", (0.5, 4.0), "accuracy"),
    "angle_deg": Metric("Trajectory angle", "°", (1.0, 10.0), "accuracy"),
    "tip_mm": Metric("Final device pose error (tip)", "mm", (1.0, 6.0), "accuracy"),
}
QUALITY = tuple(k for k, m in METRICS.items() if m.kind != "safety")
TASK_CRITERIA = ("retraction", "on_plan", "time")


def band_score(x: float, good: float, bad: float) -> float:
    if x <= good:
        return 100.0
    if x >= bad:
        return 0.0
    return 100.0 * (bad - x) / (bad - good)


def error_credit(error: float, tolerance: float) -> float:
    """Partial credit of a device error: 1 within the tolerance, 0 at 5x it, linear between."""
    if error <= tolerance:
        return 1.0
    if tolerance <= 0:
        return 0.0
    zero = ZERO_CREDIT_FACTOR * tolerance
    return max(0.0, min(1.0, (zero - error) / (zero - tolerance)))


def check_osats(ratings: Any) -> dict[str, int]:
    """OSATS global rating: each of the 7 domains 1-5 (a partial rating is allowed)."""
    from sim.errors import InputError

    if not isinstance(ratings, dict):
        raise InputError("An OSATS rating maps domain names to 1-5.")
    out = {}
    for k, v in ratings.items():
        if k not in OSATS_DOMAINS:
            raise InputError(f"Unknown OSATS domain '{k}' (domains: {', '.join(OSATS_DOMAINS)}).")
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
            raise InputError(f"OSATS '{k}' must be a whole number from 1 to 5, not {v!r}.")
        out[k] = v
    return out


_ON_PLAN = (("entry_mm", "max_entry_mm", "mm at the entry"), ("angle_deg", "max_angle_deg", "°"),
            ("tip_mm", "max_tip_mm", "mm at the tip"))


def progress(c: Any, m: dict[str, Any]) -> tuple[bool, str, float, str]:
    """(passed, what was measured, partial credit 0..1, the credit curve) of one criterion."""
    p = c.params
    if c.type == "retraction":
        v = m["peak_displacement_mm"]
        return (v >= p["min_mm"], f"{v:.1f} mm", min(1.0, max(0.0, v / p["min_mm"]))
                if p["min_mm"] > 0 else 1.0,
                f"pass at >= {p['min_mm']:g} mm; partial credit = measured / {p['min_mm']:g}")
    if c.type == "no_damage":
        v = m["damage_time_s"]
        ok = v <= p.get("max_s", 0.0)
        return ok, f"{v:.2f} s above", float(ok), "safety: penalty if above"
    if c.type == "no_contact":
        n = m["contacts"].get(p["structure"], 0)
        return n == 0, f"{n} contact(s)", float(n == 0), \
            f"safety: -{CONTACT_PENALTY:g} a contact"
    if c.type == "on_plan":
        limits = [(k, p[lim], u) for k, lim, u in _ON_PLAN if lim in p]
        curve = ("pass within " + ", ".join(f"{L:g} {u}" for _, L, u in limits)
                 + f"; no credit at {ZERO_CREDIT_FACTOR:g}x")
        acc = m["accuracy"].get(p["device"])
        if acc is None:
            return False, "not placed", 0.0, curve
        ok = all(acc[k] <= L for k, L, _ in limits)
        credit = min(error_credit(acc[k], L) for k, L, _ in limits)
        return ok, (f"entry {acc['entry_mm']:.2f} mm, angle {acc['angle_deg']:.2f}°, "
                    f"tip {acc['tip_mm']:.2f} mm"), credit, curve
    if c.type == "max_force":
        v = m["peak_force_n"]
        return v <= p["max_n"], f"{v:.2f} N", float(v <= p["max_n"]), \
            f"safety: -{FORCE_PENALTY:g} if above"
    v = m["time_s"]
    return v <= p["max_s"], f"{v:.1f} s", min(1.0, p["max_s"] / v) if v > 0 else 1.0, \
        f"pass at <= {p['max_s']:g} s; partial credit = {p['max_s']:g} / time"


def _criterion(c, m: dict[str, Any]) -> tuple[bool, str]:
    ok, measured, _credit, _curve = progress(c, m)
    return ok, measured


def _fmt_value(key: str, value: float) -> str:
    unit = METRICS[key].unit
    text = f"{value:.0f}" if key == "movements" or key == "critical_contacts" else f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def _row(kind: str, what: str, measured: str, band: str, points: float, lost: float,
         note: str = "") -> dict[str, Any]:
    return {"kind": kind, "what": what, "measured": measured, "band": band,
            "points": round(points, 2) + 0.0, "lost": max(round(lost, 2), 0.0) + 0.0,
            "note": note}


def score_step(scenario: Scenario, step: Any, m: dict[str, Any]) -> dict[str, Any]:
    """One step's score, pass/fail, checks and explanation from its metrics."""
    band_of = {k: list(step.bands.get(k) or scenario.bands.get(k) or METRICS[k].band)
               for k in METRICS}
    scores = {}
    for key in METRICS:
        value = m.get(key)
        if value is not None:
            scores[key] = round(band_score(float(value), *band_of[key]), 3)
    # Task criteria and their partial credit.
    tasks: list[tuple[str, bool, str, float, str]] = []
    checks = []
    started = m["completed"] or m["time_s"] > 0
    if not m["completed"]:
        checks.append({"criterion": "complete the step", "passed": False,
                       "measured": "not completed"})
        tasks.append(("end the step with Next", False,
                      "not ended" if started else "never reached",
                      UNFINISHED if started else 0.0,
                      f"partial credit {UNFINISHED:g} if started, 0 if never reached"))
    safety_fail = []
    primary: set[str] = set()
    for c in step.criteria:
        ok, measured, credit, curve = progress(c, m)
        checks.append({"criterion": c.describe(), "passed": bool(ok), "measured": measured})
        if c.type in TASK_CRITERIA:
            tasks.append((c.describe(), bool(ok), measured, credit, curve))
            if c.type != "time":
                primary.add(c.describe())
        elif not ok:
            safety_fail.append(c)
    for name in m["damaged"]:
        checks.append({"criterion": f"no damage to the {name}", "passed": False,
                       "measured": "damaged"})
    if step.time_limit_s is not None:
        t = m["time_s"]
        ok = t <= step.time_limit_s
        checks.append({"criterion": f"within the step's {step.time_limit_s:g} s",
                       "passed": ok, "measured": f"{t:.1f} s"})
        tasks.append((f"within the step's {step.time_limit_s:g} s", ok, f"{t:.1f} s",
                      min(1.0, step.time_limit_s / t) if t > 0 else 1.0,
                      f"pass at <= {step.time_limit_s:g} s; partial credit = limit / time"))
    completed = all(ok for _, ok, *_ in tasks)
    rows = []
    if completed:
        # The floor is the main task's (retraction, device on plan); limits earn no points
        # of their own but cap the step when they fail.
        main = [t for t in tasks if t[0] in primary] or tasks or [
            ("end the step with Next", True, "ended", 1.0, "")]
        share = COMPLETED_FLOOR / len(main)
        for t in tasks if tasks else main:
            what, _ok, measured, _credit, curve = t
            rows.append(_row("task", what, measured, curve, share if t in main else 0.0, 0.0,
                             "achieved"))
        quality = [k for k in QUALITY if k in scores and scenario.weights.get(k, 1.0) > 0]
        wsum = sum(scenario.weights.get(k, 1.0) for k in quality)
        for k in quality:
            full = (100.0 - COMPLETED_FLOOR) * scenario.weights.get(k, 1.0) / wsum
            got = full * scores[k] / 100.0
            good, bad = band_of[k]
            rows.append(_row(METRICS[k].kind, METRICS[k].label, _fmt_value(k, float(m[k])),
                             f"full at <= {good:g}, none at >= {bad:g} {METRICS[k].unit}".rstrip(),
                             got, full - got))
        if not quality:
            rows.append(_row("efficiency", "no quality metric weighted", "", "",
                             100.0 - COMPLETED_FLOOR, 0.0))
    else:
        rows.append(_row("task", "task not achieved: score capped", "",
                         f"0 to {CAP:g} by partial credit", CAP, 100.0 - CAP,
                         "time, path, movements and idle time earn nothing until the task "
                         "is done"))
        have = CAP
        for what, ok, measured, credit, curve in tasks:
            loss = have * (1.0 - credit)
            rows.append(_row("task", what, measured, curve, -loss if loss else 0.0, loss,
                             "achieved" if ok else f"partial credit {100 * credit:.0f} %"))
            have -= loss
    # Safety penalties: after everything else, never offset.
    body = scenario.body
    for name, n in sorted(m["contacts"].items()):
        if n:
            pen = CONTACT_PENALTY * n
            rows.append(_row("safety", f"contact with the {name}", f"{n} contact(s)",
                             f"-{CONTACT_PENALTY:g} a contact", -pen, pen))
    damage_fail = body in m["damaged"] or any(c.type == "no_damage" for c in safety_fail)
    if damage_fail:
        base, by_time, by_vol = DAMAGE_PENALTY
        pen = (base + by_time * (1 - scores["damage_time_s"] / 100)
               + by_vol * (1 - scores["damage_volume_mm3"] / 100))
        g, b = band_of["damage_time_s"]
        gv, bv = band_of["damage_volume_mm3"]
        rows.append(_row("safety", f"damage to the {body}",
                         f"{m['damage_time_s']:.2f} s, {m['damage_volume_mm3']:.0f} mm³ above",
                         f"-{base:g}, up to -{base + by_time + by_vol:g} at {b:g} s / {bv:g} mm³",
                         -pen, pen))
    if any(c.type == "max_force" for c in safety_fail):
        rows.append(_row("safety", "contact force above its limit", f"{m['peak_force_n']:.2f} N",
                         f"-{FORCE_PENALTY:g}", -FORCE_PENALTY, FORCE_PENALTY))
    raw = sum(r["points"] for r in rows)
    score = round(max(0.0, min(100.0, raw)), 2)
    passed = completed and all(c["passed"] for c in checks)
    return {"id": step.id, "title": step.title, "score": score, "completed": completed,
            "metric_scores": scores, "checks": checks, "passed": passed, "explain": rows}


def score_attempt(scenario: Scenario, metrics: dict[str, Any]) -> dict[str, Any]:
    """Scores and pass/fail of every step and of the attempt, from its metrics."""
    steps_out = [score_step(scenario, step, m)
                 for step, m in zip(scenario.steps, metrics["steps"], strict=True)]
    total_w = sum(step.weight for step in scenario.steps)
    total = sum(step.weight * s["score"] for step, s in zip(scenario.steps, steps_out,
                                                           strict=True))
    t = metrics["total"]["time_s"]
    in_time = scenario.time_limit_s is None or t <= scenario.time_limit_s
    costs = []
    for step, s in zip(scenario.steps, steps_out, strict=True):
        share = step.weight / total_w if total_w else 0.0
        for r in s["explain"]:
            if r["lost"] > 0.005:
                costs.append({"step": s["title"], "what": r["what"], "measured": r["measured"],
                              "kind": r["kind"], "points": round(share * r["lost"], 2)})
    costs.sort(key=lambda c: -c["points"])
    return {"formula": FORMULA, "score": round(total / total_w, 2) if total_w else 0.0,
            "steps": steps_out, "within_time_limit": in_time, "costs": costs,
            "passed": in_time and all(s["passed"] for s in steps_out)}


def what_cost_points(scores: dict[str, Any], n: int = 5) -> list[str]:
    """The ``n`` largest losses of a scored attempt in plain words ("-30.0 contact with the
    Aorta (Retract the liver: 1 contact(s))")."""
    out = []
    for c in scores.get("costs", [])[:n]:
        measured = f": {c['measured']}" if c.get("measured") else ""
        out.append(f"-{c['points']:.1f} {c['what']} ({c['step']}{measured})")
    return out


def formula_of(scores: dict[str, Any]) -> int:
    """The scoring formula a stored score was computed with (1: before completion gating)."""
    f = scores.get("formula", 1) if isinstance(scores, dict) else 1
    return f if isinstance(f, int) and not isinstance(f, bool) else 1


FORMULA_LINES = (
    f"Scoring formula {FORMULA}. Each metric scores s(x) = 100 at or below its good value, "
    "0 at or above its bad value, linearly between.",
    f"A completed step (every task criterion met: retraction, device on plan, time limit) "
    f"scores {COMPLETED_FLOOR:g} + {100 - COMPLETED_FLOOR:g} x the weighted mean of its quality "
    "metrics (time, path, movements, idle time, contact force, device entry / angle / tip "
    "error) / 100.",
    f"A step whose task is not achieved is capped: {CAP:g} x the product of its partial "
    "credits (retraction: measured / required; device: 1 within tolerance, 0 at "
    f"{ZERO_CREDIT_FACTOR:g}x it; time: limit / time; not ended with Next: {UNFINISHED:g}). "
    "Efficiency earns nothing there.",
    f"Safety penalties come off afterwards and nothing offsets them: {CONTACT_PENALTY:g} per "
    f"contact with a critical structure, {DAMAGE_PENALTY[0]:g} to "
    f"{sum(DAMAGE_PENALTY):g} for tissue damage (by time and volume above the threshold), "
    f"{FORCE_PENALTY:g} for a force limit exceeded; a step never goes below 0.",
    "The attempt's score is the mean of the step scores weighted by the steps' weights.",
)

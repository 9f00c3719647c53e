"""Scores from metrics: one documented formula, instructor-editable bands and weights.

Every scored metric is "lower is better" and has a band ``[good, bad]``::

    score(x) = 100                               if x <= good
             = 100 * (bad - x) / (bad - good)    if good < x < bad
             = 0                                 if x >= bad

A step's score is the weighted mean of its metric scores (metrics that do not apply to the
step, e.g. accuracy without a device, are left out); the attempt's score is the mean of the
step scores weighted by each step's ``weight``. Bands come from the step (``bands``), else
the scenario (``scoring.bands``), else :data:`METRICS`; weights from ``scoring.weights``
(default 1). A step passes when it was completed, all its criteria hold, no critical
structure was damaged in it and it kept its time limit; the attempt passes when every step
passes and the scenario's time limit was kept. Scores are a pure function of the metrics,
so the same attempt always gets the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.rehearsal.scenario import Scenario

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


METRICS: dict[str, Metric] = {
    "time_s": Metric("Elapsed time", "s", (30.0, 180.0)),
    "path_mm": Metric("Instrument path length", "mm", (150.0, 1500.0)),
    "movements": Metric("Number of movements", "", (5.0, 40.0)),
    "idle_s": Metric("Idle time", "s", (10.0, 90.0)),
    "peak_force_n": Metric("Peak contact force", "N", (3.0, 12.0)),
    "mean_force_n": Metric("Mean contact force", "N", (2.0, 8.0)),
    "damage_time_s": Metric("Time above damage threshold", "s", (0.0, 2.0)),
    "damage_volume_mm3": Metric("Tissue volume above damage threshold", "mm³", (0.0, 2000.0)),
    "critical_contacts": Metric("Contacts with critical structures", "", (0.0, 1.0)),
    "entry_mm": Metric("Entry-point distance", "mm", (0.5, 4.0)),
    "angle_deg": Metric("Trajectory angle", "°", (1.0, 10.0)),
    "tip_mm": Metric("Final device pose error (tip)", "mm", (1.0, 6.0)),
}


def band_score(x: float, good: float, bad: float) -> float:
    if x <= good:
        return 100.0
    if x >= bad:
        return 0.0
    return 100.0 * (bad - x) / (bad - good)


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


def _criterion(c, m: dict[str, Any]) -> tuple[bool, str]:
    """(passed, what was measured) for one success criterion on a step's metrics."""
    p = c.params
    if c.type == "retraction":
        v = m["peak_displacement_mm"]
        return v >= p["min_mm"], f"{v:.1f} mm"
    if c.type == "no_damage":
        v = m["damage_time_s"]
        return v <= p.get("max_s", 0.0), f"{v:.2f} s above"
    if c.type == "no_contact":
        n = m["contacts"].get(p["structure"], 0)
        return n == 0, f"{n} contact(s)"
    if c.type == "on_plan":
        acc = m["accuracy"].get(p["device"])
        if acc is None:
            return False, "not placed"
        ok = all(acc[k] <= p[lim] for k, lim in (("entry_mm", "max_entry_mm"),
                                                  ("angle_deg", "max_angle_deg"),
                                                  ("tip_mm", "max_tip_mm")) if lim in p)
        return ok, (f"entry {acc['entry_mm']:.2f} mm, angle {acc['angle_deg']:.2f}°, "
                    f"tip {acc['tip_mm']:.2f} mm")
    if c.type == "max_force":
        v = m["peak_force_n"]
        return v <= p["max_n"], f"{v:.2f} N"
    v = m["time_s"]
    return v <= p["max_s"], f"{v:.1f} s"


def score_attempt(scenario: Scenario, metrics: dict[str, Any]) -> dict[str, Any]:
    """Scores and pass/fail of every step and of the attempt, from its metrics."""
    steps_out = []
    total_w = total = 0.0
    for step, m in zip(scenario.steps, metrics["steps"], strict=True):
        scores, wsum, acc = {}, 0.0, 0.0
        for key in METRICS:
            value = m.get(key)
            if value is None:
                continue
            good, bad = step.bands.get(key) or scenario.bands.get(key) or METRICS[key].band
            s = round(band_score(float(value), good, bad), 3)
            scores[key] = s
            w = scenario.weights.get(key, 1.0)
            wsum += w
            acc += w * s
        step_score = round(acc / wsum, 2) if wsum else 100.0
        checks = []
        if not m["completed"]:
            checks.append({"criterion": "complete the step", "passed": False,
                           "measured": "not completed"})
        for c in step.criteria:
            ok, measured = _criterion(c, m)
            checks.append({"criterion": c.describe(), "passed": bool(ok), "measured": measured})
        for name in m["damaged"]:
            checks.append({"criterion": f"no damage to the {name}", "passed": False,
                           "measured": "damaged"})
        if step.time_limit_s is not None:
            checks.append({"criterion": f"within the step's {step.time_limit_s:g} s",
                           "passed": m["time_s"] <= step.time_limit_s,
                           "measured": f"{m['time_s']:.1f} s"})
        passed = all(c["passed"] for c in checks)
        steps_out.append({"id": step.id, "title": step.title, "score": step_score,
                          "metric_scores": scores, "checks": checks, "passed": passed})
        total_w += step.weight
        total += step.weight * step_score
    t = metrics["total"]["time_s"]
    in_time = scenario.time_limit_s is None or t <= scenario.time_limit_s
    return {"score": round(total / total_w, 2) if total_w else 0.0, "steps": steps_out,
            "within_time_limit": in_time,
            "passed": in_time and all(s["passed"] for s in steps_out)}

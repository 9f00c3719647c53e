"""Learning curves: a trainee's attempts over time, per-metric trends, proficiency, cohorts.

A trainee's attempts are taken in the order they were made (``created``, then the order kept).
Per attempt the curve holds the overall score and the attempt's totals of the metrics a
trainee improves on (:data:`CURVE_METRICS`); a metric's *trend* is the least-squares slope per
attempt (``None`` with fewer than two values), *improving* when it moves the good way (up for
the score, down for everything else). As in scoring, efficiency (time, path, idle time,
movements) counts only on attempts whose every step was completed: an attempt abandoned in
seconds leaves a gap, not a record time.

Proficiency is the instructor's: a score threshold (``scoring.proficiency.score`` in the
scenario, default :data:`DEFAULT_SCORE`, e.g. set from an expert's attempt) met by a *passed*
attempt, ``consecutive`` attempts in a row (default 2). *Attempts to proficiency* is the number
of the attempt that completes the first such run (``None``: not yet proficient).

The cohort table has a row per trainee (attempts, first / best / last score, score trend,
proficient now, attempts to proficiency, last attempt) and is written as CSV for the
instructor's spreadsheet.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.rehearsal.attempt import Attempt
    from sim.rehearsal.scenario import Scenario

DEFAULT_SCORE = 80.0
DEFAULT_CONSECUTIVE = 2
# key: (label, unit, higher is better)
CURVE_METRICS: dict[str, tuple[str, str, bool]] = {
    "score": ("Score", "/100", True),
    "time_s": ("Time", "s", False),
    "path_mm": ("Path length", "mm", False),
    "idle_s": ("Idle time", "s", False),
    "movements": ("Movements", "", False),
    "critical_contacts": ("Critical contacts", "", False),
    "damage_time_s": ("Damage time", "s", False),
    "entry_mm": ("Device entry error (worst)", "mm", False),
    "angle_deg": ("Device angle error (worst)", "°", False),
}
COHORT_COLUMNS = ("trainee", "attempts", "first_score", "best_score", "last_score",
                  "score_trend_per_attempt", "proficient", "attempts_to_proficiency",
                  "threshold", "last_attempt")


@dataclass(frozen=True)
class Proficiency:
    score: float = DEFAULT_SCORE
    consecutive: int = DEFAULT_CONSECUTIVE

    @classmethod
    def of(cls, scenario: Scenario | None) -> Proficiency:
        p = getattr(scenario, "proficiency", None) or {}
        return cls(float(p.get("score", DEFAULT_SCORE)),
                   int(p.get("consecutive", DEFAULT_CONSECUTIVE)))

    def describe(self) -> str:
        runs = "" if self.consecutive == 1 else f", {self.consecutive} attempts in a row"
        return f"passed with at least {self.score:g} / 100{runs}"

    def met_by(self, attempt: Attempt) -> bool:
        s = attempt.scores or {}
        return bool(s.get("passed")) and float(s.get("score", 0.0)) >= self.score


def attempt_value(attempt: Attempt, key: str) -> float | None:
    """One curve value of an attempt: its score, a metric total, or a device error (the
    worst over the steps that placed one)."""
    if key == "score":
        v = (attempt.scores or {}).get("score")
        return float(v) if isinstance(v, int | float) else None
    metrics = attempt.metrics or {}
    if key in EFFICIENCY and not completed(attempt):
        return None  # doing nothing quickly is not getting faster
    if key in ("entry_mm", "angle_deg", "tip_mm"):
        vals = [s.get(key) for s in metrics.get("steps", []) if s.get(key) is not None]
        return float(max(vals)) if vals else None
    v = metrics.get("total", {}).get(key)
    return float(v) if isinstance(v, int | float) else None


EFFICIENCY = ("time_s", "path_mm", "idle_s", "movements")


def completed(attempt: Attempt) -> bool:
    """Whether every step's task was achieved (formula-1 scores: every step passed)."""
    steps = (attempt.scores or {}).get("steps") or []
    return bool(steps) and all(s.get("completed", s.get("passed")) for s in steps)


def trend(values: Sequence[float | None]) -> float | None:
    """Least-squares slope per attempt over the values present (None with fewer than 2)."""
    pts = [(i + 1.0, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx


def trainees(attempts: Sequence[Attempt]) -> list[str]:
    """The trainees in the order of their first attempt ("" shows as "(unnamed)")."""
    out: list[str] = []
    for a in attempts:
        if a.trainee not in out:
            out.append(a.trainee)
    return out


def attempts_of(attempts: Sequence[Attempt], trainee: str) -> list[Attempt]:
    """One trainee's attempts in the order they were made (by ``created``, stable)."""
    mine = [(i, a) for i, a in enumerate(attempts) if a.trainee == trainee]
    mine.sort(key=lambda p: (p[1].created or "", p[0]))
    return [a for _, a in mine]


def attempts_to_proficiency(attempts: Sequence[Attempt], prof: Proficiency) -> int | None:
    """The number (1-based) of the attempt completing the first run of ``prof.consecutive``
    proficient attempts; None if there is none yet."""
    run = 0
    for n, a in enumerate(attempts, start=1):
        run = run + 1 if prof.met_by(a) else 0
        if run >= prof.consecutive:
            return n
    return None


@dataclass
class LearningCurve:
    trainee: str
    proficiency: Proficiency
    attempts: list[Attempt]
    series: dict[str, list[float | None]] = field(default_factory=dict)
    trends: dict[str, float | None] = field(default_factory=dict)
    proficient: list[bool] = field(default_factory=list)  # per attempt: met the threshold
    to_proficiency: int | None = None

    def improving(self, key: str) -> bool | None:
        t = self.trends.get(key)
        if t is None or abs(t) < 1e-9:
            return None
        return (t > 0) == CURVE_METRICS[key][2]

    def trend_rows(self) -> list[list[str]]:
        """Per metric: first, last, trend per attempt and whether it improves (for tables)."""
        rows = []
        for key, (label, unit, _hi) in CURVE_METRICS.items():
            vals = self.series.get(key, [])
            have = [v for v in vals if v is not None]
            if not have:
                continue
            t = self.trends.get(key)
            imp = self.improving(key)
            rows.append([label + (f" ({unit})" if unit and unit != "/100" else ""),
                         f"{have[0]:.1f}", f"{have[-1]:.1f}",
                         "–" if t is None else f"{t:+.2f}",
                         "–" if imp is None else ("improving" if imp else "worse")])
        return rows

    def summary(self) -> str:
        n = len(self.attempts)
        who = self.trainee or "(unnamed)"
        if self.to_proficiency is not None:
            prof = f"proficient at attempt {self.to_proficiency}"
        else:
            prof = "not yet proficient"
        return (f"{who}: {n} attempt{'s' if n != 1 else ''}, {prof} "
                f"(threshold: {self.proficiency.describe()})")


def learning_curve(attempts: Sequence[Attempt], trainee: str,
                   prof: Proficiency | None = None) -> LearningCurve:
    """The learning curve of ``trainee`` among ``attempts``."""
    prof = prof or Proficiency()
    mine = attempts_of(attempts, trainee)
    series = {k: [attempt_value(a, k) for a in mine] for k in CURVE_METRICS}
    return LearningCurve(trainee, prof, mine, series,
                         {k: trend(v) for k, v in series.items()},
                         [prof.met_by(a) for a in mine], attempts_to_proficiency(mine, prof))


def cohort(attempts: Sequence[Attempt], prof: Proficiency | None = None) -> list[dict[str, Any]]:
    """A row per trainee (see :data:`COHORT_COLUMNS`)."""
    prof = prof or Proficiency()
    rows = []
    for name in trainees(attempts):
        c = learning_curve(attempts, name, prof)
        scores = [v for v in c.series["score"] if v is not None]
        t = c.trends["score"]
        tail = c.proficient[-prof.consecutive:]
        rows.append({"trainee": name, "attempts": len(c.attempts),
                     "first_score": scores[0] if scores else None,
                     "best_score": max(scores) if scores else None,
                     "last_score": scores[-1] if scores else None,
                     "score_trend_per_attempt": None if t is None else round(t, 2),
                     "proficient": len(tail) == prof.consecutive and all(tail),
                     "attempts_to_proficiency": c.to_proficiency,
                     "threshold": prof.score,
                     "last_attempt": c.attempts[-1].created if c.attempts else ""})
    return rows


def cohort_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COHORT_COLUMNS)
    for r in rows:
        w.writerow(["" if r.get(k) is None else
                    ("yes" if r[k] is True else "no" if r[k] is False else r[k])
                    for k in COHORT_COLUMNS])
    return out.getvalue()


def write_cohort_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """The cohort table as CSV, written atomically."""
    from sim.errors import InputError
    from sim.model.atomic import write_text_atomic

    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"Folder '{path.parent}' does not exist.")
    return write_text_atomic(path, cohort_csv(rows))


def learning_figure(curve: LearningCurve, figure: Figure | None = None) -> Figure:
    """The score over attempts with the proficiency threshold and the attempt that reached
    proficiency, and small plots of the metric trends (dashed: least-squares trend)."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = figure if figure is not None else Figure(figsize=(7.5, 4.6))
    fig.clear()
    keys = [k for k in CURVE_METRICS if k != "score"
            and any(v is not None for v in curve.series.get(k, []))][:6]
    grid = fig.add_gridspec(2, max(len(keys), 1), height_ratios=(1.6, 1.0))
    ax = fig.add_subplot(grid[0, :])
    x = np.arange(1, len(curve.attempts) + 1)
    ys = [np.nan if v is None else v for v in curve.series.get("score", [])]
    ax.plot(x, ys, "o-", lw=2, color="#1f77b4", label="score")
    for xi, y, ok in zip(x, ys, curve.proficient, strict=False):
        if ok:
            ax.plot([xi], [y], "o", ms=10, mfc="none", mec="#2ca02c", mew=2)
    ax.axhline(curve.proficiency.score, color="#2ca02c", ls="--", lw=1.2,
               label=f"proficiency {curve.proficiency.score:g}")
    if curve.to_proficiency is not None:
        ax.axvline(curve.to_proficiency, color="#2ca02c", lw=0.8)
    ax.set_ylim(0, 105)
    ax.set_xticks(x)
    ax.set_ylabel("Score")
    ax.set_title(curve.summary(), fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    for i, key in enumerate(keys):
        a = fig.add_subplot(grid[1, i])
        vals = [np.nan if v is None else v for v in curve.series[key]]
        a.plot(x, vals, ".-", color="#555555")
        t = curve.trends.get(key)
        if t is not None:
            good = [(xi, v) for xi, v in zip(x, vals, strict=True) if np.isfinite(v)]
            mx = np.mean([p[0] for p in good])
            my = np.mean([p[1] for p in good])
            imp = curve.improving(key)
            a.plot(x, my + t * (x - mx), "--", lw=1,
                   color="#2ca02c" if imp else "#d62728" if imp is False else "grey")
        label, unit, _ = CURVE_METRICS[key]
        a.set_title(f"{label}" + (f" ({unit})" if unit else ""), fontsize=7)
        a.tick_params(labelsize=6)
        a.set_xticks(x)
    fig.tight_layout()
    return fig

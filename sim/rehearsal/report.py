"""Attempt report: self-contained HTML (embedded PNGs) or PDF (matplotlib's PDF backend).

Contents: the verdict and scores, what cost the points, how the score was computed (the
formula, and per step every criterion and metric with its measured value, band and points
gained or lost), screenshots at key moments (the end of every step, rendered offscreen while
the attempt is replayed), the criteria per step, the metric table, the force / displacement
timeline, the OSATS rating and, given the trainee's earlier attempts, the learning curve
(per-metric trends, the proficiency threshold, attempts to proficiency). The report scores with
the current formula; an attempt recorded with an older one says so. Figures use matplotlib's
object API (no pyplot): no GUI backend, same output headless.
"""

from __future__ import annotations

import copy
import datetime as _dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from sim.progress import Progress, no_progress
from sim.rehearsal.attempt import Attempt, Replay, replay
from sim.rehearsal.learning import LearningCurve, Proficiency, learning_curve, learning_figure
from sim.rehearsal.scoring import FORMULA, FORMULA_LINES, METRICS, OSATS_DOMAINS, formula_of
from sim.rehearsal.session import RehearsalSession, RehearsalWorld
from sim.render.report_io import (
    image_figure,
    png_base64,
    report_path,
    table_figure,
    value_text,
    write_report_file,
)


@dataclass
class Timeline:
    """Per-step samples of a replay, for the timeline plot and the review slider."""

    time: list[float] = field(default_factory=list)
    force: list[float] = field(default_factory=list)
    displacement: list[float] = field(default_factory=list)


class KeyFrames:
    """Offscreen pictures of the scene at chosen simulation steps during a replay."""

    def __init__(self, world: RehearsalWorld, at_steps: set[int], size=(640, 480)) -> None:
        self.world, self.at, self.size = world, set(at_steps), size
        self.images: list[tuple[str, np.ndarray]] = []
        self.timeline = Timeline()
        self._renderer = None

    def __call__(self, session: RehearsalSession) -> None:
        t = self.timeline
        t.time.append(session.time)
        t.force.append(float(sum(np.linalg.norm(session.sim.contact_force(n))
                                 for n in session.instruments)))
        t.displacement.append(float(np.linalg.norm(session.sim.displacement, axis=1).max()))
        if session.step_index in self.at:
            self.images.append((f"t = {session.time:.1f} s ({session.current_step.title})",
                                self._render(session)))

    def _render(self, session: RehearsalSession) -> np.ndarray:
        from sim.interaction.body_setup import world_surface
        from sim.interaction.export import FrameRenderer

        if self._renderer is None:
            r = FrameRenderer(session, self.size)
            for name in session.world.structure_points:
                r.plotter.add_mesh(world_surface(session.world.case.scene[name]),
                                   color=(0.85, 0.2, 0.2), opacity=0.5)
            self._devices = {}
            for name, local in self.world.device_meshes.items():
                m = local.copy()
                self._devices[name] = (local, m)
                r.plotter.add_mesh(m, color=(0.75, 0.77, 0.8))
            self._renderer = r
        for name, (local, m) in self._devices.items():
            pose = session.device_poses[name]
            m.points = np.asarray(local.points) @ pose[:3, :3].T + pose[:3, 3]
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()


def _fmt(v: Any, unit: str = "") -> str:
    return value_text(v, unit, ".2f")


def metric_rows(attempt: Attempt) -> tuple[list[str], list[list[str]]]:
    steps = attempt.metrics["steps"]
    scored = {s["id"]: s["metric_scores"] for s in attempt.scores["steps"]}
    head = ["Metric"] + [s["id"] for s in steps]
    rows = []
    for key, m in METRICS.items():
        cells = []
        for s in steps:
            sc = scored.get(s["id"], {}).get(key)
            cells.append(_fmt(s.get(key), m.unit) + ("" if sc is None else f" ({sc:.0f})"))
        rows.append([m.label] + cells)
    for key, label in (("peak_displacement_mm", "Peak tissue displacement (mm)"),
                       ("peak_von_mises_kpa", "Peak von Mises stress (kPa)")):
        rows.append([label] + [_fmt(s.get(key)) for s in steps])
    return head, rows


def _scores_figure(attempt: Attempt) -> Figure:
    fig = Figure(figsize=(7.5, 2.8))
    ax = fig.add_subplot()
    steps = attempt.scores["steps"]
    colours = ["#2ca02c" if s["passed"] else "#d62728" for s in steps]
    ax.barh([s["title"] for s in steps][::-1], [s["score"] for s in steps][::-1],
            color=colours[::-1])
    ax.set_xlim(0, 100)
    ax.set_xlabel("Score (green: passed, red: failed)")
    ax.set_title(f"Overall {attempt.scores['score']:.1f} / 100")
    fig.tight_layout()
    return fig


def _timeline_figure(tl: Timeline, attempt: Attempt) -> Figure:
    fig = Figure(figsize=(7.5, 3.0))
    ax = fig.add_subplot()
    ax.plot(tl.time, tl.force, color="#1f77b4", label="contact force (N)")
    ax.set_xlabel("Simulated time (s)")
    ax.set_ylabel("Force (N)", color="#1f77b4")
    ax2 = ax.twinx()
    ax2.plot(tl.time, tl.displacement, color="#ff7f0e", label="max tissue displacement (mm)")
    ax2.set_ylabel("Displacement (mm)", color="#ff7f0e")
    for s in attempt.metrics["steps"][1:]:
        ax.axvline(s["start_s"], color="grey", ls="--", lw=0.8)
    for ev in attempt.metrics.get("events", []):
        ax.axvline(ev["time"], color="#d62728", lw=1.2)
    ax.set_title("Timeline (dashed: next step, red: damage or critical contact)", fontsize=9)
    fig.tight_layout()
    return fig


def progress_figure(attempts: list[Attempt]) -> Figure:
    """Scores over attempts (overall and per step): a trainee's progress."""
    fig = Figure(figsize=(7.5, 3.0))
    ax = fig.add_subplot()
    x = np.arange(1, len(attempts) + 1)
    ax.plot(x, [a.scores.get("score", 0.0) for a in attempts], "o-", lw=2, label="overall")
    ids = [s["id"] for s in attempts[-1].scores.get("steps", [])]
    for sid in ids:
        ys = [next((s["score"] for s in a.scores.get("steps", []) if s["id"] == sid), np.nan)
              for a in attempts]
        ax.plot(x, ys, ".--", lw=1, label=sid)
    ax.set_xticks(x)
    ax.set_ylim(0, 105)
    ax.set_xlabel("Attempt")
    ax.set_ylabel("Score")
    ax.legend(fontsize=7)
    ax.set_title("Progress over attempts")
    fig.tight_layout()
    return fig


def build_figures(world: RehearsalWorld, attempt: Attempt, history: Sequence[Attempt] = (),
                  progress: Progress = no_progress, proficiency: Proficiency | None = None,
                  on_replay: Callable[[Replay], None] | None = None,
                  ) -> tuple[Attempt, list[tuple[str, Figure]]]:
    """Replay the attempt with key-frame pictures. Returns a copy of the attempt carrying the
    recomputed metrics and scores (the current formula; ``scores.rescored_from`` says what an
    older formula had given) - the caller's attempt is left as it was. ``on_replay`` gets the
    replay (so a caller that also needs its metrics does not replay the attempt twice)."""
    at = {k["step"] for k in attempt.keyframes if k.get("label") != "start"} or {attempt.steps}
    frames = KeyFrames(world, at)
    try:
        rp = replay(world, attempt, progress, on_step=frames)
    finally:
        frames.close()
    if on_replay is not None:
        on_replay(rp)
    recorded = attempt.scores or {}
    attempt = copy.deepcopy(attempt)
    attempt.metrics, attempt.scores = rp.metrics, copy.deepcopy(rp.scores)
    if formula_of(recorded) != FORMULA:
        attempt.scores["rescored_from"] = {"formula": formula_of(recorded),
                                           "score": recorded.get("score"),
                                           "passed": recorded.get("passed")}
    figs = [("Scores", _scores_figure(attempt))]
    if frames.images:
        figs.append(("Key moments", image_figure([img for _, img in frames.images[:3]])))
    figs.append(("Timeline", _timeline_figure(frames.timeline, attempt)))
    if history:
        curve = learning_curve(list(history) + [attempt], attempt.trainee,
                               proficiency or Proficiency.of(world.scenario))
        figs.append(("Learning curve", learning_figure(curve)))
    figs.append(("Metrics", table_figure("Metrics (score)", *metric_rows(attempt))))
    return attempt, figs


def write_report(world: RehearsalWorld, attempt: Attempt, path: str | Path,
                 history: Sequence[Attempt] = (), progress: Progress = no_progress,
                 proficiency: Proficiency | None = None,
                 on_replay: Callable[[Replay], None] | None = None) -> Path:
    """Write the report as .html or .pdf (by suffix), atomically. ``history``: the trainee's
    earlier attempts (their learning curve); ``proficiency``: the threshold (default: the
    scenario's); ``on_replay``: as for :func:`build_figures`."""
    return write_reports(world, attempt, [path], history, progress, proficiency, on_replay)[0]


def write_reports(world: RehearsalWorld, attempt: Attempt, paths: Sequence[str | Path],
                  history: Sequence[Attempt] = (), progress: Progress = no_progress,
                  proficiency: Proficiency | None = None,
                  on_replay: Callable[[Replay], None] | None = None) -> list[Path]:
    """:func:`write_report` to several files (say an HTML and a PDF) from one replay."""
    paths = [report_path(p) for p in paths]
    prof = proficiency or Proficiency.of(world.scenario)
    attempt, figs = build_figures(world, attempt, history, progress, prof, on_replay)
    curve = (learning_curve(list(history) + [attempt], attempt.trainee, prof)
             if history else None)
    title = f"Rehearsal report: {attempt.scenario}"
    for path in paths:
        if path.suffix.lower() == ".pdf":
            write_report_file(path, lambda tmp: _write_pdf(title, world, attempt, figs, tmp, curve))
        else:
            write_report_file(path, lambda tmp: tmp.write_text(
                _html(title, world, attempt, figs, curve), encoding="utf-8"))
        progress(1.0, f"Wrote {path.name}")
    return paths


def rescore_note(attempt: Attempt) -> str:
    """What re-scoring did to an attempt recorded with an older formula ("" if nothing)."""
    old = (attempt.scores or {}).get("rescored_from")
    if not old:
        return ""
    was = (f"{old['score']:.1f} / 100, {'passed' if old.get('passed') else 'failed'}"
           if isinstance(old.get("score"), int | float) else "no score")
    return (f"Re-scored with scoring formula {FORMULA}: recorded with formula "
            f"{old.get('formula', 1)} ({was}).")


def explain_rows(attempt: Attempt) -> list[list[str]]:
    """Per step: each criterion and metric, measured value, band, points gained or lost."""
    rows = []
    for s in attempt.scores.get("steps", []):
        for r in s.get("explain", []):
            rows.append([s["title"], r["what"], r["measured"], r["band"],
                         f"{r['points']:+.1f}", f"{-r['lost']:.1f}" if r["lost"] else "0",
                         r.get("note", "")])
        if s.get("explain"):
            rows.append([s["title"], "Step score", "", "", f"{s['score']:.1f}", "", ""])
    return rows


EXPLAIN_HEAD = ["Step", "Criterion / metric", "Measured", "Band", "Points", "Lost", "Note"]


def cost_lines(attempt: Attempt, n: int = 6) -> list[str]:
    from sim.rehearsal.scoring import what_cost_points

    return what_cost_points(attempt.scores, n)


def _verdict(attempt: Attempt) -> str:
    s = attempt.scores
    who = attempt.trainee or "trainee"
    return (f"{who} — {'PASSED' if s['passed'] else 'FAILED'} with {s['score']:.1f} / 100 "
            f"({attempt.metrics['total']['time_s']:.1f} s)")


def _check_rows(attempt: Attempt) -> list[list[str]]:
    return [[s["title"], c["criterion"], c["measured"], "pass" if c["passed"] else "FAIL"]
            for s in attempt.scores["steps"] for c in s["checks"]]


def _osats_rows(attempt: Attempt) -> list[list[str]]:
    return [[d, str(attempt.osats.get(d, "–"))] for d in OSATS_DOMAINS] + [
        ["Total (7-35)", str(sum(attempt.osats.values())) if len(attempt.osats) == 7 else "–"]]


def _write_pdf(title, world, attempt: Attempt, figs, path: Path,
               curve: LearningCurve | None = None) -> None:
    """A4 pages filled in order: verdict, charts, what cost the points, then the tables as
    real text in cells that wrap (never cut) and continue across pages with their header."""
    from sim.render.report_table import Page

    with PdfPages(path, metadata={"Title": title, "Creator": "Twinsight"}) as pdf:
        page = Page(pdf.savefig)
        page.text(title, size=16, weight="bold")
        page.text(_verdict(attempt) + f" — {_dt.datetime.now():%Y-%m-%d %H:%M}", size=10,
                  gap=0.15)
        for name, fig in figs:
            if name == "Metrics":
                continue  # drawn as a table below
            canvas = FigureCanvasAgg(fig)
            fig.set_dpi(150)
            canvas.draw()
            img = np.asarray(canvas.buffer_rgba())
            page.images([img], height=page.width * img.shape[0] / img.shape[1])
        if rescore_note(attempt):
            page.text(rescore_note(attempt))
        page.text("What cost the points", size=11, weight="bold")
        for line in cost_lines(attempt) or ["Nothing: full marks."]:
            page.text("• " + line, gap=0.02)
        page.y += 0.1
        head, rows = metric_rows(attempt)
        page.text("Metrics (score in brackets)", size=11, weight="bold")
        first = 0.34
        page.table([head] + rows, [first] + [(1 - first) / (len(head) - 1)] * (len(head) - 1))
        page.text("How each step scored", size=11, weight="bold")
        page.table([EXPLAIN_HEAD[:6]] + [r[:6] for r in explain_rows(attempt)],
                   [0.17, 0.3, 0.17, 0.16, 0.1, 0.1])
        if curve is not None:
            page.text("Trends over attempts", size=11, weight="bold")
            page.table([["Metric", "First", "Last", "Per attempt", ""]] + curve.trend_rows(),
                       [0.32, 0.14, 0.14, 0.2, 0.2])
            page.text("Learning curve: " + curve.summary())
        page.text("Criteria", size=11, weight="bold")
        page.table([["Step", "Criterion", "Measured", "Result"]] + _check_rows(attempt),
                   [0.22, 0.38, 0.28, 0.12])
        page.text("OSATS global rating", size=11, weight="bold")
        page.table([["Domain", "Rating"]] + _osats_rows(attempt), [0.7, 0.3])
        page.text("How the score is computed", size=11, weight="bold")
        for line in FORMULA_LINES:
            page.text(line, gap=0.03)
        page.finish()


def _html(title, world, attempt: Attempt, figs, curve: LearningCurve | None = None) -> str:
    e = html.escape

    def table(head: list[str], rows: list[list[str]]) -> str:
        h = "".join(f"<th>{e(x)}</th>" for x in head)
        body = "".join("<tr>" + "".join(
            f"<td class='{'bad' if x == 'FAIL' else ''}'>{e(x)}</td>" for x in r) + "</tr>"
            for r in rows)
        return f"<table><tr>{h}</tr>{body}</table>"

    parts = [f"<h1>{e(title)}</h1><p class='verdict'>{e(_verdict(attempt))}</p>",
             f"<p>{_dt.datetime.now():%Y-%m-%d %H:%M}; attempt recorded {e(attempt.created)}</p>"]
    if rescore_note(attempt):
        parts.append(f"<p class='note'>{e(rescore_note(attempt))}</p>")
    costs = cost_lines(attempt)
    parts.append("<h2>What cost the points</h2>" + (
        "<ul>" + "".join(f"<li>{e(c)}</li>" for c in costs) + "</ul>" if costs
        else "<p>Nothing: full marks.</p>"))
    for name, fig in figs:
        if name == "Metrics":
            parts.append("<h2>How each step scored</h2>" + table(EXPLAIN_HEAD,
                                                                   explain_rows(attempt)))
            parts.append("<h2>How the score is computed</h2><ul>" + "".join(
                f"<li>{e(x)}</li>" for x in FORMULA_LINES) + "</ul>")
            parts.append("<h2>Metrics (score in brackets)</h2>" + table(*metric_rows(attempt)))
        else:
            parts.append(f"<h2>{e(name)}</h2><img alt='{e(name)}' "
                         f"src='data:image/png;base64,{png_base64(fig)}'>")
            if name == "Learning curve" and curve is not None:
                parts.append(f"<p>{e(curve.summary())}</p>" + table(
                    ["Metric", "First", "Last", "Trend per attempt", ""], curve.trend_rows()))
    parts.append("<h2>Criteria</h2>" + table(["Step", "Criterion", "Measured", "Result"],
                                             _check_rows(attempt)))
    events = attempt.metrics.get("events", [])
    if events:
        parts.append("<h2>Damage and critical contacts</h2>" + table(
            ["Time (s)", "Step", "What", "Structure", "By"],
            [[f"{ev['time']:.2f}", ev["step"], ev["kind"], ev["structure"], ev["by"]]
             for ev in events]))
    parts.append("<h2>OSATS global rating</h2>" + table(["Domain", "Rating"],
                                                         _osats_rows(attempt)))
    if attempt.notes:
        parts.append(f"<h2>Notes</h2><p>{e(attempt.notes)}</p>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "img{max-width:100%}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}"
             ".bad{color:#c00;font-weight:bold}.verdict{font-size:120%;font-weight:bold}"
             ".note{background:#fff4ce;padding:4px 8px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")

"""Inspection report as PDF (matplotlib's PDF backend) or self-contained HTML.

Contents: the deviation map in two views with its colour legend and callout
labels, the statistics, the histogram with the tolerance band, 2D sections with
deviation whiskers, the picked callouts and the out-of-tolerance regions.
Figures are drawn with matplotlib's object API (no pyplot), so no GUI backend is
ever selected and the report renders the same headless or inside the viewer.
"""

from __future__ import annotations

import datetime as _dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvista as pv
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from sim.inspection.callouts import Callout, Region
from sim.inspection.charts import draw_histogram, draw_section
from sim.inspection.deviation import DeviationResult
from sim.inspection.sections import Section
from sim.inspection.views import render_deviation_views
from sim.progress import Progress, no_progress
from sim.render.report_io import (
    figure_pixels,
    image_figure,
    png_base64,
    report_path,
    table_figure,
    write_report_file,
)


@dataclass
class InspectionReport:
    measured_name: str
    nominal_name: str
    result: DeviationResult
    nominal: pv.DataSet
    callouts: list[Callout] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    alignment: dict[str, Any] | None = None
    title: str = "Inspection report"

    def summary(self) -> dict[str, Any]:
        return {"measured": self.measured_name, "nominal": self.nominal_name,
                **self.result.summary(), "alignment": self.alignment,
                "callouts": [c.as_dict() for c in self.callouts],
                "regions": [r.as_dict() for r in self.regions],
                "sections": [s.summary() for s in self.sections]}


def _stats_rows(rep: InspectionReport) -> list[tuple[str, str]]:
    s = rep.result.stats
    t = rep.result.tolerance
    rows = [("Measured", rep.measured_name), ("Nominal", rep.nominal_name),
            ("Tolerance", f"{t.lower:+.3f} / {t.upper:+.3f} mm"),
            ("Points (matched / unmatched)", f"{s.count:,} / {s.unmatched:,}"),
            ("Mean", f"{s.mean:+.4f} mm"), ("Standard deviation", f"{s.std:.4f} mm"),
            ("RMS", f"{s.rms:.4f} mm"), ("Min / max", f"{s.min:+.4f} / {s.max:+.4f} mm"),
            ("Within tolerance", f"{s.within_pct:.2f} %"),
            ("Above / below", f"{s.above_pct:.2f} % / {s.below_pct:.2f} %")]
    if rep.alignment:
        a = rep.alignment
        rows.append(("Alignment", f"{a.get('method', '')}: fitness {a.get('fitness', 0):.3f}, "
                                  f"inlier RMS {a.get('inlier_rms_mm', float('nan')):.4f} mm"))
    return rows


def _histogram_figure(rep: InspectionReport) -> Figure:
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    draw_histogram(ax, rep.result)
    ax.set_title("Deviation histogram (dashed: tolerance limits)")
    fig.tight_layout()
    return fig


def _section_figure(sec: Section, tol_width: float) -> Figure:
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    scale = draw_section(ax, sec, tol_width)
    ax.set_title(section_title(sec, scale), fontsize=9)
    fig.tight_layout()
    return fig


def section_title(sec: Section, scale: float) -> str:
    o, n = sec.origin, sec.normal
    return (f"Section {sec.label} through ({o[0]:.1f}, {o[1]:.1f}, {o[2]:.1f}) mm, normal "
            f"({n[0]:.2f}, {n[1]:.2f}, {n[2]:.2f}); whiskers x{scale:.0f}")


def _callout_rows(rep: InspectionReport) -> list[list[str]]:
    return [[c.label, " ".join(f"{x:.2f}" for x in c.position), f"{c.deviation:+.4f}",
             f"{c.mean_deviation:+.4f}", c.status] for c in rep.callouts]


def _region_rows(rep: InspectionReport) -> list[list[str]]:
    return [[r.label, r.status, f"{r.count:,}", " ".join(f"{x:.2f}" for x in r.centroid),
             f"{r.worst_deviation:+.4f}"] for r in rep.regions]


_CALLOUT_HEAD = ["Callout", "Position (mm)", "Deviation (mm)", "Mean near (mm)", "Status"]
_REGION_HEAD = ["Region", "Status", "Points", "Centroid (mm)", "Worst (mm)"]


def _figures(rep: InspectionReport, progress: Progress) -> list[tuple[str, Figure]]:
    progress(0.1, "Rendering the deviation map")
    labelled = list(rep.callouts) + [
        Callout(r.label, r.worst_position, r.worst_deviation, r.worst_deviation, r.count, r.status)
        for r in rep.regions[:5]]
    images = render_deviation_views(rep.result, rep.nominal, labelled)
    progress(0.6, "Drawing charts")
    tol_width = max(-rep.result.tolerance.lower, rep.result.tolerance.upper)
    figs = [("Deviation map", image_figure(images)),
            ("Statistics", table_figure("Statistics", [], [list(r) for r in _stats_rows(rep)])),
            ("Histogram", _histogram_figure(rep))]
    figs += [(f"Section {s.label}", _section_figure(s, tol_width)) for s in rep.sections]
    if rep.callouts:
        figs.append(("Callouts", table_figure("Callouts", _CALLOUT_HEAD, _callout_rows(rep))))
    if rep.regions:
        figs.append(("Out-of-tolerance regions",
                     table_figure("Out-of-tolerance regions", _REGION_HEAD, _region_rows(rep))))
    return figs


def write_report(rep: InspectionReport, path: str | Path,
                 progress: Progress = no_progress) -> Path:
    """Write the report as .pdf or .html (chosen by the suffix); atomic."""
    path = report_path(path)
    figs = _figures(rep, progress)
    progress(0.8, f"Writing {path.name}")
    if path.suffix.lower() == ".pdf":
        write_report_file(path, lambda tmp: _write_pdf(rep, figs, tmp))
    else:
        write_report_file(path, lambda tmp: tmp.write_text(_html(rep, figs), encoding="utf-8"))
    progress(1.0, f"Wrote {path.name}")
    return path


def _write_pdf(rep: InspectionReport, figs: list[tuple[str, Figure]], path: Path) -> None:
    """A4 pages filled in order (map, statistics, histogram, sections, tables); tables are
    real text in cells that wrap (never cut) and continue on the next page with their
    header; charts keep their aspect at the text width."""
    from sim.render.report_table import Page

    with PdfPages(path, metadata={"Title": rep.title, "Creator": "Twinsight"}) as pdf:
        page = Page(pdf.savefig)
        page.text(rep.title, size=16, weight="bold")
        page.text(f"{rep.measured_name} against {rep.nominal_name} — "
                  f"{_dt.datetime.now():%Y-%m-%d %H:%M}", gap=0.15)
        _chart(page, figs[0][1])
        page.text("Statistics", size=11, weight="bold")
        page.table([["Quantity", "Value"]] + [list(r) for r in _stats_rows(rep)], [0.4, 0.6])
        for title, fig in figs[2:]:
            if title in ("Callouts", "Out-of-tolerance regions"):
                continue
            _chart(page, fig)
        widths = [0.12, 0.3, 0.18, 0.2, 0.2]
        if rep.callouts:
            page.text("Callouts", size=11, weight="bold")
            page.table([_CALLOUT_HEAD] + _callout_rows(rep), widths)
        if rep.regions:
            page.text("Out-of-tolerance regions", size=11, weight="bold")
            page.table([_REGION_HEAD] + _region_rows(rep), [0.12, 0.14, 0.14, 0.36, 0.24])
        page.finish()


def _chart(page, fig: Figure) -> None:
    img = figure_pixels(fig)
    h, w = img.shape[:2]
    page.images([img], height=page.width * h / w)


def _paste(page: Figure, fig: Figure, rect: tuple[float, float, float, float]) -> None:
    ax = page.add_axes(rect)
    ax.imshow(figure_pixels(fig))
    ax.axis("off")


def _html(rep: InspectionReport, figs: list[tuple[str, Figure]]) -> str:
    e = html.escape
    stats = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _stats_rows(rep))

    def table(head: list[str], rows: list[list[str]]) -> str:
        h = "".join(f"<th>{e(x)}</th>" for x in head)
        body = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in rows)
        return f"<table><tr>{h}</tr>{body}</table>"

    parts = [f"<h1>{e(rep.title)}</h1><p>{e(rep.measured_name)} against {e(rep.nominal_name)}"
             f" — {_dt.datetime.now():%Y-%m-%d %H:%M}</p>",
             f'<img alt="deviation map" src="data:image/png;base64,{png_base64(figs[0][1])}">',
             f"<h2>Statistics</h2><table>{stats}</table>",
             f'<h2>Histogram</h2><img alt="histogram" src="data:image/png;base64,{png_base64(figs[2][1])}">']
    for title, fig in figs[3:]:
        if title.startswith("Section"):
            parts.append(f'<h2>{e(title)}</h2><img alt="{e(title)}" '
                         f'src="data:image/png;base64,{png_base64(fig)}">')
    if rep.callouts:
        parts.append("<h2>Callouts</h2>" + table(_CALLOUT_HEAD, _callout_rows(rep)))
    if rep.regions:
        parts.append("<h2>Out-of-tolerance regions</h2>" + table(_REGION_HEAD, _region_rows(rep)))
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "img{max-width:100%}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(rep.title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")

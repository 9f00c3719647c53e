"""Sweep report: histograms per quantity (failure thresholds marked), tornado charts of the
sensitivities, scatter plots of each parameter against each quantity, and the tables of the
analysis, as HTML or PDF. Figures use matplotlib's object API (no pyplot, no GUI backend),
so the GUI's dialog draws the same figures."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.render.document import Document
from sim.sweep.spec import SweepSpec


def draw_histogram(ax: Any, df: Any, analysis: dict[str, Any], qoi: str) -> None:
    """Histogram of ``qoi`` on ``ax``: failure thresholds dashed, 5/50/95th percentiles."""
    col = f"q.{qoi}"
    y = df[col].to_numpy(dtype=float) if col in df else np.zeros(0)
    y = y[np.isfinite(y)]
    if len(y):
        ax.hist(y, bins=min(40, max(5, int(np.sqrt(len(y))))), color="#4a7fb5", edgecolor="white")
    for f in analysis.get("failure", []):
        if f["qoi"] == qoi:
            ax.axvline(f["threshold"], color="#c0392b", linestyle="--",
                       label=f"{f['event']}: P = {f['probability'] or 0:.3g}")
            ax.legend(fontsize=8)
    s = analysis["quantities"].get(qoi, {}).get("all", {})
    if s.get("n"):
        for p, style in (("p5", ":"), ("p50", "-"), ("p95", ":")):
            ax.axvline(s[p], color="#333", linestyle=style, linewidth=0.8)
    ax.set_xlabel(qoi)
    ax.set_ylabel("samples")
    ax.set_title(f"{qoi}: {s.get('n', 0)} samples (lines: 5th, 50th, 95th percentile)", fontsize=9)


def histogram_figure(df: Any, analysis: dict[str, Any], qoi: str) -> Figure:
    fig = Figure(figsize=(7.0, 3.0))
    draw_histogram(fig.add_subplot(), df, analysis, qoi)
    fig.tight_layout()
    return fig


def draw_tornado(ax: Any, entry: dict[str, Any]) -> bool:
    """Horizontal bars of one (member, quantity) sensitivity entry, largest on top; False
    when the entry has no indices."""
    method = entry.get("method")
    if method == "sobol":
        vals, second, label = entry["ST"], entry["S1"], "Sobol index (bar: total, dark: first order)"
    elif method == "morris":
        vals, second, label = entry["mu_star"], None, "Morris mu* (per unit-quantile step)"
    elif method == "spearman":
        vals, second, label = entry["rho"], None, "Spearman rank correlation"
    else:
        return False
    names = entry["parameters"]
    order = np.argsort(np.abs(vals))
    ypos = np.arange(len(names))
    ax.barh(ypos, np.asarray(vals)[order], color="#7fa7d1")
    if second is not None:
        ax.barh(ypos, np.asarray(second)[order], height=0.4, color="#1f4e79")
    ax.set_yticks(ypos, [names[i] for i in order], fontsize=8)
    ax.axvline(0, color="#333", linewidth=0.6)
    ax.set_xlabel(label, fontsize=8)
    member = "" if entry["member"] == "base" else f" ({entry['member']})"
    ax.set_title(f"Sensitivity of {entry['qoi']}{member}", fontsize=9)
    return True


def tornado_figure(entry: dict[str, Any]) -> Figure | None:
    fig = Figure(figsize=(7.0, 0.6 + 0.35 * len(entry["parameters"])))
    if not draw_tornado(fig.add_subplot(), entry):
        return None
    fig.tight_layout()
    return fig


def scatter_figure(spec: SweepSpec, df: Any, qoi: str, max_params: int = 6) -> Figure | None:
    params = [p for p in spec.parameters][:max_params]
    if not params or f"q.{qoi}" not in df:
        return None
    fig = Figure(figsize=(7.0, 2.3 * ((len(params) + 2) // 3)))
    y = df[f"q.{qoi}"].to_numpy(dtype=float)
    for k, p in enumerate(params):
        ax = fig.add_subplot((len(params) + 2) // 3, 3, k + 1)
        x = df[f"p.{p.name}"]
        try:
            xv = x.to_numpy(dtype=float)
        except (TypeError, ValueError):
            cats = sorted(set(map(str, x)))
            xv = np.array([cats.index(str(v)) for v in x], dtype=float)
            ax.set_xticks(range(len(cats)), cats, fontsize=7)
        ax.scatter(xv, y, s=4, alpha=0.5, color="#1f4e79")
        ax.set_xlabel(p.name, fontsize=7)
        ax.set_ylabel(qoi, fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def member_figure(df: Any, qoi: str, members: list[str]) -> Figure | None:
    """A box per cohort member."""
    if len(members) < 2 or f"q.{qoi}" not in df:
        return None
    data = [df.loc[df["member"] == m, f"q.{qoi}"].dropna().to_numpy(dtype=float) for m in members]
    fig = Figure(figsize=(7.0, 3.0))
    ax = fig.add_subplot()
    ax.boxplot(data, tick_labels=members)
    ax.set_ylabel(qoi)
    ax.set_title(f"{qoi} per cohort member", fontsize=9)
    fig.tight_layout()
    return fig


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.4g}"


def build_document(spec: SweepSpec, df: Any, analysis: dict[str, Any]) -> Document:
    good = df[df["error"].isna()] if len(df) else df
    s = analysis["samples"]
    doc = Document(f"Sweep report: {spec.name}",
                   f"{analysis['base']['kind']} base, {spec.sampler} sampler (n = {spec.n}, seed "
                   f"{spec.seed}), {len(spec.members)} member(s); {s['ok']} of {s['expected']} "
                   f"samples succeeded, {s['failed']} failed — {_dt.datetime.now():%Y-%m-%d %H:%M}")
    doc.heading("Inputs")
    doc.table(["Parameter", "Path", "Distribution"],
              [[p["name"], p["path"], p["distribution"]] for p in analysis["parameters"]]
              or [["(none: cohort only)", "", ""]], [0.25, 0.35, 0.4])
    if len(spec.members) > 1:
        doc.text("Cohort: " + ", ".join(analysis["members"]))
    doc.heading("Quantities of interest")
    head = ["Quantity", "n", "mean", "sd", "min", "p5", "p50", "p95", "max"]
    rows = []
    for name, per in analysis["quantities"].items():
        for who, st in per.items():
            label = name if who == "all" else f"{name} [{who}]"
            rows.append([label, st.get("n", 0)] + [_fmt(st.get(k)) for k in
                                                   ("mean", "std", "min", "p5", "p50", "p95", "max")])
    doc.table(head, rows, [0.24] + [0.095] * 8)
    for q in spec.qois:
        doc.figure(histogram_figure(good, analysis, q.name), f"Histogram of {q.name}", 3.0)
        fig = member_figure(good, q.name, analysis["members"])
        if fig is not None:
            doc.figure(fig, f"{q.name} per cohort member", 3.0)
    if analysis["failure"]:
        doc.heading("Probability of failure")
        doc.table(["Event", "Failures / n", "Probability", "95 % interval (Wilson)"],
                  [[f["event"], f"{f['failures']} / {f['n']}", _fmt(f["probability"]),
                    f"{f['ci95'][0]:.3g} – {f['ci95'][1]:.3g}"] for f in analysis["failure"]],
                  [0.4, 0.2, 0.15, 0.25])
    if analysis["sensitivity"]:
        doc.heading("Sensitivity")
        for e in analysis["sensitivity"]:
            fig = tornado_figure(e)
            if fig is None:
                doc.text(f"{e['qoi']} ({e['member']}): {e.get('note', 'no indices')}.")
                continue
            doc.figure(fig, f"{e['method']} sensitivity of {e['qoi']}",
                       0.8 + 0.3 * len(e["parameters"]))
        for q in spec.qois:
            fig = scatter_figure(spec, good, q.name)
            if fig is not None:
                doc.figure(fig, f"Parameters against {q.name}", 2.2 * ((min(len(spec.parameters), 6) + 2) // 3))
    if analysis["errors"]:
        doc.heading("Failed samples")
        doc.table(["Error", "Samples"], [[e["error"], e["count"]] for e in analysis["errors"]],
                  [0.85, 0.15])
    return doc


def write_sweep_report(spec: SweepSpec, df: Any, analysis: dict[str, Any], path: str | Path) -> Path:
    """The sweep report as .html or .pdf (by the suffix)."""
    return build_document(spec, df, analysis).write(path)

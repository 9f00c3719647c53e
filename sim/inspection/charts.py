"""The inspection charts, drawn onto any matplotlib Axes: the report's figures and the
Inspect panel's live plots are the same drawing (matplotlib's object API, no pyplot)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from sim.inspection.deviation import DeviationResult
from sim.inspection.sections import Section, whiskers
from sim.inspection.views import IN_TOLERANCE

BAND_COLOURS = {-1: "#2c3bd9", 0: IN_TOLERANCE, 1: "#d7191c"}


def draw_histogram(ax: Axes, result: DeviationResult, bins: int = 60) -> np.ndarray:
    """Bars coloured by tolerance band, dashed tolerance limits; returns the counts."""
    counts, edges = result.histogram(bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    bands = result.tolerance.classify(centres)
    ax.bar(centres, counts, width=np.diff(edges), color=[BAND_COLOURS[int(b)] for b in bands],
           edgecolor="none")
    t = result.tolerance
    for x in (t.lower, t.upper):
        ax.axvline(x, color="black", lw=0.8, ls="--")
    if counts.max() > 100 * max(counts[counts > 0].min(initial=1), 1):
        ax.set_yscale("log")  # so a few out-of-tolerance points still show
    ax.set_xlabel("Signed deviation (mm)")
    ax.set_ylabel("Points")
    return counts


def whisker_scale(sec: Section, tol_width: float) -> float:
    """Whisker exaggeration: the longest whisker is 5 % of the section's extent."""
    span = np.ptp(sec.nominal_segments.reshape(-1, 2), axis=0).max() if len(
        sec.nominal_segments) else 1.0
    dmax = float(np.nanmax(np.abs(sec.deviation))) if len(sec.deviation) else 0.0
    return float(0.05 * span / max(dmax, tol_width, 1e-9))


def draw_section(ax: Axes, sec: Section, tol_width: float) -> float:
    """The nominal cut (black), the measured points in the slab (grey dots) and deviation
    whiskers coloured by band; equal axes. Returns the whisker exaggeration."""
    ax.add_collection(LineCollection(sec.nominal_segments, colors="black", linewidths=1.0))
    scale = whisker_scale(sec, tol_width)
    if len(sec.deviation):
        ax.scatter(sec.points[:, 0], sec.points[:, 1], s=1.0, c="#888888", linewidths=0)
        ax.add_collection(LineCollection(whiskers(sec, scale), linewidths=0.6,
                                         colors=[BAND_COLOURS[int(b)] for b in sec.bands]))
    ax.autoscale()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("mm")
    ax.set_ylabel("mm")
    return scale

"""Signed deviation of measured points from a nominal surface, with tolerance bands.

Deviation is measured -> nominal along the nominal surface's normal: positive
where the measured surface lies outside the nominal one (excess material),
negative inside (missing material, dents). Points farther than ``max_distance``
from the nominal surface are left unmatched (NaN) and counted apart, as
CloudCompare does with its maximum distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.inspection.distance import MeshDistance
from sim.progress import Progress, no_progress

BELOW, WITHIN, ABOVE = -1, 0, 1
_CHUNK = 500_000  # points per progress report / cancellation check


@dataclass(frozen=True)
class Tolerance:
    """Allowed deviation band in mm: ``lower <= d <= upper`` (lower is negative)."""

    lower: float
    upper: float

    @classmethod
    def symmetric(cls, value: float) -> Tolerance:
        return cls(-abs(float(value)), abs(float(value)))

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lower) and np.isfinite(self.upper)) or self.lower > self.upper:
            raise InputError("A tolerance band needs finite limits with lower <= upper.")
        if self.lower > 0 or self.upper < 0:
            raise InputError("A tolerance band must contain zero deviation.")

    def classify(self, d: np.ndarray) -> np.ndarray:
        """-1 below, 0 within, +1 above the band (NaN counts as within: it is unmatched)."""
        out = np.zeros(np.shape(d), dtype=np.int8)
        with np.errstate(invalid="ignore"):
            out[d < self.lower] = BELOW
            out[d > self.upper] = ABOVE
        return out


@dataclass(frozen=True)
class DeviationStats:
    count: int  # matched points
    unmatched: int  # farther than max_distance from the nominal surface
    mean: float
    std: float
    rms: float
    min: float
    max: float
    within_pct: float
    above_pct: float
    below_pct: float

    def as_dict(self) -> dict[str, Any]:
        return {"points": self.count, "unmatched": self.unmatched, "mean_mm": self.mean,
                "std_mm": self.std, "rms_mm": self.rms, "min_mm": self.min, "max_mm": self.max,
                "within_tolerance_pct": self.within_pct, "above_pct": self.above_pct,
                "below_pct": self.below_pct}


def deviation_stats(deviation: np.ndarray, tolerance: Tolerance) -> DeviationStats:
    """Statistics of the matched (finite) deviations; percentages are of matched points."""
    d = np.asarray(deviation, dtype=np.float64)
    ok = np.isfinite(d)
    v = d[ok]
    n = int(v.size)
    if n == 0:
        nan = float("nan")
        return DeviationStats(0, int(d.size), nan, nan, nan, nan, nan, 0.0, 0.0, 0.0)
    bands = tolerance.classify(v)
    return DeviationStats(
        n, int(d.size - n), float(v.mean()), float(v.std()), float(np.sqrt(np.mean(v * v))),
        float(v.min()), float(v.max()), 100.0 * float(np.mean(bands == WITHIN)),
        100.0 * float(np.mean(bands == ABOVE)), 100.0 * float(np.mean(bands == BELOW)))


@dataclass(frozen=True)
class DeviationResult:
    """Per-point deviation of a measured cloud against a nominal surface."""

    points: np.ndarray  # (n, 3) measured points in the nominal frame, mm
    deviation: np.ndarray  # (n,) signed mm, NaN where unmatched
    closest: np.ndarray  # (n, 3) closest nominal point
    normals: np.ndarray  # (n, 3) unit nominal normal at the closest point
    tolerance: Tolerance
    max_distance: float

    @property
    def bands(self) -> np.ndarray:
        return self.tolerance.classify(self.deviation)

    @property
    def stats(self) -> DeviationStats:
        return deviation_stats(self.deviation, self.tolerance)

    def histogram(self, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Counts and bin edges (mm) of the matched deviations."""
        v = self.deviation[np.isfinite(self.deviation)]
        if v.size == 0:
            return np.zeros(bins, int), np.linspace(self.tolerance.lower, self.tolerance.upper,
                                                    bins + 1)
        lo = min(float(v.min()), self.tolerance.lower * 1.5)
        hi = max(float(v.max()), self.tolerance.upper * 1.5)
        return np.histogram(v, bins=bins, range=(lo, hi))

    def as_polydata(self) -> pv.PolyData:
        """The measured points with 'deviation' and 'band' arrays (for display and export)."""
        cloud = pv.PolyData(self.points.copy())
        cloud.point_data["deviation"] = self.deviation
        cloud.point_data["band"] = self.bands
        return cloud

    def summary(self) -> dict[str, Any]:
        return {"tolerance_mm": [self.tolerance.lower, self.tolerance.upper],
                "max_distance_mm": self.max_distance, **self.stats.as_dict()}


def measured_points(data: pv.DataSet | np.ndarray) -> np.ndarray:
    """The points of a scan or mesh as a finite (n, 3) float array."""
    p = np.asarray(data.points if hasattr(data, "points") else data, dtype=np.float64)
    p = p.reshape(-1, 3)
    if len(p) == 0:
        raise InputError("The measured object has no points.")
    if not np.isfinite(p).all():
        raise InputError("The measured object has non-finite coordinates.")
    return p


def compute_deviation(measured: pv.DataSet | np.ndarray, nominal: pv.DataSet | MeshDistance,
                      tolerance: Tolerance | float, *, max_distance: float | None = None,
                      progress: Progress = no_progress) -> DeviationResult:
    """Signed deviation of every measured point from the nominal surface.

    ``max_distance`` defaults to ten times the widest tolerance limit (at least 1 mm).
    """
    tol = tolerance if isinstance(tolerance, Tolerance) else Tolerance.symmetric(tolerance)
    if max_distance is None:
        max_distance = max(10.0 * max(-tol.lower, tol.upper), 1.0)
    if not max_distance > 0:
        raise InputError("The maximum distance must be positive.")
    p = measured_points(measured)
    progress(0.0, "Preparing the nominal surface")
    md = nominal if isinstance(nominal, MeshDistance) else MeshDistance.from_mesh(nominal)
    n = len(p)
    dev = np.empty(n)
    closest = np.empty((n, 3))
    normals = np.empty((n, 3))
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        progress(0.05 + 0.95 * start / n, f"Measuring deviation ({start:,} of {n:,} points)")
        c = md.closest(p[start:stop], max_distance=max_distance)  # NaN where unmatched
        dev[start:stop] = c.signed
        closest[start:stop] = c.points
        normals[start:stop] = c.normals
    progress(1.0, "Deviation measured")
    return DeviationResult(p, dev, closest, normals, tol, float(max_distance))

"""How scans are shown: window/level presets and volume-rendering transfer functions (headless)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (level, width) in HU
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "CT soft tissue": (40.0, 400.0),
    "CT bone": (400.0, 1800.0),
    "CT lung": (-600.0, 1500.0),
    "CT brain": (40.0, 80.0),
}
AUTO = "Auto (MR)"


def auto_window(values: np.ndarray) -> tuple[float, float]:
    """Level/width spanning the 1st..99th percentile: a sensible start for MR and unknown scans."""
    flat = np.asarray(values).ravel()
    if flat.size > 2_000_000:  # a strided sample is plenty for percentiles
        flat = flat[:: flat.size // 1_000_000]
    lo, hi = (float(v) for v in np.percentile(flat, [1, 99]))
    if hi <= lo:
        hi = lo + 1.0
    return (lo + hi) / 2.0, hi - lo


def window_for(name: str, values: np.ndarray | None = None) -> tuple[float, float]:
    if name == AUTO:
        if values is None:
            raise ValueError("auto window needs the image values")
        return auto_window(values)
    return WINDOW_PRESETS[name]


@dataclass(frozen=True)
class VolumePreset:
    """Piecewise-linear colour and opacity over scalar value (HU)."""

    name: str
    colors: tuple[tuple[float, float, float, float], ...]  # (value, r, g, b)
    opacity: tuple[tuple[float, float], ...]  # (value, opacity)


VOLUME_PRESETS: dict[str, VolumePreset] = {
    "CT bone": VolumePreset(
        "CT bone",
        ((-1000, 0.0, 0.0, 0.0), (150, 0.55, 0.25, 0.15), (300, 0.9, 0.82, 0.66),
         (1200, 1.0, 1.0, 0.95), (3071, 1.0, 1.0, 1.0)),
        ((-1000, 0.0), (150, 0.0), (300, 0.25), (1200, 0.85), (3071, 0.95))),
    "CT soft tissue": VolumePreset(
        "CT soft tissue",
        ((-1000, 0.0, 0.0, 0.0), (-200, 0.55, 0.3, 0.2), (40, 0.85, 0.45, 0.35),
         (300, 0.95, 0.9, 0.8), (3071, 1.0, 1.0, 1.0)),
        ((-1000, 0.0), (-300, 0.0), (-100, 0.05), (80, 0.18), (300, 0.6), (3071, 0.8))),
    "CT vessels": VolumePreset(
        "CT vessels",
        ((-1000, 0.0, 0.0, 0.0), (120, 0.6, 0.05, 0.05), (250, 0.95, 0.25, 0.2),
         (500, 1.0, 0.9, 0.85), (3071, 1.0, 1.0, 1.0)),
        ((-1000, 0.0), (120, 0.0), (200, 0.35), (450, 0.6), (3071, 0.9))),
    "CT skin": VolumePreset(
        "CT skin",
        ((-1000, 0.0, 0.0, 0.0), (-500, 0.9, 0.7, 0.6), (0, 0.95, 0.78, 0.66), (3071, 1.0, 1.0, 1.0)),
        ((-1000, 0.0), (-600, 0.0), (-400, 0.6), (3071, 0.9))),
}

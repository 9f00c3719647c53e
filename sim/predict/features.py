"""Causal per-row features of a unit's history (what a remaining-life model sees).

Every feature at row *i* uses rows 0..i of the same unit only, so a model trained on
every row of run-to-failure histories sees exactly what it will see for a live unit at its
latest row. Sensors are first normalised per operating condition (regimes found from the
setting channels; C-MAPSS FD001 has one, FD002/FD004 six), constant sensors are dropped.
All of it is vectorised over rows with cumulative sums (no Python loop per row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.predict.fleet import Fleet

WINDOWS = (5, 15, 30)  # rolling means over these many rows
SLOPE_WINDOW = 30  # least-squares trend over this many rows
BASELINE_ROWS = 15  # a unit's own start, to measure drift from
GAP_FRACTION = 0.05  # a setting's values split into regimes at gaps above this of its range


@dataclass
class Normaliser:
    """Per-regime mean and spread of each used sensor, and how settings map to regimes."""

    sensors: list[str]
    setting_cuts: dict[str, list[float]] = field(default_factory=dict)  # regime boundaries
    mean: dict[str, list[float]] = field(default_factory=dict)  # regime key -> per sensor
    std: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, fleet: Fleet) -> Normaliser:
        cuts = {}
        for s in fleet.settings:
            v = np.sort(np.unique(fleet.column(s)))
            span = v[-1] - v[0] if len(v) else 0.0
            if span <= 0:
                continue
            gaps = np.flatnonzero(np.diff(v) > GAP_FRACTION * span)
            if len(gaps):
                cuts[s] = [float((v[g] + v[g + 1]) / 2) for g in gaps]
        norm = cls(sensors=[], setting_cuts=cuts)
        keys = norm.regimes(fleet)
        candidates = fleet.sensors
        idx = [fleet.channels.index(c) for c in candidates]
        x = fleet.values[:, idx]
        means, stds = {}, {}
        for k in np.unique(keys):
            rows = x[keys == k]
            means[k], stds[k] = rows.mean(axis=0), rows.std(axis=0)
        # a sensor carries information if it varies within at least one regime
        scale = np.abs(np.vstack(list(means.values()))).max(axis=0) + 1e-12
        varies = np.vstack(list(stds.values())).max(axis=0) > 1e-6 * scale
        # ... and is not a coarse discrete level that barely moves (C-MAPSS s6, s16 ...)
        for j in np.flatnonzero(varies):
            if len(np.unique(x[:, j])) < 5:
                varies[j] = False
        keep = np.flatnonzero(varies)
        norm.sensors = [candidates[j] for j in keep]
        norm.mean = {k: [float(v) for v in m[keep]] for k, m in means.items()}
        norm.std = {k: [float(max(v, 1e-9)) for v in s[keep]] for k, s in stds.items()}
        return norm

    def regimes(self, fleet: Fleet) -> np.ndarray:
        if not self.setting_cuts:
            return np.full(len(fleet), "0")
        parts = [np.searchsorted(np.asarray(c), fleet.column(s)).astype(str)
                 for s, c in self.setting_cuts.items()]
        key = parts[0]
        for p in parts[1:]:
            key = np.char.add(np.char.add(key, "-"), p)
        return key

    def transform(self, fleet: Fleet) -> np.ndarray:
        """(n, len(sensors)) normalised sensor values."""
        missing = [s for s in self.sensors if s not in fleet.channels]
        if missing:
            from sim.errors import InputError

            raise InputError(f"The data lacks the sensors the model was trained on: "
                             f"{', '.join(missing)}.")
        x = fleet.values[:, [fleet.channels.index(s) for s in self.sensors]].copy()
        keys = self.regimes(fleet)
        known = list(self.mean)
        for k in np.unique(keys):
            use = k if k in self.mean else known[0]
            rows = keys == k
            x[rows] = (x[rows] - np.asarray(self.mean[use])) / np.asarray(self.std[use])
        return x

    def to_dict(self) -> dict:
        return {"sensors": self.sensors, "setting_cuts": self.setting_cuts,
                "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> Normaliser:
        return cls(list(d["sensors"]), {k: list(v) for k, v in d["setting_cuts"].items()},
                   {k: list(v) for k, v in d["mean"].items()},
                   {k: list(v) for k, v in d["std"].items()})


def feature_names(sensors: list[str]) -> list[str]:
    names = ["age"]
    for s in sensors:
        names += [f"{s}_mean{w}" for w in WINDOWS]
        names += [f"{s}_slope{SLOPE_WINDOW}", f"{s}_drift"]
    return names


def _rolling_sum(cs: np.ndarray, i: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the last ``w`` rows (fewer at the start) from a cumulative sum with a leading 0."""
    start = np.maximum(i - w + 1, 0)
    return cs[i + 1] - cs[start], (i - start + 1).astype(float)


def unit_features(z: np.ndarray, age: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Features of one unit's normalised rows ``z`` (n, k) at ``rows`` (default: all)."""
    n, k = z.shape
    i = np.arange(n) if rows is None else np.asarray(rows)
    cs = np.vstack([np.zeros((1, k)), np.cumsum(z, axis=0)])
    cols = [age[i][:, None]]
    means = []
    for w in WINDOWS:
        s, cnt = _rolling_sum(cs, i, w)
        means.append(s / cnt[:, None])
    # trend: least-squares slope of z against the row index over the last SLOPE_WINDOW rows
    x = np.arange(n, dtype=float)
    csx = np.concatenate([[0.0], np.cumsum(x)])
    csxx = np.concatenate([[0.0], np.cumsum(x * x)])
    csxy = np.vstack([np.zeros((1, k)), np.cumsum(z * x[:, None], axis=0)])
    sy, cnt = _rolling_sum(cs, i, SLOPE_WINDOW)
    sx, _ = _rolling_sum(csx, i, SLOPE_WINDOW)
    sxx, _ = _rolling_sum(csxx, i, SLOPE_WINDOW)
    sxy, _ = _rolling_sum(csxy, i, SLOPE_WINDOW)
    den = cnt * sxx - sx * sx
    slope = np.where(den[:, None] > 0, (cnt[:, None] * sxy - sx[:, None] * sy)
                     / np.where(den > 0, den, 1.0)[:, None], 0.0)
    # drift: the recent mean against the unit's own first rows
    b = np.minimum(i + 1, BASELINE_ROWS)
    base = cs[b] / b[:, None]
    drift = means[1] - base
    per_sensor = np.stack([*means, slope, drift], axis=2)  # (rows, k, 5)
    cols.append(per_sensor.reshape(len(i), -1))
    return np.hstack(cols)


def fleet_features(fleet: Fleet, norm: Normaliser, last_only: bool = False
                   ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Features of every row (or each unit's last row); with each unit's row range."""
    z = norm.transform(fleet)
    out, bounds = [], fleet.bounds()
    for s, e in bounds:
        age = fleet.time[s:e] - fleet.time[s] + 1.0
        rows = np.array([e - s - 1]) if last_only else None
        out.append(unit_features(z[s:e], age, rows))
    width = 1 + 5 * len(norm.sensors)
    return (np.vstack(out) if out else np.zeros((0, width))), bounds

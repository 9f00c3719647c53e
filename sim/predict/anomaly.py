"""Online anomaly detection per asset, trained on a window the user marks healthy.

Per sensor, a **baseline** (level + linear trend + Fourier seasonality of a period found in
the healthy data) gives a residual, standardised by its healthy spread (z). Two univariate
tests run on z:

* **residual**: |z| above the two-sided Gaussian quantile of the configured false-alarm rate
  (spikes, large steps);
* **change point**: a two-sided CUSUM (reference k = 0.5, i.e. tuned to a one-sigma shift)
  whose decision limit h gives an in-control average run length of 1/rate readings
  (Siegmund's approximation); it finds small level shifts and drifts the residual test misses,
  and restarts after each signal.

Across sensors, a **multivariate** test (PCA/Mahalanobis: Hotelling's T^2 of the z vector
under the healthy correlation, eigenvalues floored) catches a broken correlation that no
single sensor shows; each sensor's contribution is z_i (S^-1 z)_i (they sum to T^2), so an
alarm can say which sensors moved and how much. Its limit is the chi-square quantile.

Each test flags a healthy reading with probability ``rate`` (the false-alarm rate per reading
and test). Readings with data-quality flags (:mod:`sim.predict.quality`) are neither trained
on nor scored.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.io.json_file import check_header

FORMAT, VERSION = "twinsight-anomaly-model", 1
CUSUM_K = 0.5
MIN_READINGS = 30
MAX_HARMONICS = 3
EIG_FLOOR = 1e-3  # of the largest eigenvalue: a degenerate direction cannot dominate T^2


def cusum_limit(rate: float, k: float = CUSUM_K) -> float:
    """Decision limit h of a two-sided CUSUM signalling at ``rate`` per in-control reading."""
    arl_side = 2.0 / rate  # two one-sided charts: 1/ARL = 1/ARL+ + 1/ARL-

    def arl(h: float) -> float:  # Siegmund (1985)
        b = h + 1.166
        return (math.exp(2 * k * b) - 2 * k * b - 1) / (2 * k * k)

    lo, hi = 0.0, 50.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if arl(mid) < arl_side else (lo, mid)
    return (lo + hi) / 2


def z_limit(rate: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(rate / 2))


@dataclass
class Baseline:
    """value(t) = level + trend (t - t0) + sum of harmonics of ``period``; spread ``sigma``."""

    t0: float
    coef: list[float]
    period: float | None
    sigma: float

    @property
    def harmonics(self) -> int:
        return (len(self.coef) - 2) // 2

    def predict(self, t: float) -> float:
        c = self.coef
        x = t - self.t0
        v = c[0] + c[1] * x
        if self.period:
            w = 2 * math.pi * x / self.period
            for h in range(self.harmonics):
                v += c[2 + 2 * h] * math.cos((h + 1) * w) + c[3 + 2 * h] * math.sin((h + 1) * w)
        return v

    def predict_array(self, t: np.ndarray) -> np.ndarray:
        return _design(np.asarray(t, float) - self.t0, self.period, self.harmonics) @ \
            np.asarray(self.coef)

    @classmethod
    def fit(cls, t: np.ndarray, v: np.ndarray, period: float | None = None) -> Baseline:
        t, v = np.asarray(t, float), np.asarray(v, float)
        t0 = float(t[0])
        if period is None:
            period = find_period(t, v)
            if period:  # the FFT bin is coarse; a phase error grows with every cycle ahead
                period = _refine_period(t - t0, v, period)
        harmonics = MAX_HARMONICS if period else 0
        a = _design(t - t0, period, harmonics)
        coef, *_ = np.linalg.lstsq(a, v, rcond=None)
        resid = v - a @ coef
        dof = max(len(v) - a.shape[1], 1)
        sigma = float(np.sqrt(np.sum(resid ** 2) / dof))
        scale = max(float(np.abs(v).max()) * 1e-9, 1e-12)
        return cls(t0, [float(c) for c in coef], period, max(sigma, scale))


def _refine_period(x: np.ndarray, v: np.ndarray, period: float) -> float:
    """The period within +-3 % of ``period`` whose seasonal fit leaves the least residual."""
    def sse(p: float) -> float:
        a = _design(x, p, MAX_HARMONICS)
        coef, *_ = np.linalg.lstsq(a, v, rcond=None)
        r = v - a @ coef
        return float(r @ r)

    lo, hi = 0.97 * period, 1.03 * period
    grid = np.linspace(lo, hi, 31)
    best = grid[int(np.argmin([sse(p) for p in grid]))]
    lo, hi = best - (hi - lo) / 30, best + (hi - lo) / 30
    g = (np.sqrt(5) - 1) / 2  # golden-section search in the best grid cell
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        lo, hi = (lo, b) if sse(a) < sse(b) else (a, hi)
    return float((lo + hi) / 2)


def _design(x: np.ndarray, period: float | None, harmonics: int) -> np.ndarray:
    cols = [np.ones_like(x), x]
    if period:
        w = 2 * np.pi * x / period
        for h in range(1, harmonics + 1):
            cols += [np.cos(h * w), np.sin(h * w)]
    return np.column_stack(cols)


def find_period(t: np.ndarray, v: np.ndarray, min_cycles: float = 2.0,
                min_share: float = 0.1) -> float | None:
    """The dominant period of a detrended series (None when none explains ``min_share`` of
    its variance or fewer than ``min_cycles`` cycles fit in the window)."""
    n = len(t)
    if n < 16 or t[-1] <= t[0]:
        return None
    grid = np.linspace(t[0], t[-1], n)
    y = np.interp(grid, t, v)
    y = y - np.polyval(np.polyfit(grid - grid[0], y, 1), grid - grid[0])
    var = float(np.sum(y * y))
    if var <= 0:
        return None
    spec = np.abs(np.fft.rfft(y)) ** 2
    spec[0] = 0.0
    k = int(np.argmax(spec[1:]) + 1)
    span = (grid[-1] - grid[0]) * n / (n - 1)
    if k < min_cycles or 2 * spec[k] / n < min_share * var:
        return None
    # refine between neighbouring bins (parabolic interpolation of the peak)
    if 1 <= k < len(spec) - 1:
        a, b, c = spec[k - 1], spec[k], spec[k + 1]
        den = a - 2 * b + c
        k = k + (0.5 * (a - c) / den if den != 0 else 0.0)
    return float(span / k)


@dataclass
class AnomalyEvent:
    t: float
    detector: str  # "residual", "change_point" or "multivariate"
    score: float  # |z|, CUSUM statistic or T^2
    limit: float
    contributions: dict[str, float]  # sensor -> share of the score (sums to 1)
    direction: str = ""  # "high"/"low" for univariate tests

    @property
    def sensors(self) -> list[str]:
        return [s for s, _ in sorted(self.contributions.items(), key=lambda kv: -kv[1])]

    def describe(self, names: dict[str, str] | None = None) -> str:
        names = names or {}
        parts = ", ".join(f"{names.get(s, s)} {100 * w:.0f} %" for s, w in
                          sorted(self.contributions.items(), key=lambda kv: -kv[1])[:4]
                          if w >= 0.05)
        what = {"residual": "unusual value", "change_point": "change in level or trend",
                "multivariate": "unusual combination of sensors"}[self.detector]
        return f"Anomaly ({what}, score {self.score:.3g} > {self.limit:.3g}): {parts}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AnomalyModel:
    sensors: list[str]
    baselines: dict[str, Baseline]
    rate: float
    mean: list[float] = field(default_factory=list)  # healthy mean of the z vector
    precision: list[list[float]] = field(default_factory=list)  # floored inverse covariance
    trained_on: dict = field(default_factory=dict)
    created: str = ""

    @property
    def z_limit(self) -> float:
        return z_limit(self.rate)

    @property
    def cusum_limit(self) -> float:
        return cusum_limit(self.rate)

    @property
    def t2_limit(self) -> float:
        from scipy.stats import chi2

        return float(chi2.isf(self.rate, len(self.sensors)))

    @classmethod
    def train(cls, series: dict[str, tuple[np.ndarray, np.ndarray]], rate: float = 1e-3,
              periods: dict[str, float | None] | None = None,
              trained_on: dict | None = None) -> AnomalyModel:
        """Fit on healthy ``series`` {sensor: (t, v)} (flagged readings already removed)."""
        if not 0 < rate < 0.5:
            raise InputError("The false-alarm rate must be between 0 and 0.5 per reading.")
        if not series:
            raise InputError("The healthy window holds no sensor readings.")
        short = {s: len(t) for s, (t, _v) in series.items() if len(t) < MIN_READINGS}
        if short:
            s, n = next(iter(short.items()))
            raise InputError(f"The healthy window holds only {n} usable readings of '{s}' "
                             f"(at least {MIN_READINGS} needed); mark a longer window.")
        periods = periods or {}
        sensors = list(series)
        baselines = {s: Baseline.fit(*series[s], period=periods.get(s)) for s in sensors}
        model = cls(sensors, baselines, rate, trained_on=dict(trained_on or {}),
                    created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if len(sensors) >= 2:
            rows = model._z_rows(series)
            if len(rows) >= MIN_READINGS:
                mu = rows.mean(axis=0)
                cov = np.cov(rows - mu, rowvar=False)
                w, vec = np.linalg.eigh(cov)
                w = np.maximum(w, EIG_FLOOR * max(w.max(), 1e-12))
                model.mean = mu.tolist()
                model.precision = ((vec / w) @ vec.T).tolist()
        return model

    def _z_rows(self, series) -> np.ndarray:
        """Rows of simultaneous z values: every sensor's z resampled on the first sensor's
        timestamps (nearest earlier reading)."""
        ref_t = series[self.sensors[0]][0]
        cols = []
        for s in self.sensors:
            t, v = series[s]
            z = (v - self.baselines[s].predict_array(t)) / self.baselines[s].sigma
            idx = np.clip(np.searchsorted(t, ref_t, side="right") - 1, 0, len(t) - 1)
            cols.append(z[idx])
        return np.column_stack(cols)

    def scorer(self) -> AnomalyScorer:
        return AnomalyScorer(self)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "created": self.created,
                "sensors": self.sensors, "rate": self.rate,
                "baselines": {s: asdict(b) for s, b in self.baselines.items()},
                "mean": self.mean, "precision": self.precision, "trained_on": self.trained_on}

    @classmethod
    def from_dict(cls, doc: dict, where: str | Path = "the model") -> AnomalyModel:
        doc = check_header(doc, where, FORMAT, VERSION, "anomaly model")
        try:
            baselines = {s: Baseline(float(b["t0"]), [float(c) for c in b["coef"]],
                                     b["period"], float(b["sigma"]))
                         for s, b in doc["baselines"].items()}
            return cls(list(doc["sensors"]), baselines, float(doc["rate"]),
                       list(doc.get("mean", [])), [list(r) for r in doc.get("precision", [])],
                       dict(doc.get("trained_on", {})), str(doc.get("created", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(where, f"the anomaly model is incomplete ({exc})") from None


class AnomalyScorer:
    """The online state of a model's tests: call :meth:`update` for every clean reading."""

    def __init__(self, model: AnomalyModel) -> None:
        self.model = model
        self.zlim = model.z_limit
        self.h = model.cusum_limit
        self.t2lim = model.t2_limit if model.precision else math.inf
        self.index = {s: i for i, s in enumerate(model.sensors)}
        self.base = [model.baselines[s] for s in model.sensors]
        self.pos = [0.0] * len(model.sensors)
        self.neg = [0.0] * len(model.sensors)
        self.z = np.zeros(len(model.sensors))
        self.fresh: set[int] = set()
        self.mean = np.asarray(model.mean) if model.precision else None
        self.prec = np.asarray(model.precision) if model.precision else None
        self.scored = 0
        self.counts = {"residual": 0, "change_point": 0, "multivariate": 0}

    def update(self, sensor: str, t: float, v: float) -> list[AnomalyEvent]:
        i = self.index.get(sensor)
        if i is None:
            return []
        self.scored += 1
        b = self.base[i]
        z = (v - b.predict(t)) / b.sigma
        out = []
        if abs(z) > self.zlim:
            out.append(AnomalyEvent(t, "residual", abs(z), self.zlim, {sensor: 1.0},
                                    "high" if z > 0 else "low"))
        p = max(0.0, self.pos[i] + z - CUSUM_K)
        n = max(0.0, self.neg[i] - z - CUSUM_K)
        if p > self.h or n > self.h:
            out.append(AnomalyEvent(t, "change_point", max(p, n), self.h, {sensor: 1.0},
                                    "high" if p > n else "low"))
            p = n = 0.0
        self.pos[i], self.neg[i] = p, n
        if self.prec is not None:
            self.z[i] = z
            self.fresh.add(i)
            if len(self.fresh) == len(self.base):
                self.fresh.clear()
                d = self.z - self.mean
                pd = self.prec @ d
                t2 = float(d @ pd)
                if t2 > self.t2lim:
                    contrib = np.maximum(d * pd, 0.0)
                    total = float(contrib.sum()) or 1.0
                    out.append(AnomalyEvent(t, "multivariate", t2, self.t2lim, {
                        s: float(contrib[k] / total) for s, k in self.index.items()}))
        for e in out:
            self.counts[e.detector] += 1
        return out

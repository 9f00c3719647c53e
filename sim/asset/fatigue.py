"""Fatigue at hot spots: rainflow counting, mean-stress correction, S-N curves, Miner damage,
damage rate and remaining life with an uncertainty band.

S-N curves come from the material library (``assets/materials.json``, key ``fatigue``) with
their sources. The Eurocode form (EN 1993-1-9 steel, EN 1999-1-3 aluminium): slope m1 from the
reference range dsc at N_C = 2e6 down to the constant-amplitude fatigue limit at N_D = 5e6,
slope m2 down to the cut-off at N_L = 1e8; ranges below the cut-off do no damage.

Two counters: :func:`count_cycles` (the whole history, ASTM E1049-85 rainflow through the
``rainflow`` package) for replay, and :class:`StreamingDamage` (the four-point rainflow in
numba, sample by sample, residue counted as half cycles) for the live twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.errors import InputError

DAY = 86400.0


@dataclass(frozen=True)
class SNCurve:
    name: str
    dsc: float  # reference stress range at n_c cycles (MPa)
    m1: float
    m2: float
    n_c: float = 2e6
    n_d: float = 5e6
    n_l: float = 1e8
    log10_sd: float = 0.2  # scatter of log10 N about the curve
    ultimate: float = math.inf  # tensile strength for the Goodman correction (MPa)
    source: str = ""

    @property
    def ds_d(self) -> float:
        """Constant-amplitude fatigue limit (range at n_d)."""
        return self.dsc * (self.n_c / self.n_d) ** (1.0 / self.m1)

    @property
    def ds_l(self) -> float:
        """Cut-off range (at n_l)."""
        return self.ds_d * (self.n_d / self.n_l) ** (1.0 / self.m2)

    def cycles(self, ds: np.ndarray | float) -> np.ndarray:
        """Cycles to failure at stress ranges ``ds`` (inf below the cut-off)."""
        ds = np.asarray(ds, dtype=float)
        with np.errstate(divide="ignore"):
            upper = self.n_c * (self.dsc / ds) ** self.m1
            lower = self.n_d * (self.ds_d / ds) ** self.m2
        return np.where(ds >= self.ds_d, upper, np.where(ds >= self.ds_l, lower, np.inf))

    def params(self) -> np.ndarray:
        return np.array([self.dsc, self.m1, self.m2, self.n_c, self.n_d, self.ds_d, self.ds_l,
                         self.ultimate])


def sn_curve(material: str, name: str | None = None) -> SNCurve:
    """An S-N curve of a library material (its first when ``name`` is not given)."""
    from sim.fem.materials import _library

    entry = _library().get(material.strip().lower())
    fat = (entry or {}).get("fatigue")
    if not fat:
        raise InputError(f"Material '{material}' has no S-N curve in the library.")
    curves = fat["curves"]
    key = name or next(iter(curves))
    if key not in curves:
        raise InputError(f"Material '{material}' has no S-N curve '{key}' "
                         f"(known: {', '.join(curves)}).")
    c = curves[key]
    return SNCurve(key, float(c["dsc"]), float(c["m1"]), float(c["m2"]),
                   float(c.get("n_c", 2e6)), float(c.get("n_d", 5e6)), float(c.get("n_l", 1e8)),
                   float(c.get("log10_sd", 0.2)), float(fat.get("ultimate_strength", math.inf)),
                   c.get("source", ""))


def equivalent_range(ds: np.ndarray, mean: np.ndarray, curve: SNCurve,
                     correction: str = "goodman") -> np.ndarray:
    """Mean-stress corrected range: Goodman ds / (1 - mean / ultimate) for tensile means
    (compressive means are not credited, the conservative choice)."""
    ds = np.asarray(ds, dtype=float)
    if correction in (None, "none") or not math.isfinite(curve.ultimate):
        return ds
    if correction != "goodman":
        raise InputError(f"Mean-stress correction '{correction}' must be 'goodman' or 'none'.")
    m = np.clip(np.asarray(mean, dtype=float), 0.0, 0.99 * curve.ultimate)
    return ds / (1.0 - m / curve.ultimate)


def count_cycles(series: np.ndarray) -> np.ndarray:
    """ASTM E1049 rainflow cycles of a history: rows (range, mean, count)."""
    import rainflow

    s = np.asarray(series, dtype=float)
    if len(s) < 2:
        return np.zeros((0, 3))
    rows = [(r, m, c) for r, m, c, _i, _j in rainflow.extract_cycles(s)]
    return np.array(rows, dtype=float).reshape(-1, 3)


def miner_damage(cycles: np.ndarray, curve: SNCurve, correction: str = "goodman") -> float:
    """Palmgren-Miner damage sum of counted cycles (range, mean, count)."""
    if len(cycles) == 0:
        return 0.0
    ds = equivalent_range(cycles[:, 0], cycles[:, 1], curve, correction)
    return float((cycles[:, 2] / curve.cycles(ds)).sum())


@dataclass
class LifeEstimate:
    damage: float
    rate_per_day: float
    life_days: float  # from the curve as given
    low_days: float  # 5 % (S-N scatter and load variability)
    high_days: float  # 95 %

    def to_dict(self) -> dict:
        return {k: (None if not math.isfinite(v) else round(v, 10))
                for k, v in self.__dict__.items()}


def remaining_life(damage: float, elapsed_s: float, curve: SNCurve,
                   window_rates: np.ndarray | None = None,
                   rate_per_day: float | None = None) -> LifeEstimate:
    """Remaining life at the present damage rate: (1 - D) / (dD/dt), and its 90 % band from
    the S-N scatter (log-normal, log10_sd on N; damage scales with 1/N) and the variability
    of the rate between windows (``window_rates`` per day, standard error of their mean).
    ``rate_per_day`` replaces the average rate D / elapsed (e.g. a what-if's)."""
    if rate_per_day is not None:
        rate = rate_per_day
    else:
        rate = damage / elapsed_s * DAY if elapsed_s > 0 else 0.0
    if rate <= 0:
        return LifeEstimate(damage, 0.0, math.inf, math.inf, math.inf)
    life = max(0.0, 1.0 - damage) / rate
    var = (curve.log10_sd * math.log(10)) ** 2
    if window_rates is not None and len(window_rates) > 1 and np.mean(window_rates) > 0:
        w = np.asarray(window_rates, float)
        cv = w.std(ddof=1) / math.sqrt(len(w)) / w.mean()
        var += math.log1p(cv ** 2)
    z = 1.6448536269514722 * math.sqrt(var)
    return LifeEstimate(damage, rate, life, life * math.exp(-z), life * math.exp(z))


# -- streaming ------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _cycle_damage(ds, mean, p, goodman):
    if goodman and mean > 0.0 and math.isfinite(p[7]):
        ds = ds / (1.0 - min(mean, 0.99 * p[7]) / p[7])
    if ds >= p[5]:
        return (ds / p[0]) ** p[1] / p[3]
    if ds >= p[6]:
        return (ds / p[5]) ** p[2] / p[4]
    return 0.0


@njit(cache=True, nogil=True)
def _stream(values, stack, length, damage, p, goodman):
    T, K = values.shape
    L = stack.shape[1]
    for t in range(T):
        for k in range(K):
            x = values[t, k]
            n = length[k]
            if n >= 2 and (stack[k, n - 1] - stack[k, n - 2]) * (x - stack[k, n - 1]) >= 0.0:
                stack[k, n - 1] = x  # still rising (or falling): the extreme moves on
            elif n >= 1 and x == stack[k, n - 1]:
                continue
            else:
                if n == L:  # bounded residue: the oldest reversal is counted as a half cycle
                    a, b = stack[k, 0], stack[k, 1]
                    damage[k] += 0.5 * _cycle_damage(abs(b - a), 0.5 * (a + b), p, goodman)
                    for j in range(L - 1):
                        stack[k, j] = stack[k, j + 1]
                    n -= 1
                stack[k, n] = x
                n += 1
            while n >= 4:
                a, b, c, d = stack[k, n - 4], stack[k, n - 3], stack[k, n - 2], stack[k, n - 1]
                inner = abs(c - b)
                if inner <= abs(b - a) and inner <= abs(d - c):
                    damage[k] += _cycle_damage(inner, 0.5 * (b + c), p, goodman)
                    stack[k, n - 3] = d
                    n -= 2
                else:
                    break
            length[k] = n


@njit(cache=True, nogil=True)
def _residue(stack, length, p, goodman, out):
    for k in range(stack.shape[0]):
        s = 0.0
        for j in range(length[k] - 1):
            a, b = stack[k, j], stack[k, j + 1]
            s += 0.5 * _cycle_damage(abs(b - a), 0.5 * (a + b), p, goodman)
        out[k] = s


class StreamingDamage:
    """Miner damage of K stress histories fed sample by sample (or in blocks)."""

    def __init__(self, k: int, curve: SNCurve, correction: str = "goodman",
                 depth: int = 256) -> None:
        self.curve = curve
        self.goodman = correction == "goodman" and math.isfinite(curve.ultimate)
        self.p = curve.params()
        self.stack = np.zeros((k, depth))
        self.length = np.zeros(k, dtype=np.int64)
        self.closed = np.zeros(k)

    def update(self, stress: np.ndarray) -> None:
        """Stresses (T, K) in MPa, in time order."""
        _stream(np.ascontiguousarray(np.atleast_2d(stress), dtype=float), self.stack,
                self.length, self.closed, self.p, self.goodman)

    @property
    def damage(self) -> np.ndarray:
        """Closed cycles plus the residue's half cycles, per history."""
        out = np.zeros(len(self.closed))
        _residue(self.stack, self.length, self.p, self.goodman, out)
        return self.closed + out


def signed_von_mises(s6: np.ndarray) -> np.ndarray:
    """Von Mises stress signed by the hydrostatic stress (tension positive), from Voigt
    (..., 6): a common equivalent for fatigue of proportional multiaxial stress."""
    sx, sy, sz, txy, tyz, txz = np.moveaxis(np.asarray(s6, float), -1, 0)
    vm = np.sqrt(np.maximum(0.5 * ((sx - sy) ** 2 + (sy - sz) ** 2 + (sz - sx) ** 2)
                            + 3 * (txy ** 2 + tyz ** 2 + txz ** 2), 0.0))
    tr = sx + sy + sz
    return np.where(tr >= 0, vm, -vm)

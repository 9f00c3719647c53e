"""The C-MAPSS benchmark: grouped cross-validation by engine on a training fleet.

Only the training fleet of NASA's C-MAPSS is at hand, so engines are held out: the
engines are shuffled (seeded) into ``folds`` groups; each fold trains on the other groups'
engines only (never a row of a held-out engine) and scores each held-out engine as the
competition's test set does, at a *truncated* history: ``cuts`` seeded cut points per
engine, the last observed cycle drawn uniformly between cycle 31 (the shortest test
history) and the engine's last cycle. The true remaining life is then its last cycle
minus the cut, capped at 125 like the model's target.

Scores: RMSE over all cuts, and the PHM08 asymmetric score (late predictions cost more):
s = exp(-d/13) - 1 for d < 0, exp(d/10) - 1 for d >= 0, d = predicted - true; summed over
engines (each engine's mean over its cuts), so the total over all folds is comparable with
the published sums over FD001's 100 test engines.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from sim.errors import InputError
from sim.predict.features import fleet_features
from sim.predict.fleet import Fleet
from sim.predict.rul import RulModel
from sim.progress import Progress, no_progress, sub_progress

CAP = 125.0
MIN_OBSERVED = 31


def phm08_score(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    d = np.asarray(pred, dtype=float) - np.asarray(true, dtype=float)
    return np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))


@dataclass
class FoldResult:
    fold: int
    engines: list[str]
    cuts: int
    rmse: float
    score: float  # PHM08, summed over the fold's engines
    train_s: float
    predict_ms_per_unit: float


@dataclass
class Evaluation:
    folds: list[FoldResult] = field(default_factory=list)
    rmse: float = 0.0  # over every cut of every held-out engine
    score: float = 0.0  # PHM08 summed over all engines (each held out once)
    rmse_fold_mean: float = 0.0
    train_s_mean: float = 0.0
    predict_ms_per_unit: float = 0.0
    coverage_10_90: float = 0.0  # fraction of true values inside the 10-90 % interval

    def to_dict(self) -> dict:
        return asdict(self)


def cut_points(fleet: Fleet, engines: list[str], cuts: int, seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    bounds = dict(zip(fleet.unit_ids(), fleet.bounds(), strict=True))
    out = {}
    for u in engines:
        s, e = bounds[u]
        first, last = fleet.time[s], fleet.time[e - 1]
        lo = min(first + MIN_OBSERVED - 1, last)
        out[u] = sorted(float(v) for v in rng.integers(int(lo), int(last) + 1, size=cuts))
    return out


def evaluate(fleet: Fleet, folds: int = 5, cuts: int = 5, seed: int = 0,
             progress: Progress = no_progress) -> Evaluation:
    engines = fleet.unit_ids()
    if folds < 2 or folds > len(engines):
        raise InputError(f"--folds must be between 2 and the number of engines "
                         f"({len(engines)}).")
    if cuts < 1:
        raise InputError("--cuts must be at least 1.")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(engines))
    groups = [sorted((engines[i] for i in order[k::folds]), key=float if all(
        e.isdigit() for e in engines) else str) for k in range(folds)]
    ev = Evaluation()
    all_pred, all_true, all_lo, all_hi = [], [], [], []
    for k, held in enumerate(groups):
        report = sub_progress(progress, k / folds, (k + 1) / folds)
        train = fleet.select([e for e in engines if e not in set(held)])
        assert not set(train.unit_ids()) & set(held)  # grouped by engine, never by row
        t0 = time.perf_counter()
        model = RulModel.train(train, cap=CAP, progress=sub_progress(report, 0.0, 0.95))
        train_s = time.perf_counter() - t0
        test = fleet.select(held)
        cut = cut_points(test, held, cuts, seed + 1000 + k)
        pred, true, lo, hi, per_engine_score = [], [], [], [], []
        elapsed, units = 0.0, 0
        for c in range(cuts):
            last = {u: cut[u][c] for u in held}
            view = test.truncated(last)
            t1 = time.perf_counter()
            out = model.predict(view)
            elapsed += time.perf_counter() - t1
            units += len(out)
            ends = {u: test.time[e - 1] for u, (_s, e) in zip(test.unit_ids(), test.bounds(),
                                                               strict=True)}
            for p in out:
                pred.append(p.rul)
                lo.append(p.low)
                hi.append(p.high)
                true.append(min(ends[p.unit] - last[p.unit], CAP))
        pred, true = np.asarray(pred), np.asarray(true)
        s = phm08_score(pred, true).reshape(cuts, len(held))
        per_engine_score = s.mean(axis=0)
        ev.folds.append(FoldResult(k + 1, held, cuts, float(np.sqrt(np.mean((pred - true) ** 2))),
                                   float(per_engine_score.sum()), round(train_s, 2),
                                   round(1000.0 * elapsed / max(units, 1), 4)))
        all_pred.append(pred)
        all_true.append(true)
        all_lo += lo
        all_hi += hi
        report(1.0, f"Fold {k + 1}: RMSE {ev.folds[-1].rmse:.2f}")
    p, t = np.concatenate(all_pred), np.concatenate(all_true)
    ev.rmse = float(np.sqrt(np.mean((p - t) ** 2)))
    ev.score = float(sum(f.score for f in ev.folds))
    ev.rmse_fold_mean = float(np.mean([f.rmse for f in ev.folds]))
    ev.train_s_mean = float(np.mean([f.train_s for f in ev.folds]))
    ev.predict_ms_per_unit = float(np.mean([f.predict_ms_per_unit for f in ev.folds]))
    lo_a, hi_a = np.asarray(all_lo), np.asarray(all_hi)
    ev.coverage_10_90 = float(np.mean((t >= lo_a - 1e-9) & (t <= hi_a + 1e-9)))
    return ev


def single_unit_latency(model: RulModel, fleet: Fleet, repeats: int = 200) -> float:
    """Milliseconds to predict one unit's remaining life from its history (features + model),
    one unit at a time (the live case), median over ``repeats``."""
    one = fleet.select([fleet.unit_ids()[0]])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.predict(one)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


__all__ = ["evaluate", "phm08_score", "single_unit_latency", "fleet_features"]

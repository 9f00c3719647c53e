"""What a sweep's results say: statistics and percentiles per quantity, probabilities of
failure (with a Wilson 95 % interval), and sensitivities: Sobol first/total-order indices
(SALib, Saltelli design), Morris screening (SALib, Morris design), or Spearman rank
correlations for plain Monte Carlo / LHS / Sobol-sequence designs.

Sensitivities use the design's unit-cube coordinates (recomputed from the spec and seed), so
they rank parameters of any distribution, discrete lists included.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.sweep.sampling import make_design, salib_problem
from sim.sweep.spec import SweepSpec

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def stats_of(y: np.ndarray) -> dict[str, Any]:
    y = y[np.isfinite(y)]
    if not len(y):
        return {"n": 0}
    pct = np.percentile(y, PERCENTILES)
    mean = float(y.mean())
    std = float(y.std(ddof=1)) if len(y) > 1 else 0.0
    return {"n": int(len(y)), "mean": mean, "std": std,
            "cv": std / abs(mean) if mean else None, "min": float(y.min()), "max": float(y.max()),
            **{f"p{p}": float(v) for p, v in zip(PERCENTILES, pct, strict=True)}}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def failure_probability(df: Any, criterion: dict[str, Any]) -> dict[str, Any]:
    col = f"q.{criterion['qoi']}"
    y = df[col].to_numpy(dtype=float) if col in df else np.zeros(0)
    y = y[np.isfinite(y)]
    if "above" in criterion:
        thr, fails, text = float(criterion["above"]), y > float(criterion["above"]), ">"
    else:
        thr, fails, text = float(criterion["below"]), y < float(criterion["below"]), "<"
    k, n = int(fails.sum()), int(len(y))
    lo, hi = wilson(k, n)
    return {"qoi": criterion["qoi"], "event": f"{criterion['qoi']} {text} {thr:g}",
            "threshold": thr, "failures": k, "n": n, "probability": k / n if n else None,
            "ci95": [lo, hi]}


def _member_rows(df: Any, member_index: int, rows: int, qoi: str) -> np.ndarray:
    """Y of one member in design order (NaN where a sample is missing or failed)."""
    y = np.full(rows, np.nan)
    ids = df["sample"].to_numpy(dtype=int) - member_index * rows
    inside = (ids >= 0) & (ids < rows)
    col = df[f"q.{qoi}"].to_numpy(dtype=float)
    y[ids[inside]] = col[inside]
    return y


def sensitivity(spec: SweepSpec, df: Any, unit: np.ndarray) -> list[dict[str, Any]]:
    """One entry per (member, quantity): method, indices per parameter, or why none."""
    names = [p.name for p in spec.parameters]
    if not names:
        return []
    out = []
    rows = len(unit)
    for m, member in enumerate(spec.members):
        for q in spec.qois:
            y = _member_rows(df, m, rows, q.name)
            entry: dict[str, Any] = {"member": member.name, "qoi": q.name, "parameters": names}
            ok = np.isfinite(y)
            if spec.sampler in ("saltelli", "morris") and not ok.all():
                entry.update(method=spec.sampler, note=f"{int((~ok).sum())} of {rows} samples "
                                                       "missing or failed: indices not computed")
            elif np.nanstd(y) == 0:
                entry.update(method="none", note="the quantity does not vary")
            elif spec.sampler == "saltelli":
                from SALib.analyze import sobol

                r = sobol.analyze(salib_problem(len(names), names), y, calc_second_order=False,
                                  seed=spec.seed)
                entry.update(method="sobol", S1=r["S1"].tolist(), S1_conf=r["S1_conf"].tolist(),
                             ST=r["ST"].tolist(), ST_conf=r["ST_conf"].tolist())
            elif spec.sampler == "morris":
                from SALib.analyze import morris

                r = morris.analyze(salib_problem(len(names), names), unit, y, num_levels=4,
                                   seed=spec.seed)
                entry.update(method="morris", mu_star=np.asarray(r["mu_star"]).tolist(),
                             mu_star_conf=np.asarray(r["mu_star_conf"]).tolist(),
                             sigma=np.asarray(r["sigma"]).tolist())
            else:
                from scipy.stats import spearmanr

                rho = []
                for k in range(len(names)):
                    x = unit[ok, k]
                    rho.append(float(spearmanr(x, y[ok]).statistic) if np.ptp(x) > 0 else 0.0)
                entry.update(method="spearman", rho=rho)
            out.append(entry)
    return out


def analyse(spec: SweepSpec, df: Any) -> dict[str, Any]:
    """The whole analysis as JSON-ready data."""
    design = make_design(spec)
    expected = len(design.samples)
    failed = df[df["error"].notna()] if len(df) else df
    good = df[df["error"].isna()] if len(df) else df
    qstats: dict[str, Any] = {}
    for q in spec.qois:
        col = f"q.{q.name}"
        y = good[col].to_numpy(dtype=float) if col in good else np.zeros(0)
        qstats[q.name] = {"all": stats_of(y)}
        if len(spec.members) > 1:
            for member in spec.members:
                sel = good[good["member"] == member.name]
                qstats[q.name][member.name] = stats_of(sel[col].to_numpy(dtype=float))
    errors: dict[str, int] = {}
    for msg in (failed["error"] if len(failed) else []):
        errors[msg] = errors.get(msg, 0) + 1
    return {"name": spec.name, "base": {"kind": spec.base_kind, "target": spec.base_path},
            "sampler": {"method": spec.sampler, "n": spec.n, "seed": spec.seed,
                        "rows": design.rows},
            "parameters": [{"name": p.name, "path": p.path, "distribution": p.describe()}
                           for p in spec.parameters],
            "members": [m.name for m in spec.members],
            "samples": {"expected": expected, "recorded": int(len(df)), "ok": int(len(good)),
                        "failed": int(len(failed))},
            "errors": [{"error": k, "count": v} for k, v in sorted(errors.items(), key=lambda kv: -kv[1])],
            "quantities": qstats,
            "failure": [failure_probability(good, c) for c in spec.failure],
            "sensitivity": sensitivity(spec, good, design.unit) if len(good) else []}

"""The design of a sweep: points in the unit cube from a seeded sampler, mapped through each
parameter's distribution (inverse CDF), repeated for every cohort member.

The same spec and seed always give the same samples (resume and reports rely on it): Monte
Carlo uses numpy's PCG64, Latin hypercube and scrambled Sobol use ``scipy.stats.qmc`` with the
seed, Saltelli (for Sobol indices) and Morris use SALib's samplers with the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sim.sweep.spec import Member, Parameter, SweepSpec

_EDGE = 1e-12  # keep unbounded distributions' inverse CDF finite at u = 0 or 1


@dataclass
class Sample:
    id: int
    member: Member
    values: dict[str, Any]  # parameter name -> value


@dataclass
class Design:
    unit: np.ndarray  # (rows, parameters) points in [0, 1]
    values: list[dict[str, Any]]  # one per row
    samples: list[Sample]  # rows x members

    @property
    def rows(self) -> int:
        return len(self.values)


def unit_points(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``method``'s points in [0, 1]^d (rows depend on the method: Saltelli n(d+2),
    Morris n(d+1), otherwise n)."""
    if d == 0:
        return np.zeros((n, 0))
    if method == "mc":
        return np.random.default_rng(seed).random((n, d))
    if method == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(n)
    if method == "sobol":
        from scipy.stats import qmc

        return qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(seed)).random(n)
    problem = salib_problem(d)
    if method == "saltelli":
        from SALib.sample import sobol as sobol_sample

        return sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(problem, n, num_levels=4, seed=seed)


def salib_problem(d: int, names: list[str] | None = None) -> dict[str, Any]:
    names = names or [f"x{k}" for k in range(d)]
    return {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}


def transform(p: Parameter, u: np.ndarray, morris: bool = False) -> list[Any]:
    """Values of ``p`` at unit coordinates ``u`` (inverse CDF)."""
    a = p.args
    if p.dist == "uniform":
        return (a["low"] + u * (a["high"] - a["low"])).tolist()
    if p.dist == "discrete":
        vals = p.values
        idx = np.minimum((u * len(vals)).astype(int), len(vals) - 1)
        return [vals[i] for i in idx]
    if morris:  # Morris levels include 0 and 1: screen over the 0.5-99.5 % range
        u = 0.005 + 0.99 * u
    z = stats.norm.ppf(np.clip(u, _EDGE, 1 - _EDGE))
    if p.dist == "normal":
        return (a["mean"] + a["std"] * z).tolist()
    return (a["median"] * np.exp(a["sigma"] * z)).tolist()


def make_design(spec: SweepSpec) -> Design:
    """Every sample of ``spec`` in a fixed order: member by member, rows within each."""
    d = len(spec.parameters)
    unit = unit_points(spec.sampler, spec.n, d, spec.seed)
    cols = [transform(p, unit[:, k], spec.sampler == "morris") for k, p in enumerate(spec.parameters)]
    values = [{p.name: cols[k][i] for k, p in enumerate(spec.parameters)} for i in range(len(unit))]
    samples = [Sample(m * len(values) + i, member, row)
               for m, member in enumerate(spec.members) for i, row in enumerate(values)]
    return Design(unit, values, samples)

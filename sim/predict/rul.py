"""Remaining useful life learned from a fleet's run-to-failure histories.

Every row of every training unit is one example: the causal features at that row
(:mod:`sim.predict.features`) and the rows left until the unit's last one (its failure),
capped at ``cap`` (C-MAPSS convention: 125 cycles; early in life the remaining life cannot
be told from healthy data, so the target is flat there). Three LightGBM models are fitted:
the mean remaining life and its 10th and 90th percentiles (the interval).

A model is saved as JSON: LightGBM's own text format for the trees (no pickle, so a model
file from someone else cannot run code), the normalisation, the feature list, and what it
was trained on (source, units, rows, SHA-256 of the data).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.io.json_file import check_header
from sim.model.atomic import write_text_atomic
from sim.predict.features import Normaliser, feature_names, fleet_features
from sim.predict.fleet import Fleet
from sim.progress import Progress, no_progress

FORMAT, VERSION = "twinsight-rul-model", 1
QUANTILES = (0.1, 0.9)
# One thread: on a busy two-core machine LightGBM's OpenMP threads spin against each other
# (400 rounds took 96 s with two threads under load, 18 s with one).
PARAMS = {"learning_rate": 0.08, "num_leaves": 15, "min_data_in_leaf": 40, "max_bin": 63,
          "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
          "lambda_l2": 1.0, "verbosity": -1, "num_threads": 1, "deterministic": True,
          "force_row_wise": True, "seed": 7}
ROUNDS = 250  # mean model; the quantile models take QUANTILE_ROUNDS
QUANTILE_ROUNDS = 150


@dataclass(frozen=True)
class RulPrediction:
    unit: str
    age: float  # time since the unit's first row (cycles or seconds)
    rul: float
    low: float  # 10th percentile
    high: float  # 90th percentile

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def remaining(fleet: Fleet, cap: float | None) -> np.ndarray:
    """Each row's remaining life to its unit's last row, capped at ``cap``."""
    out = np.empty(len(fleet))
    for s, e in fleet.bounds():
        out[s:e] = fleet.time[e - 1] - fleet.time[s:e]
    return out if cap is None else np.minimum(out, cap)


class RulModel:
    def __init__(self, norm: Normaliser, boosters: dict, cap: float | None,
                 trained_on: dict | None = None, created: str = "") -> None:
        self.norm = norm
        self.boosters = boosters  # "mean", "q10", "q90" -> lightgbm.Booster
        self.cap = cap
        self.trained_on = trained_on or {}
        self.created = created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    @property
    def features(self) -> list[str]:
        return feature_names(self.norm.sensors)

    # -- training -------------------------------------------------------------------------
    @classmethod
    def train(cls, fleet: Fleet, cap: float | None = 125.0, rounds: int = ROUNDS,
              progress: Progress = no_progress, where: str | Path | None = None) -> RulModel:
        import lightgbm as lgb

        fleet.check_trainable(where or fleet.source or "the fleet")
        if cap is not None and not cap > 0:
            raise InputError("The remaining-life cap must be positive.")
        progress(0.0, "Features")
        norm = Normaliser.fit(fleet)
        if not norm.sensors:
            raise FileFormatError(where or fleet.source, "none of its sensors varies")
        x, _ = fleet_features(fleet, norm)
        y = remaining(fleet, cap)
        boosters = {}
        goals = [("mean", {"objective": "regression"})] + [
            (f"q{int(q * 100)}", {"objective": "quantile", "alpha": q}) for q in QUANTILES]
        for k, (name, objective) in enumerate(goals):
            n = rounds if name == "mean" else max(1, rounds * QUANTILE_ROUNDS // ROUNDS)

            def tick(env, k=k, name=name, n=n) -> None:
                if env.iteration % 10 == 0:
                    progress(0.05 + 0.95 * (k + env.iteration / n) / len(goals),
                             f"Training {name} ({env.iteration}/{n})")

            data = lgb.Dataset(x, y, feature_name=feature_names(norm.sensors),
                               free_raw_data=False, params={"verbosity": -1})
            boosters[name] = lgb.train({**PARAMS, **objective}, data, n,
                                       callbacks=[tick])  # a Cancelled from tick propagates
        progress(1.0, "Trained")
        steps = np.concatenate([np.diff(fleet.time[s:e]) for s, e in fleet.bounds()])
        info = {"source": fleet.source, "units": len(fleet.bounds()), "rows": len(fleet),
                "step": float(np.median(steps)) if len(steps) else 1.0,
                "time_unit": fleet.time_unit,
                "sha256": fleet.fingerprint(), "channels": list(fleet.channels),
                "lightgbm": lgb.__version__}
        return cls(norm, boosters, cap, info)

    # -- prediction -------------------------------------------------------------------------
    def predict(self, fleet: Fleet) -> list[RulPrediction]:
        """Each unit's remaining life at its latest row, with a 10-90 % interval."""
        x, bounds = fleet_features(fleet, self.norm, last_only=True)
        if not len(x):
            return []
        cols = self.predict_features(x)
        out = []
        for (s, e), (m, lo, hi) in zip(bounds, cols, strict=True):
            out.append(RulPrediction(str(fleet.unit[s]), float(fleet.time[e - 1]
                                                               - fleet.time[s] + 1.0),
                                     m, lo, hi))
        return out

    def predict_features(self, x: np.ndarray) -> list[tuple[float, float, float]]:
        top = math.inf if self.cap is None else self.cap
        m = np.clip(self.boosters["mean"].predict(x, num_threads=1), 0.0, top)
        lo = np.clip(self.boosters["q10"].predict(x, num_threads=1), 0.0, top)
        hi = np.clip(self.boosters["q90"].predict(x, num_threads=1), 0.0, top)
        lo, hi = np.minimum(lo, m), np.maximum(hi, m)
        return [(float(a), float(b), float(c)) for a, b, c in zip(m, lo, hi, strict=True)]

    # -- files ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "created": self.created,
                "cap": self.cap, "normaliser": self.norm.to_dict(), "features": self.features,
                "trained_on": self.trained_on,
                "boosters": {k: b.model_to_string() for k, b in self.boosters.items()}}

    @classmethod
    def from_dict(cls, doc: dict, where: str | Path = "the model") -> RulModel:
        import lightgbm as lgb

        doc = check_header(doc, where, FORMAT, VERSION, "remaining-life model")
        try:
            norm = Normaliser.from_dict(doc["normaliser"])
            boosters = {k: lgb.Booster(model_str=s) for k, s in doc["boosters"].items()}
            missing = {"mean", "q10", "q90"} - set(boosters)
            if missing:
                raise KeyError(", ".join(sorted(missing)))
        except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
            raise FileFormatError(where, f"the model is incomplete or damaged ({exc})") \
                from None
        return cls(norm, boosters, doc.get("cap"), doc.get("trained_on"), doc.get("created", ""))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        write_text_atomic(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> RulModel:
        from sim.io.json_file import read_json

        path = Path(path)
        return cls.from_dict(read_json(path, "remaining-life model", 200_000_000), path)

"""What-if: predicted stress and remaining life if a load channel's amplitude or duty changed.

Before a command (e.g. a new pump speed) is sent through the desired/reported path, the
recent identified load history is replayed with the change: a channel's magnitude scaled by
``amplitude`` (pump loads grow with the square of the speed), and the operating ``duty``
(fraction of time running, relative to now) scaling the cycles per day. Rainflow and Miner
give the damage rate per hot spot; remaining life follows from today's damage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.asset.fatigue import (
    DAY,
    SNCurve,
    count_cycles,
    miner_damage,
    remaining_life,
    signed_von_mises,
)
from sim.asset.model import AssetModel
from sim.errors import InputError


def what_if(model: AssetModel, t: np.ndarray, q: np.ndarray, curve: SNCurve,
            damage_now: np.ndarray, scales: dict[str, float] | None = None,
            duty: float = 1.0, correction: str = "goodman") -> dict[str, Any]:
    """Predicted peak stress, damage rate and remaining life at the hot spots for the loads
    ``q`` (T, C) over times ``t`` with the channel ``scales`` applied, against no change."""
    scales = scales or {}
    for c in scales:
        if c not in model.channels:
            raise InputError(f"There is no load channel '{c}' (known: "
                             f"{', '.join(model.channels)}).")
    if not duty > 0:
        raise InputError("The duty must be positive.")
    span = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    if span <= 0:
        raise InputError("A what-if needs a window of identified loads.")
    hot = model.hot_stress()
    out: dict[str, Any] = {"scales": scales, "duty": duty, "hot_spots": []}
    k_scale = np.array([scales.get(c, 1.0) for c in model.channels])
    for label, qq, d in (("now", q, 1.0), ("then", q * k_scale, duty)):
        s = signed_von_mises(np.einsum("kvc,tc->tkv", hot, qq))
        for k, name in enumerate(model.hot_names):
            rate = miner_damage(count_cycles(s[:, k]), curve, correction) / span * DAY * d
            life = remaining_life(float(damage_now[k]), span, curve, rate_per_day=rate)
            if label == "now":
                out["hot_spots"].append({"name": name})
            out["hot_spots"][k][label] = {"peak_stress_mpa": round(float(np.abs(s[:, k]).max()), 4),
                                          "damage_per_day": rate,
                                          "life_days": life.life_days,
                                          "life_band_days": [life.low_days, life.high_days]}
    worst = min(out["hot_spots"], key=lambda h: h["then"]["life_days"])
    out["message"] = (f"This change gives {worst['name']} a remaining life of "
                      f"{worst['then']['life_days']:.3g} days (now {worst['now']['life_days']:.3g}).")
    return out

"""Predictive alarms of the running twin: remaining life below N days, damage rate doubled."""

from __future__ import annotations

import copy

import numpy as np

from sim.asset.runtime import AssetTwin
from sim.asset.truth import TruthSimulator, true_loads
from sim.twin.alarms import AlarmBook


def test_life_and_damage_rate_alarms(bracket):
    _, _, base = bracket
    model = copy.copy(base)
    model.config = {**base.config, "fatigue": {**base.config["fatigue"],
                                               "life_alarm_days": 1e7, "rate_window_s": 300}}
    book = AlarmBook()
    twin = AssetTwin(model, book, dt=0.5)
    sim = TruthSimulator(model, seed=6)
    t = np.arange(0, 1800, 0.5)
    q = true_loads(t, model.channels)
    k = model.channels.index("thrust")
    q[t >= 900, k] *= 3.0  # the pump pushes three times harder from 15 min on
    y = sim.readings(t, q)
    for i in range(0, len(t), 600):
        twin.process(t[i:i + 600], y[i:i + 600])
    kinds = {(a.kind, a.sensor) for a in book.alarms.values()}
    assert any(kind == "life" for kind, _ in kinds), kinds
    rate = [a for a in book.alarms.values() if a.kind == "damage_rate"]
    assert rate and all(a.t >= 900 for a in rate), [(a.sensor, a.t) for a in rate]
    assert "doubled" in rate[0].message

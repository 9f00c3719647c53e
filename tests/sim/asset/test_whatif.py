"""What-if: a channel's amplitude and duty against hand-computed Miner damage."""

from __future__ import annotations

import numpy as np
import pytest

from sim.asset.fatigue import DAY, SNCurve, signed_von_mises
from sim.asset.whatif import what_if
from sim.errors import InputError


def test_amplitude_and_duty_change_damage_as_by_hand(bracket):
    _, _, model = bracket
    c = model.channels.index("thrust")
    n, Q = 200, 2000.0
    t = np.arange(2 * n, dtype=float)  # 0, Q, 0, Q ...: n cycles of range s(Q)
    q = np.zeros((2 * n, len(model.channels)))
    q[1::2, c] = Q
    curve = SNCurve("test", 20.0, 3, 5)
    res = what_if(model, t, q, curve, np.zeros(len(model.hot_names)), {"thrust": 2.0},
                  duty=0.5, correction="none")
    span = t[-1] - t[0]
    for k, h in enumerate(res["hot_spots"]):
        unit = model.hot_stress()[k, :, c]
        for label, scale, duty in (("now", 1.0, 1.0), ("then", 2.0, 0.5)):
            ds = abs(float(signed_von_mises(unit * Q * scale)))
            cycles = float(curve.cycles(ds))
            # 2n points 0, Q, ..., Q: ASTM counts n - 1 full cycles and one half cycle
            count = n - 0.5
            want = count / cycles / span * DAY * duty if np.isfinite(cycles) else 0.0
            assert h[label]["damage_per_day"] == pytest.approx(want, rel=1e-9)
            if want > 0:
                assert h[label]["life_days"] == pytest.approx(1.0 / want, rel=1e-9)
    assert "remaining life" in res["message"]
    with pytest.raises(InputError, match="no load channel 'speed'"):
        what_if(model, t, q, curve, np.zeros(4), {"speed": 2.0})

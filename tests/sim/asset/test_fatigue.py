"""Rainflow against the ASTM E1049-85 example, Miner damage and life against hand sums."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.asset.fatigue import (
    SNCurve,
    StreamingDamage,
    count_cycles,
    equivalent_range,
    miner_damage,
    remaining_life,
    sn_curve,
)


def test_rainflow_reproduces_astm_e1049_example_table():
    # ASTM E1049-85 (2017) Fig. 6 / X1: history -2 1 -3 5 -1 3 -4 4 -2
    cycles = count_cycles(np.array([-2, 1, -3, 5, -1, 3, -4, 4, -2], float))
    table: dict[float, float] = {}
    for rng, _mean, n in cycles:
        table[rng] = table.get(rng, 0.0) + n
    assert table == {3.0: 0.5, 4.0: 1.5, 6.0: 0.5, 8.0: 1.0, 9.0: 0.5}


def test_sn_curve_is_the_eurocode_shape():
    c = sn_curve("steel", "EN1993-1-9 160")
    assert c.ds_d == pytest.approx(160 * (2 / 5) ** (1 / 3))
    assert c.ds_l == pytest.approx(c.ds_d * (5 / 100) ** (1 / 5))
    assert c.cycles(160.0) == pytest.approx(2e6)
    assert c.cycles(c.ds_d) == pytest.approx(5e6)
    assert c.cycles(c.ds_l) == pytest.approx(1e8)
    assert math.isinf(float(c.cycles(0.99 * c.ds_l)))
    assert "EN 1993-1-9" in c.source
    for mat in ("aluminium", "titanium_alloy"):
        assert sn_curve(mat).source


def test_miner_constant_amplitude_and_block_equal_hand_sums():
    c = SNCurve("test", dsc=160.0, m1=3, m2=5)
    # constant amplitude: 1000 cycles of 200 MPa range (m = 3 branch)
    n200 = 2e6 * (160 / 200) ** 3
    ca = np.array([[200.0, 0.0, 1000.0]])
    assert miner_damage(ca, c, "none") == pytest.approx(1000 / n200, rel=1e-12)
    # block: + 5000 cycles of 100 MPa (below the CAFL: m = 5 branch) + 1e6 under the cut-off
    ds_d = 160 * 0.4 ** (1 / 3)
    n100 = 5e6 * (ds_d / 100) ** 5
    block = np.array([[200.0, 0.0, 1000.0], [100.0, 0.0, 5000.0], [30.0, 0.0, 1e6]])
    d = miner_damage(block, c, "none")
    assert d == pytest.approx(1000 / n200 + 5000 / n100, rel=1e-12)
    # remaining life: that block every day -> (1 - D_now) / D_per_day
    life = remaining_life(3 * d, 3 * 86400.0, c)
    assert life.life_days == pytest.approx((1 - 3 * d) / d, rel=1e-12)
    assert life.low_days < life.life_days < life.high_days
    z = 1.6448536269514722 * c.log10_sd * math.log(10)
    assert life.low_days == pytest.approx(life.life_days * math.exp(-z))


def test_goodman_correction_by_hand():
    c = SNCurve("t", 100.0, 3, 5, ultimate=400.0)
    assert equivalent_range(np.array([50.0]), np.array([100.0]), c)[0] == pytest.approx(
        50 / (1 - 100 / 400))
    assert equivalent_range(np.array([50.0]), np.array([-100.0]), c)[0] == 50.0


def test_streaming_damage_equals_whole_history_rainflow():
    c = sn_curve("steel", "EN1993-1-9 71")
    rng = np.random.default_rng(3)
    s = np.cumsum(rng.normal(size=(20000, 2)), axis=0) * 8.0
    sd = StreamingDamage(2, c, "goodman")
    for i in range(0, len(s), 777):  # blocks of any size give the same count
        sd.update(s[i:i + 777])
    for k in range(2):
        assert sd.damage[k] == pytest.approx(miner_damage(count_cycles(s[:, k]), c), rel=1e-9)

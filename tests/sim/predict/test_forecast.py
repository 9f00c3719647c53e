"""Forecast intervals have their nominal coverage on synthetic seasonal data; a forecast crossing
a limit is found; the monitor turns it into a "predicted to exceed" alarm."""

from __future__ import annotations

import numpy as np
import pytest

from sim.predict.forecast import bin_series, forecast


def test_interval_coverage_on_seasonal_series():
    rng = np.random.default_rng(11)
    period, n, h = 24, 240, 24
    cover = []
    for _ in range(60):
        t = np.arange(n + h, dtype=float)
        y = 10 + 0.01 * t + 3 * np.sin(2 * np.pi * t / period) + rng.normal(0, 1, n + h)
        f = forecast(t[:n], y[:n], horizon=h, step=1.0, period=period, level=0.9)
        assert len(f.t) == h and np.allclose(f.t, t[n:] + 0.5)
        cover.append(np.mean((y[n:] >= f.lower) & (y[n:] <= f.upper)))
    coverage = float(np.mean(cover))
    print(f"90 % interval coverage over 60 series x {h} steps: {coverage:.3f}")
    assert 0.84 <= coverage <= 0.95


def test_a_rising_series_is_predicted_to_cross_its_limit():
    t = np.arange(0.0, 120.0, 0.5)
    y = 40.0 + 0.1 * t + np.random.default_rng(0).normal(0, 0.05, len(t))
    f = forecast(t, y, horizon=60.0, step=1.0, trend=True)
    when, side, limit = f.crossing(15.0, 55.0)
    assert side == "high" and limit == 55.0
    assert when == pytest.approx(150.0, abs=6.0)  # 40 + 0.1 t reaches 55 at t = 150


def test_binning_fills_a_dropout():
    t = np.array([0.0, 0.5, 1.2, 4.1, 4.7])
    v = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    bt, bv = bin_series(t, v, 1.0)
    assert bv.tolist() == [2.0, 5.0, 5.0, 5.0, 8.0]


def test_monitor_raises_a_predicted_to_exceed_alarm():
    from sim.predict.monitor import AssetMonitor
    from sim.twin.sensors import Reading
    from sim.twin.simulate import demo_config
    from sim.twin.telemetry import TelemetryTwin

    tel = TelemetryTwin(demo_config())
    mon = AssetMonitor(tel, horizon_s=120.0)  # the data ends 80 s before the crossing
    s = tel.sensors["temp_bend"]
    for k in range(240):  # warming 0.1 degC/s from 40: 60 degC at t = 200 s
        tel.alarms.evaluate(s, Reading("temp_bend", 1000.0 + 0.5 * k, 40.0 + 0.05 * k))
    mon.update_predictions()
    alarms = [a for a in tel.alarms.open_alarms if a.kind == "forecast"]
    assert len(alarms) == 1 and alarms[0].sensor == "temp_bend"
    assert "predicted to exceed 60 degC" in alarms[0].message
    assert alarms[0].details["at"] == pytest.approx(1200.0, abs=8.0)
    mon.close()

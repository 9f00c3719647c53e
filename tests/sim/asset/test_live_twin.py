"""End to end on a real mosquitto broker: the simulated bracket publishes its gauges through
its FE model, the Live session receives them and the engineering twin identifies the loads,
records a virtual gauge and names the gauge that drifts."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sim.asset.runtime import AssetTwin
from sim.asset.truth import LiveGauges, TruthSimulator, link_sensors
from sim.twin import simulate
from sim.twin.history import HistoryReader
from sim.twin.mqtt_link import BrokerConfig, MqttLink
from sim.twin.session import LiveSession
from sim.twin.telemetry import TwinConfig


def test_live_twin_on_mosquitto(broker, bracket, tmp_path, wait_until):
    _, _, model = bracket
    sim = TruthSimulator(model, drift_at=3.0, drift_rate=20.0, seed=1)
    gauges = LiveGauges(sim)
    config = TwinConfig("Pump on bracket", simulate.BASE_TOPIC, link_sensors(model), [])
    session = LiveSession(config=config, history=tmp_path / "h.db")
    twin = AssetTwin(model, session.telemetry.alarms, session.history, dt=0.1)
    twin.add_virtual("outer face", "strain", [0.0, 20.0, 38.0], [0.0, 0.0, 1.0])
    session.telemetry.alarms.observe(twin.on_reading)
    pub = None
    try:
        session.connect_mqtt(BrokerConfig.from_url(broker.url))
        pub = MqttLink(BrokerConfig.from_url(broker.url)).start()
        pub.require_connected(10.0)
        stats = {}
        th = threading.Thread(target=lambda: stats.update(
            s=simulate.run(pub, None, duration=9.0, telemetry_hz=10.0, image_hz=0,
                           fault_at=1e9, gauges=gauges)))
        th.start()
        th.join(30)
        assert wait_until(lambda: twin.counters.samples >= 60, 10.0), twin.counters
        st = twin.status
        w = model.channels.index("pump_weight")
        assert st.loads[w] == pytest.approx(300.0, rel=0.03)  # the pump's true weight
        assert np.isfinite(st.residual_rms)
        faults = [a for a in session.telemetry.alarms.alarms.values()
                  if a.kind == "sensor_fault"]
        assert [a.sensor for a in faults] == [sim.drift_sensor]
        assert twin.counters.late == 0 and twin.counters.duplicate == 0
        summary = twin.summary()
        assert summary["excluded_sensors"] == [sim.drift_sensor]
        assert all(h["damage"] is not None for h in summary["hot_spots"])
        session.history.flush()
        with HistoryReader(tmp_path / "h.db") as r:
            t, v = r.series("virtual:outer face")
        assert len(v) >= 60 and np.isfinite(v).all()
    finally:
        if pub is not None:
            pub.close()
        session.close()


def test_late_duplicate_and_missing_readings(bracket):
    from sim.twin.sensors import Reading

    _, _, model = bracket
    twin = AssetTwin(model, dt=0.1)
    sim = TruthSimulator(model, seed=2)
    t, _, y = sim.history(1.0, 10)
    ids = model.sensor_ids
    for k, tt in enumerate(t):
        for i, sid in enumerate(ids):
            if k == 3 and i == 0:
                continue  # a dropout: that sample is solved from the rest
            twin.on_reading(sid, Reading(sid, float(tt), float(y[k, i])))
        if k == 5:
            twin.on_reading(ids[1], Reading(ids[1], float(tt), 1.0))  # duplicate
    twin.on_reading(ids[0], Reading(ids[0], float(t[2]), 0.0))  # late
    twin.on_reading(ids[0], Reading(ids[0], float(t[-1]) + 1, float("nan")))
    assert twin.counters.duplicate == 1
    assert twin.counters.late == 1
    assert twin.counters.not_finite == 1
    assert twin.counters.samples == len(t)
    assert twin.status.loads[model.channels.index("pump_weight")] == pytest.approx(300, rel=0.05)


def test_one_sample_at_a_time_equals_blocks(bracket):
    """The live fast path (one complete sample) gives the block path's loads and statistics."""
    from sim.asset.health import HealthMonitor
    from sim.asset.identify import LoadIdentifier

    _, _, model = bracket
    t, _, y = TruthSimulator(model, drift_at=5.0, drift_rate=2.0, seed=4).history(20, 10)
    ident = LoadIdentifier(model)
    q_block, sd_block = ident.identify(y)
    mon = HealthMonitor(model, ident, 0.1)
    _, _, z_block = mon.update(t, y, q_block)
    mon1 = HealthMonitor(model, LoadIdentifier(model), 0.1)
    z_one = []
    for i in range(len(t)):
        q1, sd1 = mon1.ident.identify(y[i:i + 1])
        np.testing.assert_allclose(q1[0], q_block[i], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(sd1[0], sd_block[i], rtol=1e-9)
        z_one.append(mon1.update(t[i:i + 1], y[i:i + 1], q1)[2][0])
    np.testing.assert_allclose(np.array(z_one), z_block, rtol=1e-6, atol=1e-9)


def test_accelerometer_prediction_is_the_second_derivative(bracket):
    """An accelerometer is predicted (not used to identify static loads): the second time
    derivative of the displacement the identified loads give, here of a pure sine load."""
    import math

    from sim.asset.config import config_from_dict
    from sim.asset.model import build_model

    cfg, fe, _ = bracket
    raw = dict(cfg.raw)
    raw["sensors"] = list(raw["sensors"]) + [
        {"id": "acc_top", "type": "acceleration", "point": [0, 20, 50], "direction": [1, 0, 0],
         "noise": 1.0}]
    model = build_model(config_from_dict(raw, cfg.folder, cfg.name), fe=fe)
    assert not model.identifying[model.sensor_ids.index("acc_top")]
    twin = AssetTwin(model, dt=0.01)
    t = np.arange(0, 2.0, 0.01)
    w = 2 * math.pi * 2.0
    q = np.zeros((len(t), len(model.channels)))
    q[:, model.channels.index("thrust")] = 100.0 * np.sin(w * t)
    q[:, model.channels.index("pump_weight")] = 300.0
    y = model.predict(q)  # noiseless readings
    twin.process(t, y)
    row = model.H[model.sensor_ids.index("acc_top"), model.channels.index("thrust")]
    exact = -w * w * 100.0 * np.sin(w * t[-2]) * row  # central difference sits at t[-2]
    got = twin.summary()["predicted_accelerations"]["acc_top"]
    assert got == pytest.approx(exact, rel=0.01)


def test_live_step_equals_the_block_path(bracket):
    """The compiled one-sample update (AssetTwin.process with one sample) leaves the twin in
    the state the general block path gives: loads, residual, hot-spot stresses, rainflow
    damage and the health test's statistics; a sample with a missing reading and a drifting
    gauge (named, then excluded, which rebuilds the compiled step's estimator) included."""
    from sim.asset.identify import LoadIdentifier

    _, _, model = bracket
    sim = TruthSimulator(model, drift_at=30.0, drift_rate=2.0, seed=3)
    t, _, y = sim.history(80, 10)
    y[100, 4] = np.nan  # a reading lost: the general path takes that sample
    one = AssetTwin(model, dt=0.1)
    snap, found_at = None, None
    for i in range(len(t)):
        st = one.process(t[i:i + 1], y[i:i + 1])
        if one.findings:
            found_at = i
            break
        snap = (one.health.state.A.copy(), one.health.state.V.copy(), one.damage.damage,
                list(st.loads), list(st.loads_sd), list(st.hot_stress), st.residual_rms)
    assert found_at is not None and found_at > 101
    # the block path up to the sample before the finding: the same state
    ref = AssetTwin(model, dt=0.1)
    ref.process(t[:100], y[:100])
    ref.process(t[100:101], y[100:101])
    ref.process(t[101:found_at], y[101:found_at])
    assert not ref.findings
    A, V, damage, loads, loads_sd, hot, rms = snap
    np.testing.assert_allclose(A, ref.health.state.A, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(V, ref.health.state.V, rtol=1e-9)
    np.testing.assert_allclose(damage, ref.damage.damage, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(loads, ref.status.loads, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(loads_sd, ref.status.loads_sd, rtol=1e-9)
    np.testing.assert_allclose(hot, ref.status.hot_stress, rtol=1e-9)
    assert rms == pytest.approx(ref.status.residual_rms, rel=1e-9)
    # the next sample names the drifting gauge in both
    ref.process(t[found_at:found_at + 1], y[found_at:found_at + 1])
    assert [f.name for f in ref.findings] == [f.name for f in one.findings] == \
        [sim.drift_sensor]
    # after the exclusion the loads come from the other gauges, as a fresh identifier's
    for i in range(found_at + 1, len(t)):
        one.process(t[i:i + 1], y[i:i + 1])
    assert one.counters.samples == len(t)
    ident = LoadIdentifier(model)
    ident.exclude(sim.drift_sensor)
    q, sd = ident.identify(y[-1:])
    np.testing.assert_allclose(one.status.loads, q[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(one.status.loads_sd, sd[0], rtol=1e-9)

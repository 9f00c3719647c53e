"""Sensors, payload validation (property-based), alarms, surface field and twin config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import FileFormatError, InputError
from sim.twin import simulate
from sim.twin.alarms import AlarmBook
from sim.twin.errors import PayloadError
from sim.twin.sensors import Reading, Sensor, parse_payload
from sim.twin.surface_field import SurfaceField
from sim.twin.telemetry import TelemetryTwin, TwinConfig

NOW = 1_700_000_000.0
TEMP = Sensor("t1", "plant/t1", "temperature", "degC", (10.0, 50.0), point=(0, 0, 0),
              limits=(-50, 300), max_rate=1.0)


def test_payload_forms():
    assert parse_payload(TEMP, b"21.5", NOW) == Reading("t1", NOW, 21.5)
    r = parse_payload(TEMP, json.dumps({"value": 30, "unit": "degC", "t": NOW - 5}).encode(), NOW)
    assert (r.t, r.value) == (NOW - 5, 30.0)


@pytest.mark.parametrize("payload,reason", [
    (b"", "neither"), (b"\xff\xfe", "UTF-8"), (b"hot", "neither"), (b"true", "not a number"),
    (b"NaN", "not finite"), (b'{"v": 1}', "no 'value'"), (b'{"value": "12"}', "not a number"),
    (b'{"value": 1, "unit": "K"}', "expected 'degC'"), (b"1e6", "physical limits"),
    (b'{"value": 1, "t": 1}', "clock"), (b"1" * 5000, "limit"), (b"[1, 2]", "not a number"),
])
def test_invalid_payloads(payload, reason):
    with pytest.raises(PayloadError, match=reason):
        parse_payload(TEMP, payload, NOW)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(payload):
    try:
        r = parse_payload(TEMP, payload, NOW)
    except PayloadError:
        return
    assert math.isfinite(r.value) and -50 <= r.value <= 300


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["value", "unit", "t", "x"]),
                                                        c, max_size=4), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_random_json_never_crashes(doc):
    payload = json.dumps(doc).encode()
    try:
        r = parse_payload(TEMP, payload, NOW)
    except PayloadError:
        return
    assert math.isfinite(r.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.binary(max_size=200))
def test_twin_ingest_of_anything_keeps_counters_consistent(topic, payload):
    twin = TelemetryTwin(simulate.demo_config())
    for t in (topic, twin.config.sensors[0].topic, f"{twin.config.base_topic}/ack",
              f"{twin.config.base_topic}/reported/speed"):
        twin.ingest(t, payload)
    c = twin.counters
    assert c.received == 4 and c.accepted + c.rejected + c.unknown_topic == 4


def test_sensor_definition_is_checked():
    with pytest.raises(InputError, match="normal range"):
        Sensor("x", "a/b", "q", "u", (5, 1))
    with pytest.raises(InputError, match="wildcards"):
        Sensor("x", "a/#", "q", "u", (0, 1))
    with pytest.raises(InputError, match="incomplete"):
        Sensor.from_dict({"id": "x"})


def test_threshold_alarm_lifecycle():
    book = AlarmBook()
    assert book.evaluate(TEMP, Reading("t1", 0, 20)) == []
    (alarm,) = book.evaluate(TEMP, Reading("t1", 100, 55))
    assert alarm.kind == "high" and alarm.state == "active"
    assert book.evaluate(TEMP, Reading("t1", 200, 56)) == []  # one open alarm, not a flood
    with pytest.raises(InputError, match="still active"):
        book.clear(alarm.id)
    book.acknowledge(alarm.id)
    assert alarm.state == "active, acknowledged"
    book.evaluate(TEMP, Reading("t1", 300, 30))
    assert not alarm.condition_active
    book.clear(alarm.id)
    assert alarm.state == "cleared" and book.open_alarms == []
    with pytest.raises(InputError, match="no alarm"):
        book.acknowledge(999_999)


def test_rate_of_change_alarm_inside_normal_range():
    book = AlarmBook()
    rng = np.random.default_rng(1)
    for i in range(200):  # 20 s of noisy but steady readings at 10 Hz: no alarm
        assert book.evaluate(TEMP, Reading("t1", i * 0.1, 20.0 + 0.3 * rng.normal())) == []
    raised = []
    for i in range(200, 300):  # then +2 degC/s, inside the normal range at first
        raised += book.evaluate(TEMP, Reading("t1", i * 0.1, 20.0 + 2.0 * (i - 200) * 0.1))
    (alarm,) = raised
    assert alarm.kind == "rate" and alarm.value < 50 and "changes at +" in alarm.message
    for i in range(300, 400):
        book.evaluate(TEMP, Reading("t1", i * 0.1, 40.0))
    assert not alarm.condition_active


def test_surface_field_interpolates_between_sensors():
    verts = np.array([[0, 0, 0], [10, 0, 0], [5, 0, 0], [100, 0, 0]], float)
    a = Sensor("a", "s/a", "temperature", "degC", (0, 100), point=(0, 0, 0))
    b = Sensor("b", "s/b", "temperature", "degC", (0, 100), point=(10, 0, 0))
    f = SurfaceField(verts, [a, b])
    v = f.evaluate({"a": 20.0, "b": 40.0})
    np.testing.assert_allclose(v[:3], [20.0, 40.0, 30.0], atol=1e-6)
    expected = (20 / 100**2 + 40 / 90**2) / (1 / 100**2 + 1 / 90**2)  # 1/d² weights
    assert v[3] == pytest.approx(expected) and v[3] > 30.0  # nearer to b
    np.testing.assert_allclose(f.evaluate({"a": 20.0}), 20.0)  # missing sensor: excluded
    assert f.evaluate({}) is None
    assert f.legend.title == "temperature (degC)"
    with pytest.raises(InputError, match="one quantity"):
        SurfaceField(verts, [a, Sensor("c", "s/c", "strain", "u", (0, 1), point=(0, 0, 0))])


def test_region_sensor_owns_its_vertices():
    cfg = simulate.demo_config()
    surf = simulate.demo_asset_surface()
    twin = TelemetryTwin(cfg)
    field = twin.field_for("strain", surf.points)
    region = cfg.sensors[-1].region
    assert region and np.allclose(field.evaluate({"strain_bend": 321.0})[region], 321.0)
    temp = twin.field_for("temperature", surf.points).evaluate({"temp_bend": 60, "temp_top": 30})
    assert temp.shape == (surf.n_points,) and 30 <= temp.min() < temp.max() <= 60


def test_twin_config_round_trip_and_bad_files(tmp_path):
    cfg = simulate.demo_config()
    cfg.save(tmp_path / "twin.json")
    back = TwinConfig.load(tmp_path / "twin.json")
    assert [s.to_dict() for s in back.sensors] == [s.to_dict() for s in cfg.sensors]
    assert back.properties[0].maximum == 3000
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FileFormatError, match="not valid JSON"):
        TwinConfig.load(tmp_path / "bad.json")
    (tmp_path / "dup.json").write_text(json.dumps(
        {"sensors": [cfg.sensors[0].to_dict(), cfg.sensors[0].to_dict()]}))
    with pytest.raises(FileFormatError, match="unique"):
        TwinConfig.load(tmp_path / "dup.json")


def test_time_plot_buffer_is_bounded():
    twin = TelemetryTwin(simulate.demo_config())
    topic = twin.config.sensors[3].topic
    for i in range(5000):
        twin.ingest(topic, str(1.0 + i * 1e-4).encode())
    t, v = twin.plot("vibration")
    assert len(t) == 2000 and v[-1] == pytest.approx(1.4999)


def test_cleared_alarms_are_bounded_in_memory():
    from sim.twin import alarms

    book = AlarmBook()
    plain = Sensor("t1", "plant/t1", "temperature", "degC", (10.0, 50.0), point=(0, 0, 0))
    for i in range(alarms.MAX_CLEARED + 50):
        (a,) = book.evaluate(plain, Reading("t1", 2.0 * i, 60.0))
        book.evaluate(plain, Reading("t1", 2.0 * i + 1, 30.0))
        book.clear(a.id)
    assert len(book.alarms) == alarms.MAX_CLEARED


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_random_twin_configs_fail_cleanly(doc):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "twin.json"
        p.write_text(json.dumps({"sensors": [doc], "properties": [doc]}))
        try:
            cfg = TwinConfig.load(p)
        except FileFormatError as exc:
            assert "twin.json" in str(exc)  # one sentence naming the file
        else:
            assert len(cfg.sensors) == 1 and len(cfg.properties) == 1

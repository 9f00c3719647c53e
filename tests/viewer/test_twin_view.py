"""The Twin view during a live run (issue #17): the Live panel connects to a real mosquitto
broker, the simulated bracket publishes its FE gauges, and the Twin dock shows identified
loads with their bands, hot spots with remaining life, and the physics stress map."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtGui import QColor

from sim.model import Case
from tests.sim.twin.conftest import broker, broker_factory  # noqa: F401
from tests.viewer.case_window import shared_window_fixture  # noqa: F401


@pytest.fixture(scope="module")
def coarse_model():
    from sim.asset.config import demo_asset_config
    from sim.asset.model import build_model

    return build_model(demo_asset_config(element_size=5))


def _count(img, colour: str, tol: int = 12) -> int:
    c = QColor(colour)
    arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    arr = arr.reshape(img.height(), img.bytesPerLine())[:, :img.width() * 4]
    px = arr.reshape(img.height(), img.width(), 4)[..., :3].astype(int)  # BGRA
    want = np.array([c.blue(), c.green(), c.red()])
    return int((np.abs(px - want).max(axis=2) <= tol).sum())


def test_twin_view_shows_loads_and_life_during_a_live_run(shared_window, qtbot, broker,  # noqa: F811
                                                           coarse_model, tmp_path):
    from PyQt6.QtGui import QImage

    from sim.asset.truth import LiveGauges, TruthSimulator
    from sim.twin import simulate
    from sim.twin.mqtt_link import BrokerConfig, MqttLink

    win = shared_window
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    win.set_case(Case(name="twin", anatomical=False))
    panel = win.twin_view
    panel.set_model(coarse_model)
    live = win.live
    live.igtl_edit.setText("")
    live.mqtt_edit.setText(broker.url)
    live.connect_link()
    assert live.connected, win.last_error and win.last_error.text()
    assert panel.linked is not None
    stop = threading.Event()
    pub = MqttLink(BrokerConfig.from_url(broker.url)).start()
    pub.require_connected(10.0)
    gauges = LiveGauges(TruthSimulator(coarse_model, seed=3), time_scale=10.0)
    th = threading.Thread(target=simulate.run, kwargs=dict(
        mqtt_link=pub, duration=30.0, telemetry_hz=10.0, image_hz=0, fault_at=1e9,
        stop=stop, gauges=gauges), daemon=True)
    th.start()
    try:
        dock = panel.parentWidget()
        dock.raise_()
        qtbot.waitUntil(lambda: panel.linked.twin.counters.samples >= 40, timeout=20_000)
        # a start-stop cycle of the pump (6 s at 10x) closes a damaging rainflow cycle
        qtbot.waitUntil(lambda: max(panel.linked.twin.status.damage) > 0, timeout=20_000)
        qtbot.wait(400)
        st = panel.linked.twin.status
        w = coarse_model.channels.index("pump_weight")
        assert st.loads[w] == pytest.approx(300.0, rel=0.05)
        img = panel.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
        img.save(str(tmp_path / "twin_view.png"))
        win.grab().save(str(tmp_path / "window.png"))
        loads = panel.loads.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
        assert _count(loads, "#1e88e5") > 200  # the load bars
        assert _count(loads, "#ffb300") > 20  # their 95 % whiskers
        gauge = panel.gauge.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
        assert _count(gauge, "#2e7d32") > 200  # remaining life over half the design life
        assert "remaining life" in panel.gauge.text
        qtbot.waitUntil(lambda: len(panel.trend.points) >= 2, timeout=5_000)
        trend = panel.trend.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
        assert _count(trend, "#ef6c00") > 10  # the damage trend line
        lives = [panel.hot_table.item(k, 3).text() for k in range(panel.hot_table.rowCount())]
        assert any(x[0].isdigit() for x in lives), lives
        assert panel.map_actor is not None
        lo, hi = panel.map_actor.GetMapper().GetScalarRange()
        assert hi > 1.0  # MPa on the physics stress map
        # a virtual gauge: arm the button, click the stress map (top of the base leg)
        from tests.viewer.view_points import display_point

        panel.virtual_button.setChecked(True)
        target = np.array([30.0, 20.0, 6.0]) + [0.0, panel.map_shift, 0.0]
        x, y = display_point(win.view, target)
        assert panel._view_clicked(int(round(x)), int(round(y)), None)
        assert "V1" in panel.linked.twin.virtual
        assert win.case.sections["twin_view"]["virtual"][0]["name"] == "V1"
        qtbot.waitUntil(lambda: "V1" in panel.virtual_label.text(), timeout=5_000)
        panel.speed_slider.setValue(130)
        assert "remaining life" in panel.whatif_label.text()
        assert win.case.sections["twin_view"]["speed_pct"] == 130
        # Calibrate: a background job on the session's recorded history
        stop.set()
        th.join(10)
        panel.calibrate_button.click()
        qtbot.waitUntil(lambda: panel.model is not coarse_model, timeout=120_000)
        cal = panel.model.calibration
        assert cal is not None
        assert cal["parameters"]["modulus"]["value"] == pytest.approx(1.0, abs=0.05)
        assert "not calibrated" not in panel.status_label.text()
    finally:
        stop.set()
        th.join(10)
        pub.close()
        live.shutdown()


def test_twin_view_warns_of_unobservable_loads(shared_window, qtbot, coarse_model):
    import copy

    win = shared_window
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    model = copy.copy(coarse_model)
    keep = [i for i, s in enumerate(model.sensors) if s.id in ("lc_pump", "g_base_top")]
    model.sensors = [model.sensors[i] for i in keep]
    model.H = model.H[keep]
    model.dH = model.dH[:, keep]
    win.twin_view.set_model(model)
    text = win.twin_view.status_label.text()
    assert "Warning: The sensors cannot identify 2 load combination(s)" in text

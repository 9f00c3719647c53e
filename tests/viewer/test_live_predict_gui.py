"""The Live panel's predictions, driven like a user: a wearing pump streams over a real broker,
the user marks a healthy window and trains (a background job), loads a fleet-trained
remaining-life model; the gauge shows a life with its interval, a spike becomes an anomaly
alarm naming the sensor, a frozen sensor is flagged, and the plot draws the forecast band."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QScrollArea

from tests.mqtt_broker import broker_url_fixture  # noqa: F401

LEFT = Qt.MouseButton.LeftButton
SHOTS = Path(os.environ.get("TWINSIGHT_SCREENSHOTS", "/tmp/twinsight-shots"))


@pytest.fixture
def wearing_pump(broker_url):
    from sim.twin import simulate
    from sim.twin.mqtt_link import BrokerConfig, MqttLink

    mqtt = MqttLink(BrokerConfig.from_url(broker_url)).start()
    mqtt.require_connected(10)
    stop = threading.Event()
    th = threading.Thread(target=simulate.run, kwargs=dict(
        mqtt_link=mqtt, igtl=None, duration=120, telemetry_hz=20, fault_at=float("inf"),
        wear_life=300.0, stop=stop))
    th.start()
    yield
    stop.set()
    th.join(10)
    mqtt.close()


def test_live_predictions(window, qtbot, broker_url, wearing_pump, tmp_path):
    from sim.predict.case_models import load_models, revision
    from sim.predict.fleet import write_csv
    from sim.twin.simulate import wear_fleet

    panel = window.live
    panel.add_demo_asset()
    panel.mqtt_edit.setText(broker_url)
    panel.igtl_edit.setText("")
    qtbot.mouseClick(panel.connect_button, LEFT)
    monitor = panel.predict.monitor
    assert monitor is not None
    tel = panel.session.telemetry
    # two periods of the strain's 10 s cycle, so the baseline learns its seasonality
    qtbot.waitUntil(lambda: len(monitor.clean["strain_bend"]) >= 20 * 23, timeout=40_000)

    # Mark the last 22 s healthy and train: a background job; the model lands in the case.
    panel.predict.window_spin.setValue(22.0)
    qtbot.mouseClick(panel.predict.train_button, LEFT)
    qtbot.waitUntil(lambda: monitor.anomaly is not None, timeout=30_000)
    assert revision(window.case, "anomaly") == 1
    anomaly, _ = load_models(window.case)
    assert anomaly.sensors == monitor.anomaly.sensors
    assert anomaly.trained_on["readings"] >= 5 * 22 * 15
    assert anomaly.baselines["strain_bend"].period == pytest.approx(10.0, rel=0.1)

    # A fleet of worn-out pumps trains the remaining-life model (background job).
    fleet_csv = tmp_path / "pumps.csv"
    write_csv(wear_fleet(12, seed=3, life=(200.0, 400.0)), fleet_csv)
    panel.predict.train_rul([str(fleet_csv)])
    qtbot.waitUntil(lambda: monitor.rul_model is not None, timeout=60_000)
    assert revision(window.case, "rul") == 1

    # A spike on vibration raises an anomaly alarm that names it; a frozen sensor is flagged.
    topic = tel.sensors["vibration"].topic
    tel.ingest(topic, b"40.0")
    spike = [a for a in tel.alarms.open_alarms if a.kind == "anomaly"
             and a.sensor == "vibration"]
    assert spike and "Vibration RMS 100 %" in spike[0].message
    assert "unusual value" in spike[0].message
    assert spike[0].details["contributions"] == {"vibration": 1.0}
    for _ in range(30):
        tel.ingest(tel.sensors["strain_bend"].topic, b"123.0")
    assert monitor.quality["strain_bend"].counts["stuck"] >= 10
    assert monitor.ignored["strain_bend"] >= 10

    monitor.update_predictions()  # what the monitor's thread does every few seconds
    assert monitor.life is not None
    life = monitor.life
    assert 0.0 <= life.low <= life.rul <= life.high
    assert "temp_bend" in monitor.forecasts
    panel.refresh()
    qtbot.waitUntil(lambda: panel.predict.gauge.value is not None, timeout=5_000)
    assert "Remaining life" in panel.predict.gauge.text
    assert "stuck" in panel.predict.quality_label.text()
    assert "ignore" in panel.predict.quality_label.text()
    # The sensor table's Flags column says which sensor the flags are on.
    ids = list(tel.sensors)
    flags = {ids[r]: panel.sensor_table.item(r, 4).text() for r in range(len(ids))}
    assert flags["strain_bend"].startswith("stuck ") or ", stuck " in flags["strain_bend"]
    assert int(flags["strain_bend"].split("stuck ")[1].split(",")[0]) >= 10
    assert panel.predict.gauge.unit == "s"  # the pump fleet's time column is in seconds
    qtbot.waitUntil(lambda: panel.alarm_list.count() >= 1, timeout=5_000)
    texts = [panel.alarm_list.item(i).text() for i in range(panel.alarm_list.count())]
    assert any("Anomaly" in t for t in texts)

    # The plot of vibration carries the forecast band and the anomaly mark.
    row = list(tel.sensors).index("vibration")
    panel.sensor_table.selectRow(row)
    panel._update_plot()
    assert panel.plot.forecast is not None and panel.plot.anomalies
    fc_t, mean, lower, upper = panel.plot.forecast
    assert np.all(lower <= mean) and np.all(mean <= upper) and fc_t[0] > panel.plot.t[-1] - 1

    for a in tel.alarms.open_alarms:
        print(f"alarm [{a.kind}] {a.message}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.resize(1500, 1100)
    dock = panel.parentWidget()
    while dock is not None and not hasattr(dock, "setFloating"):
        dock = dock.parentWidget()
    dock.show()
    dock.raise_()
    panel.predict.ensurePolished()
    scroll = panel.findChild(QScrollArea)
    scroll.ensureWidgetVisible(panel.predict)
    qtbot.wait(300)
    # Nothing is cut off at the side: the panel's content fits its column.
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
    assert scroll.widget().width() <= scroll.viewport().width()
    assert panel.grab().save(str(SHOTS / "live_predict_panel.png"))
    assert window.grab().save(str(SHOTS / "live_predict_window.png"))
    img = panel.plot.grab().toImage()
    # the forecast band's orange is drawn somewhere in the plot
    orange = sum(1 for x in range(0, img.width(), 2) for y in range(0, img.height(), 2)
                 if (c := img.pixelColor(x, y)).red() > 150 and 90 < c.green() < 200
                 and c.blue() < 140)
    assert orange > 20
    panel.disconnect_link()
    assert panel.predict.monitor is None

"""The live link's markers and alarm banner in the window (issue #16), against a real mosquitto
and an independent MQTT client (paho) as the asset: a temperature reading past its alarm
threshold raises the workbench's banner overlay and turns the sensor's marker red in the view;
acknowledging the alarm takes the banner away. The Live panel only updates the workbench's
model; the window's overlay layer draws it."""

from __future__ import annotations

import numpy as np
import vtk
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget

from sim.model.live_overlays import STATE_COLOURS
from sim.twin.simulate import demo_config
from tests.mqtt_broker import broker_url_fixture, paho_client  # noqa: F401

SHOTS = "/tmp/lo_shots"
LEFT = Qt.MouseButton.LeftButton
TOPIC = f"{demo_config().base_topic}/temperature/foot"


def _marker_pixel(window, point) -> tuple[int, int]:
    """(row, column) of a world point in the view's screenshot."""
    renderer = window.view.plotter.renderer
    c = vtk.vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    c.SetValue(*point)
    x, y = c.GetComputedDisplayValue(renderer)
    height = window.view.plotter.ren_win.GetSize()[1]
    return height - 1 - int(y), int(x)


def _count(img: np.ndarray, rc, colour, r: int = 6) -> int:
    """Pixels near ``rc`` whose hue is the marker colour's (shading darkens, it keeps the hue)."""
    px = img[rc[0] - r:rc[0] + r + 1, rc[1] - r:rc[1] + r + 1, :3].astype(float)
    want = np.asarray(colour) / np.linalg.norm(colour)
    unit = px / np.maximum(np.linalg.norm(px, axis=-1, keepdims=True), 1.0)
    return int(((unit @ want > 0.97) & (px.max(axis=-1) > 60)).sum())


def test_an_alarming_reading_shows_the_banner_and_a_red_marker(window, qtbot, broker_url):
    panel, bench = window.live, window.workbench
    bracket = panel.add_demo_asset()
    for obj in window.case.scene:  # the demo anatomy would hide the bracket's sensors
        obj.visible = obj is bracket
    window.view.renderer.set_view("S")  # from above: the foot's temperature sensor faces us
    asset = paho_client(broker_url, "pump-under-test")
    try:
        # A normal reading, retained, so the link gets it however soon it subscribes.
        asset.publish(TOPIC, b"40", qos=1, retain=True).wait_for_publish(5)
        panel.mqtt_edit.setText(broker_url)
        panel.igtl_edit.setText("")
        qtbot.mouseClick(panel.connect_button, LEFT)
        assert panel.connected

        def foot():
            markers = bench.live_overlays.get("live:sensors")
            marks = {m.name: m for m in markers.marks} if markers is not None else {}
            return marks.get("Foot temperature")

        qtbot.waitUntil(lambda: foot() is not None and foot().value == 40.0,
                        timeout=10_000)
        panel.colour_combo.setCurrentText("(none)")  # a grey bracket: only markers coloured
        assert foot().state == "normal" and "live:alarm" not in bench.live_overlays
        rc = _marker_pixel(window, foot().point)
        img = window.view.screenshot(f"{SHOTS}/live_normal_view.png")
        assert _count(img, rc, STATE_COLOURS["normal"]) > 10
        assert _count(img, rc, STATE_COLOURS["high"]) == 0

        # Past the alarm threshold (normal band 15-60 degC).
        asset.publish(TOPIC, b"75", qos=1).wait_for_publish(5)
        qtbot.waitUntil(lambda: "live:alarm" in bench.live_overlays, timeout=10_000)
        banner = bench.live_overlays.get("live:alarm")
        assert banner.severity == "alarm" and "ALARM" in banner.text
        assert foot().state == "high" and foot().value == 75.0
        img = window.view.screenshot(f"{SHOTS}/live_alarm_view.png")
        window.findChild(QDockWidget, "dockLive").raise_()
        window.grab().save(f"{SHOTS}/live_alarm_window.png")
        assert _count(img, rc, STATE_COLOURS["high"]) > 10  # the marker turned red
        assert _count(img, rc, STATE_COLOURS["normal"]) == 0
        h, w = img.shape[:2]
        top = img[: h // 8, w // 5: 4 * w // 5, :3].astype(int)  # the banner's band
        assert ((top[..., 0] > 180) & (top[..., 0] > top[..., 1] + 80)).sum() > 50

        # Acknowledge every alarm (too high, and rising too fast): the banner goes; the
        # marker stays red while the value is high.
        for row in range(panel.alarm_list.count()):
            panel.alarm_list.setCurrentRow(row)
            qtbot.mouseClick(panel.ack_button, LEFT)
        assert "live:alarm" not in bench.live_overlays
        assert foot().state == "high"
    finally:
        asset.publish(TOPIC, b"", qos=1, retain=True).wait_for_publish(5)
        asset.loop_stop()
        asset.disconnect()
        panel.shutdown()
    assert len(bench.live_overlays) == 0  # the link is gone, and so are its overlays

"""The Live panel against a real broker and an in-process simulator, driven like a user."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget

from tests.mqtt_broker import broker_url_fixture  # noqa: F401

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def simulator(broker_url):
    """The demo pump and stylus, served by the product's own simulator."""
    from sim.twin import simulate
    from sim.twin.igtl_link import IgtlServer
    from sim.twin.mqtt_link import BrokerConfig, MqttLink

    mqtt = MqttLink(BrokerConfig.from_url(broker_url)).start()
    mqtt.require_connected(10)
    igtl = IgtlServer("127.0.0.1", 0)
    stop = threading.Event()
    th = threading.Thread(target=simulate.run, kwargs=dict(
        mqtt_link=mqtt, igtl=igtl, duration=180, telemetry_hz=20, fault_at=1.0, stop=stop))
    # (180 s: on a busy machine the test can take over a minute; it stops the simulator itself)
    th.start()
    yield igtl.port
    stop.set()
    th.join(10)
    mqtt.close()
    igtl.close()


def test_live_panel_end_to_end(window, qtbot, broker_url, simulator):
    panel = window.live
    bracket = panel.add_demo_asset()
    assert bracket in list(window.case.scene)
    panel.mqtt_edit.setText(broker_url)
    panel.igtl_edit.setText(f"127.0.0.1:{simulator}")
    panel.igtl_mode.setCurrentIndex(0)
    qtbot.mouseClick(panel.connect_button, LEFT)
    assert panel.connected and panel.connect_button.text() == "Disconnect"
    session = panel.session

    # Values arrive, the tool is tracked, the fault raises alarms shown in the list.
    qtbot.waitUntil(lambda: panel.sensor_table.item(0, 1) is not None
                    and panel.sensor_table.item(0, 1).text() != "—", timeout=10_000)
    qtbot.waitUntil(lambda: "StylusToTracker" in session.instruments.tools, timeout=10_000)
    qtbot.waitUntil(lambda: panel.alarm_list.count() >= 1, timeout=15_000)
    assert "MQTT connected" in panel.status_label.text()

    # The bracket is coloured by temperature with a legend (a live overlay of the workbench).
    live = window.workbench.live_overlays
    mapper = panel._actor(bracket).GetMapper()
    assert mapper.GetScalarVisibility() and live.get("live:legend").title.startswith("temperature")
    field = bracket.data.point_data["live_field"]
    assert field.max() - field.min() > 1.0  # the hot bend differs from the top
    img = window.view.screenshot()
    assert img.std() > 10
    # Sensor markers sit on the bracket; the vibration sensor shows its alarm in red, and
    # the view carries a banner until the alarms are acknowledged (live overlays, drawn by
    # the view's overlay layer).
    def marks():
        return {m.name: m for m in live.get("live:sensors").marks}

    assert set(marks()) == {s.name for s in session.telemetry.sensors.values()}
    qtbot.waitUntil(lambda: marks()["Vibration RMS"].color[0] > 0.8, timeout=10_000)
    assert "ALARM" in live.get("live:alarm").text
    assert window.view.renderer.overlays.actors["live|live:alarm"]  # drawn in the view

    # The stylus actor draws the live model data (it moves with the tracker).
    tool = session.instruments.tools["StylusToTracker"]
    # The tool was added to the scene on the GUI thread (queued from the link's thread).
    qtbot.waitUntil(lambda: tool.obj.uid in panel.overlay.bound, timeout=5_000)
    assert tool.obj in list(window.case.scene)
    actor = panel._actor(tool.obj)
    shown = actor.GetMapper().GetInput()
    assert shown.GetAddressAsString("vtkPolyData") == tool.obj.data.GetAddressAsString(
        "vtkPolyData")
    tip_before = tool.tip
    qtbot.waitUntil(lambda: np.linalg.norm(tool.tip - tip_before) > 1.0, timeout=5_000)
    # ... and its tip glyph (a live overlay) follows the tracker too.
    qtbot.waitUntil(lambda: np.linalg.norm(live.get("live:tool:StylusToTracker").tip
                                           - tip_before) > 1.0, timeout=5_000)
    window.findChild(QDockWidget, "dockLive").raise_()
    window.grab().save("/tmp/lo_shots/live_session.png")  # to look at (issue #16)

    # Send the bracket as the planned target and a command string to the tracker peer.
    window.case.scene.select(bracket)
    sent_before = session.instruments.endpoint.counters.sent
    qtbot.mouseClick(panel.target_button, LEFT)
    assert session.instruments.target is not None
    qtbot.waitUntil(lambda: "mm to target" in panel.status_label.text(), timeout=5_000)
    panel.command_edit.setText("START_RECORDING")
    qtbot.keyClick(panel.command_edit, Qt.Key.Key_Return)
    assert panel.command_edit.text() == ""
    assert session.instruments.endpoint.counters.sent > sent_before + 1

    # Acknowledge the first alarm.
    panel.alarm_list.setCurrentRow(0)
    alarm_id = panel._selected_alarm()
    qtbot.mouseClick(panel.ack_button, LEFT)
    assert session.telemetry.alarms.alarms[alarm_id].acknowledged

    # Command the pump speed; the asset acknowledges.
    panel.property_combo.setCurrentText("speed")
    panel.desired_spin.setValue(2200)
    qtbot.mouseClick(panel.send_button, LEFT)
    qtbot.waitUntil(lambda: "acknowledged" in panel.state_label.text(), timeout=10_000)

    # Disconnect, then scrub back to the start of the session: the stylus goes back.
    qtbot.mouseClick(panel.connect_button, LEFT)
    assert not panel.connected
    last_tip = tool.tip
    first_pose = next(panel.reader.events(kinds=("pose",)))
    t0, t1 = panel.reader.time_range()  # telemetry may start before the first pose
    panel.timeline.setValue(int(np.ceil(1000 * (first_pose.t - t0) / (t1 - t0))) + 5)
    assert not panel.live_check.isChecked()
    assert np.linalg.norm(tool.tip - last_tip) > 1.0
    assert np.linalg.norm(tool.tip - first_pose.matrix()[:3, 3]) < 30.0  # near the start

    # Open the recording afresh and play it back at 50x to its end.
    path = panel.reader.path
    panel.open_history(path)
    replayed = panel.session.instruments.tools["StylusToTracker"]
    assert replayed.obj is tool.obj  # the scene's stylus is adopted, not duplicated
    panel.speed_combo.setCurrentText("50x")
    qtbot.mouseClick(panel.play_button, LEFT)
    assert panel.play_timer.isActive()
    # One render per played step: about a second each for the demo case on software GL.
    qtbot.waitUntil(lambda: not panel.play_button.isChecked(), timeout=40_000)
    last_pose = list(panel.reader.events(kinds=("pose",)))[-1]
    np.testing.assert_allclose(replayed.tip, last_pose.matrix()[:3, 3], atol=1e-3)
    assert np.linalg.norm(tool.obj.data.points - replayed.tip, axis=1).min() < 1e-3
    assert panel.timeline.value() == 999
    panel.shutdown()


def test_opening_a_file_that_is_not_a_recording(window, tmp_path):
    from sim.errors import FileFormatError

    bad = tmp_path / "x.db"
    bad.write_text("not sqlite")
    with pytest.raises(FileFormatError):
        window.live.open_history(bad)
    assert window.live.session is None


def test_bad_endpoint_shows_an_error(window, qtbot):
    panel = window.live
    panel.mqtt_edit.setText("")
    panel.igtl_edit.setText("127.0.0.1:notaport")
    panel.connect_link()
    assert not panel.connected
    assert window.last_error is not None and "HOST:PORT" in window.last_error.text()

"""The Live panel's legend and sensor plot are readable (issue #20): the colour legend runs
along the bottom with large labels (it was a thin bar with tiny labels under the orientation
cube) and the sensor plot has its value axis and time span beside the trace, in a readable
font, instead of one cramped line under it. Against a real broker and the demo simulator."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt

from tests.mqtt_broker import broker_url_fixture  # noqa: F401
from tests.viewer.test_live_panel import simulator  # noqa: F401

SHOTS = "/tmp/shots20b"


def test_live_legend_and_plot_are_readable(window, qtbot, broker_url, simulator):  # noqa: F811
    panel = window.live
    panel.add_demo_asset()
    panel.mqtt_edit.setText(broker_url)
    panel.igtl_edit.setText(f"127.0.0.1:{simulator}")
    panel.igtl_mode.setCurrentIndex(0)
    qtbot.mouseClick(panel.connect_button, Qt.MouseButton.LeftButton)
    drawn = window.view.renderer.overlays.actors  # the live legend, drawn by the overlay layer
    qtbot.waitUntil(lambda: bool(drawn.get("live|live:legend")), timeout=15_000)
    bar = drawn["live|live:legend"][0]
    assert bar.GetOrientation() == 0  # horizontal
    assert bar.GetLabelTextProperty().GetFontSize() >= 14
    assert bar.GetTitleTextProperty().GetFontSize() >= 16
    x, y = bar.GetPosition()
    assert y < 0.3 and x + bar.GetWidth() < 0.9  # clear of the orientation marker (top right)
    qtbot.waitUntil(lambda: len(panel.plot.t) > 5, timeout=15_000)
    panel.plot.resize(320, 140)
    img = panel.plot.grab().toImage()
    assert panel.plot.minimumHeight() >= 130
    # the value labels sit left of the framed trace: light text pixels in the left margin
    w, h = img.width(), img.height()
    rgb = np.array([[img.pixelColor(i, j).lightness() for i in range(w)] for j in range(h)])
    frame_left = next(i for i in range(w) if (rgb[h // 2, i:i + 1] > 80).any()
                      and rgb[h // 2, i] < 140 and i > 8)
    assert (rgb[:, :frame_left] > 150).sum() > 20
    panel.plot.grab().save(f"{SHOTS}/live_plot.png")
    window.grab().save(f"{SHOTS}/live_panel.png")
    window.view.screenshot(f"{SHOTS}/live_legend.png")
    panel.connect_button.click()

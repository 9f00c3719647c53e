"""One main window per test module, given a fresh small case per test (fast GUI tests).

Import ``shared_window_fixture`` and ``win_fixture`` into a test module to use ``win``.
"""

from __future__ import annotations

import pytest
from PyQt6.QtWidgets import QApplication

from tests.sim.model.sample import make_case


@pytest.fixture(name="shared_window", scope="module")
def shared_window_fixture(qapp):
    from viewer.main_window import MainWindow

    win = MainWindow()
    win.resize(1200, 800)
    win.show()
    yield win
    if win.task is not None:
        win.task.cancel()
        win.task.wait()
    win.close()
    win.deleteLater()
    QApplication.processEvents()


@pytest.fixture(name="win")
def win_fixture(shared_window, qtbot):
    """The module's window showing a new sample case (every object kind, five markups)."""
    qtbot.waitExposed(shared_window)
    qtbot.waitUntil(lambda: shared_window.task is None, timeout=60_000)
    shared_window.set_case(make_case())
    shared_window.case_path = None
    return shared_window


def listening_live_panel(win, qtbot, case_name: str):
    """``win`` showing a new empty case (not anatomical) and its Live panel set to listen for
    OpenIGTLink on a free loopback port, without MQTT (not connected yet)."""
    from sim.model import Case

    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    win.set_case(Case(name=case_name, anatomical=False))
    panel = win.live
    panel.mqtt_edit.setText("")
    panel.igtl_mode.setCurrentIndex(1)  # listen on
    panel.igtl_edit.setText("127.0.0.1:0")
    return panel


def press(qtbot, window, key, modifiers):
    """A real key press; shortcuts need the window active (Xvfb has no window manager)."""
    window.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    qtbot.keyClick(window, key, modifiers)


def send_tip(client, point, device: str = "Stylus") -> None:
    """A tracked tool's pose with its tip at ``point`` (mm), sent by a real pyigtl client."""
    import numpy as np
    import pyigtl

    m = np.eye(4)
    m[:3, 3] = point
    client.send_message(pyigtl.TransformMessage(m, device_name=device), wait=True)

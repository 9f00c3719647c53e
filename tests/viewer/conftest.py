"""GUI fixtures: a main window showing the demo case (pytest-xvfb provides the display)."""

from __future__ import annotations

import numpy as np
import pytest

LIVER_RGB = np.array([0.69, 0.26, 0.20]) * 255


@pytest.fixture(autouse=True, scope="session")
def _unsaved_changes_are_discarded():
    """Closing a window (or opening another case) with unsaved edits asks the user, modally:
    in tests the answer is always Discard, so no fixture or teardown can hang on the dialog.
    Tests of the question replace ``ask_unsaved_changes`` on their window; this fixture's
    value is the real method."""
    from viewer.main_window import MainWindow

    real = MainWindow.ask_unsaved_changes
    patch = pytest.MonkeyPatch()
    patch.setattr(MainWindow, "ask_unsaved_changes", lambda self: "discard")
    yield real
    patch.undo()


@pytest.fixture
def window(qtbot, demo_case_dir):
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.open_path(demo_case_dir)
    qtbot.waitUntil(lambda: win.case is not None and win.task is None, timeout=60_000)
    yield win
    if win.task is not None:
        win.task.cancel()
        win.task.wait()


def liver_pixels(img: np.ndarray) -> int:
    """Pixels whose colour is near the liver's (shading darkens it, so compare the hue)."""
    rgb = img[..., :3].astype(float)
    red = (rgb[..., 0] > rgb[..., 1] + 40) & (rgb[..., 0] > rgb[..., 2] + 40)
    return int(red.sum())

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


def shown_window(qtbot, size: tuple[int, int] | None = None):
    """A new main window, shown (of ``size`` where given) and exposed."""
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


def open_and_wait(qtbot, win, path) -> None:
    """Open ``path`` in ``win`` and wait until it is loaded."""
    win.open_path(path)
    qtbot.waitUntil(lambda: win.case is not None and win.task is None, timeout=60_000)


def stop_task(win) -> None:
    """Cancel and wait for the window's background task, if one is still running."""
    if win.task is not None:
        win.task.cancel()
        win.task.wait()


@pytest.fixture
def new_window(qtbot):
    """Make shown main windows with ``new_window(size, path)`` (``path`` opened and loaded
    where given); a task still running in one is cancelled when the test ends."""
    made = []

    def make(size: tuple[int, int] | None = None, path=None):
        made.append(shown_window(qtbot, size))
        if path is not None:
            open_and_wait(qtbot, made[-1], path)
        return made[-1]

    yield make
    for win in made:
        stop_task(win)


@pytest.fixture
def window(new_window, demo_case_dir):
    return new_window(path=demo_case_dir)


@pytest.fixture
def ct_window(new_window, shared_data):
    """The main window showing the real CT (TotalSegmentator's small example)."""
    return new_window((1500, 950), shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz")


def liver_pixels(img: np.ndarray) -> int:
    """Pixels whose colour is near the liver's (shading darkens it, so compare the hue)."""
    rgb = img[..., :3].astype(float)
    red = (rgb[..., 0] > rgb[..., 1] + 40) & (rgb[..., 0] > rgb[..., 2] + 40)
    return int(red.sum())

"""``twinsight`` with no arguments opens the main window on the demo case; ``twinsight open
PATH`` opens that file. Both run the real entry point (its event loop included) in-process."""

from __future__ import annotations

import sys
import time

import pyvista as pv
from PyQt6.QtCore import QTimer
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from tests.viewer.conftest import liver_pixels


def _run_entry_point(argv: list[str], timeout: float = 120.0) -> tuple[int, dict]:
    """Run ``viewer.launcher.main(argv)``; once its window shows a loaded case, record what it
    shows, close it and end the application's event loop."""
    from viewer.launcher import main
    from viewer.main_window import MainWindow

    app = QApplication.instance()
    before = list(app.topLevelWidgets())
    seen: dict = {}
    deadline = time.monotonic() + timeout
    timer = QTimer()

    def poll() -> None:
        new = [w for w in app.topLevelWidgets()
               if isinstance(w, MainWindow) and w.isVisible() and not any(w is b for b in before)]
        win = new[0] if new else None
        loaded = win is not None and win.case is not None and win.task is None
        if not loaded and time.monotonic() < deadline:
            return
        timer.stop()
        if loaded:
            seen.update(title=win.windowTitle(), case=win.case.name,
                        objects=len(win.case.scene), image=win.view.screenshot(), window=win)
        for w in new:
            w.close()
        app.exit(0)  # at once: a posted quit left over would end every later event loop

    timer.timeout.connect(poll)
    timer.start(100)
    hook = sys.excepthook
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # closing the window would post a quit event
    try:
        code = main(argv)
        # It closes cleanly: nothing the case set going (a debounced segmentation preview,
        # a worker) fires into closed parts and pops up an error dialog afterwards.
        QTest.qWait(500)
        if seen:
            seen["error"] = seen.pop("window").last_error
    finally:
        sys.excepthook = hook  # run_app installs the dialog hook for the app's lifetime
        app.setQuitOnLastWindowClosed(quit_on_close)
        timer.stop()
    return code, seen


def test_no_arguments_opens_the_demo(qapp, demo_case_dir):
    code, seen = _run_entry_point([])
    assert code == 0
    assert seen, "no main window with a loaded case appeared"
    assert seen["case"] == "Demo phantom" and seen["objects"] == 9
    assert "Demo phantom" in seen["title"]
    assert liver_pixels(seen["image"]) > 2000, "the demo's liver is on screen"
    assert seen["error"] is None, seen["error"] and seen["error"].text()


def test_open_path_opens_that_file(qapp, tmp_path):
    mesh = tmp_path / "ball.stl"
    pv.Sphere(radius=20).save(mesh)
    code, seen = _run_entry_point(["open", str(mesh)])
    assert code == 0
    assert seen and seen["case"] == "ball" and seen["objects"] == 1
    assert seen["error"] is None, seen["error"] and seen["error"].text()

"""Background jobs in the real window: many short jobs with random cancels, and closing the
window while jobs run, never abort the process or leave threads, jobs or callbacks behind.

Before the job manager, ``MainWindow.run_task`` called 50-100 times in a loop aborted the
process (``QThread: Destroyed while thread '' is still running``, exit 134)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from PyQt6.QtWidgets import QApplication

from tests.viewer.case_window import shared_window_fixture, win_fixture  # noqa: F401

pytestmark = pytest.mark.gui


def test_a_thousand_short_jobs_with_random_cancels(win, qtbot):
    rng = random.Random(15)
    baseline = threading.active_count()
    done, failed = [], []
    original = win._on_task_failed
    win._on_task_failed = lambda title, exc: failed.append(exc)
    try:
        for i in range(1000):
            steps = rng.randint(0, 4)

            def work(progress, n=steps):
                for k in range(n):
                    progress(k / max(n, 1), f"part {k}")
                    time.sleep(0.0002)
                return n

            win.run_task(f"Job {i}", work, done.append)
            if rng.random() < 0.2:
                win.cancel_task()  # cancels whichever job the status bar shows
            if i % 50 == 0:
                QApplication.processEvents()
        qtbot.waitUntil(lambda: not win.jobs.active, timeout=120_000)
    finally:
        win._on_task_failed = original
    assert len(done) + len(failed) == 1000 and len(failed) > 0
    assert all(type(e).__name__ == "Cancelled" for e in failed)
    assert win.task is None and not win.progress_bar.isVisible()
    qtbot.waitUntil(lambda: threading.active_count() <= baseline, timeout=5_000)


def test_jobs_queue_instead_of_being_refused(win, qtbot):
    gate = threading.Event()
    order = []
    win.run_task("First", lambda p: gate.wait(10) and "first", order.append)
    win.run_task("Second", lambda p: "second", order.append)
    qtbot.waitUntil(lambda: "+1 waiting" in win.status_label.text(), timeout=5_000)
    assert win.progress_bar.isVisible()
    gate.set()
    qtbot.waitUntil(lambda: win.task is None, timeout=10_000)
    assert order == ["first", "second"]


def test_a_result_for_a_replaced_case_is_dropped(win, qtbot):
    from tests.sim.model.sample import make_case

    gate = threading.Event()
    applied = []
    win.run_task("Measuring", lambda p: gate.wait(10), applied.append)
    win.set_case(make_case())  # e.g. another case was opened meanwhile
    gate.set()
    qtbot.waitUntil(lambda: win.task is None, timeout=10_000)
    assert applied == [] and "no longer open" in win.status_label.text()


CLOSE_MID_TASK = textwrap.dedent("""
    import sys, threading, time
    from PyQt6.QtWidgets import QApplication
    from tests.sim.model.sample import make_case
    from viewer.main_window import MainWindow
    app = QApplication(sys.argv)
    for round in range(3):
        win = MainWindow()
        win.ask_unsaved_changes = lambda: "discard"
        win.show()
        win.set_case(make_case())
        def slow(progress):
            for i in range(100000):
                progress(i / 100000, "")
                time.sleep(0.001)
        for i in range(100):
            win.run_task(f"Job {i}", (lambda p: i) if i % 3 else slow, lambda r: None)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            app.processEvents()
        win.close()
        win.deleteLater()
        app.processEvents()
    print("threads", threading.active_count())
""")


def test_closing_the_window_while_jobs_run_does_not_abort(tmp_path):
    env = dict(os.environ, TWINSIGHT_CONFIG_DIR=str(tmp_path / "config"),
               TWINSIGHT_RECOVERY_DIR=str(tmp_path / "recovery"),
               QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "xcb"))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run([sys.executable, "-c", CLOSE_MID_TASK], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "QThread" not in run.stderr
    assert run.stdout.strip() == "threads 1", run.stdout


def test_cancel_button_stops_a_step_import_and_its_child_process(win, qtbot, shared_data):
    """The user's Cancel reaches a job blocked on a child process (OpenCASCADE + gmsh): the
    window is idle again within a second, the child is gone, the open case untouched."""
    from PyQt6.QtCore import Qt

    from tests.sim.cancel_helpers import children_running, pid_gone

    case = win.case
    win.open_path(shared_data / "factory" / "featuretype.STEP")
    qtbot.waitUntil(lambda: bool(children_running("sim.io.cad_worker")), timeout=60_000)
    pids = [p.pid for p in children_running("sim.io.cad_worker")]
    qtbot.waitUntil(lambda: win.progress_bar.value() > 0, timeout=30_000)  # a percentage
    assert win.cancel_button.isVisible()
    t0 = time.monotonic()
    qtbot.mouseClick(win.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.task is None, timeout=5_000)
    assert time.monotonic() - t0 < 1.0
    assert all(pid_gone(p) for p in pids) and not children_running("sim.io.cad_worker")
    assert win.case is case and "cancelled" in win.status_label.text()

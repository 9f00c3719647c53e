"""Crash recovery in the GUI: a killed session's autosave is offered at the next start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PyQt6.QtWidgets import QMessageBox

from sim.model.case_io import load_case, save_case
from tests.sim.model.sample import make_case
from tests.sim.model.test_recovery import CRASHER, ROOT


@pytest.fixture
def recovery_dir(tmp_path, monkeypatch):
    folder = tmp_path / "recovery"
    monkeypatch.setenv("TWINSIGHT_RECOVERY_DIR", str(folder))  # never the session's shared one
    return folder


def _window(qtbot):
    from viewer.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def test_recovery_offered_after_a_crash_and_saved_back(qtbot, tmp_path, recovery_dir):
    original = save_case(make_case(), tmp_path / "work.twin")
    out = subprocess.run([sys.executable, "-c", CRASHER, str(ROOT), str(original),
                          str(recovery_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == -9, out.stderr  # the session died without cleaning up
    w = _window(qtbot)
    qtbot.waitUntil(lambda: w.session.recovery_box is not None
                    and w.session.recovery_box.isVisible(), timeout=10_000)
    box = w.session.recovery_box
    assert "did not close normally" in box.text() and "Sample 0" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: w.case is not None and w.task is None, timeout=30_000)
    assert w.case.scene["Liver"].color == (0.0, 0.5, 1.0)
    assert "Bracket" not in [o.name for o in w.case.scene]
    assert w.case_path == original and w.windowTitle().startswith("Sample 0 *")
    w.save()  # saves to where the case came from, and the recovery file goes away
    qtbot.waitUntil(lambda: w.task is None, timeout=30_000)
    assert load_case(original).scene["Liver"].color == (0.0, 0.5, 1.0)
    assert w.session.store.pending(include_running=True) == []
    w.close()


def test_declined_recovery_is_discarded_and_autosave_runs(qtbot, tmp_path, recovery_dir):
    original = save_case(make_case(), tmp_path / "work.twin")
    subprocess.run([sys.executable, "-c", CRASHER, str(ROOT), str(original), str(recovery_dir)],
                   capture_output=True, timeout=120)
    w = _window(qtbot)
    qtbot.waitUntil(lambda: w.session.recovery_box is not None
                    and w.session.recovery_box.isVisible(), timeout=10_000)
    w.session.recovery_box.button(QMessageBox.StandardButton.No).click()
    assert w.session.store.pending(include_running=True) == []
    w.open_path(original)
    qtbot.waitUntil(lambda: w.case is not None and w.task is None, timeout=30_000)
    assert w.session.autosave() is None  # nothing edited: nothing written
    w.case.scene["CT"].opacity = 0.4
    job = w.session.autosave()  # what the autosave timer calls: it writes in the background
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    path = job.result
    assert path is not None and path.is_file() and "Autosaved" in w.status_label.text()
    assert load_case(path).scene["CT"].opacity == 0.4
    assert load_case(original).scene["CT"].opacity == 1.0  # the user's file is untouched
    w.close()  # unsaved edits at close, answered Discard: no recovery copy is kept
    assert w.session.store.pending(include_running=True) == []


def test_autosave_interval_is_configurable_and_remembered(qtbot, recovery_dir):
    from viewer.case_session import autosave_interval_s

    w = _window(qtbot)
    w.session.set_autosave_minutes(1.5)
    assert w.session.timer.interval() == 90_000 and autosave_interval_s() == 90.0
    assert w.session.autosave_action in w.session.edit_menu.actions()
    again = _window(qtbot)
    assert again.session.timer.interval() == 90_000
    w.session.set_autosave_minutes(3)
    w.close()
    again.close()

"""Closing the window, opening another case or starting a new one with unsaved edits asks
Save / Discard / Cancel (through ``MainWindow.ask_unsaved_changes``)."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QMessageBox

from sim.model.case_io import load_case, save_case
from tests.sim.model.sample import make_case


@pytest.fixture
def edited(qtbot, tmp_path, monkeypatch):
    """A window whose case (saved at tmp/work.twin) has one unsaved edit; it records the
    questions asked and answers what ``answers`` holds, then Discard."""
    from viewer.main_window import MainWindow

    monkeypatch.setenv("TWINSIGHT_RECOVERY_DIR", str(tmp_path / "recovery"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    path = save_case(make_case(), tmp_path / "work.twin")
    w.open_path(path)
    qtbot.waitUntil(lambda: w.case is not None and w.task is None, timeout=30_000)
    w.asked, w.answers = [], []

    def ask() -> str:
        w.asked.append(w.case.name)
        return w.answers.pop(0) if w.answers else "discard"  # (the teardown's close)

    w.ask_unsaved_changes = ask
    w.case.scene["Liver"].color = (0.0, 1.0, 0.0)
    assert w.has_unsaved_changes() and w.windowTitle().startswith("Sample 0 *")
    return w


def test_nothing_is_asked_when_everything_is_saved(edited, qtbot):
    edited.case.history.undo()
    assert not edited.has_unsaved_changes()
    edited.new_case()
    assert edited.asked == [] and edited.case.name == "Untitled"
    edited.close()
    assert edited.asked == [] and not edited.isVisible()


def test_cancel_keeps_the_window_and_the_case(edited, qtbot, tmp_path):
    w, case = edited, edited.case
    w.answers = ["cancel"] * 3
    w.close()
    assert w.isVisible() and w.case is case and w.has_unsaved_changes()
    assert w.open_path(save_case(make_case(1), tmp_path / "other.twin")) is None
    w.new_case()
    assert w.asked == ["Sample 0"] * 3 and w.case is case and w.task is None
    assert load_case(tmp_path / "work.twin").scene["Liver"].color != (0.0, 1.0, 0.0)


def test_discard_drops_the_edits_and_their_recovery_copy(edited, qtbot, tmp_path):
    w = edited
    job = w.session.autosave()  # the autosave timer wrote a recovery copy of the edit
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert len(w.session.store.pending(include_running=True)) == 1
    w.answers = ["discard", "discard"]
    other = save_case(make_case(1), tmp_path / "other.twin")
    w.open_path(other)
    qtbot.waitUntil(lambda: w.task is None and w.case.name == "Sample 1", timeout=30_000)
    assert w.session.store.pending(include_running=True) == []
    w.case.scene["Liver"].opacity = 0.3
    w.close()
    assert w.asked == ["Sample 0", "Sample 1"] and not w.isVisible()
    assert w.session.store.pending(include_running=True) == []
    assert load_case(other).scene["Liver"].opacity == 1.0


def test_save_writes_the_case_then_closes(edited, qtbot, tmp_path):
    w = edited
    w.answers = ["save"]
    w.close()  # the save runs in the background; the window closes once it is done
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=30_000)
    assert w.asked == ["Sample 0"] and w.task is None
    assert load_case(tmp_path / "work.twin").scene["Liver"].color == (0.0, 1.0, 0.0)


def test_save_of_a_new_case_asks_where_then_opens_the_next(edited, qtbot, tmp_path,
                                                           monkeypatch):
    import pyvista as pv

    from sim.model import SceneObject

    w = edited
    w.answers = ["discard", "save"]
    w.new_case()
    assert w.case.name == "Untitled" and w.case_path is None and not w.has_unsaved_changes()
    w.case.scene.add(SceneObject("Ball", "surface", pv.Sphere(radius=5)))
    where = tmp_path / "new.twin"
    dialogs = []
    monkeypatch.setattr(w.session, "save_as_dialog",
                        lambda: dialogs.append(1) or (where, None, False))
    w.open_path(tmp_path / "work.twin")  # Save: no file yet, so Save As first
    qtbot.waitUntil(lambda: w.task is None and w.case.name == "Sample 0", timeout=30_000)
    assert w.asked == ["Sample 0", "Untitled"] and dialogs == [1]
    assert [o.name for o in load_case(where).scene] == ["Ball"]


def test_real_dialog_answers(edited, qtbot, _unsaved_changes_are_discarded):
    """The default question is a Save / Discard / Cancel message box mapped to the answers."""
    real_ask = _unsaved_changes_are_discarded
    w = edited
    buttons = QMessageBox.StandardButton
    for button, answer in ((buttons.Save, "save"), (buttons.Discard, "discard"),
                           (buttons.Cancel, "cancel")):
        seen = []

        def click(button=button, seen=seen) -> None:
            box = QApplication.activeModalWidget()
            if isinstance(box, QMessageBox) and box.objectName() == "unsavedChangesDialog":
                seen.append(box.text())
                box.button(button).click()
            else:  # not shown yet: look again shortly
                QTimer.singleShot(20, click)

        QTimer.singleShot(0, click)
        assert real_ask(w) == answer
        assert seen == ["Save the changes to Sample 0?"]

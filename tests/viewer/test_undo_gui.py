"""Edit > Undo/Redo and Ctrl+Z / Ctrl+Shift+Z in the main window."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeySequence

from tests.viewer.case_window import press, shared_window_fixture, win_fixture  # noqa: F401

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _rows(window):
    return [window.tree.topLevelItem(i).text(0) for i in range(window.tree.topLevelItemCount())]


def test_edit_menu_and_keyboard_undo_redo(win, qtbot):
    edit = {a.text(): a.menu() for a in win.menuBar().actions()}["&Edit"]
    undo, redo = win.session.undo.undo_action, win.session.undo.redo_action
    assert edit.actions()[:2] == [undo, redo]
    assert undo.shortcut() == QKeySequence("Ctrl+Z")
    assert QKeySequence("Ctrl+Shift+Z") in redo.shortcuts()
    assert not undo.isEnabled() and not redo.isEnabled()  # a fresh case has no history

    liver = win.case.scene["Liver"]
    item = win.tree.item_for(liver)
    item.setCheckState(0, Qt.CheckState.Checked)  # the user ticks it in the tree
    assert liver.visible is True and undo.text() == "&Undo Show 'Liver'"
    assert win.windowTitle() == "Sample 0 * — Twinsight"
    press(qtbot, win, Qt.Key.Key_Z, CTRL)
    assert liver.visible is False and item.checkState(0) == Qt.CheckState.Unchecked
    assert not win.view.renderer.adapters[liver.uid].actors[0].GetVisibility()
    assert redo.isEnabled() and redo.text() == "&Redo Show 'Liver'"
    assert win.windowTitle() == "Sample 0 — Twinsight"  # back to the state as opened
    press(qtbot, win, Qt.Key.Key_Z, CTRL | SHIFT)
    assert liver.visible is True and win.view.renderer.adapters[liver.uid].actors[0].GetVisibility()


def test_remove_rename_colour_opacity_from_panels_and_scripts(win):
    names = _rows(win)
    screw = win.case.scene["Screw"]
    win.case.scene.remove(screw)  # a script edit lands in the same history
    assert "Screw" not in _rows(win) and screw.uid not in win.view.renderer.adapters
    win.session.undo.undo_action.trigger()
    assert _rows(win) == names and screw.uid in win.view.renderer.adapters

    win.case.scene.select(screw)
    win.properties.name_edit.setText("Pedicle screw")
    win.properties.name_edit.editingFinished.emit()
    assert "Pedicle screw" in _rows(win)
    assert win.session.undo.undo_action.text() == "&Undo Rename 'Screw'"
    for v in (90, 70, 50):  # a slider drag is one step
        win.properties.opacity_slider.setValue(v)
    screw.color = (0.0, 1.0, 0.0)
    h = win.case.history
    h.undo()
    assert screw.color == (0.6, 0.6, 0.65) and screw.opacity == 0.5
    h.undo()
    assert screw.opacity == 1.0 and win.properties.opacity_slider.value() == 100
    win.session.undo.undo_action.trigger()
    assert screw.name == "Screw" and win.properties.name_edit.text() == "Screw"
    win.session.undo.redo_action.trigger()
    assert screw.name == "Pedicle screw"


def test_save_twin_marks_clean_and_reopens(win, qtbot, tmp_path):
    win.case.scene["Liver"].color = (0.1, 0.2, 0.9)
    win.save_to(tmp_path / "case.twin")
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert (tmp_path / "case.twin").is_file() and win.case_path == tmp_path / "case.twin"
    assert win.case.history.is_clean and "*" not in win.windowTitle()
    win.open_path(tmp_path / "case.twin")
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert win.case.scene["Liver"].color == (0.1, 0.2, 0.9) and len(win.case.markups) == 5
    assert not win.session.undo.undo_action.isEnabled()


def test_encrypted_save_and_open(win, qtbot, tmp_path, monkeypatch):
    from sim.model import crypto

    monkeypatch.setattr(crypto, "SCRYPT_N", 1 << 10)
    win.case.scene["Liver"].opacity = 0.5
    win.save_to(tmp_path / "secret.twin", password="pw")
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert (tmp_path / "secret.twin").read_bytes().startswith(crypto.MAGIC)
    win.case.scene["Liver"].opacity = 0.25
    win.save()  # Save (not Save As) keeps it encrypted with the same password
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert (tmp_path / "secret.twin").read_bytes().startswith(crypto.MAGIC)
    win.open_path(tmp_path / "secret.twin", password="pw")
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert win.case.scene["Liver"].opacity == 0.25
    before = win.case
    win.open_path(tmp_path / "secret.twin", password="nope")
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert win.case is before and "password is wrong" in win.last_error.text()
    win.last_error.close()


def test_encrypted_folder_save_and_open(win, qtbot, tmp_path, monkeypatch):
    from sim.model import crypto
    from sim.model.bundle import sniff

    monkeypatch.setattr(crypto, "SCRYPT_N", 1 << 10)
    folder = tmp_path / "secret.case"
    win.case.scene["Liver"].opacity = 0.5
    win.save_to(folder, password="pw", folder=True)
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert sniff(folder) == "encrypted folder" and not win.has_unsaved_changes()
    win.case.scene["Liver"].opacity = 0.25
    win.save()  # Save keeps the folder a folder, and encrypted with the same password
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert sniff(folder) == "encrypted folder"
    asked = []
    monkeypatch.setattr(win.session, "ask_password", lambda path, new=False: asked.append(path)
                        or "pw")
    win.open_path(folder)  # the password is asked for, as for an encrypted archive
    qtbot.waitUntil(lambda: win.task is None, timeout=30_000)
    assert asked == [folder] and win.case.scene["Liver"].opacity == 0.25

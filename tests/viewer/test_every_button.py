"""Every button of every panel, clicked once with the mouse in the real window on the demo
case: none may raise (pytest-qt fails a test on an exception in a slot) or end in an error
that is a bug rather than a message for the user (an exception outside TwinsightError).

This is the net that catches slots wired wrongly, like Place > Add to scene receiving the
button's ``checked`` flag as its device. Panels' own tests check what each button does."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QWidget,
)
from pytestqt.exceptions import TimeoutError

from sim.errors import TwinsightError

pytestmark = pytest.mark.gui


@pytest.fixture
def no_modal_dialogs(monkeypatch):
    """Every modal question is answered 'cancel', so no click can block the test."""
    monkeypatch.setattr(QDialog, "exec", lambda self: 0)
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: ("", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([], "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    for name in ("getText", "getDouble", "getInt", "getItem"):
        monkeypatch.setattr(QInputDialog, name, staticmethod(lambda *a, **k: (None, False)))
    for name in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda *a, **k: QMessageBox.StandardButton.Cancel))


def _panel_buttons(win) -> list[tuple[str, QAbstractButton]]:
    out = []
    for dock in win.findChildren(QDockWidget):
        for b in dock.widget().findChildren(QAbstractButton):
            if type(b).__name__ in ("QPushButton", "QToolButton") and b.text():
                out.append((f"{dock.windowTitle()} > {b.text()}", b))
    return out


def _show(win, button: QAbstractButton) -> None:
    """Raise the dock and any tab that holds the button, so it can be clicked."""
    w: QWidget | None = button
    while w is not None:
        if isinstance(w, QDockWidget):
            w.show()
            w.raise_()
        parent = w.parentWidget()
        stack = parent.parentWidget() if parent is not None else None
        if stack is not None and hasattr(stack, "setCurrentWidget") and \
                type(stack).__name__ == "QTabWidget":
            stack.setCurrentWidget(w)
        w = parent


def test_every_panel_button_can_be_clicked(window, qtbot, no_modal_dialogs, monkeypatch):
    import viewer.errors

    bugs: list[str] = []
    real_text = viewer.errors.error_text
    current = {"name": ""}

    def record(exc):
        if not isinstance(exc, TwinsightError):
            bugs.append(f"{current['name']}: {type(exc).__name__}: {exc}")
        return real_text(exc)

    monkeypatch.setattr(viewer.errors, "error_text", record)
    before = set(map(id, QApplication.topLevelWidgets()))
    buttons = _panel_buttons(window)
    assert len(buttons) > 40, [n for n, _ in buttons]
    clicked = []
    for name, button in buttons:
        current["name"] = name
        _show(window, button)
        QApplication.processEvents()
        if not (button.isEnabled() and button.isVisible()):
            continue
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        clicked.append(name)
        try:
            qtbot.waitUntil(lambda: window.task is None, timeout=3_000)
        except TimeoutError:  # a long job: cancelled, it has been started fine
            window.jobs.cancel_all()
            qtbot.waitUntil(lambda: window.task is None, timeout=30_000)
        for w in QApplication.topLevelWidgets():  # close what the click opened
            if id(w) not in before and w is not window and w.isVisible():
                w.close()
    print(f"\nclicked {len(clicked)} of {len(buttons)} buttons")
    assert not bugs, bugs
    assert len(clicked) > 30

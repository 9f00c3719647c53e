"""Edit > Undo / Redo bound to the current case's history (the model does the work)."""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence

from sim.model import Case

UNDO_KEYS = QKeySequence("Ctrl+Z")
REDO_KEYS = [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")]


class UndoActions(QObject):
    """Two actions that follow ``case.history``: enabled state and text name the step."""

    # History changes reach the actions through a Qt signal: an edit made on a worker
    # thread is then queued to the GUI thread instead of touching widgets from there.
    history_changed = pyqtSignal()

    def __init__(self, parent) -> None:
        super().__init__(parent)
        self.history_changed.connect(self._refresh)
        self.case: Case | None = None
        self.undo_action = QAction("&Undo", parent)
        self.undo_action.setObjectName("undoAction")
        self.undo_action.setShortcut(UNDO_KEYS)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = QAction("&Redo", parent)
        self.redo_action.setObjectName("redoAction")
        self.redo_action.setShortcuts(REDO_KEYS)
        self.redo_action.triggered.connect(self.redo)
        self._refresh()

    def install(self, menu) -> None:
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)

    def set_case(self, case: Case | None) -> None:
        if self.case is not None:
            self.case.history.changed.disconnect(self.history_changed.emit)
        self.case = case
        if case is not None:
            case.history.changed.connect(self.history_changed.emit)
        self._refresh()

    def undo(self) -> None:
        if self.case is not None:
            self.case.history.undo()

    def redo(self) -> None:
        if self.case is not None:
            self.case.history.redo()

    def _refresh(self) -> None:
        h = self.case.history if self.case is not None else None
        can_undo = h is not None and h.can_undo  # (a history's len() is its undo depth)
        can_redo = h is not None and h.can_redo
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)
        self.undo_action.setText(f"&Undo {h.undo_text}" if can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {h.redo_text}" if can_redo else "&Redo")

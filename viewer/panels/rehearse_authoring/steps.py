"""The Steps tab: the ordered step list (add, remove, reorder) beside the selected step's
form."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QListWidget, QPushButton, QVBoxLayout, QWidget

from viewer.panels.rehearse_authoring.fields import scrolled
from viewer.panels.rehearse_authoring.step_form import StepForm


class StepsTab(QWidget):
    """The list of steps and the form of the one selected (stored when another is)."""

    def __init__(self, dialog) -> None:
        super().__init__()
        self.dialog = dialog
        row = QHBoxLayout(self)
        left = QVBoxLayout()
        self.step_list = QListWidget()
        self.step_list.setObjectName("stepList")
        self.step_list.setMaximumWidth(200)
        left.addWidget(self.step_list, 1)
        buttons = QHBoxLayout()
        for text, tip, slot in (("+", "Add a step after the selected one", self.add_step),
                                ("−", "Remove the selected step", self.remove_step),
                                ("↑", "Move the step up", lambda: self.move_step(-1)),
                                ("↓", "Move the step down", lambda: self.move_step(1))):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setFixedWidth(40)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        left.addLayout(buttons)
        row.addLayout(left)
        self.step_form = StepForm(dialog)
        scroll = scrolled(self.step_form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # fit width
        row.addWidget(scroll, 1)
        self._shown_step: int | None = None
        self.step_list.currentRowChanged.connect(self._step_selected)

    @property
    def steps(self) -> list[dict]:
        return self.dialog.data.setdefault("steps", [])

    def load(self, data: dict) -> None:
        self.step_list.blockSignals(True)
        self.step_list.clear()
        for s in data.get("steps", []):
            self.step_list.addItem(s.get("title") or s.get("id", "?"))
        self.step_list.blockSignals(False)
        self._shown_step = None
        self.step_list.setCurrentRow(0 if self.step_list.count() else -1)
        if not self.step_list.count():
            self._step_selected(-1)

    def store(self, data: dict) -> None:
        self.step_form.store()

    def _step_selected(self, row: int) -> None:
        if self._shown_step is not None and self._shown_step < len(self.steps):
            self.step_form.store()
            item = self.step_list.item(self._shown_step)
            if item is not None:
                s = self.steps[self._shown_step]
                item.setText(s.get("title") or s.get("id", "?"))
        self._shown_step = row if 0 <= row < len(self.steps) else None
        self.step_form.setEnabled(self._shown_step is not None)
        if self._shown_step is not None:
            self.step_form.load(self.steps[row])
        else:
            self.step_form.step = None

    def add_step(self) -> dict:
        self.step_form.store()
        ids = {s.get("id") for s in self.steps}
        n = len(self.steps) + 1
        while f"step-{n}" in ids:
            n += 1
        step = {"id": f"step-{n}", "title": f"Step {n}", "instructions": "", "objects": [],
                "instruments": [], "devices": [], "criteria": [], "weight": 1.0}
        at = self.step_list.currentRow() + 1 if self.steps else 0
        self.steps.insert(at, step)
        self._shown_step = None
        self.load(self.dialog.data)
        self.step_list.setCurrentRow(at)
        return step

    def remove_step(self) -> None:
        row = self.step_list.currentRow()
        if 0 <= row < len(self.steps):
            del self.steps[row]
            self._shown_step = None
            self.load(self.dialog.data)
            if self.steps:
                self.step_list.setCurrentRow(min(row, len(self.steps) - 1))

    def move_step(self, delta: int) -> None:
        row = self.step_list.currentRow()
        to = row + delta
        if 0 <= row < len(self.steps) and 0 <= to < len(self.steps):
            self.step_form.store()
            self.steps[row], self.steps[to] = self.steps[to], self.steps[row]
            self._shown_step = None
            self.load(self.dialog.data)
            self.step_list.setCurrentRow(to)

"""The Structures tab: the critical structures and their damage thresholds, one table row
each."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from viewer.panels.rehearse_authoring.fields import number_field
from viewer.panels.spin import button

# Thresholds of a critical structure: key, column title, suffix, maximum.
THRESHOLDS = [("margin_mm", "margin", " mm", 100.0), ("max_contact_force_n", "max force", " N", 1e4),
              ("max_von_mises_kpa", "max stress", " kPa", 1e6),
              ("max_strain_pct", "max strain", " %", 1e4)]


class StructuresTab(QWidget):
    """Structure name, contact and thresholds per row (– : not judged)."""

    def __init__(self, dialog) -> None:
        super().__init__()
        self.dialog = dialog
        v = QVBoxLayout(self)
        v.addWidget(QLabel("Critical structures: touching one with contact checked damages it; "
                           "the simulated body is judged by force, stress and strain "
                           "(– : not judged). Damage fails the step it happens in."))
        self.table = QTableWidget(0, 3 + len(THRESHOLDS))
        self.table.setHorizontalHeaderLabels(
            ["structure", "contact", *[t[1] for t in THRESHOLDS], ""])
        v.addWidget(self.table, 1)
        row = QHBoxLayout()
        add = button("Add structure", lambda: self.add_structure({"name": "", "contact": True}))
        row.addWidget(add)
        row.addStretch(1)
        v.addLayout(row)

    def load(self, data: dict) -> None:
        self.table.setRowCount(0)
        for s in data.get("structures", []):
            self.add_structure(s)

    def store(self, data: dict) -> None:
        data["structures"] = [self._row(r) for r in range(self.table.rowCount())]

    def add_structure(self, s: dict) -> None:
        t = self.table
        r = t.rowCount()
        t.insertRow(r)
        combo = QComboBox()
        names = self.dialog.object_names()
        combo.addItems(names)
        if s.get("name") and s["name"] not in names:
            combo.addItem(s["name"])
        combo.setCurrentText(s.get("name", ""))
        t.setCellWidget(r, 0, combo)
        check = QCheckBox()
        check.setChecked(bool(s.get("contact", False)))
        t.setCellWidget(r, 1, check)
        for c, (key, _title, suffix, hi) in enumerate(THRESHOLDS, start=2):
            t.setCellWidget(r, c, number_field(s.get(key), suffix, hi=hi, off=key != "margin_mm"))
        remove = button("✕", lambda: self.remove_structure(remove), "Remove this structure")
        t.setCellWidget(r, 2 + len(THRESHOLDS), remove)
        t.resizeColumnsToContents()

    def remove_structure(self, button: QPushButton) -> None:
        t = self.table
        for r in range(t.rowCount()):
            if t.cellWidget(r, 2 + len(THRESHOLDS)) is button:
                t.removeRow(r)
                return

    def _row(self, r: int) -> dict:
        t = self.table
        d = {"name": t.cellWidget(r, 0).currentText(), "contact": t.cellWidget(r, 1).isChecked()}
        for c, (key, *_rest) in enumerate(THRESHOLDS, start=2):
            v = t.cellWidget(r, c).value()
            if v or key == "margin_mm":
                d[key] = v
        return d

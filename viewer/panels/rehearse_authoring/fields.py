"""Small field widgets and helpers the authoring tabs share."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDoubleSpinBox, QListWidget, QListWidgetItem, QScrollArea, QWidget

ERROR_STYLE = "color: #b3261e;"


def number_field(value: float | None, suffix: str, hi: float = 1e5,
                 off: bool = True) -> QDoubleSpinBox:
    """A number field; with ``off``, 0 shows as "–" and means "not set"."""
    s = QDoubleSpinBox()
    s.setRange(0.0, hi)
    s.setDecimals(2)
    s.setSuffix(suffix)
    if off:
        s.setSpecialValueText("–")
    s.setValue(value or 0.0)
    return s


class ExactSpin(QDoubleSpinBox):
    """A number field that gives back the value it was loaded with, unrounded, until it is
    edited (so a plan's 12.3456 mm does not become 12.35 mm by visiting the tab)."""

    def __init__(self, value: float, lo: float, hi: float, suffix: str = "",
                 decimals: int = 2) -> None:
        super().__init__()
        self.setRange(lo, hi)
        self.setDecimals(decimals)
        self.setSuffix(suffix)
        self.load(value)

    def load(self, value: float) -> None:
        self._loaded = float(value)
        self.setValue(self._loaded)
        self._shown = self.value()

    def exact(self) -> float:
        return self._loaded if self.value() == self._shown else self.value()


def fmt(x) -> str:
    """A number as text, exactly (30.0 -> "30", 0.125 -> "0.125")."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    t = repr(float(x))
    return t[:-2] if t.endswith(".0") else t


def checklist(names: list[str], checked: list[str]) -> QListWidget:
    w = QListWidget()
    for n in names:
        item = QListWidgetItem(n)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if n in checked else Qt.CheckState.Unchecked)
        w.addItem(item)
    w.setMaximumHeight(22 * min(max(len(names), 2), 6) + 6)
    return w


def checked_names(w: QListWidget) -> list[str]:
    return [w.item(i).text() for i in range(w.count())
            if w.item(i).checkState() == Qt.CheckState.Checked]


def discard(w: QWidget) -> None:
    """Take a widget off screen now (deleteLater alone leaves it drawn until the event loop
    gets back to it)."""
    w.hide()
    w.setParent(None)
    w.deleteLater()


def scrolled(widget: QWidget) -> QScrollArea:
    s = QScrollArea()
    s.setWidgetResizable(True)
    s.setWidget(widget)
    return s

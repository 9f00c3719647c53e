"""Small builders the panels share: the number field of their forms, and a row of widgets."""

from __future__ import annotations

from PyQt6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QWidget


def spin_box(lo: float, hi: float, value: float, step: float, decimals: int,
             suffix: str = "") -> QDoubleSpinBox:
    """A spin box for ``lo``..``hi`` showing ``value`` with ``decimals`` places, ``step`` a click."""
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    s.setSingleStep(step)
    s.setValue(value)
    if suffix:
        s.setSuffix(suffix)
    return s


def row(*widgets: QWidget) -> QWidget:
    """Widgets side by side in one borderless row (for a form line holding several)."""
    w = QWidget()
    h = QHBoxLayout(w)
    h.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        h.addWidget(x)
    return w

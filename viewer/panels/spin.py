"""The number field the panels build their forms from."""

from __future__ import annotations

from PyQt6.QtWidgets import QDoubleSpinBox


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

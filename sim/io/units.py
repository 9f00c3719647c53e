"""Length units: everything inside Twinsight is millimetres."""

from __future__ import annotations

from sim.errors import InputError

MM_PER_UNIT: dict[str, float] = {
    "um": 0.001, "micron": 0.001, "mm": 1.0, "millimeter": 1.0, "cm": 10.0, "centimeter": 10.0,
    "m": 1000.0, "meter": 1000.0, "in": 25.4, "inch": 25.4, "ft": 304.8, "foot": 304.8,
}
USER_UNITS = ("mm", "cm", "m", "in")


def mm_per(unit: str | None) -> float:
    """Scale factor from ``unit`` to mm (None means mm)."""
    if unit is None:
        return 1.0
    try:
        return MM_PER_UNIT[unit.strip().lower()]
    except KeyError:
        raise InputError(f"Unknown length unit '{unit}' (use one of {', '.join(USER_UNITS)}).") from None

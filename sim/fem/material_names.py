"""How library materials are named to people: 'Cortical bone', not 'cortical_bone'."""

from __future__ import annotations

_DISPLAY = {"peek": "PEEK", "abs": "ABS plastic", "titanium_alloy": "Titanium alloy (Ti-6Al-4V)",
            "aluminium": "Aluminium (6061-T6)", "steel": "Steel (AISI 1018)"}


def display_name(name: str) -> str:
    """The material's name in menus and reports (the library key stays in files)."""
    key = name.strip().lower()
    return _DISPLAY.get(key) or key.replace("_", " ").capitalize()

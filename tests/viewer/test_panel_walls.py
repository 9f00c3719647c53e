"""No panel reaches into another panel (#16): the window composes the dock panels, and each
panel talks to the workbench and the case, never to a sibling. Static checks on the source, so
a new reach-through fails here with the line that made it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PANELS = ROOT / "viewer" / "panels"
COMPOSERS = ["viewer/main_window.py", "viewer/case_session.py", "viewer/imaging_ui.py"]
WINDOW_PANEL_ATTRS = {"live", "simulate", "place", "inspect", "rehearse", "analysis", "tree",
                      "properties"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def dock_panel_modules() -> set[str]:
    """The panel modules the window composes into docks."""
    mods = set()
    for rel in COMPOSERS:
        mods |= {m for m in imported_modules(ROOT / rel) if m.startswith("viewer.panels.")
                 and (ROOT / (m.replace(".", "/") + ".py")).exists()}
    return mods - {"viewer.panels.spin"}  # shared widgets (spin boxes, wheel guard), not a dock


def test_the_window_composes_the_dock_panels():
    docks = dock_panel_modules()
    for name in ("simulate", "rehearse", "place", "inspect", "live", "markups", "segment"):
        assert f"viewer.panels.{name}" in docks


def test_no_panel_module_imports_a_dock_panel():
    docks = dock_panel_modules()
    offences = []
    for path in sorted(PANELS.rglob("*.py")):
        own = "viewer." + ".".join(path.relative_to(ROOT / "viewer").with_suffix("").parts)
        for mod in imported_modules(path) & docks - {own}:
            offences.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not offences, offences


def test_no_panel_reaches_into_a_sibling_through_the_window():
    names = "|".join(sorted(WINDOW_PANEL_ATTRS))
    pattern = re.compile(rf"window\.({names})\b")
    by_name = re.compile(rf"getattr\(\s*self\.window,\s*\"({names})\"")
    offences = []
    for path in sorted(PANELS.rglob("*.py")) + sorted((ROOT / "viewer" / "xr").glob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) or by_name.search(line):
                offences.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offences, offences

"""Case sections edited as undoable steps: a changed setting marks the case modified.

``case.sections`` holds the named JSON documents saved with the case (the rehearsal
scenario, the live link, the panels' settings). :func:`set_section` replaces one as a single
step of ``case.history`` (so the case is unsaved until the next save, and Quit asks), and
:func:`section_events` is the signal every view of a section listens to: it fires when a
section is set, and when such a step is undone or redone. A script changes settings the
same way the GUI does. Each known section is a typed, versioned document
(:mod:`sim.model.section_docs`), checked here and when a case is opened.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from psygnal import Signal

from sim.model.undo import MERGE_SECONDS, Command

_MISSING = object()


class SectionEvents:
    """``changed(name)``: section ``name`` of one case was set, undone or redone."""

    changed = Signal(str)


def section_events(case: Any) -> SectionEvents:
    """The section signal of ``case`` (made on first use, kept with the case)."""
    events = case.__dict__.get("_section_events")
    if events is None:
        events = SectionEvents()
        case.__dict__["_section_events"] = events
    return events


class SetSection(Command):
    """Section ``key`` of a case changed from ``old`` to ``new`` (missing: absent)."""

    def __init__(self, case: Any, key: str, old: Any, new: Any, text: str) -> None:
        self.case, self.key, self.old, self.new, self.text = case, key, old, new, text
        self.stamp = time.monotonic()

    def _apply(self, value: Any) -> None:
        if value is _MISSING:
            self.case.sections.pop(self.key, None)
        else:
            self.case.sections[self.key] = copy.deepcopy(value)
        self.stamp = float("-inf")  # a replayed step never absorbs the next edit
        section_events(self.case).changed.emit(self.key)

    def undo(self) -> None:
        self._apply(self.old)

    def redo(self) -> None:
        self._apply(self.new)

    def merge(self, other: Command) -> bool:
        """Consecutive changes of one section by one control (a spin box held down) are
        one step."""
        if (isinstance(other, SetSection) and other.case is self.case and other.key == self.key
                and other.text == self.text and other.stamp - self.stamp < MERGE_SECONDS):
            self.new, self.stamp = other.new, other.stamp
            return True
        return False


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays inside: compare as unequal
        return False


def set_section(case: Any, key: str, value: Any, text: str | None = None) -> bool:
    """Set ``case.sections[key] = value`` as one undoable step; False if nothing changed.

    ``text`` names the step in Edit > Undo (default "Change <key>"); consecutive steps with
    the same text merge (see :data:`sim.model.undo.MERGE_SECONDS`). A document that is not
    valid for its section (see :mod:`sim.model.section_docs`) is refused with InputError.
    """
    from sim.model.section_docs import check_section

    old = case.sections.get(key, _MISSING)
    if old is not _MISSING and _same(old, value):
        return False
    check_section(key, value)
    case.sections[key] = value
    history = case.history
    if history.recording:
        history.push(SetSection(case, key, copy.deepcopy(old) if old is not _MISSING else old,
                                copy.deepcopy(value), text or f"Change {key}"))
    section_events(case).changed.emit(key)
    return True

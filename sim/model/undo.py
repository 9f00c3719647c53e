"""Undo and redo for every edit of a case, recorded from the model's own events.

:class:`CaseHistory` listens to the scene, its objects, the markups and their
fields, so an edit made anywhere (a panel, the 3D view, a script) becomes one
undoable command without the editor knowing about undo. Consecutive changes of
the same field of the same object (a slider drag, a point drag) merge into one.
Scripts can group several edits with ``with case.history.macro("Align"):``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from psygnal import Signal

MERGE_SECONDS = 1.5  # edits of one field closer together than this are one step
DEFAULT_LIMIT = 200

_FIELD_VERBS = {
    "name": "Rename", "color": "Change colour of", "opacity": "Change opacity of",
    "visible": "Change visibility of", "metadata": "Edit", "data": "Edit geometry of",
    "transform": "Transform", "display": "Change display of",
    "label_table": "Edit labels of", "trajectory": "Change trajectory of",
    "tracking": "Change tracking of", "texture": "Change texture of",
    "live_source": "Change live source of", "segmentation_of": "Change segmented scan of",
    "points": "Move points of", "labels": "Rename points of", "size": "Resize",
    "orientation": "Rotate", "locked": "Lock/unlock", "description": "Describe",
}


class Command(ABC):
    """One undoable step."""

    text = "Edit"

    @abstractmethod
    def undo(self) -> None:
        """Put the model back as it was before this step."""

    @abstractmethod
    def redo(self) -> None:
        """Apply this step again."""

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (a later edit) into this step; True if it was absorbed."""
        return False


class SetField(Command):
    """A field of an evented object changed from ``old`` to ``new``."""

    def __init__(self, target: Any, field: str, old: Any, new: Any) -> None:
        self.target, self.field, self.old, self.new = target, field, old, new
        self.stamp = time.monotonic()
        verb = _FIELD_VERBS.get(field, f"Change {field} of")
        if field == "visible":
            verb = "Show" if new else "Hide"
        name = old if field == "name" else getattr(target, "name", "?")
        self.text = f"{verb} '{name}'"

    def undo(self) -> None:
        setattr(self.target, self.field, self.old)

    def redo(self) -> None:
        setattr(self.target, self.field, self.new)

    def merge(self, other: Command) -> bool:
        if (isinstance(other, SetField) and other.target is self.target
                and other.field == self.field and self.field not in ("name", "visible")
                and other.stamp - self.stamp < MERGE_SECONDS):
            self.new, self.stamp = other.new, other.stamp
            return True
        return False


class Insert(Command):
    """An item was added to a container (scene or markups) at ``index``."""

    def __init__(self, container: Any, item: Any, index: int, kind: str = "") -> None:
        self.container, self.item, self.index = container, item, index
        self.text = f"Add {kind}'{item.name}'"

    def undo(self) -> None:
        self.container.remove(self.item)

    def redo(self) -> None:
        self.container.insert(self.index, self.item)


class Remove(Insert):
    """An item was removed from a container; undo puts it back where it was."""

    def __init__(self, container: Any, item: Any, index: int, kind: str = "") -> None:
        super().__init__(container, item, index, kind)
        self.text = f"Remove {kind}'{item.name}'"

    def undo(self) -> None:
        Insert.redo(self)

    def redo(self) -> None:
        Insert.undo(self)


class FunctionCommand(Command):
    """A step whose undo and redo are given as functions (e.g. hardening a transform)."""

    def __init__(self, text: str, undo: Callable[[], None], redo: Callable[[], None]) -> None:
        self.text, self._undo, self._redo = text, undo, redo

    def undo(self) -> None:
        self._undo()

    def redo(self) -> None:
        self._redo()


class Macro(Command):
    """Several steps undone and redone as one."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.steps: list[Command] = []

    def undo(self) -> None:
        for step in reversed(self.steps):
            step.undo()

    def redo(self) -> None:
        for step in self.steps:
            step.redo()


class UndoStack:
    """A linear undo/redo stack with a clean mark (the last saved state)."""

    changed = Signal()

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._macro: Macro | None = None
        self._replaying = 0
        self._clean: Command | None = None
        self._clean_valid = True
        self.revision = 0  # increases with every change of state (autosave watches it)

    # -- state ------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    @property
    def replaying(self) -> bool:
        """True while an undo or redo is being applied (its events are not new edits)."""
        return self._replaying > 0

    def __len__(self) -> int:
        return len(self._done)

    @property
    def is_clean(self) -> bool:
        return self._clean_valid and (self._done[-1] if self._done else None) is self._clean

    def set_dirty(self) -> None:
        """Mark the current state as not saved anywhere (e.g. a recovered case)."""
        self._clean_valid = False
        self.changed.emit()

    def state_token(self) -> Command | None:
        """A mark of the current state, for :meth:`set_clean` once a background save is done.

        Later edits never merge into the marked step, so the mark keeps meaning this state.
        """
        top = self._done[-1] if self._done else None
        if isinstance(top, SetField):
            top.stamp = float("-inf")
        return top

    def set_clean(self, token: Command | None | bool = True) -> None:
        """Mark the current state (or the one ``token`` marked) as the saved one."""
        if token is True:
            token = self._done[-1] if self._done else None
        if token is None or token in self._done or token in self._undone:
            self._clean, self._clean_valid = token, True
        else:  # the marked step has been dropped off the end of the history
            self._clean_valid = False
        self.changed.emit()

    # -- editing ----------------------------------------------------------------------------
    def push(self, command: Command) -> None:
        """Record a step that has already been applied."""
        if self._replaying:
            return
        if self._macro is not None:
            self._macro.steps.append(command)
            return
        self._undone.clear()
        top = self._done[-1] if self._done else None
        if top is not None and top is not self._clean and top.merge(command):
            pass
        else:
            self._done.append(command)
            if len(self._done) > self.limit:
                dropped = self._done.pop(0)
                if dropped is self._clean:
                    self._clean_valid = False
        self.revision += 1
        self.changed.emit()

    def undo(self) -> bool:
        return self._replay_newest(self._done, "undo", self._undone)

    def redo(self) -> bool:
        return self._replay_newest(self._undone, "redo", self._done)

    def _replay_newest(self, source: list, action: str, target: list) -> bool:
        """Run ``action`` ("undo" or "redo") of the newest command in ``source`` and move it
        to ``target``; False with nothing there or inside a macro."""
        if not source or self._macro is not None:
            return False
        cmd = source.pop()
        with self._replay():
            getattr(cmd, action)()
        target.append(cmd)
        self._after_replay()
        return True

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._clean, self._clean_valid = None, True
        self.revision += 1
        self.changed.emit()

    @contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Record every edit made inside the block as one step called ``text``."""
        if self._macro is not None:  # nested: the outer macro collects everything
            yield
            return
        self._macro = Macro(text)
        try:
            yield
        finally:
            macro, self._macro = self._macro, None
            if macro.steps:
                self.push(macro)

    @contextmanager
    def _replay(self) -> Iterator[None]:
        self._replaying += 1
        try:
            yield
        finally:
            self._replaying -= 1

    def _after_replay(self) -> None:
        # A merged-into step must not swallow the next edit after an undo/redo.
        for cmd in self._done[-1:]:
            if isinstance(cmd, SetField):
                cmd.stamp = float("-inf")
        self.revision += 1
        self.changed.emit()


class CaseHistory(UndoStack):
    """The undo history of one case, fed by the case's events."""

    def __init__(self, case: Any, limit: int = DEFAULT_LIMIT) -> None:
        super().__init__(limit)
        self.case = case
        self._paused = 0
        self._watchers: dict[int, tuple[Any, Callable]] = {}
        self._orders: dict[int, list[Any]] = {}
        self._slots: list[Callable] = []  # strong references to our container listeners
        self._attach(case.scene, "")
        self._attach(case.markups, "markup ")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Apply edits without recording them (loading, or a step pushed by hand)."""
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    @property
    def recording(self) -> bool:
        return not self._paused and not self.replaying

    def _attach(self, container: Any, kind: str) -> None:
        order = list(container)
        self._orders[id(container)] = order

        def on_added(item: Any) -> None:
            index = _position(container, item)
            order.insert(index, item)
            self._watch(item)
            if self.recording:
                self.push(Insert(container, item, index, kind))

        def on_removed(item: Any) -> None:
            index = next((i for i, x in enumerate(order) if x is item), len(order))
            if index < len(order):
                order.pop(index)
            if self.recording:
                self.push(Remove(container, item, index, kind))

        container.added.connect(on_added)
        container.removed.connect(on_removed)
        self._slots += [on_added, on_removed]
        for item in order:
            self._watch(item)

    def _watch(self, item: Any) -> None:
        if id(item) in self._watchers:
            return

        def on_event(info) -> None:
            if not self.recording or info.signal.name == "uid":
                return
            new, old = (tuple(info.args) + (None, None))[:2]
            self.push(SetField(item, info.signal.name, old, new))

        item.events.connect(on_event)
        self._watchers[id(item)] = (item, on_event)


def _position(container: Any, item: Any) -> int:
    for i, x in enumerate(container):
        if x is item:
            return i
    return len(container)

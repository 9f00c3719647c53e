"""An ordered, evented list of named items, the shape of the scene's objects and the case's
markups: names and uids kept unique as items come in, ``added``/``removed`` signals for views."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from psygnal import Signal

from sim.errors import InputError


class _Named(Protocol):
    name: str
    uid: str


T = TypeVar("T", bound=_Named)


class NamedList(Generic[T]):
    """Items in order; an item added under a taken name is renamed "name (2)", one with a
    taken uid gets a new ``UID_PREFIX``-uid."""

    added = Signal(object)
    removed = Signal(object)
    UID_PREFIX = "item"

    def __init__(self) -> None:
        self._items: list[T] = []

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def find(self, uid: str) -> T | None:
        return next((x for x in self._items if x.uid == uid), None)

    def index(self, item: T) -> int:
        return self._items.index(item)

    def add(self, item: T) -> T:
        return self.insert(len(self._items), item)

    def insert(self, index: int, item: T) -> T:
        """Add ``item`` at position ``index`` (undo puts removed items back where they were)."""
        if item in self._items:
            raise InputError(self._already_in(item))
        item.name = self.unique_name(item.name)
        if self.find(item.uid) is not None:
            item.uid = f"{self.UID_PREFIX}-{uuid.uuid4().hex[:12]}"
        self._items.insert(index, item)
        self.added.emit(item)
        return item

    def remove(self, item: T) -> None:
        self._items.remove(item)
        self.removed.emit(item)

    def clear(self) -> None:
        for x in list(self._items):
            self.remove(x)

    def unique_name(self, name: str) -> str:
        taken = {x.name for x in self._items}
        if name not in taken:
            return name
        return next(f"{name} ({i})" for i in itertools.count(2) if f"{name} ({i})" not in taken)

    def _already_in(self, item: T) -> str:
        """The message refusing ``item`` a second time."""
        return f"'{item.name}' is already in this list."

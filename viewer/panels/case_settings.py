"""A panel's settings kept in one section of the case: saved with it, restored on reopen.

:class:`CaseSettings` binds widgets (and a few values that are not widgets, such as a list
of instruments) to ``case.sections[<section>]``. A change made through a widget is written
with :func:`sim.model.sections.set_section` (one undoable step, the case becomes unsaved);
opening a case, undo and redo put the stored values back into the widgets. A case without
the section shows the defaults the widgets had when the panel was built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PyQt6.QtCore import QObject
from PyQt6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QLineEdit, QSlider

from sim.errors import InputError
from sim.model.sections import section_events, set_section

log = logging.getLogger(__name__)


class _Field:
    def __init__(self, name: str, get: Callable[[], Any], put: Callable[[Any], None],
                 default: Any, by_uid: bool) -> None:
        self.name, self.get, self.put, self.default, self.by_uid = name, get, put, default, by_uid


class CaseSettings(QObject):
    """Widgets of one panel stored in ``case.sections[section]`` (merged into what else that
    section holds, so it can share a section with another writer)."""

    def __init__(self, parent: QObject, section: str, text: str) -> None:
        super().__init__(parent)
        self.section, self.text = section, text
        self.case = None
        self.fields: dict[str, _Field] = {}
        self._loading = 0

    # -- declaring fields -----------------------------------------------------------------------
    def add(self, name: str, widget=None, *, get: Callable[[], Any] | None = None,
            put: Callable[[Any], None] | None = None, by_uid: bool = False,
            data: bool = False) -> None:
        """Keep ``widget``'s value (or ``get()``/``put(value)``) as ``name``.

        Combo boxes store their text, or their item data when ``data`` or ``by_uid`` (an
        object of the case, by uid: a case without the setting keeps the panel's choice).
        Values that are not widgets call :meth:`changed` when they change.
        """
        if widget is not None:
            get, put, signal = _accessors(widget, by_uid or data)
            signal.connect(lambda *_a: self.changed())
        if get is None or put is None:
            raise TypeError(f"setting '{name}' needs a widget or get and put")
        self.fields[name] = _Field(name, get, put, None if by_uid else get(), by_uid)

    # -- the case ----------------------------------------------------------------------------------
    @contextmanager
    def switching(self, case) -> Iterator[None]:
        """Wrap a panel's ``set_case``: widget changes inside are not edits; on exit the
        widgets show what ``case`` stores."""
        self.detach()
        try:
            yield
        finally:
            self.attach(case)

    def detach(self) -> None:
        """Stop following the case (a panel's ``set_case`` begins): changes are not edits."""
        if self.case is not None:
            section_events(self.case).changed.disconnect(self._section_changed)
        self.case = None

    def attach(self, case) -> None:
        """Follow ``case`` and show what it stores (a panel's ``set_case`` ends)."""
        self.detach()
        self.case = case
        if case is not None:
            section_events(case).changed.connect(self._section_changed)
            self.load()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Widget changes inside are the panel's own doing (a default), not edits."""
        self._loading += 1
        try:
            yield
        finally:
            self._loading -= 1

    def stored(self) -> dict:
        doc = self.case.sections.get(self.section) if self.case is not None else None
        return doc if isinstance(doc, dict) else {}

    def values(self) -> dict:
        """The fields as the widgets show them now."""
        out = {}
        for f in self.fields.values():
            try:
                out[f.name] = f.get()
            except InputError:  # a half-typed value: keep what is stored
                if f.name in self.stored():
                    out[f.name] = self.stored()[f.name]
        return out

    def load(self) -> None:
        """Show the stored values (defaults for those the case does not hold)."""
        doc = self.stored()
        self._loading += 1
        try:
            for f in self.fields.values():
                value = doc.get(f.name, f.default)
                if value is None and f.by_uid:
                    continue  # the panel's own choice among the case's objects
                try:
                    f.put(value)
                except (InputError, TypeError, ValueError) as exc:
                    log.warning("setting %s.%s not restored: %s", self.section, f.name, exc)
        finally:
            self._loading -= 1

    def changed(self) -> bool:
        """A field changed: store the panel's settings in the case (one undoable step)."""
        if self._loading or self.case is None:
            return False
        doc = {**self.stored(), **self.values()}
        return set_section(self.case, self.section, doc, self.text)

    def _section_changed(self, name: str) -> None:
        if name == self.section and not self._loading:
            self.load()

    @property
    def loading(self) -> bool:
        return self._loading > 0


def _accessors(widget, by_uid: bool):
    if isinstance(widget, QComboBox):
        if by_uid:
            def put_data(value) -> None:
                index = widget.findData(value)
                if index >= 0:
                    widget.setCurrentIndex(index)
            return widget.currentData, put_data, widget.currentIndexChanged

        def put_text(value) -> None:
            index = widget.findText(str(value))
            if index >= 0:
                widget.setCurrentIndex(index)
        return widget.currentText, put_text, widget.currentIndexChanged
    if isinstance(widget, QCheckBox):
        return widget.isChecked, lambda v: widget.setChecked(bool(v)), widget.toggled
    if isinstance(widget, QLineEdit):
        return widget.text, lambda v: widget.setText(str(v)), widget.textChanged
    if isinstance(widget, QSlider):
        return widget.value, lambda v: widget.setValue(int(v)), widget.valueChanged
    if isinstance(widget, QAbstractSpinBox):
        return (widget.value, lambda v: widget.setValue(type(widget.value())(v)),
                widget.valueChanged)
    raise TypeError(f"no settings accessor for {type(widget).__name__}")

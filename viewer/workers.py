"""Long work off the GUI thread, with progress and cancellation.

``run_task(parent, fn, ...)`` runs ``fn(progress)`` on a QThread. ``progress``
is the :mod:`sim.progress` callback; it raises :class:`sim.errors.Cancelled` once
the user asked to cancel, so the work stops at its next report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from sim.errors import Cancelled

log = logging.getLogger(__name__)


class Task(QObject):
    """One background job. Signals are delivered on the GUI thread."""

    progressed = pyqtSignal(float, str)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(object)  # the exception
    finished = pyqtSignal()

    def __init__(self, fn: Callable[[Callable[[float, str], None]], Any], title: str) -> None:
        super().__init__()
        self.fn = fn
        self.title = title
        self._cancel = threading.Event()
        self._thread = QThread()
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, fraction: float, message: str) -> None:
        if self._cancel.is_set():
            raise Cancelled(self.title.lower())
        self.progressed.emit(float(fraction), str(message))

    def _run(self) -> None:
        try:
            result = self.fn(self._progress)
        except BaseException as exc:  # reported to the user by the owner of the task
            if not isinstance(exc, Cancelled):
                log.exception("%s failed", self.title)
            self.failed.emit(exc)
        else:
            self.succeeded.emit(result)
        finally:
            self.finished.emit()
            self._thread.quit()

    def start(self) -> None:
        self._thread.start()

    def wait(self, ms: int = 30_000) -> bool:
        return self._thread.wait(ms)

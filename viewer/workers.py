"""Background work for the window: :mod:`sim.jobs` with its events on the GUI thread.

The window owns one :class:`sim.jobs.JobManager` whose ``dispatch`` is a
:class:`QtDispatcher`: worker threads post each event (progress, the job's callbacks,
its end) to the GUI thread through a queued signal, so panels only ever touch widgets
and the model on the GUI thread. No ``QThread`` objects are involved, so no thread can
be destroyed while it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PyQt6.QtCore import QObject, Qt, pyqtSignal

from sim.jobs import Job, JobManager, JobState

__all__ = ["Job", "JobManager", "JobState", "QtDispatcher"]

log = logging.getLogger(__name__)


class QtDispatcher(QObject):
    """Call functions on the thread this object lives in (the GUI thread)."""

    _posted = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._call, Qt.ConnectionType.QueuedConnection)

    def __call__(self, call: Callable[[], None]) -> None:
        try:
            self._posted.emit(call)
        except RuntimeError:  # the window is gone; its manager was shut down first
            log.debug("an event arrived after the window closed; dropped")

    @staticmethod
    def _call(call: Callable[[], None]) -> None:
        call()

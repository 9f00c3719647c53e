"""Background jobs: one manager for the window, the CLI and scripts.

A :class:`JobManager` runs ``fn(progress)`` on worker threads. Each :class:`Job` has a
title, progress (fraction and message), cancel, and an end state (succeeded, failed,
cancelled). ``progress`` is the :mod:`sim.progress` callback: it raises
:class:`sim.errors.Cancelled` at the job's next report once cancel was asked.

Why plain threads and a manager (not one ``QThread`` per task): the manager owns every
job from submission until its end has been delivered, so nothing can drop the last
reference to a running thread (the old ``QThread: Destroyed while thread is still
running`` abort), and the same code runs with or without Qt.

Events (``submitted``, ``progressed``, ``finished``) and each job's own callbacks are
delivered through ``dispatch``: by default on the worker thread; a GUI passes a function
that posts the call to its own thread (``viewer.workers.QtDispatcher``), so views react
on the GUI thread only. A job leaves :attr:`JobManager.active` only after its callbacks
ran, so "no active job" means "every result has been applied".

Jobs with the same ``group`` run one after another in submission order (a save and an
open of the same case must not overlap); jobs without a group run at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from psygnal import Signal

from sim.errors import Cancelled

log = logging.getLogger(__name__)

Dispatch = Callable[[Callable[[], None]], None]
PROGRESS_INTERVAL_S = 0.05  # progress events at most 20 times a second per job


def run_inline(call: Callable[[], None]) -> None:
    """The default dispatch: run the call where it was made (the worker thread)."""
    call()


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


_ids = itertools.count(1)


class Job:
    """One unit of background work; created by :meth:`JobManager.submit`."""

    def __init__(self, manager: JobManager, title: str, fn: Callable[[Callable], Any],
                 group: str | None, background: bool,
                 on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None,
                 on_finished: Callable[[Job], None] | None) -> None:
        self.id = next(_ids)
        self.title = title
        self.group = group
        self.background = background  # not shown as the window's current task (autosave)
        self.state = JobState.QUEUED
        self.fraction = 0.0
        self.message = ""
        self.result: Any = None
        self.error: BaseException | None = None
        self._manager = manager
        self._fn = fn
        self._on_done, self._on_error, self._on_finished = on_done, on_error, on_finished
        self._cancel = threading.Event()
        self._ended = threading.Event()  # the work itself has returned or raised
        self._delivered = threading.Event()  # ... and its callbacks have run
        self._last_report = 0.0

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.title!r} {self.state}>"

    # -- control ---------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop; it does at its next progress report."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """True once cancel was asked (the job may still be finishing)."""
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._delivered.is_set()

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait until the work has returned (not for its callbacks); False on time-out."""
        return self._ended.wait(timeout)

    # -- worker side -------------------------------------------------------------------------
    def progress(self, fraction: float, message: str = "") -> None:
        """The callback handed to the work: records progress, raises Cancelled if asked."""
        if self._cancel.is_set():
            raise Cancelled(self.title.lower())
        self.fraction, self.message = float(fraction), str(message)
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            self._last_report = now
            self._manager._deliver(lambda: self._manager.progressed.emit(self))

    def _run(self) -> None:
        self.state = JobState.RUNNING
        try:
            if self._cancel.is_set():
                raise Cancelled(self.title.lower())
            self.result = self._fn(self.progress)
        except Cancelled as exc:
            self.error, self.state = exc, JobState.CANCELLED
        except BaseException as exc:  # reported through on_error and the finished event
            log.exception("%s failed", self.title)
            self.error, self.state = exc, JobState.FAILED
        else:
            self.state = JobState.SUCCEEDED
        finally:
            self._fn = None  # drop what the work captured (a case, large arrays) promptly
            self._ended.set()
            self._manager._ended(self)

    def _finish(self) -> None:
        """On the dispatch thread: the job's callbacks, then the manager's event."""
        try:
            if self.state is JobState.SUCCEEDED and self._on_done is not None:
                self._on_done(self.result)
            elif self.state is not JobState.SUCCEEDED and self._on_error is not None:
                self._on_error(self.error)
            if self._on_finished is not None:
                self._on_finished(self)
        except Exception:  # a failing callback must not leave the job active forever
            log.exception("handling the end of %s failed", self.title)
        finally:
            self._on_done = self._on_error = self._on_finished = None
            self._manager._forget(self)
            self._delivered.set()
            self._manager.finished.emit(self)


class JobManager:
    """Runs and tracks background jobs; see the module docstring."""

    submitted = Signal(object)  # Job
    progressed = Signal(object)  # Job (throttled)
    finished = Signal(object)  # Job, after its own callbacks

    def __init__(self, dispatch: Dispatch = run_inline) -> None:
        self._dispatch: Dispatch = dispatch
        self._lock = threading.RLock()
        self._active: list[Job] = []
        self._queues: dict[str, deque[Job]] = {}  # group -> jobs waiting for their turn
        self._running_groups: set[str] = set()
        self._threads: dict[int, threading.Thread] = {}

    # -- submitting ----------------------------------------------------------------------------
    def submit(self, title: str, fn: Callable[[Callable], Any], *,
               on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None,
               on_finished: Callable[[Job], None] | None = None,
               group: str | None = None, background: bool = False) -> Job:
        """Run ``fn(progress)`` in the background and return its :class:`Job`.

        ``on_done(result)`` runs on success, ``on_error(exc)`` on failure or cancel
        (``exc`` is then :class:`Cancelled`), ``on_finished(job)`` always, in that order.
        """
        job = Job(self, title, fn, group, background, on_done, on_error, on_finished)
        with self._lock:
            self._active.append(job)
            start = group is None or group not in self._running_groups
            if start:
                if group is not None:
                    self._running_groups.add(group)
            else:
                self._queues.setdefault(group, deque()).append(job)
        self._deliver(lambda: self.submitted.emit(job))
        if start:
            self._start(job)
        return job

    def _start(self, job: Job) -> None:
        thread = threading.Thread(target=job._run, name=f"job-{job.id}", daemon=True)
        with self._lock:
            self._threads[job.id] = thread
        thread.start()

    def _ended(self, job: Job) -> None:
        """On the worker thread, when the work returned: start the group's next job."""
        nxt = None
        with self._lock:
            self._threads.pop(job.id, None)
            if job.group is not None:
                queue = self._queues.get(job.group)
                if queue:
                    nxt = queue.popleft()
                else:
                    self._running_groups.discard(job.group)
                    self._queues.pop(job.group, None)
        self._deliver(job._finish)
        if nxt is not None:
            self._start(nxt)

    def _forget(self, job: Job) -> None:
        with self._lock:
            if job in self._active:
                self._active.remove(job)

    def _deliver(self, call: Callable[[], None]) -> None:
        with self._lock:
            dispatch = self._dispatch
        dispatch(call)

    # -- looking and controlling ---------------------------------------------------------------
    @property
    def active(self) -> list[Job]:
        """Jobs submitted and not yet delivered, oldest first."""
        with self._lock:
            return list(self._active)

    def current(self) -> Job | None:
        """The job a status bar shows: the oldest running foreground job, else the oldest
        queued one, else None."""
        jobs = [j for j in self.active if not j.background]
        running = [j for j in jobs if j.state is JobState.RUNNING]
        return (running or jobs or [None])[0]

    def cancel_all(self) -> None:
        for job in self.active:
            job.cancel()

    def wait_all(self, timeout: float = 30.0) -> bool:
        """Wait until every job's work has returned; False if some did not in time."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads.values())
                pending = any(not j._ended.is_set() for j in self._active)
            if not threads and not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            alive = [t for t in threads if t.is_alive()]
            for t in alive:  # a thread registered but not yet started cannot be joined
                t.join(min(left, 0.05))
            if not alive:
                time.sleep(0.005)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, wait for the work to return, and deliver nothing more
        through ``dispatch`` (the GUI that received events is going away).

        Jobs still unfinished after ``timeout`` are left to end on their own, silently.
        """
        self.cancel_all()
        ok = self.wait_all(timeout)
        with self._lock:
            self._dispatch = _drop
            self._active.clear()
            self._queues.clear()
        return ok


def _drop(call: Callable[[], None]) -> None:
    """Dispatch after shutdown: nothing is delivered any more."""

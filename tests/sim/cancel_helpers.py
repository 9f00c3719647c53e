"""Run a long operation in a thread, cancel it as a user would, and time the stop."""

from __future__ import annotations

import os
import threading
import time

import psutil

from sim.errors import Cancelled


class CancellableRun:
    """``fn(progress)`` in a thread; :meth:`cancel` makes the next progress call raise."""

    def __init__(self, fn) -> None:
        self.cancelled = threading.Event()
        self.error: BaseException | None = None
        self.result = None
        self.calls = []
        self.ended_at: float | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)

    def progress(self, fraction: float, message: str) -> None:
        self.calls.append((time.monotonic(), fraction, message))
        if self.cancelled.is_set():
            raise Cancelled("test job")

    def _run(self, fn) -> None:
        try:
            self.result = fn(self.progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            self.ended_at = time.monotonic()

    def start(self) -> CancellableRun:
        self.thread.start()
        return self

    def cancel(self) -> float:
        t = time.monotonic()
        self.cancelled.set()
        return t


def children_running(marker: str) -> list[psutil.Process]:
    """Our child processes (any depth) whose command line contains ``marker``."""
    found = []
    for p in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and marker in " ".join(p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_for_child(marker: str, run: CancellableRun, timeout: float = 60.0) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end and run.thread.is_alive():
        procs = children_running(marker)
        if procs:
            return [p.pid for p in procs]
        time.sleep(0.05)
    raise AssertionError(f"no child process '{marker}' started (error: {run.error!r})")


def pid_gone(pid: int, allow_zombie: bool = False) -> bool:
    """True if the process no longer exists (os.kill(pid, 0) fails). A zombie (dead but not
    reaped) counts as gone only with ``allow_zombie`` - for grandchildren, which whatever
    runs as PID 1 has to reap, not us."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    if not allow_zombie:
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True

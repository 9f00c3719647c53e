"""The simulation loop: an interaction session stepped on a worker thread at its own rate.

The GUI (or a tracked tool's reader thread) *posts* events; the worker applies them between
steps, steps, and publishes an immutable :class:`~sim.interaction.session.Snapshot`. A renderer
reads :attr:`SimulationLoop.latest` at display rate and never waits for the solver; the solver
never waits for the renderer. Pause, single step, reset and stop are commands too, so nothing
touches the session from two threads, and :meth:`stop` always returns (bounded join).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sim.interaction.session import InteractionSession, Snapshot

log = logging.getLogger(__name__)


class SimulationLoop:
    """Owns a session while running; talk to it only through the methods below."""

    def __init__(self, session: InteractionSession, rate_hz: float | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.session = session
        session.stress_every = max(session.stress_every, 10)  # a 20 ms sample, not every step
        self.rate_hz = rate_hz  # None: as fast as the solver goes
        self.on_error = on_error
        self.field: str | None = None  # colour-map field computed with every snapshot
        self.error: BaseException | None = None
        self.steps_per_second = 0.0
        self.cpu_per_step = 0.0  # s of this thread's CPU per step (EMA): the rate it could reach
        self._cmds: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._running = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self._event_id = 0
        self._posted: dict[int, float] = {}
        self.latest: Snapshot = self._publish(0)

    # -- commands (any thread) ---------------------------------------------------------------
    def _command(self, kind: str, payload: Any = None) -> None:
        with self._cond:
            self._cmds.append((kind, payload))
            self._cond.notify_all()

    def post(self, event: dict[str, Any]) -> int:
        """Queue an event (pose, grab, drag, release, param); returns its id."""
        with self._cond:
            self._event_id += 1
            eid = self._event_id
            self._posted[eid] = time.perf_counter()
            self._cmds.append(("event", (eid, event)))
            self._cond.notify_all()
        return eid

    def start(self) -> None:
        """Run continuously (starts the worker on first use)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._work, name="twinsight-sim", daemon=True)
            self._thread.start()
        self._command("run", True)

    def pause(self) -> None:
        self._command("run", False)

    def step_once(self) -> None:
        self._command("step")
        self._ensure_thread()

    def reset(self) -> None:
        self.error = None  # the reset (applied by the worker) starts clean
        self._command("reset")
        self._ensure_thread()

    def set_field(self, name: str | None) -> None:
        self._command("field", name)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._work, name="twinsight-sim", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._running and self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the worker; True when it ended within ``timeout`` seconds."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("simulation thread did not stop within %.1f s", timeout)
                return False
        self._thread = None
        self._running = False
        return True

    def wait_for_step(self, step: int, timeout: float = 10.0) -> bool:
        """Block until a snapshot of at least ``step`` is published (tests, scripts)."""
        end = time.perf_counter() + timeout
        while self.latest.step < step:
            if time.perf_counter() > end or self.error is not None:
                return False
            time.sleep(0.002)
        return True

    # -- the worker ----------------------------------------------------------------------------
    def _publish(self, applied: int) -> Snapshot:
        snap = self.session.snapshot(self.field)
        snap.applied_event = applied
        snap.posted_at = self._posted.get(applied)
        self.latest = snap  # one reference swap: readers see the old or the new snapshot
        return snap

    def _work(self) -> None:
        last_event = self.latest.applied_event
        last_step_t = None
        next_tick = time.perf_counter()
        while True:
            with self._cond:
                while not self._stop and not self._cmds and not self._running:
                    self._cond.wait(0.2)
                if self._stop:
                    break
                cmds = list(self._cmds)
                self._cmds.clear()
            do_step = self._running
            changed = False
            for kind, payload in cmds:
                if kind == "run":
                    self._running = do_step = bool(payload)
                elif kind == "step":
                    do_step = True
                elif kind == "reset":
                    self.session.reset()
                    self.error = None
                    changed = True
                elif kind == "field":
                    self.field = payload
                    changed = True
                else:
                    eid, event = payload
                    try:
                        self.session.apply(event)
                    except Exception as exc:  # a bad event must not kill the loop
                        self._fail(exc)
                    last_event = eid
                    changed = True
            if do_step and self.error is None:
                try:
                    cpu0 = time.thread_time()
                    self.session.step()
                    cpu = time.thread_time() - cpu0
                    self.cpu_per_step = cpu if not self.cpu_per_step else (
                        0.9 * self.cpu_per_step + 0.1 * cpu)
                    changed = True
                    now = time.perf_counter()
                    if last_step_t is not None and self._running:
                        inst = 1.0 / max(now - last_step_t, 1e-6)
                        ema = self.steps_per_second
                        self.steps_per_second = inst if ema == 0 else 0.9 * ema + 0.1 * inst
                    last_step_t = now if self._running else None
                except Exception as exc:
                    self._fail(exc)
            if changed:
                self._publish(last_event)
                self._posted = {k: v for k, v in self._posted.items() if k > last_event}
            now = time.perf_counter()
            if self._running and self.rate_hz:
                next_tick = max(next_tick + 1.0 / self.rate_hz, now - 0.1)
                delay = next_tick - time.perf_counter()
                if delay > 0:
                    with self._cond:
                        self._cond.wait(delay)

    def _fail(self, exc: BaseException) -> None:
        log.warning("simulation paused: %s", exc)
        self.error = exc
        self._running = False
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:  # the callback must not take the worker down
                log.exception("error callback failed")

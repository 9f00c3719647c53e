"""The sweep's window of Dask tasks: submission, results, worker deaths and stalls.

A bounded window of batches is kept in flight (memory stays flat whatever the sweep's size).
Two ways a sample can stop a sweep are handled here:

- A sample that kills the worker running it (a crash in native code, the OOM killer): Dask
  reruns the task on another worker and, after ``allowed-failures`` deaths, gives up with
  ``KilledWorker``. A batch that ends so is split and its samples rerun one per task, so one
  poisonous sample fails alone and its batch-mates are computed; a single sample that ends so
  is recorded as failed with the reason.
- Nothing finishing at all (a sample that hangs, workers gone for good): a watchdog. After
  ``stall_s`` without any result, the tasks in flight are resubmitted (those that were running
  one sample per task, after their workers are restarted when the cluster is ours); a sample
  found running at two stalls is recorded as failed; a third stall in a row ends the sweep
  with an error (unrecorded samples are resumed by running the sweep again).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from sim.errors import TwinsightError
from sim.sweep.evaluate import evaluate_batch

log = logging.getLogger(__name__)

Batch = list[tuple]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def worker_death_reason(exc: BaseException) -> str | None:
    """The error recorded for a sample whose workers all died running it (None: not that)."""
    if type(exc).__name__ != "KilledWorker":
        return None
    deaths = int(getattr(exc, "allowed_failures", 2)) + 1
    return (f"KilledWorker: the worker running this sample died {deaths} times (killed or "
            "crashed, e.g. out of memory or a fault in native code)")


def failed_records(batch: Batch, reason: str) -> list[dict[str, Any]]:
    return [{"sample": s[0], "member": s[1], "error": reason[:500],
             **{f"p.{k}": v for k, v in s[4].items()}} for s in batch]


class Dispatcher:
    """Runs the batches of ``pending`` on ``client``; ``step()`` returns finished records."""

    def __init__(self, client: Any, payload: dict, pending: Iterator[Batch], *, window: int,
                 stall_s: float, cluster: Any = None, workers: int = 0) -> None:
        from distributed import as_completed

        self.client, self.payload, self.pending, self.window = client, payload, pending, window
        self.cluster, self.workers, self.stall_s = cluster, workers, float(stall_s)
        self.retry: deque[Batch] = deque()  # samples to rerun one per task, before new ones
        self.futures: dict[Any, tuple[Any, Batch]] = {}
        self.hung: dict[int, int] = {}  # sample id -> stalls it was found running at
        self.stalls = 0
        self.split = 0  # batches split after a worker death
        self.exhausted = False
        self.ac = as_completed(with_results=True, raise_errors=False)  # fetched concurrently
        self.last_result = self._last_check = time.monotonic()
        self._fill()

    def done(self) -> bool:
        return self.exhausted and not self.retry and not self.futures

    def cancel(self) -> None:
        """Drop what is in flight (cancelled or interrupted: a shared cluster has other work)."""
        if self.futures:
            self.client.cancel([f for f, _ in self.futures.values()])
            self.futures.clear()

    def _submit(self, batch: Batch) -> None:
        fut = self.client.submit(evaluate_batch, self.payload, batch, pure=False)
        self.futures[fut.key] = (fut, batch)
        self.ac.add(fut)

    def _fill(self) -> None:
        while len(self.futures) < self.window:
            batch = self.retry.popleft() if self.retry else next(self.pending, None)
            if batch is None:
                self.exhausted = True
                return
            self._submit(batch)

    def step(self) -> list[dict[str, Any]]:
        """Records of the samples finished since the last call (waits briefly when none)."""
        finished = self.ac.next_batch(block=False)
        out: list[dict[str, Any]] = []
        for fut, recs in finished:
            entry = self.futures.pop(fut.key, None)
            if entry is None:  # a task the watchdog gave up on and resubmitted
                continue
            batch = entry[1]
            self.last_result, self.stalls = time.monotonic(), 0
            if isinstance(recs, tuple) and len(recs) == 3:  # (type, exception, traceback)
                recs = recs[1]
            if isinstance(recs, BaseException) or not isinstance(recs, list):
                reason = worker_death_reason(recs) if isinstance(recs, BaseException) else None
                if reason and len(batch) > 1:  # find the culprit: its batch-mates are innocent
                    self.split += 1
                    self.retry.extend([s] for s in batch)
                    recs = []
                else:
                    reason = reason or f"{type(recs).__name__}: {_first_line(recs)}"
                    recs = failed_records(batch, reason)
            fut.release()
            out += recs
        if finished:
            self._fill()
        else:
            time.sleep(0.01)
            out += self._watch()
        return out

    def _watch(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        if self.cluster is not None and now - self._last_check > 5.0:
            self._last_check = now
            if len(self.cluster.workers) < self.workers:  # a nanny closed while restarting
                self.cluster.scale(self.workers)
        if self.futures and now - self.last_result > self.stall_s:
            return self._stall()
        return []

    def _stall(self) -> list[dict[str, Any]]:
        self.stalls += 1
        log.warning("sweep: no sample finished for %.0f s (stall %d)", self.stall_s, self.stalls)
        if self.stalls > 2:
            raise TwinsightError(
                f"The sweep made no progress for {3 * self.stall_s:.0f} s (no Dask worker finished "
                f"a sample); {len(self.futures)} tasks in flight were not recorded: run the sweep "
                "again to resume them.")
        if self.cluster is not None:
            self.cluster.scale(self.workers)
        try:
            processing = self.client.processing()
        except Exception:  # the scheduler does not answer: resubmit everything
            processing = {}
        running = {k for keys in processing.values() for k in keys if k in self.futures}
        stuck = [w for w, keys in processing.items() if any(k in running for k in keys)]
        entries = list(self.futures.items())
        self.cancel()
        if stuck and self.cluster is not None:  # free the threads a hanging sample holds
            try:
                self.client.restart_workers(stuck, timeout=120, raise_for_error=False)
            except Exception:
                log.debug("restarting stuck workers failed", exc_info=True)
        failed: list[dict[str, Any]] = []
        for key, (_, batch) in entries:
            if key not in running:
                self._submit(batch)
                continue
            for s in batch:  # one per task: the hanging one is then found alone
                self.hung[s[0]] = self.hung.get(s[0], 0) + 1
                if self.hung[s[0]] >= 2:
                    failed += failed_records([s], f"Stalled: no result within {self.stall_s:.0f} "
                                                  "s, twice (the sample hangs or its worker is "
                                                  "stuck)")
                else:
                    self._submit([s])
        self._fill()
        self.last_result = time.monotonic()
        return failed

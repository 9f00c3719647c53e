"""Run a sweep on Dask distributed and stream its results to Parquet.

A ``LocalCluster`` of worker processes (one thread each: the solvers are CPU-bound and hold
the GIL) by default, or any running cluster by scheduler address. Samples go out in batches
through a bounded window of futures (memory stays flat whatever the sweep's size); finished
samples are appended to the results folder every ``flush_seconds``. Samples already in the
folder are skipped (resume). A worker that dies is replaced by its nanny and the scheduler
reruns its tasks elsewhere; a task that kills workers repeatedly (``KilledWorker``) is recorded
as failed with that reason, as is any sample whose model raises.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sim.errors import InputError, TwinsightError
from sim.progress import Progress, no_progress
from sim.sweep.evaluate import evaluate_batch, payload_of
from sim.sweep.sampling import Sample, make_design
from sim.sweep.spec import SweepSpec
from sim.sweep.store import ResultStore

log = logging.getLogger(__name__)


@dataclass
class SweepRun:
    output: str
    total: int
    skipped: int
    run: int
    failed: int
    workers: int
    scheduler: str
    wall_time_s: float
    compute_time_s: float

    @property
    def overhead_ms_per_sample(self) -> float:
        """Wall time the workers spent not computing, per sample (scheduling, transfer, I/O)."""
        if not self.run:
            return 0.0
        return max(self.wall_time_s * self.workers - self.compute_time_s, 0.0) / self.run * 1e3

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "overhead_ms_per_sample": round(self.overhead_ms_per_sample, 3),
                "throughput_per_s": round(self.run / self.wall_time_s, 4) if self.wall_time_s else None}


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def connect(workers: int | None = None, scheduler: str | None = None,
            wait_s: float = 60.0) -> tuple[Any, Any]:
    """A Dask client (and the LocalCluster it owns, or None for a remote scheduler)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise TwinsightError(f"Cannot reach the Dask scheduler at '{scheduler}' ({exc}).") from None
        try:
            client.wait_for_workers(1, timeout=wait_s)
        except TimeoutError:
            client.close()
            raise TwinsightError(f"No Dask worker joined the scheduler at '{scheduler}' within "
                                 f"{wait_s:.0f} s.") from None
        return client, None
    n = int(workers or default_workers())
    if n < 1:
        raise InputError("--workers must be at least 1.")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _batches(samples: list[Sample], size: int) -> Iterator[list[tuple]]:
    for k in range(0, len(samples), size):
        yield [(s.id, s.member.name, s.member.case, s.member.set, s.values)
               for s in samples[k:k + size]]


def default_batch(spec: SweepSpec, samples: int, workers: int) -> int:
    """Samples per Dask task: one FE solve or placement each; a cheap Python model in batches
    of up to 200, at least 20 tasks per worker (progress and Cancel stay responsive)."""
    if spec.base_kind in ("fem", "place", "interaction"):
        return 1
    return max(1, min(200, samples // (20 * max(workers, 1))))


def run_sweep(spec: SweepSpec, output: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, batch: int | None = None, retry_failed: bool = False,
              progress: Progress = no_progress, flush_seconds: float = 1.0,
              client: Any = None) -> SweepRun:
    """Run every sample of ``spec`` not yet in ``output``; returns the run's figures."""
    store = ResultStore(output, spec)
    design = make_design(spec)
    done = store.done_ids(retry_failed)
    todo = [s for s in design.samples if s.id not in done]
    total = len(design.samples)
    if batch is not None and batch < 1:
        raise InputError("The batch size must be at least 1.")
    progress(0.0, f"{len(done)} of {total} samples already done")
    if not todo:
        return SweepRun(str(output), total, len(done), 0, 0, 0, scheduler or "none", 0.0, 0.0)
    own = client is None
    cluster = None
    if own:
        progress(0.0, "Starting Dask workers" if not scheduler else "Connecting to the scheduler")
        client, cluster = connect(workers, scheduler)
    payload = payload_of(spec)
    buffer: list[dict] = []
    futures: dict[str, tuple[Any, list[tuple]]] = {}
    n_run = n_failed = 0
    compute = 0.0
    try:
        from distributed import as_completed

        nworkers = max(len(client.nthreads()), 1)
        window = max(32, 4 * nworkers)
        pending = _batches(todo, int(batch or default_batch(spec, len(todo), nworkers)))
        ac = as_completed(with_results=True, raise_errors=False)  # results fetched concurrently

        def submit_next() -> None:
            b = next(pending, None)
            if b is not None:
                fut = client.submit(evaluate_batch, payload, b, pure=False)
                futures[fut.key] = (fut, b)
                ac.add(fut)

        t0 = time.perf_counter()
        for _ in range(window):
            submit_next()
        last_flush = last_report = time.monotonic()
        while not ac.is_empty():
            finished = ac.next_batch(block=False)
            if not finished:
                time.sleep(0.01)
            for fut, recs in finished:
                b = futures.pop(fut.key)[1]
                if isinstance(recs, BaseException) or not isinstance(recs, list):
                    exc = recs  # KilledWorker (it killed workers repeatedly), a lost connection ...
                    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    recs = [{"sample": s[0], "member": s[1], "error": reason[:500]} for s in b]
                fut.release()
                for r in recs:
                    n_run += 1
                    n_failed += r.get("error") is not None
                    compute += r.get("wall_time_s") or 0.0
                buffer += recs
                submit_next()
            now = time.monotonic()
            if buffer and now - last_flush >= flush_seconds:
                store.append(buffer)
                buffer, last_flush = [], now
            if now - last_report >= 0.2 or ac.is_empty():
                last_report = now
                progress((len(done) + n_run) / total,
                         f"{len(done) + n_run}/{total} samples, {n_failed} failed")
        wall = time.perf_counter() - t0
        nworkers = max(len(client.nthreads()), 1)
    finally:
        store.append(buffer)  # whatever finished is kept, even on cancel or interrupt
        if futures:  # cancelled or interrupted: nothing more to compute on a shared cluster
            try:
                client.cancel([f for f, _ in futures.values()])
            except Exception:
                log.debug("cancelling the remaining samples failed", exc_info=True)
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    return SweepRun(str(output), total, len(done), n_run, n_failed, nworkers,
                    scheduler or f"LocalCluster({nworkers} processes)", wall, compute)

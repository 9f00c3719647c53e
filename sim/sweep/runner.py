"""Run a sweep on Dask distributed and stream its results to Parquet.

A ``LocalCluster`` of worker processes (one thread each: the solvers are CPU-bound and hold
the GIL) by default, or any running cluster by scheduler address. Samples go out in batches
through a bounded window of tasks (sim.sweep.dispatch); finished samples are appended to the
results folder every ``flush_seconds``. Samples already in the folder are skipped (resume).
A worker that dies is replaced by its nanny and the scheduler reruns its tasks elsewhere; a
sample that kills every worker it runs on is recorded as failed after ``WORKER_DEATHS`` deaths
(its batch-mates rerun one per task), as is any sample whose model raises; a watchdog ends
stalls (see sim.sweep.dispatch).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sim.errors import InputError, TwinsightError
from sim.progress import Progress, no_progress
from sim.sweep.dispatch import Dispatcher
from sim.sweep.evaluate import payload_of
from sim.sweep.sampling import Sample, make_design
from sim.sweep.spec import SweepSpec
from sim.sweep.store import ResultStore

log = logging.getLogger(__name__)

WORKER_DEATHS = 3  # on our own cluster, a task whose workers died this often fails (KilledWorker)
STALL_S = 900.0  # default watchdog: no sample finished for this long -> resubmit, then fail


def own_cluster_config() -> dict[str, Any]:
    """Dask settings for the LocalCluster a sweep starts itself."""
    return {
        "distributed.scheduler.allowed-failures": WORKER_DEATHS - 1,
        # one task per single-threaded worker at a time: when a sample kills its worker, no
        # queued bystander is charged with the death (Dask counts every task assigned to it)
        "distributed.scheduler.worker-saturation": 1.0,
        # a worker restarting slowly on a busy machine (imports) is waited for, not closed for
        # good (the default 15 s left a sweep with no workers)
        "distributed.deploy.lost-worker-timeout": "600s",
    }


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
              client: Any = None, stall_s: float = STALL_S) -> SweepRun:
    """Run every sample of ``spec`` not yet in ``output``; returns the run's figures.

    ``stall_s``: when no sample finishes for this long, the tasks in flight are resubmitted;
    a sample found running at two such stalls is recorded as failed (see sim.sweep.dispatch).
    """
    store = ResultStore(output, spec)
    design = make_design(spec)
    done = store.done_ids(retry_failed)
    todo = [s for s in design.samples if s.id not in done]
    total = len(design.samples)
    if batch is not None and batch < 1:
        raise InputError("The batch size must be at least 1.")
    if stall_s <= 0:
        raise InputError("The stall timeout must be positive.")
    progress(0.0, f"{len(done)} of {total} samples already done")
    if not todo:
        return SweepRun(str(output), total, len(done), 0, 0, 0, scheduler or "none", 0.0, 0.0)
    own = client is None
    import dask
    import distributed  # noqa: F401  (loads its defaults first: leaving set() must not drop them)

    with dask.config.set(own_cluster_config()) if own and not scheduler else nullcontext():
        return _run(spec, store, todo, len(done), total, client=client, workers=workers,
                    scheduler=scheduler, batch=batch, progress=progress,
                    flush_seconds=flush_seconds, stall_s=stall_s)


def _run(spec: SweepSpec, store: ResultStore, todo: list[Sample], n_done: int, total: int, *,
         client: Any, workers: int | None, scheduler: str | None, batch: int | None,
         progress: Progress, flush_seconds: float, stall_s: float) -> SweepRun:
    own = client is None
    cluster = None
    if own:
        progress(0.0, "Starting Dask workers" if not scheduler else "Connecting to the scheduler")
        client, cluster = connect(workers, scheduler)
    buffer: list[dict] = []
    n_run = n_failed = 0
    compute = 0.0
    disp = None
    try:
        nworkers = max(len(client.nthreads()), 1)
        size = int(batch or default_batch(spec, len(todo), nworkers))
        t0 = time.perf_counter()
        disp = Dispatcher(client, payload_of(spec), _batches(todo, size),
                          window=max(32, 4 * nworkers), stall_s=stall_s, cluster=cluster,
                          workers=len(cluster.workers) if cluster is not None else 0)
        last_flush = last_report = time.monotonic()
        while not disp.done():
            recs = disp.step()
            for r in recs:
                n_run += 1
                n_failed += r.get("error") is not None
                compute += r.get("wall_time_s") or 0.0
            buffer += recs
            now = time.monotonic()
            if buffer and now - last_flush >= flush_seconds:
                store.append(buffer)
                buffer, last_flush = [], now
            if now - last_report >= 0.2 or disp.done():
                last_report = now
                progress((n_done + n_run) / total,
                         f"{n_done + n_run}/{total} samples, {n_failed} failed")
        wall = time.perf_counter() - t0
        nworkers = max(len(client.nthreads()), nworkers)  # one may be restarting just now
        if disp.split:
            log.info("sweep: %d batches rerun one sample per task after a worker death",
                     disp.split)
    finally:
        store.append(buffer)  # whatever finished is kept, even on cancel or interrupt
        if disp is not None and not disp.done():  # nothing more to compute on a shared cluster
            try:
                disp.cancel()
            except Exception:
                log.debug("cancelling the remaining samples failed", exc_info=True)
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    return SweepRun(str(store.folder), total, n_done, n_run, n_failed, nworkers,
                    scheduler or f"LocalCluster({nworkers} processes)", wall, compute)

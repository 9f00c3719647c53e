"""Shared helpers of the FEM benchmarks: machine load and timing figures."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def machine_busy() -> tuple[bool, float]:
    """(busy, load average): busy when other processes already use every core, so wall-clock
    figures measure the neighbours as much as this code."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return load > (os.cpu_count() or 1), load


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """Best wall time and best CPU time (s) over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20

"""Thread limits scoped to a piece of work, never changed for the whole process.

BLAS pools (OpenBLAS, MKL, BLIS ...) are found by threadpoolctl rather than by probing
library names; numba's thread count is per calling thread, and is restored afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_controller: Any = None
_holder: int | None = None  # the thread whose blas_threads block holds the limit


def _blas_controller() -> Any:
    """One ThreadpoolController per process (introspecting the loaded libraries is slow)."""
    global _controller
    with _lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
    return _controller


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """At most ``n`` BLAS threads inside the block; the previous limits come back after it.

    A BLAS pool is shared by the whole process, so one block at a time holds the limit: a
    block that starts while another (in any thread) holds it just runs under that one's
    limit or, after it ends, unlimited. Overlapping blocks thus never restore a stale count.
    """
    global _holder
    with _lock:
        own = _holder is None
        if own:
            _holder = threading.get_ident()
    if not own:
        yield
        return
    try:
        with _blas_controller().limit(limits=max(1, int(n)), user_api="blas"):
            yield
    finally:
        with _lock:
            _holder = None


@contextmanager
def numba_threads(n: int) -> Iterator[None]:
    """At most ``n`` numba threads for parallel kernels launched from this thread in the block."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)

"""The CPU kernels of the system OpenBLAS that CHOLMOD calls, chosen from the CPU's flags.

Debian 12's OpenBLAS (0.3.21, built for every x86 core) picks its kernels by the CPU model
number. A CPU newer than the library (e.g. a cloud "Intel Xeon Processor" of family 6, model
207) is not in its table, and it falls back to the Prescott (SSE3) kernels: measured here,
dgemm at 4.8 GFlop/s instead of 13.7 with the AVX-512 kernels, and a 212k-unknown CHOLMOD
factorisation 2.5x slower. The library honours ``OPENBLAS_CORETYPE`` when it is loaded, so
the binding sets it, from the instruction sets the kernel reports in /proc/cpuinfo (never a
kernel the CPU cannot run), for that one load only. A value the user set is left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

# best first: (OpenBLAS core name, CPU flags its kernels need)
_CORES = (
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"}),
    ("Haswell", {"avx2", "fma", "avx"}),
    ("SandyBridge", {"avx"}),
)
ENV = "OPENBLAS_CORETYPE"


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU (empty when unknown)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def core_for(flags: set[str]) -> str | None:
    """The fastest OpenBLAS x86-64 core whose instructions the CPU has, or None."""
    for name, needs in _CORES:
        if needs <= flags:
            return name
    return None


@contextlib.contextmanager
def core_for_load() -> Iterator[str | None]:
    """Inside the block, ``OPENBLAS_CORETYPE`` names the core for this CPU (unless the user
    set it): an OpenBLAS loaded in the block takes those kernels. Yields the name set."""
    if ENV in os.environ or not Path("/proc/cpuinfo").exists():
        yield None
        return
    core = core_for(cpu_flags())
    if core is None:
        yield None
        return
    os.environ[ENV] = core
    try:
        yield core
    finally:
        os.environ.pop(ENV, None)


def loaded_core() -> str | None:
    """The kernels the system OpenBLAS (if loaded into this process) runs, e.g. 'SkylakeX'."""
    for name in ("libblas.so.3", "libopenblas.so.0"):  # CHOLMOD's BLAS, then OpenBLAS's own
        try:
            lib = ctypes.CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
            fn = lib.openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        with contextlib.suppress(Exception):
            return fn().decode()
    return None

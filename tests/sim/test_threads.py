"""Library code limits BLAS/numba threads only around its work (threadpoolctl), never globally."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_info

from sim.threads import blas_threads, numba_threads

ROOT = Path(__file__).resolve().parents[2]


def _blas_counts() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_importing_the_solvers_leaves_thread_counts_alone():
    # A fresh process: the BLAS libraries CHOLMOD links are loaded first, then the solvers.
    # numba starts its threading layer on first use, and its OpenMP layer then sets libgomp's
    # count to numba's: start it first, so that the test's own query is not seen as a change.
    code = ("import numba, numpy\n"
            "numba.get_num_threads()\n"
            "from threadpoolctl import threadpool_info as i\n"
            "import sim.fem.cholmod\n"
            "def counts(): return {x['filepath']: x['num_threads'] for x in i()}, "
            "numba.get_num_threads()\n"
            "before = counts()\n"
            "import sim.fem.linsolve, sim.fem.interactive, sim.interaction.contact\n"
            "after = counts()\n"
            "same = before[1] == after[1] and all(after[0].get(k, n) == n "
            "for k, n in before[0].items())\n"  # (a library loaded later is not a change)
            "print(same, len(before[0]), before, after)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300, check=True).stdout.split()
    assert out[0] == "True", " ".join(out[2:])
    assert int(out[1]) >= 1  # threadpoolctl finds the BLAS libraries by itself


def test_blas_limit_applies_inside_and_is_restored_when_blocks_overlap():
    before = _blas_counts()
    inside: list[list[int]] = []
    started, release = threading.Barrier(2), threading.Event()

    def worker():
        with blas_threads(1):
            started.wait()
            release.wait(30)

    t = threading.Thread(target=worker)
    with blas_threads(1):
        t.start()
        started.wait()
        inside.append(_blas_counts())
    release.set()
    t.join()
    assert all(n == 1 for n in inside[0])
    assert _blas_counts() == before  # whichever block ended last


def test_numba_limit_is_restored():
    import numba

    before = numba.get_num_threads()
    with numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_factorized_solve_is_right_and_leaves_blas_alone():
    from sim.fem.linsolve import factorize

    n = 400
    a = sp.diags([np.full(n - 1, -1.0), np.full(n, 4.0), np.full(n - 1, -1.0)], [-1, 0, 1])
    b = np.random.default_rng(0).normal(size=n)
    before = _blas_counts()
    x = factorize(a)(b)
    np.testing.assert_allclose(a @ x, b, atol=1e-10)
    assert _blas_counts() == before


def test_no_library_module_probes_blas_or_sets_thread_counts():
    pattern = re.compile(r"openblas_set_num_threads|ctypes\.CDLL\([^)]*blas|"
                         r"os\.environ\[.(OMP|OPENBLAS|MKL)_NUM_THREADS|set_num_threads\(")
    offenders = [str(p.relative_to(ROOT)) for folder in ("sim", "viewer")
                 for p in (ROOT / folder).rglob("*.py")
                 if p.name != "threads.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []

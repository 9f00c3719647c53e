"""CHOLMOD's BLAS runs this CPU's kernels; the node-grouped ordering solves exactly as well."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sim.fem import blas_core, cholmod
from sim.fem.body import Body
from sim.fem.materials import Material
from sim.mesh.generators import box


def test_core_chosen_from_the_cpu_flags(tmp_path: Path):
    assert blas_core.core_for({"avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw",
                               "avx512dq", "avx512vl"}) == "SkylakeX"
    assert blas_core.core_for({"avx", "avx2", "fma", "avx512f"}) == "Haswell"  # partial AVX-512
    assert blas_core.core_for({"sse4_2", "avx"}) == "SandyBridge"
    assert blas_core.core_for({"sse2", "sse4_2"}) is None  # OpenBLAS's own choice then
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel\t\t: 207\nflags\t\t: fpu sse2 avx avx2 fma\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert blas_core.cpu_flags(info) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert blas_core.cpu_flags(tmp_path / "missing") == set()


def test_core_is_set_for_the_load_only(monkeypatch):
    monkeypatch.delenv(blas_core.ENV, raising=False)
    with blas_core.core_for_load() as core:
        assert os.environ.get(blas_core.ENV) == core
    assert blas_core.ENV not in os.environ
    monkeypatch.setenv(blas_core.ENV, "Haswell")  # the user's choice stands
    with blas_core.core_for_load() as core:
        assert core is None and os.environ[blas_core.ENV] == "Haswell"


@pytest.mark.skipif(not cholmod.AVAILABLE, reason="no CHOLMOD library")
def test_cholmod_blas_runs_the_kernels_of_this_cpu():
    core = blas_core.loaded_core()
    if core is None:
        pytest.skip("the system BLAS is not OpenBLAS")
    wanted = os.environ.get(blas_core.ENV) or blas_core.core_for(blas_core.cpu_flags())
    if wanted is None:
        pytest.skip("no AVX on this CPU: OpenBLAS chooses")
    assert core.lower() == wanted.lower()
    assert core in cholmod.STATUS


@pytest.mark.skipif(not cholmod.AVAILABLE, reason="no CHOLMOD library")
def test_node_grouped_ordering_solves_like_scipy():
    mesh = box((100.0, 20.0, 20.0), (12, 4, 4))
    body = Body(mesh, Material("m", 1.0, 0.45, density=1e-9))
    free = np.flatnonzero(np.repeat(mesh.points[:, 0] > 1e-9, 3))
    A = sp.csc_matrix(body.linear_stiffness()[free][:, free])
    b = np.random.default_rng(1).normal(size=(A.shape[0], 2))
    f = cholmod.CholeskyFactor(A, groups=free // 3)
    ref = spla.spsolve(A, b)
    assert np.linalg.norm(f(b) - ref) <= 1e-9 * np.linalg.norm(ref)
    unsorted = cholmod.CholeskyFactor(A, groups=(free // 3)[::-1])  # the general grouping
    assert np.linalg.norm(unsorted(b) - ref) <= 1e-9 * np.linalg.norm(ref)
    d = np.linspace(1.0, 1.5, A.shape[0])  # refactor keeps the grouped ordering's analysis
    A2 = A.multiply(np.outer(d, d)).tocsc()
    f.refactor(A2)
    assert np.linalg.norm(f(b) - spla.spsolve(A2, b)) <= 1e-9 * np.linalg.norm(ref)

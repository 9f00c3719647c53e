"""The ctypes CHOLMOD binding: same answers as scipy, refactoring, errors, and the GIL released."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sim.fem import cholmod
from sim.fem.body import Body
from sim.fem.materials import Material
from sim.mesh.generators import box

pytestmark = pytest.mark.skipif(not cholmod.AVAILABLE, reason="no CHOLMOD 3 library")


def _stiffness(div=(12, 4, 4)) -> sp.csc_matrix:
    mesh = box((100.0, 20.0, 20.0), div)
    body = Body(mesh, Material("m", 1.0, 0.45, density=1e-9))
    K = body.linear_stiffness()
    free = np.flatnonzero(np.repeat(mesh.points[:, 0] > 1e-9, 3))
    return sp.csc_matrix(K[free][:, free])


def test_solves_match_scipy_for_one_and_several_right_hand_sides():
    A = _stiffness()
    f = cholmod.CholeskyFactor(A)
    rng = np.random.default_rng(0)
    b = rng.normal(size=A.shape[0])
    ref = spla.spsolve(A, b)
    assert np.linalg.norm(f(b) - ref) <= 1e-9 * np.linalg.norm(ref)
    B = rng.normal(size=(A.shape[0], 3))
    X = f(B)
    assert X.shape == B.shape
    assert np.allclose(A @ X, B, rtol=0, atol=1e-8 * np.abs(B).max())
    with pytest.raises(ValueError, match="length"):
        f(b[:-1])


def test_numeric_refactor_equals_a_fresh_factor():
    A = _stiffness()
    f = cholmod.CholeskyFactor(A)
    d = np.linspace(1.0, 1.5, A.shape[0])
    A2 = A.copy()  # D A D: other numbers, the same pattern (explicit zeros included)
    cols = np.repeat(np.arange(A.shape[1]), np.diff(A.indptr))
    A2.data *= d[A.indices] * d[cols]
    f.refactor(A2)
    b = np.ones(A.shape[0])
    assert np.allclose(f(b), cholmod.CholeskyFactor(A2)(b), rtol=1e-10, atol=0)
    lower = sp.tril(A2, format="csc")
    lower.sort_indices()
    f.refactor(lower.data * 2.0)  # data in the factor's own (lower CSC) order
    assert np.allclose(f(b), 0.5 * cholmod.CholeskyFactor(A2)(b), rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="pattern"):
        f.refactor(sp.eye(A.shape[0], format="csc"))


def test_indefinite_matrix_raises_and_nothing_is_printed(capfd):
    with pytest.raises(cholmod.NotPositiveDefinite):
        cholmod.CholeskyFactor(sp.csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]])))
    assert "CHOLMOD" not in capfd.readouterr().err


def test_factorisation_lets_other_python_threads_run():
    A = _stiffness((40, 10, 10))
    f = cholmod.CholeskyFactor(A)
    count, stop = [0], [False]

    def spin():
        while not stop[0]:
            count[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        time.sleep(0.05)
        c0, t0 = count[0], time.perf_counter()
        time.sleep(0.2)
        free_rate = (count[0] - c0) / (time.perf_counter() - t0)
        c0, t0 = count[0], time.perf_counter()
        while time.perf_counter() - t0 < 0.2:
            f.refactor(A)
        during = (count[0] - c0) / (time.perf_counter() - t0)
    finally:
        stop[0] = True
        thread.join()
    # With the GIL held (scikit-sparse) the counter nearly stops: 1-2 % of its free rate.
    assert during > 0.25 * free_rate, (during, free_rate)

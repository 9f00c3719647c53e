"""Sparse symmetric solves: CHOLMOD (through ctypes, else scikit-sparse), SuperLU otherwise.

A factorisation is made once and reused (Newton iterations with a fixed tangent,
the interactive solver's preconditioner). A matrix that is not positive definite
(an unconstrained body, a collapsed tangent) becomes a :class:`SingularSystemError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sim.errors import TwinsightError
from sim.fem import cholmod
from sim.threads import blas_threads

log = logging.getLogger(__name__)

try:  # CHOLMOD: supernodal Cholesky, several times faster than SuperLU on FE matrices
    from sksparse.cholmod import CholmodNotPositiveDefiniteError
    from sksparse.cholmod import cholesky as _cholmod

    HAVE_CHOLMOD = True
except ImportError:  # pragma: no cover - depends on the platform
    HAVE_CHOLMOD = False
    CholmodNotPositiveDefiniteError = cholmod.NotPositiveDefinite


# Triangular solves are matrix-vector (BLAS-2) work: threads only add synchronisation, and on
# a loaded machine a solve with two OpenBLAS threads was measured 10x slower than with one
# (idle OpenBLAS and OpenMP threads spin, taking the cores from each other). So each solve
# runs with one BLAS thread; factorisations (BLAS-3) keep the process's own setting.


def _one_blas_thread(solve: Solve) -> Solve:
    def run(b: np.ndarray) -> np.ndarray:
        with blas_threads(1):
            return solve(b)

    return run


# METIS nested dissection: on a 52k-tet beam it gives the same fill as CHOLMOD's default choice
# but triangular solves 20 % faster (18.7 vs 23.1 ms; 10k tets: 73 vs 63 interactive steps/s).
_ORDERING = "metis"


def solver_path() -> str:
    """Which sparse Cholesky this installation uses for SPD systems, in words (reports, --json)."""
    if cholmod.AVAILABLE:
        return f"{cholmod.STATUS}; releases the GIL"
    if HAVE_CHOLMOD:
        return f"CHOLMOD through scikit-sparse (holds the GIL while it works); {cholmod.STATUS}"
    return ("SuperLU (scipy; CHOLMOD is not available here, so large solves are several times "
            f"slower); {cholmod.STATUS}")


NOT_POSITIVE_DEFINITE = ("The stiffness matrix is not positive definite: the body is not "
                         "held enough or elements have collapsed.")


class SingularSystemError(TwinsightError):
    """The stiffness matrix cannot be inverted: the body is free to move or has collapsed."""


Solve = Callable[[np.ndarray], np.ndarray]


def factorize(A: sp.spmatrix, spd: bool = True, groups: np.ndarray | None = None) -> Solve:
    """A reusable ``solve(b)`` for the sparse matrix A (symmetric positive definite if ``spd``).
    ``groups``: each unknown's node, for a faster ordering (see :class:`cholmod.CholeskyFactor`)."""
    A = sp.csc_matrix(A)
    if (cholmod.AVAILABLE or HAVE_CHOLMOD) and spd:
        try:
            # The ctypes binding releases the GIL (a GUI thread keeps running meanwhile).
            factor = cholmod.CholeskyFactor(A, groups) if cholmod.AVAILABLE else \
                _cholmod(A, ordering_method=_ORDERING)
        except (cholmod.NotPositiveDefinite, CholmodNotPositiveDefiniteError):
            raise SingularSystemError(NOT_POSITIVE_DEFINITE) from None
        return _one_blas_thread(factor)
    try:
        lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A" if spd else "COLAMD")
    except RuntimeError as exc:
        raise SingularSystemError(f"The system matrix is singular ({exc}).") from None
    return lu.solve


def solve(A: sp.spmatrix, b: np.ndarray, spd: bool = True) -> np.ndarray:
    x = factorize(A, spd)(b)
    if not np.isfinite(x).all():
        raise SingularSystemError("The linear solve produced NaN: the system is singular.")
    return x

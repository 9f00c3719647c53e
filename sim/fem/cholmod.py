"""CHOLMOD's supernodal Cholesky called through ctypes, so every call releases the GIL.

scikit-sparse holds the GIL for a whole factorisation or solve. The interactive solvers run
next to a GUI thread and refactor their preconditioner on a background thread; both need the
interpreter free while CHOLMOD works. ctypes releases the GIL around each foreign call.

The offsets inside ``cholmod_common`` and the layout of the sparse/dense structs are measured
from the installed ``cholmod.h`` for the loaded library's version (:mod:`sim.fem.cholmod_abi`:
CHOLMOD 3 of Debian 12's SuiteSparse 5 and CHOLMOD 5 of SuiteSparse 7 alike). Without a layout
that matches the library, the binding is not used (a wrong offset would corrupt memory): the
caller falls back to scikit-sparse or SuperLU and :data:`STATUS` says why, loudly.

One :class:`CholeskyFactor` owns its own ``cholmod_common``: two factors may be used from two
threads at once, one factor from one thread at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

# -- offsets in cholmod_common: set from the measured layout when the library is loaded -------
_COMMON_SIZE = 0
_OFF_NMETHODS = _OFF_METHOD0_ORDERING = _OFF_STATUS = _OFF_SUPERNODAL = _OFF_PRINT = 0
# (print = 0: no messages on stderr; failures are raised as exceptions instead)
_CHOLMOD_SUPERNODAL = 2  # always LL' (simplicial would be LDL', which accepts indefinite A)
_CHOLMOD_GIVEN = 1
_CHOLMOD_METIS = 3
_CHOLMOD_A = 0  # solve A x = b
_CHOLMOD_REAL = 1
_CHOLMOD_INT = 0
_CHOLMOD_DOUBLE = 0
_CHOLMOD_NOT_POSDEF = 1


class _Sparse(ctypes.Structure):
    _fields_ = [("nrow", ctypes.c_size_t), ("ncol", ctypes.c_size_t),
                ("nzmax", ctypes.c_size_t), ("p", ctypes.c_void_p), ("i", ctypes.c_void_p),
                ("nz", ctypes.c_void_p), ("x", ctypes.c_void_p), ("z", ctypes.c_void_p),
                ("stype", ctypes.c_int), ("itype", ctypes.c_int), ("xtype", ctypes.c_int),
                ("dtype", ctypes.c_int), ("sorted", ctypes.c_int), ("packed", ctypes.c_int)]


class _Dense(ctypes.Structure):
    _fields_ = [("nrow", ctypes.c_size_t), ("ncol", ctypes.c_size_t),
                ("nzmax", ctypes.c_size_t), ("d", ctypes.c_size_t), ("x", ctypes.c_void_p),
                ("z", ctypes.c_void_p), ("xtype", ctypes.c_int), ("dtype", ctypes.c_int)]


class _FactorHead(ctypes.Structure):  # the first fields of cholmod_factor
    _fields_ = [("n", ctypes.c_size_t), ("minor", ctypes.c_size_t)]


class NotPositiveDefinite(ArithmeticError):
    """The matrix has a non-positive pivot (column ``minor``)."""


def _candidates() -> list[str]:
    """Library names to try; a PyInstaller bundle first tries the copy it carries, because the
    loader's search path was fixed before the bundle could add its own folder."""
    import sys
    from pathlib import Path

    names = ["libcholmod.so.5", "libcholmod.so.4", "libcholmod.so.3", "libcholmod.so"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return [str(Path(bundle) / n) for n in names if (Path(bundle) / n).exists()] + names
    return names


def _struct_offsets(struct: type[ctypes.Structure]) -> list[int]:
    return [getattr(struct, name).offset for name, _t in struct._fields_]


def _use_layout(doc: dict) -> str | None:
    """Take the measured offsets; the reason not to use the binding, or None."""
    global _COMMON_SIZE, _OFF_NMETHODS, _OFF_METHOD0_ORDERING, _OFF_STATUS, _OFF_SUPERNODAL
    global _OFF_PRINT
    if doc.get("sparse") != _struct_offsets(_Sparse) or doc.get("dense") != _struct_offsets(_Dense):
        return "its cholmod_sparse/cholmod_dense layout differs from this binding's"
    _COMMON_SIZE, _OFF_NMETHODS = int(doc["common_size"]), int(doc["nmethods"])
    _OFF_METHOD0_ORDERING, _OFF_STATUS = int(doc["method0_ordering"]), int(doc["status"])
    _OFF_SUPERNODAL, _OFF_PRINT = int(doc["supernodal"]), int(doc["print"])
    return None


def _load() -> ctypes.CDLL | None:
    global STATUS
    from sim.fem import blas_core
    from sim.fem.cholmod_abi import layout_for

    for name in _candidates():
        try:
            with blas_core.core_for_load():  # the BLAS it loads takes this CPU's kernels
                lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = (ctypes.c_int * 3)()
        try:
            lib.cholmod_version(version)
        except AttributeError:
            STATUS = f"{name} has no cholmod_version(); not used"
            return None
        text = ".".join(map(str, version))
        doc = layout_for((version[0], version[1]), getattr(lib, "_name", name))
        reason = "no layout for it (no cholmod.h and C compiler to measure one)" if doc is None \
            else _use_layout(doc)
        if reason is not None:
            STATUS = f"CHOLMOD {text} found but not used through ctypes: {reason}"
            log.warning("%s; falling back (slower, holds the GIL).", STATUS)
            return None
        core = blas_core.loaded_core()
        STATUS = f"CHOLMOD {text} (ctypes binding, layout measured from cholmod.h" + \
            (f"; OpenBLAS {core} kernels)" if core else ")")
        vp, sp_, dp = ctypes.c_void_p, ctypes.POINTER(_Sparse), ctypes.POINTER(_Dense)
        lib.cholmod_start.argtypes = [vp]
        lib.cholmod_finish.argtypes = [vp]
        lib.cholmod_analyze.argtypes = [sp_, vp]
        lib.cholmod_analyze.restype = vp
        lib.cholmod_analyze_p.argtypes = [sp_, vp, vp, ctypes.c_size_t, vp]
        lib.cholmod_analyze_p.restype = vp
        with contextlib.suppress(AttributeError):  # METIS is optional in a CHOLMOD build
            lib.cholmod_metis.argtypes = [sp_, vp, ctypes.c_size_t, ctypes.c_int, vp, vp]
        lib.cholmod_factorize.argtypes = [sp_, vp, vp]
        lib.cholmod_solve2.argtypes = [ctypes.c_int, vp, dp, vp, ctypes.POINTER(dp), vp,
                                       ctypes.POINTER(dp), ctypes.POINTER(dp), vp]
        lib.cholmod_free_factor.argtypes = [ctypes.POINTER(vp), vp]
        lib.cholmod_free_dense.argtypes = [ctypes.POINTER(dp), vp]
        return lib
    return None


STATUS = "CHOLMOD library not found"
_lib = _load()
AVAILABLE = _lib is not None


class CholeskyFactor:
    """``A = L L^T`` of a sparse symmetric positive definite matrix; ``factor(b)`` solves.

    :meth:`refactor` reuses the ordering and symbolic analysis for a matrix with the same
    pattern (only the numbers changed), about half the cost of a first factorisation.

    ``groups`` (optional) gives each unknown's group, e.g. its node for a finite-element
    matrix with 3 unknowns per node: METIS then orders the groups' graph (9x fewer edges) and
    each group's unknowns stay together. On a 212k-unknown P2 model the analysis took 5.3 s
    instead of 36.6 s (on the same loaded machine) for 8 % more factorisation flops.
    """

    def __init__(self, A: sp.spmatrix, groups: np.ndarray | None = None) -> None:
        if _lib is None:
            raise RuntimeError("CHOLMOD is not available through ctypes on this system.")
        self._lock = threading.Lock()  # one caller at a time on this factor's workspace
        self._common = ctypes.create_string_buffer(_COMMON_SIZE + 256)
        self._cm = ctypes.cast(self._common, ctypes.c_void_p)
        _lib.cholmod_start(self._cm)
        ctypes.c_int.from_buffer(self._common, _OFF_NMETHODS).value = 1
        ctypes.c_int.from_buffer(self._common, _OFF_METHOD0_ORDERING).value = _CHOLMOD_METIS
        ctypes.c_int.from_buffer(self._common, _OFF_SUPERNODAL).value = _CHOLMOD_SUPERNODAL
        ctypes.c_int.from_buffer(self._common, _OFF_PRINT).value = 0
        self._L = ctypes.c_void_p()
        self._X = ctypes.POINTER(_Dense)()
        self._Y = ctypes.POINTER(_Dense)()
        self._E = ctypes.POINTER(_Dense)()
        A = self._lower(A)
        self.n = A.shape[0]
        self.pattern = (A.indptr.copy(), A.indices.copy())
        view, _keep = self._view(A)
        perm = None if groups is None else self._group_order(A, np.asarray(groups))
        if perm is None:
            L = _lib.cholmod_analyze(ctypes.byref(view), self._cm)
        else:
            ctypes.c_int.from_buffer(self._common, _OFF_METHOD0_ORDERING).value = _CHOLMOD_GIVEN
            L = _lib.cholmod_analyze_p(ctypes.byref(view), perm.ctypes.data, None, 0, self._cm)
        self._L = ctypes.c_void_p(L)
        if not self._L.value:
            self._check("analyse")
        self._factorize(view)

    # -- matrices ------------------------------------------------------------------------------
    @staticmethod
    def _lower(A: sp.spmatrix) -> sp.csc_matrix:
        A = sp.csc_matrix(A)
        cols = np.repeat(np.arange(A.shape[1], dtype=A.indices.dtype), np.diff(A.indptr))
        if not (A.indices >= cols).all():  # (tril copies through COO: skipped when lower)
            A = sp.tril(A, format="csc")
        A.sort_indices()
        return sp.csc_matrix((A.data.astype(np.float64), A.indices.astype(np.int32),
                              A.indptr.astype(np.int32)), shape=A.shape)

    @staticmethod
    def _view(A: sp.csc_matrix) -> tuple[_Sparse, tuple]:
        """A cholmod_sparse header over A's arrays (kept alive by the returned tuple)."""
        keep = (A.indptr, A.indices, A.data)
        s = _Sparse(nrow=A.shape[0], ncol=A.shape[1], nzmax=len(A.data),
                    p=A.indptr.ctypes.data, i=A.indices.ctypes.data, nz=None,
                    x=A.data.ctypes.data, z=None, stype=-1, itype=_CHOLMOD_INT,
                    xtype=_CHOLMOD_REAL, dtype=_CHOLMOD_DOUBLE, sorted=1, packed=1)
        return s, keep

    def _group_order(self, A: sp.csc_matrix, groups: np.ndarray) -> np.ndarray | None:
        """A fill-reducing order of A's unknowns from a METIS order of their groups' graph
        (None when METIS is not in this CHOLMOD: CHOLMOD then orders A itself)."""
        if not hasattr(_lib, "cholmod_metis") or groups.shape != (self.n,):
            return None
        if len(groups) and (np.diff(groups) >= 0).all():  # each group's unknowns adjacent
            # A finite-element matrix couples nodes in full blocks: the rows and columns of
            # each group's first unknown hold the groups' graph (already lower and sorted).
            first = np.r_[True, groups[1:] != groups[:-1]]
            g = np.cumsum(first) - 1
            ng = int(g[-1]) + 1
            keep = first[A.indices] & np.repeat(first, np.diff(A.indptr))
            col = g[np.repeat(np.arange(self.n), np.diff(A.indptr))[keep]]
            indptr = np.zeros(ng + 1, dtype=np.int32)
            np.cumsum(np.bincount(col, minlength=ng), out=indptr[1:])
            G = sp.csc_matrix((np.ones(len(col)), g[A.indices[keep]].astype(np.int32),
                               indptr), shape=(ng, ng))
        else:
            _, g = np.unique(groups, return_inverse=True)
            ng = int(g.max()) + 1 if len(g) else 0
            cols = np.repeat(g, np.diff(A.indptr))
            rows = g[A.indices]
            G = sp.csc_matrix((np.ones(len(rows)), (np.maximum(rows, cols),
                                                    np.minimum(rows, cols))), shape=(ng, ng))
            G = self._lower(G)
            G.data[:] = 1.0
        view, _keep = self._view(G)
        gperm = np.zeros(ng, dtype=np.int32)
        if not _lib.cholmod_metis(ctypes.byref(view), None, 0, 1, gperm.ctypes.data, self._cm):
            return None
        rank = np.empty(ng, dtype=np.int64)
        rank[gperm] = np.arange(ng)
        return np.argsort(rank[g], kind="stable").astype(np.int32)  # groups' members in order

    def _check(self, what: str) -> None:
        status = ctypes.c_int.from_buffer(self._common, _OFF_STATUS).value
        if status < 0:
            raise MemoryError(f"CHOLMOD could not {what} the matrix (status {status}).")

    def _factorize(self, view: _Sparse) -> None:
        _lib.cholmod_factorize(ctypes.byref(view), self._L, self._cm)
        self._check("factorise")
        head = _FactorHead.from_address(self._L.value)
        if head.minor < head.n:
            raise NotPositiveDefinite(f"non-positive pivot in column {head.minor}")

    def refactor(self, A: sp.spmatrix | np.ndarray) -> None:
        """Numeric refactorisation: ``A`` has this factor's pattern (a sparse matrix, or the
        data array of its lower triangle in CSC order)."""
        if isinstance(A, np.ndarray):
            indptr, indices = self.pattern
            A = sp.csc_matrix((np.ascontiguousarray(A, dtype=np.float64), indices, indptr),
                              shape=(self.n, self.n))
        else:
            A = self._lower(A)
            if not (np.array_equal(A.indptr, self.pattern[0])
                    and np.array_equal(A.indices, self.pattern[1])):
                raise ValueError("refactor() needs a matrix with the factor's pattern.")
        view, _keep = self._view(A)
        with self._lock:
            self._factorize(view)

    # -- solves --------------------------------------------------------------------------------
    def __call__(self, b: np.ndarray) -> np.ndarray:
        b = np.ascontiguousarray(b, dtype=np.float64)
        if b.shape[0] != self.n:
            raise ValueError(f"right-hand side of length {b.shape[0]}, matrix of order {self.n}")
        ncol = 1 if b.ndim == 1 else b.shape[1]
        bf = np.asfortranarray(b.reshape(self.n, ncol))
        B = _Dense(nrow=self.n, ncol=ncol, nzmax=self.n * ncol, d=self.n,
                   x=bf.ctypes.data, z=None, xtype=_CHOLMOD_REAL, dtype=_CHOLMOD_DOUBLE)
        with self._lock:
            ok = _lib.cholmod_solve2(_CHOLMOD_A, self._L, ctypes.byref(B), None,
                                     ctypes.byref(self._X), None, ctypes.byref(self._Y),
                                     ctypes.byref(self._E), self._cm)
            if not ok:
                self._check("solve with")
                raise RuntimeError("CHOLMOD solve failed.")
            X = self._X.contents
            out = np.ctypeslib.as_array(ctypes.cast(X.x, ctypes.POINTER(ctypes.c_double)),
                                        shape=(ncol, self.n)).T.copy()
        return out[:, 0] if b.ndim == 1 else out

    def close(self) -> None:
        if _lib is None or not hasattr(self, "_cm"):
            return
        with self._lock:
            for handle in (self._X, self._Y, self._E):
                if handle:
                    _lib.cholmod_free_dense(ctypes.byref(handle), self._cm)
            if self._L.value:
                _lib.cholmod_free_factor(ctypes.byref(self._L), self._cm)
            _lib.cholmod_finish(self._cm)
            del self._cm

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown the library may be gone
            self.close()

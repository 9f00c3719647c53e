"""Compiled loops of the twin's FE precompute (influence matrices of a ~200k-unknown model).

numpy's ``bincount`` scatter allocates a full-length array per call and a temporary of the
scaled element matrices (330 MB for 46k P2 tetrahedra); ``K[free][:, free]`` and ``tril``
each copy the whole matrix. These loops do the same sums in place, once.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def scatter_scaled(slots: np.ndarray, ke: np.ndarray, scale: np.ndarray, out: np.ndarray
                   ) -> None:
    """out[slots[e, k]] += ke[e, k] * scale[e]: element matrices (m, nd*nd) into CSR data."""
    m, nk = slots.shape
    for e in range(m):
        s = scale[e]
        for k in range(nk):
            out[slots[e, k]] += ke[e, k] * s


@njit(cache=True, nogil=True)
def scatter_rows(acc: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """acc[idx[r], :] += vals[r, :] (the rows of a 2-D array summed into another's)."""
    for r in range(idx.shape[0]):
        i = idx[r]
        for c in range(vals.shape[1]):
            acc[i, c] += vals[r, c]


@njit(cache=True)
def free_lower_pattern(indptr: np.ndarray, indices: np.ndarray, new_index: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lower triangle, in CSC, of the free part of a symmetric CSR matrix: column j holds
    row j's entries at free columns >= j (by symmetry). ``new_index``: each unknown's index
    among the free ones, -1 if fixed. Returns (indptr, indices, source positions in data)."""
    n = indptr.shape[0] - 1
    nf = 0
    for r in range(n):
        if new_index[r] >= 0:
            nf += 1
    ptr = np.zeros(nf + 1, dtype=np.int64)
    for r in range(n):
        j = new_index[r]
        if j < 0:
            continue
        cnt = 0
        for k in range(indptr[r], indptr[r + 1]):
            c = new_index[indices[k]]
            if c >= j:
                cnt += 1
        ptr[j + 1] = cnt
    for j in range(nf):
        ptr[j + 1] += ptr[j]
    out_idx = np.empty(ptr[nf], dtype=np.int32)
    src = np.empty(ptr[nf], dtype=np.int64)
    for r in range(n):
        j = new_index[r]
        if j < 0:
            continue
        pos = ptr[j]
        for k in range(indptr[r], indptr[r + 1]):
            c = new_index[indices[k]]
            if c >= j:
                out_idx[pos] = c
                src[pos] = k
                pos += 1
    return ptr, out_idx, src


@njit(cache=True)
def diagonal_positions(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Position of each row's diagonal entry in a CSR data array (-1 if none)."""
    n = indptr.shape[0] - 1
    out = np.full(n, -1, dtype=np.int64)
    for r in range(n):
        for k in range(indptr[r], indptr[r + 1]):
            if indices[k] == r:
                out[r] = k
                break
    return out

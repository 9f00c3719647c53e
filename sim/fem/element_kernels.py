"""Compiled element-matrix kernels (numba, parallel over elements) for the hot assembly path."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def _linear_elastic(grads, dvol, lam, mu, out):
    m, q, n, _ = grads.shape
    for e in prange(m):
        for i in range(3 * n):
            for j in range(3 * n):
                out[e, i, j] = 0.0
        for p in range(q):
            w = dvol[e, p]
            for a in range(n):
                for b in range(n):
                    dot = 0.0
                    for k in range(3):
                        dot += grads[e, p, a, k] * grads[e, p, b, k]
                    for i in range(3):
                        gai = grads[e, p, a, i]
                        for j in range(3):
                            v = lam * gai * grads[e, p, b, j] + mu * grads[e, p, a, j] * grads[e, p, b, i]
                            if i == j:
                                v += mu * dot
                            out[e, 3 * a + i, 3 * b + j] += w * v


def linear_elastic_matrices(grads: np.ndarray, dvol: np.ndarray, lam: float, mu: float) -> np.ndarray:
    """Isotropic linear-elastic element matrices (m, 3n, 3n) from gradients (m, q, n, 3)."""
    m, _, n, _ = grads.shape
    out = np.empty((m, 3 * n, 3 * n))
    _linear_elastic(np.ascontiguousarray(grads), np.ascontiguousarray(dvol), float(lam),
                    float(mu), out)
    return out


@njit(cache=True, nogil=True)
def node_graph(cells: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted node adjacency (CSR, each node its own neighbour) of a mesh's elements."""
    m, n = cells.shape
    count = np.zeros(n_nodes + 1, dtype=np.int64)
    for e in range(m):
        for a in range(n):
            count[cells[e, a] + 1] += 1
    inc_ptr = np.cumsum(count)
    inc = np.empty(m * n, dtype=np.int64)
    fill = inc_ptr[:-1].copy()
    for e in range(m):
        for a in range(n):
            inc[fill[cells[e, a]]] = e
            fill[cells[e, a]] += 1
    mark = np.full(n_nodes, -1, dtype=np.int64)
    deg = np.zeros(n_nodes, dtype=np.int64)
    for v in range(n_nodes):
        for k in range(inc_ptr[v], inc_ptr[v + 1]):
            for b in range(n):
                w = cells[inc[k], b]
                if mark[w] != v:
                    mark[w] = v
                    deg[v] += 1
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(deg)
    cols = np.empty(ptr[-1], dtype=np.int64)
    mark[:] = -1
    for v in range(n_nodes):
        pos = ptr[v]
        for k in range(inc_ptr[v], inc_ptr[v + 1]):
            for b in range(n):
                w = cells[inc[k], b]
                if mark[w] != v:
                    mark[w] = v
                    cols[pos] = w
                    pos += 1
        cols[ptr[v]:ptr[v + 1]] = np.sort(cols[ptr[v]:ptr[v + 1]])
    return ptr, cols


@njit(parallel=True, cache=True, nogil=True)
def element_slots(cells: np.ndarray, ptr: np.ndarray, cols: np.ndarray, out: np.ndarray) -> None:
    """out[e, 3a+i, 3b+j]: index in the dof-level CSR data of entry (3 A + i, 3 B + j)."""
    m, n = cells.shape
    for e in prange(m):
        for a in range(n):
            A = cells[e, a]
            start, deg = ptr[A], ptr[A + 1] - ptr[A]
            for b in range(n):
                p = start + np.searchsorted(cols[start:start + deg], cells[e, b])
                for i in range(3):
                    base = 9 * start + 3 * i * deg + 3 * (p - start)
                    for j in range(3):
                        out[e, 3 * a + i, 3 * b + j] = base + j

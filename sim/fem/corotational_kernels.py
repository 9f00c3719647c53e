"""Compiled (numba, parallel over elements/nodes) kernels of the interactive co-rotational solver.

P1 tetrahedra. Element quantities are computed per element in parallel; nodal sums gather
through a node -> (element, corner) incidence list, so no two threads write the same entry.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _polar(a00, a01, a02, a10, a11, a12, a20, a21, a22, out, k):
    """Rotation of A = R S (det A > 0) by Higham's scaled Newton iteration, into out[k].

    Written on scalars: no allocation inside the parallel element loops."""
    for _ in range(30):
        c00 = a11 * a22 - a12 * a21
        c01 = a12 * a20 - a10 * a22
        c02 = a10 * a21 - a11 * a20
        c10 = a02 * a21 - a01 * a22
        c11 = a00 * a22 - a02 * a20
        c12 = a01 * a20 - a00 * a21
        c20 = a01 * a12 - a02 * a11
        c21 = a02 * a10 - a00 * a12
        c22 = a00 * a11 - a01 * a10
        det = a00 * c00 + a01 * c01 + a02 * c02
        g = abs(det) ** (-1.0 / 3.0)
        q = 1.0 / (g * det)  # inverse-transpose = cofactor / det
        b00 = 0.5 * (g * a00 + q * c00)
        b01 = 0.5 * (g * a01 + q * c01)
        b02 = 0.5 * (g * a02 + q * c02)
        b10 = 0.5 * (g * a10 + q * c10)
        b11 = 0.5 * (g * a11 + q * c11)
        b12 = 0.5 * (g * a12 + q * c12)
        b20 = 0.5 * (g * a20 + q * c20)
        b21 = 0.5 * (g * a21 + q * c21)
        b22 = 0.5 * (g * a22 + q * c22)
        diff = (abs(b00 - a00) + abs(b01 - a01) + abs(b02 - a02) + abs(b10 - a10)
                + abs(b11 - a11) + abs(b12 - a12) + abs(b20 - a20) + abs(b21 - a21)
                + abs(b22 - a22))
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = b00, b01, b02, b10, b11, b12, b20, b21, b22
        if diff < 1e-13:
            break
    out[k, 0, 0] = a00
    out[k, 0, 1] = a01
    out[k, 0, 2] = a02
    out[k, 1, 0] = a10
    out[k, 1, 1] = a11
    out[k, 1, 2] = a12
    out[k, 2, 0] = a20
    out[k, 2, 1] = a21
    out[k, 2, 2] = a22


@njit(parallel=True, cache=True)
def element_rotations(x, cells, dm_inv, R):
    """Per-element rotation of F = Ds Dm^-1, in place; inverted elements keep their previous
    rotation. Returns the number of inverted elements."""
    m = cells.shape[0]
    bad = np.zeros(m, dtype=np.int64)
    for e in prange(m):
        n0 = cells[e, 0]
        d00 = x[cells[e, 1], 0] - x[n0, 0]
        d10 = x[cells[e, 1], 1] - x[n0, 1]
        d20 = x[cells[e, 1], 2] - x[n0, 2]
        d01 = x[cells[e, 2], 0] - x[n0, 0]
        d11 = x[cells[e, 2], 1] - x[n0, 1]
        d21 = x[cells[e, 2], 2] - x[n0, 2]
        d02 = x[cells[e, 3], 0] - x[n0, 0]
        d12 = x[cells[e, 3], 1] - x[n0, 1]
        d22 = x[cells[e, 3], 2] - x[n0, 2]
        D = dm_inv[e]
        f00 = d00 * D[0, 0] + d01 * D[1, 0] + d02 * D[2, 0]
        f01 = d00 * D[0, 1] + d01 * D[1, 1] + d02 * D[2, 1]
        f02 = d00 * D[0, 2] + d01 * D[1, 2] + d02 * D[2, 2]
        f10 = d10 * D[0, 0] + d11 * D[1, 0] + d12 * D[2, 0]
        f11 = d10 * D[0, 1] + d11 * D[1, 1] + d12 * D[2, 1]
        f12 = d10 * D[0, 2] + d11 * D[1, 2] + d12 * D[2, 2]
        f20 = d20 * D[0, 0] + d21 * D[1, 0] + d22 * D[2, 0]
        f21 = d20 * D[0, 1] + d21 * D[1, 1] + d22 * D[2, 1]
        f22 = d20 * D[0, 2] + d21 * D[1, 2] + d22 * D[2, 2]
        det = (f00 * (f11 * f22 - f12 * f21) - f01 * (f10 * f22 - f12 * f20)
               + f02 * (f10 * f21 - f11 * f20))
        if det > 0.0:
            _polar(f00, f01, f02, f10, f11, f12, f20, f21, f22, R, e)
        else:
            bad[e] = 1
    return bad.sum()


@njit(parallel=True, cache=True)
def rotated_apply(v, cells, R, ke, rest, scratch, out_e):
    """out_e[e] = R_e Ke (R_e^T v_e - rest_e): element forces (rest = X) or products (rest = 0)."""
    m = cells.shape[0]
    for e in prange(m):
        for a in range(4):
            n = cells[e, a]
            v0 = v[n, 0]
            v1 = v[n, 1]
            v2 = v[n, 2]
            for i in range(3):
                scratch[e, 3 * a + i] = (R[e, 0, i] * v0 + R[e, 1, i] * v1 + R[e, 2, i] * v2
                                         - rest[e, 3 * a + i])
        for i in range(12):
            s = 0.0
            for j in range(12):
                s += ke[e, i, j] * scratch[e, j]
            out_e[e, i] = s
        for a in range(4):
            g0 = out_e[e, 3 * a]
            g1 = out_e[e, 3 * a + 1]
            g2 = out_e[e, 3 * a + 2]
            for i in range(3):
                out_e[e, 3 * a + i] = R[e, i, 0] * g0 + R[e, i, 1] * g1 + R[e, i, 2] * g2


@njit(parallel=True, cache=True)
def gather(out_e, inc_ptr, inc_elem, inc_local, out):
    """out[node] = sum of element contributions at that node (n, 3)."""
    n = inc_ptr.shape[0] - 1
    for a in prange(n):
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for k in range(inc_ptr[a], inc_ptr[a + 1]):
            e = inc_elem[k]
            c = 3 * inc_local[k]
            s0 += out_e[e, c]
            s1 += out_e[e, c + 1]
            s2 += out_e[e, c + 2]
        out[a, 0] = s0
        out[a, 1] = s1
        out[a, 2] = s2


@njit(parallel=True, cache=True)
def nodal_rotations(R, inc_ptr, inc_elem, out):
    """Per node: the rotation nearest to the sum of its elements' rotations (warp frame)."""
    n = inc_ptr.shape[0] - 1
    for a in prange(n):
        s = np.zeros(9)
        for k in range(inc_ptr[a], inc_ptr[a + 1]):
            e = inc_elem[k]
            for i in range(3):
                for j in range(3):
                    s[3 * i + j] += R[e, i, j]
        _polar(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], out, a)


@njit(parallel=True, cache=True)
def rotate_nodes(W, v, transpose, out):
    n = v.shape[0]
    for a in prange(n):
        v0 = v[a, 0]
        v1 = v[a, 1]
        v2 = v[a, 2]
        for i in range(3):
            if transpose:
                out[a, i] = W[a, 0, i] * v0 + W[a, 1, i] * v1 + W[a, 2, i] * v2
            else:
                out[a, i] = W[a, i, 0] * v0 + W[a, i, 1] * v1 + W[a, i, 2] * v2


def incidence(cells: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node -> (element, corner) lists in CSR form."""
    flat = cells.ravel()
    order = np.argsort(flat, kind="stable")
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(flat, minlength=n_nodes))
    elem, local = np.divmod(order, cells.shape[1])
    return ptr, elem.astype(np.int64), local.astype(np.int64)

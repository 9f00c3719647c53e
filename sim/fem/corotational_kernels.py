"""Compiled (numba, parallel over elements/nodes) kernels of the interactive co-rotational solver.

P1 tetrahedra. Element quantities are computed per element in parallel; nodal sums gather
through a node -> (element, corner) incidence list, so no two threads write the same entry.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _polar(a00, a01, a02, a10, a11, a12, a20, a21, a22, out, k):
    """Rotation of A = R S (det A > 0) by Higham's scaled Newton iteration, into out[k].

    Written on scalars: no allocation inside the parallel element loops."""
    for it in range(30):
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
        # Scaling speeds up the first iterations far from a rotation; near one it is ~1 and
        # the unscaled iteration converges quadratically without the costly cube root.
        g = abs(det) ** (-1.0 / 3.0) if it < 2 and abs(det - 1.0) > 1e-2 else 1.0
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
        if diff < 1e-9:  # quadratic convergence: the last update is accurate to ~1e-18
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


@njit(cache=True, nogil=True)
def _mul3(a00, a01, a02, a10, a11, a12, a20, a21, a22,
          b00, b01, b02, b10, b11, b12, b20, b21, b22):
    """A B of 3x3 matrices given entry by entry (row by row), as 9 entries: scalars only, so
    the parallel element loops allocate nothing."""
    return (a00 * b00 + a01 * b10 + a02 * b20, a00 * b01 + a01 * b11 + a02 * b21,
            a00 * b02 + a01 * b12 + a02 * b22,
            a10 * b00 + a11 * b10 + a12 * b20, a10 * b01 + a11 * b11 + a12 * b21,
            a10 * b02 + a11 * b12 + a12 * b22,
            a20 * b00 + a21 * b10 + a22 * b20, a20 * b01 + a21 * b11 + a22 * b21,
            a20 * b02 + a21 * b12 + a22 * b22)


@njit(parallel=True, cache=True, nogil=True)
def element_rotations(x: np.ndarray, cells: np.ndarray, dm_inv: np.ndarray,
                      R: np.ndarray) -> int:
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
        f00, f01, f02, f10, f11, f12, f20, f21, f22 = _mul3(
            d00, d01, d02, d10, d11, d12, d20, d21, d22,
            D[0, 0], D[0, 1], D[0, 2], D[1, 0], D[1, 1], D[1, 2], D[2, 0], D[2, 1], D[2, 2])
        det = (f00 * (f11 * f22 - f12 * f21) - f01 * (f10 * f22 - f12 * f20)
               + f02 * (f10 * f21 - f11 * f20))
        if det > 0.0:
            _polar(f00, f01, f02, f10, f11, f12, f20, f21, f22, R, e)
        else:
            bad[e] = 1
    return bad.sum()


@njit(parallel=True, cache=True, nogil=True)
def rotated_apply(v: np.ndarray, cells: np.ndarray, R: np.ndarray, grads: np.ndarray,
                  vol: np.ndarray, lam: float, mu: float, subtract_identity: bool,
                  out_e: np.ndarray) -> None:
    """out_e[e, a] = V R sigma(sym(R^T sum_b v_b (x) g_b - I?)) g_a for every element.

    This is R Ke (R^T v_e - X_e) (forces, ``subtract_identity``) or R Ke R^T v_e (products)
    of the linear P1 element, evaluated through the stress instead of a stored 12x12 Ke:
    ~150 flops and 22 numbers read per element instead of 1152 bytes of matrix.
    """
    m = cells.shape[0]
    for e in prange(m):
        p00 = p01 = p02 = p10 = p11 = p12 = p20 = p21 = p22 = 0.0
        for b in range(4):
            n = cells[e, b]
            g0, g1, g2 = grads[e, b, 0], grads[e, b, 1], grads[e, b, 2]
            v0, v1, v2 = v[n, 0], v[n, 1], v[n, 2]
            p00 += v0 * g0
            p01 += v0 * g1
            p02 += v0 * g2
            p10 += v1 * g0
            p11 += v1 * g1
            p12 += v1 * g2
            p20 += v2 * g0
            p21 += v2 * g1
            p22 += v2 * g2
        r = R[e]
        # H = R^T P (- I)
        h00, h01, h02, h10, h11, h12, h20, h21, h22 = _mul3(
            r[0, 0], r[1, 0], r[2, 0], r[0, 1], r[1, 1], r[2, 1], r[0, 2], r[1, 2], r[2, 2],
            p00, p01, p02, p10, p11, p12, p20, p21, p22)
        if subtract_identity:
            h00 -= 1.0
            h11 -= 1.0
            h22 -= 1.0
        tr = lam * (h00 + h11 + h22)
        s00 = vol[e] * (tr + 2.0 * mu * h00)
        s11 = vol[e] * (tr + 2.0 * mu * h11)
        s22 = vol[e] * (tr + 2.0 * mu * h22)
        s01 = vol[e] * mu * (h01 + h10)
        s02 = vol[e] * mu * (h02 + h20)
        s12 = vol[e] * mu * (h12 + h21)
        # T = R sigma (sigma symmetric)
        t00, t01, t02, t10, t11, t12, t20, t21, t22 = _mul3(
            r[0, 0], r[0, 1], r[0, 2], r[1, 0], r[1, 1], r[1, 2], r[2, 0], r[2, 1], r[2, 2],
            s00, s01, s02, s01, s11, s12, s02, s12, s22)
        for a in range(4):
            g0, g1, g2 = grads[e, a, 0], grads[e, a, 1], grads[e, a, 2]
            out_e[e, 3 * a] = t00 * g0 + t01 * g1 + t02 * g2
            out_e[e, 3 * a + 1] = t10 * g0 + t11 * g1 + t12 * g2
            out_e[e, 3 * a + 2] = t20 * g0 + t21 * g1 + t22 * g2


@njit(parallel=True, cache=True, nogil=True)
def gather(out_e: np.ndarray, inc_ptr: np.ndarray, inc_elem: np.ndarray, inc_local: np.ndarray,
           out: np.ndarray) -> None:
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


@njit(parallel=True, cache=True, nogil=True)
def nodal_rotations(R: np.ndarray, inc_ptr: np.ndarray, inc_elem: np.ndarray,
                    out: np.ndarray) -> None:
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


@njit(parallel=True, cache=True, nogil=True)
def rotate_nodes(W: np.ndarray, v: np.ndarray, transpose: bool, out: np.ndarray) -> None:
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


@njit(cache=True, nogil=True)
def rotated_stiffness(cells: np.ndarray, R: np.ndarray, grads: np.ndarray, vol: np.ndarray,
                      lam: float, mu: float, slots: np.ndarray, data: np.ndarray) -> None:
    """data[slot] += entries of R_e Ke R_e^T for every element (sequential: slots collide).

    Ke of the linear P1 element block by block, (a, b) = V (lam g_a g_b^T + mu g_b g_a^T
    + mu (g_a . g_b) I); the rotated block is R (a, b) R^T. ``slots`` are the element entries'
    positions in the global CSR data (sim.fem.assembly.Pattern.slots)."""
    m = cells.shape[0]
    blk = np.empty((3, 3))
    tmp = np.empty((3, 3))
    for e in range(m):
        r = R[e]
        v = vol[e]
        for a in range(4):
            for b in range(4):
                dot = (grads[e, a, 0] * grads[e, b, 0] + grads[e, a, 1] * grads[e, b, 1]
                       + grads[e, a, 2] * grads[e, b, 2])
                for i in range(3):
                    for j in range(3):
                        blk[i, j] = v * (lam * grads[e, a, i] * grads[e, b, j]
                                         + mu * grads[e, a, j] * grads[e, b, i])
                    blk[i, i] += v * mu * dot
                for i in range(3):  # tmp = blk R^T
                    for j in range(3):
                        tmp[i, j] = blk[i, 0] * r[j, 0] + blk[i, 1] * r[j, 1] + blk[i, 2] * r[j, 2]
                for i in range(3):  # R tmp
                    row = (3 * a + i) * 12 + 3 * b
                    for j in range(3):
                        data[slots[e, row + j]] += (r[i, 0] * tmp[0, j] + r[i, 1] * tmp[1, j]
                                                    + r[i, 2] * tmp[2, j])

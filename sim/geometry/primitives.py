"""Exact distance primitives between points, segments and triangles (numba, scalar tuples).

Vectors are 3-tuples of floats so numba keeps them in registers (no heap allocation on
the hot path). The triangle-triangle distance is exact: two disjoint triangles are
closest at a vertex of one against the other, or between two edges; intersecting
triangles (an edge of one crossing the other) are at distance 0.
"""

from __future__ import annotations

from typing import TypeAlias

import numba as nb
import numpy as np

# Which feature of a triangle a closest point lies on (for pseudo-normal signs).
from sim.mesh.features import EDGE_AB, EDGE_BC, EDGE_CA, FACE, VERT_A, VERT_B, VERT_C  # noqa: F401

Vec3: TypeAlias = tuple[float, float, float]
"""A 3-vector as a tuple of floats (what every function here takes and returns)."""


@nb.njit(cache=True, nogil=True, inline="always")
def sub(a: Vec3, b: Vec3) -> Vec3:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


@nb.njit(cache=True, nogil=True, inline="always")
def add_scaled(a: Vec3, b: Vec3, s: float) -> Vec3:
    return (a[0] + b[0] * s, a[1] + b[1] * s, a[2] + b[2] * s)


@nb.njit(cache=True, nogil=True, inline="always")
def dot(a: Vec3, b: Vec3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@nb.njit(cache=True, nogil=True, inline="always")
def cross(a: Vec3, b: Vec3) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


@nb.njit(cache=True, nogil=True, inline="always")
def dist2(a: Vec3, b: Vec3) -> float:
    d = sub(a, b)
    return dot(d, d)


@nb.njit(cache=True, nogil=True)
def point_triangle(p: Vec3, a: Vec3, b: Vec3, c: Vec3) -> tuple[Vec3, int]:
    """Closest point on triangle abc to p (Ericson's Voronoi-region test) and its feature."""
    ab = sub(b, a)
    ac = sub(c, a)
    ap = sub(p, a)
    d1 = dot(ab, ap)
    d2 = dot(ac, ap)
    if d1 <= 0.0 and d2 <= 0.0:
        return a, VERT_A
    bp = sub(p, b)
    d3 = dot(ab, bp)
    d4 = dot(ac, bp)
    if d3 >= 0.0 and d4 <= d3:
        return b, VERT_B
    vc = d1 * d4 - d3 * d2
    if vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0:
        return add_scaled(a, ab, d1 / (d1 - d3)), EDGE_AB
    cp = sub(p, c)
    d5 = dot(ab, cp)
    d6 = dot(ac, cp)
    if d6 >= 0.0 and d5 <= d6:
        return c, VERT_C
    vb = d5 * d2 - d1 * d6
    if vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0:
        return add_scaled(a, ac, d2 / (d2 - d6)), EDGE_CA
    va = d3 * d6 - d5 * d4
    if va <= 0.0 and (d4 - d3) >= 0.0 and (d5 - d6) >= 0.0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        return add_scaled(b, sub(c, b), w), EDGE_BC
    denom = 1.0 / (va + vb + vc)
    q = add_scaled(a, ab, vb * denom)
    return add_scaled(q, ac, vc * denom), FACE


@nb.njit(cache=True, nogil=True, inline="always")
def _clamp01(x):
    return min(max(x, 0.0), 1.0)


@nb.njit(cache=True, nogil=True)
def segment_segment(p1: Vec3, q1: Vec3, p2: Vec3, q2: Vec3) -> tuple[Vec3, Vec3]:
    """Closest points between segments p1q1 and p2q2 (Ericson 5.1.9), handling degenerate ones."""
    d1 = sub(q1, p1)
    d2 = sub(q2, p2)
    r = sub(p1, p2)
    a = dot(d1, d1)
    e = dot(d2, d2)
    f = dot(d2, r)
    eps = 1e-300
    if a <= eps and e <= eps:
        return p1, p2
    if a <= eps:
        return p1, add_scaled(p2, d2, _clamp01(f / e))
    c = dot(d1, r)
    if e <= eps:
        return add_scaled(p1, d1, _clamp01(-c / a)), p2
    b = dot(d1, d2)
    denom = a * e - b * b
    s = _clamp01((b * f - c * e) / denom) if denom > 0.0 else 0.0
    t = (b * s + f) / e
    if t < 0.0:
        t = 0.0
        s = _clamp01(-c / a)
    elif t > 1.0:
        t = 1.0
        s = _clamp01((b - c) / a)
    return add_scaled(p1, d1, s), add_scaled(p2, d2, t)


@nb.njit(cache=True, nogil=True)
def segment_crosses_triangle(p: Vec3, q: Vec3, a: Vec3, b: Vec3,
                             c: Vec3) -> tuple[bool, Vec3]:
    """Whether segment pq meets triangle abc (Moeller-Trumbore); returns (hit, point).

    Segments lying in the triangle's plane are reported as no hit: a coplanar overlap
    always also shows up as a zero vertex-triangle or edge-edge distance.
    """
    d = sub(q, p)
    e1 = sub(b, a)
    e2 = sub(c, a)
    h = cross(d, e2)
    det = dot(e1, h)
    scale = dot(e1, e1) * dot(d, d)
    if det * det <= 1e-24 * scale * dot(e2, e2):
        return False, p
    inv = 1.0 / det
    s = sub(p, a)
    u = dot(s, h) * inv
    if u < 0.0 or u > 1.0:
        return False, p
    qv = cross(s, e1)
    v = dot(d, qv) * inv
    if v < 0.0 or u + v > 1.0:
        return False, p
    t = dot(e2, qv) * inv
    if t < 0.0 or t > 1.0:
        return False, p
    return True, add_scaled(p, d, t)


@nb.njit(cache=True, nogil=True, inline="always")
def _plane_gap(n, o, p0, p1, p2):
    """Signed distances of p0..p2 from the plane through o with normal n (unnormalised),
    reduced to: the smallest gap if all lie strictly on one side, else -1."""
    nn = dot(n, n)
    if nn <= 0.0:
        return -1.0
    s0 = dot(n, sub(p0, o))
    s1 = dot(n, sub(p1, o))
    s2 = dot(n, sub(p2, o))
    if s0 > 0.0 and s1 > 0.0 and s2 > 0.0:
        return min(s0, min(s1, s2)) / np.sqrt(nn)
    if s0 < 0.0 and s1 < 0.0 and s2 < 0.0:
        return -max(s0, max(s1, s2)) / np.sqrt(nn)
    return -1.0


@nb.njit(cache=True, nogil=True)
def triangle_triangle(a0: Vec3, a1: Vec3, a2: Vec3, b0: Vec3, b1: Vec3, b2: Vec3,
                      best: float = np.inf) -> tuple[float, Vec3, Vec3]:
    """Squared distance between triangles A and B and the closest points (on A, on B).

    If a separating plane proves the distance is at least sqrt(best), returns (inf, ...)
    without the full test: that lower bound rejects most candidate pairs cheaply.
    """
    gap_b = _plane_gap(cross(sub(a1, a0), sub(a2, a0)), a0, b0, b1, b2)
    gap_a = _plane_gap(cross(sub(b1, b0), sub(b2, b0)), b0, a0, a1, a2)
    gap = max(gap_a, gap_b)
    if gap > 0.0 and gap * gap >= best:
        return np.inf, a0, b0
    if gap < 0.0:
        # Neither triangle lies wholly on one side of the other's plane: they may cross.
        for k in range(3):
            ea0 = a0 if k == 0 else (a1 if k == 1 else a2)
            ea1 = a1 if k == 0 else (a2 if k == 1 else a0)
            hit, x = segment_crosses_triangle(ea0, ea1, b0, b1, b2)
            if hit:
                return 0.0, x, x
            eb0 = b0 if k == 0 else (b1 if k == 1 else b2)
            eb1 = b1 if k == 0 else (b2 if k == 1 else b0)
            hit, x = segment_crosses_triangle(eb0, eb1, a0, a1, a2)
            if hit:
                return 0.0, x, x
    dbest = np.inf
    pa = a0
    pb = b0
    for k in range(3):
        va = a0 if k == 0 else (a1 if k == 1 else a2)
        q, _ = point_triangle(va, b0, b1, b2)
        d = dist2(va, q)
        if d < dbest:
            dbest, pa, pb = d, va, q
        vb = b0 if k == 0 else (b1 if k == 1 else b2)
        q, _ = point_triangle(vb, a0, a1, a2)
        d = dist2(vb, q)
        if d < dbest:
            dbest, pa, pb = d, q, vb
    for i in range(3):
        ea0 = a0 if i == 0 else (a1 if i == 1 else a2)
        ea1 = a1 if i == 0 else (a2 if i == 1 else a0)
        for j in range(3):
            eb0 = b0 if j == 0 else (b1 if j == 1 else b2)
            eb1 = b1 if j == 0 else (b2 if j == 1 else b0)
            x, y = segment_segment(ea0, ea1, eb0, eb1)
            d = dist2(x, y)
            if d < dbest:
                dbest, pa, pb = d, x, y
    return dbest, pa, pb

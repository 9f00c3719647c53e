"""Axis-aligned bounding-volume hierarchies over triangles, with exact queries (numba).

Nodes are stored in depth-first order (a child's index is always larger than its
parent's), so bounds can be refitted bottom-up in one reverse sweep when a rigid device
moves: its tree is built once in its own frame and only its boxes change per pose.
Queries are branch and bound: a subtree is skipped when its box is already farther than
the best answer, so results are exact (the leaf test is the exact primitive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from sim.geometry.primitives import Vec3, point_triangle, triangle_triangle

LEAF_SIZE = 4
PARALLEL_MIN_POINTS = 20_000
_STACK = 256


@nb.njit(cache=True, nogil=True)
def _select(order, cent, axis, s, e, k):
    """Reorder ``order[s:e]`` so that ``order[k]`` holds the triangle whose centroid is the
    k-th along ``axis``, none after it smaller and none before it larger (quickselect,
    median-of-three pivot; ties broken by triangle index so the result is deterministic)."""
    lo, hi = s, e - 1
    while hi > lo:
        m = (lo + hi) // 2
        a, b, c = order[lo], order[m], order[hi]
        ka, kb, kc = cent[a, axis], cent[b, axis], cent[c, axis]
        if (ka <= kb <= kc) or (kc <= kb <= ka):
            piv = b
        elif (kb <= ka <= kc) or (kc <= ka <= kb):
            piv = a
        else:
            piv = c
        pv, pi = cent[piv, axis], piv
        i, j = lo, hi
        while i <= j:
            while cent[order[i], axis] < pv or (cent[order[i], axis] == pv and order[i] < pi):
                i += 1
            while cent[order[j], axis] > pv or (cent[order[j], axis] == pv and order[j] > pi):
                j -= 1
            if i <= j:
                order[i], order[j] = order[j], order[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@nb.njit(cache=True, nogil=True)
def _build(tri, leaf_size):
    m = tri.shape[0]
    cent = np.empty((m, 3))
    for t in range(m):
        for ax in range(3):
            cent[t, ax] = (tri[t, 0, ax] + tri[t, 1, ax] + tri[t, 2, ax]) / 3.0
    order = np.arange(m)
    cap = 2 * m + 1
    lo = np.empty((cap, 3))
    hi = np.empty((cap, 3))
    left = np.full(cap, -1, np.int64)
    start = np.zeros(cap, np.int64)
    count = np.zeros(cap, np.int64)
    st_node = np.empty(_STACK, np.int64)
    st_s = np.empty(_STACK, np.int64)
    st_e = np.empty(_STACK, np.int64)
    st_node[0], st_s[0], st_e[0] = 0, 0, m
    sp = 1
    n_nodes = 1
    while sp > 0:
        sp -= 1
        node, s, e = st_node[sp], st_s[sp], st_e[sp]
        start[node] = s
        count[node] = e - s
        clo = np.full(3, np.inf)
        chi = np.full(3, -np.inf)
        for ax in range(3):
            lo[node, ax] = np.inf
            hi[node, ax] = -np.inf
        for i in range(s, e):
            t = order[i]
            for ax in range(3):
                for k in range(3):
                    v = tri[t, k, ax]
                    lo[node, ax] = min(lo[node, ax], v)
                    hi[node, ax] = max(hi[node, ax], v)
                clo[ax] = min(clo[ax], cent[t, ax])
                chi[ax] = max(chi[ax], cent[t, ax])
        if e - s <= leaf_size:
            continue
        axis = np.argmax(chi - clo)
        if chi[axis] - clo[axis] <= 0.0:
            continue  # all centroids coincide: keep as one (large) leaf
        mid = (s + e) // 2
        _select(order, cent, axis, s, e, mid)  # median split in O(e - s), not a sort
        left[node] = n_nodes
        n_nodes += 2
        st_node[sp], st_s[sp], st_e[sp] = n_nodes - 1, mid, e
        st_node[sp + 1], st_s[sp + 1], st_e[sp + 1] = n_nodes - 2, s, mid
        sp += 2
    return order, lo[:n_nodes].copy(), hi[:n_nodes].copy(), left[:n_nodes].copy(), \
        start[:n_nodes].copy(), count[:n_nodes].copy()


@nb.njit(cache=True, nogil=True)
def _refit(tri, left, start, count, lo, hi):
    """Recompute every node's box for (moved) triangles ``tri`` already in tree order."""
    for node in range(left.shape[0] - 1, -1, -1):
        c = left[node]
        if c < 0:
            for ax in range(3):
                mn, mx = np.inf, -np.inf
                for t in range(start[node], start[node] + count[node]):
                    for k in range(3):
                        mn = min(mn, tri[t, k, ax])
                        mx = max(mx, tri[t, k, ax])
                lo[node, ax], hi[node, ax] = mn, mx
        else:
            for ax in range(3):
                lo[node, ax] = min(lo[c, ax], lo[c + 1, ax])
                hi[node, ax] = max(hi[c, ax], hi[c + 1, ax])


@nb.njit(cache=True, inline="always")
def _point_box_d2(p, lo, hi, n):
    d = 0.0
    for ax in range(3):
        g = max(lo[n, ax] - p[ax], p[ax] - hi[n, ax], 0.0)
        d += g * g
    return d


@nb.njit(cache=True, inline="always")
def _box_box_d2(lo_a, hi_a, a, lo_b, hi_b, b):
    d = 0.0
    for ax in range(3):
        g = max(lo_b[b, ax] - hi_a[a, ax], lo_a[a, ax] - hi_b[b, ax], 0.0)
        d += g * g
    return d


@nb.njit(cache=True, nogil=True)
def closest_point(p: Vec3, tri: np.ndarray, lo: np.ndarray, hi: np.ndarray, left: np.ndarray,
                  start: np.ndarray, count: np.ndarray,
                  max_d2: float) -> tuple[float, Vec3, int, int]:
    """Exact closest point on the mesh to p: (squared distance, point, triangle, feature)."""
    best = max_d2
    best_t, best_f = -1, 0
    q = (np.nan, np.nan, np.nan)
    stack = np.empty(_STACK, np.int64)
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        if _point_box_d2(p, lo, hi, node) >= best:
            continue
        c = left[node]
        if c < 0:
            for t in range(start[node], start[node] + count[node]):
                x, feat = point_triangle(p, (tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2]),
                                         (tri[t, 1, 0], tri[t, 1, 1], tri[t, 1, 2]),
                                         (tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2]))
                d = (p[0] - x[0]) ** 2 + (p[1] - x[1]) ** 2 + (p[2] - x[2]) ** 2
                if d < best:
                    best, best_t, best_f, q = d, t, feat, x
        else:
            dl = _point_box_d2(p, lo, hi, c)
            dr = _point_box_d2(p, lo, hi, c + 1)
            # Push the farther child first so the nearer one is searched first.
            if dl <= dr:
                if dr < best:
                    stack[sp] = c + 1
                    sp += 1
                if dl < best:
                    stack[sp] = c
                    sp += 1
            else:
                if dl < best:
                    stack[sp] = c
                    sp += 1
                if dr < best:
                    stack[sp] = c + 1
                    sp += 1
    return best, q, best_t, best_f


@nb.njit(cache=True, nogil=True)
def closest_points_serial(points: np.ndarray, tri: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                          left: np.ndarray, start: np.ndarray, count: np.ndarray, max_d2: float,
                          out_pt: np.ndarray, out_tri: np.ndarray,
                          out_feat: np.ndarray) -> None:
    for i in range(points.shape[0]):
        p = (points[i, 0], points[i, 1], points[i, 2])
        _, q, t, f = closest_point(p, tri, lo, hi, left, start, count, max_d2)
        out_pt[i, 0], out_pt[i, 1], out_pt[i, 2] = q
        out_tri[i] = t
        out_feat[i] = f


@nb.njit(cache=True, nogil=True, parallel=True)
def closest_points_parallel(points: np.ndarray, tri: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                            left: np.ndarray, start: np.ndarray, count: np.ndarray,
                            max_d2: float, out_pt: np.ndarray, out_tri: np.ndarray,
                            out_feat: np.ndarray) -> None:
    """:func:`closest_points_serial` over numba's threads (large batches only)."""
    for i in nb.prange(points.shape[0]):
        p = (points[i, 0], points[i, 1], points[i, 2])
        _, q, t, f = closest_point(p, tri, lo, hi, left, start, count, max_d2)
        out_pt[i, 0], out_pt[i, 1], out_pt[i, 2] = q
        out_tri[i] = t
        out_feat[i] = f


@nb.njit(cache=True, nogil=True)
def grid_closest(origin: np.ndarray, h: float, dims: np.ndarray, tri: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray, left: np.ndarray, start: np.ndarray, count: np.ndarray,
                 out_pt: np.ndarray, out_tri: np.ndarray, out_feat: np.ndarray) -> None:
    """Closest points for every node of a regular grid (x slowest, z fastest).

    Distance is 1-Lipschitz, so each node's search starts bounded by its neighbour's
    distance plus the spacing: far-away nodes, the bulk of a grid, then prune almost every
    box at once instead of searching the whole tree.
    """
    nx, ny, nz = dims[0], dims[1], dims[2]
    for i in range(nx):
        prev_row = np.inf
        for j in range(ny):
            prev = prev_row
            for k in range(nz):
                n = (i * ny + j) * nz + k
                p = (origin[0] + i * h, origin[1] + j * h, origin[2] + k * h)
                bound = (prev + h) * (1.0 + 1e-9) + 1e-9
                d2, q, t, f = closest_point(p, tri, lo, hi, left, start, count, bound * bound)
                if t < 0:  # cannot happen with a valid bound; search unbounded to be safe
                    d2, q, t, f = closest_point(p, tri, lo, hi, left, start, count, np.inf)
                prev = np.sqrt(d2)
                if k == 0:
                    prev_row = prev
                out_pt[n, 0], out_pt[n, 1], out_pt[n, 2] = q
                out_tri[n] = t
                out_feat[n] = f


@nb.njit(cache=True, nogil=True)
def band_closest(origin: np.ndarray, h: float, dims: np.ndarray, band: float, tri: np.ndarray,
                 d2_out: np.ndarray, out_pt: np.ndarray, out_tri: np.ndarray,
                 out_feat: np.ndarray, t0: int = 0, t1: int = -1) -> None:
    """Exact closest points for the grid nodes within ``band`` of the surface.

    Each triangle visits the nodes of its bounding box grown by ``band``: a node whose
    closest triangle is within the band is certainly visited by it, so its value is exact.
    Cost is proportional to the surface, not to the grid volume. Triangles ``t0..t1`` only
    (all by default), so a caller can report progress between blocks of them.
    """
    if t1 < 0:
        t1 = tri.shape[0]
    for t in range(t0, t1):
        a = (tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2])
        b = (tri[t, 1, 0], tri[t, 1, 1], tri[t, 1, 2])
        c = (tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2])
        i0 = np.empty(3, np.int64)
        i1 = np.empty(3, np.int64)
        for ax in range(3):
            mn = min(a[ax], min(b[ax], c[ax])) - band
            mx = max(a[ax], max(b[ax], c[ax])) + band
            i0[ax] = max(int(np.ceil((mn - origin[ax]) / h)), 0)
            i1[ax] = min(int(np.floor((mx - origin[ax]) / h)), dims[ax] - 1)
        for i in range(i0[0], i1[0] + 1):
            for j in range(i0[1], i1[1] + 1):
                for k in range(i0[2], i1[2] + 1):
                    p = (origin[0] + i * h, origin[1] + j * h, origin[2] + k * h)
                    q, f = point_triangle(p, a, b, c)
                    d2 = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2
                    n = (i * dims[1] + j) * dims[2] + k
                    if d2 < d2_out[n]:
                        d2_out[n] = d2
                        out_pt[n, 0], out_pt[n, 1], out_pt[n, 2] = q
                        out_tri[n] = t
                        out_feat[n] = f



@nb.njit(cache=True, nogil=True)
def mesh_mesh_distance(tri_a: np.ndarray, lo_a: np.ndarray, hi_a: np.ndarray, left_a: np.ndarray,
                       start_a: np.ndarray, count_a: np.ndarray,
                       tri_b: np.ndarray, lo_b: np.ndarray, hi_b: np.ndarray, left_b: np.ndarray,
                       start_b: np.ndarray, count_b: np.ndarray,
                       max_d2: float) -> tuple[float, Vec3, Vec3, int, int]:
    """Exact minimum distance between two triangle meshes by simultaneous tree descent.

    Returns (squared distance, point on A, point on B, triangle of A, triangle of B);
    triangle indices are -1 when nothing is closer than ``max_d2``. Distance 0 means the
    surfaces intersect.
    """
    best = max_d2
    pa = (np.nan, np.nan, np.nan)
    pb = pa
    ta, tb = -1, -1
    sa = np.empty(4 * _STACK, np.int64)
    sb = np.empty(4 * _STACK, np.int64)
    sa[0], sb[0] = 0, 0
    sp = 1
    while sp > 0:
        sp -= 1
        a, b = sa[sp], sb[sp]
        if _box_box_d2(lo_a, hi_a, a, lo_b, hi_b, b) >= best:
            continue
        ca, cb = left_a[a], left_b[b]
        if ca < 0 and cb < 0:
            for i in range(start_a[a], start_a[a] + count_a[a]):
                a0 = (tri_a[i, 0, 0], tri_a[i, 0, 1], tri_a[i, 0, 2])
                a1 = (tri_a[i, 1, 0], tri_a[i, 1, 1], tri_a[i, 1, 2])
                a2 = (tri_a[i, 2, 0], tri_a[i, 2, 1], tri_a[i, 2, 2])
                for j in range(start_b[b], start_b[b] + count_b[b]):
                    # Triangle boxes first: most leaf pairs are rejected without the exact test.
                    g2 = 0.0
                    for ax in range(3):
                        amin = min(tri_a[i, 0, ax], min(tri_a[i, 1, ax], tri_a[i, 2, ax]))
                        amax = max(tri_a[i, 0, ax], max(tri_a[i, 1, ax], tri_a[i, 2, ax]))
                        bmin = min(tri_b[j, 0, ax], min(tri_b[j, 1, ax], tri_b[j, 2, ax]))
                        bmax = max(tri_b[j, 0, ax], max(tri_b[j, 1, ax], tri_b[j, 2, ax]))
                        g = max(bmin - amax, amin - bmax, 0.0)
                        g2 += g * g
                    if g2 >= best:
                        continue
                    d, x, y = triangle_triangle(
                        a0, a1, a2, (tri_b[j, 0, 0], tri_b[j, 0, 1], tri_b[j, 0, 2]),
                        (tri_b[j, 1, 0], tri_b[j, 1, 1], tri_b[j, 1, 2]),
                        (tri_b[j, 2, 0], tri_b[j, 2, 1], tri_b[j, 2, 2]), best)
                    if d < best:
                        best, pa, pb, ta, tb = d, x, y, i, j
            continue
        # Descend the larger box (by diagonal) unless it is a leaf.
        size_a = 0.0
        size_b = 0.0
        for ax in range(3):
            size_a += (hi_a[a, ax] - lo_a[a, ax]) ** 2
            size_b += (hi_b[b, ax] - lo_b[b, ax]) ** 2
        if cb < 0 or (ca >= 0 and size_a >= size_b):
            d1 = _box_box_d2(lo_a, hi_a, ca, lo_b, hi_b, b)
            d2 = _box_box_d2(lo_a, hi_a, ca + 1, lo_b, hi_b, b)
            n1a, n1b, n2a, n2b = ca, b, ca + 1, b
        else:
            d1 = _box_box_d2(lo_a, hi_a, a, lo_b, hi_b, cb)
            d2 = _box_box_d2(lo_a, hi_a, a, lo_b, hi_b, cb + 1)
            n1a, n1b, n2a, n2b = a, cb, a, cb + 1
        if d1 > d2:
            d1, d2 = d2, d1
            n1a, n1b, n2a, n2b = n2a, n2b, n1a, n1b
        if d2 < best:
            sa[sp], sb[sp] = n2a, n2b
            sp += 1
        if d1 < best:
            sa[sp], sb[sp] = n1a, n1b
            sp += 1
    return best, pa, pb, ta, tb


@dataclass
class TriangleTree:
    """A triangle mesh in BVH order: ``tri[k]`` is original triangle ``order[k]``."""

    tri: np.ndarray  # (m, 3, 3) float64 vertices in tree order
    order: np.ndarray  # (m,) original triangle index of each tree-order triangle
    lo: np.ndarray
    hi: np.ndarray
    left: np.ndarray
    start: np.ndarray
    count: np.ndarray

    @classmethod
    def build(cls, tri: np.ndarray, leaf_size: int = LEAF_SIZE) -> TriangleTree:
        tri = np.ascontiguousarray(tri, dtype=np.float64)
        order, lo, hi, left, start, count = _build(tri, leaf_size)
        return cls(np.ascontiguousarray(tri[order]), order, lo, hi, left, start, count)

    def moved(self, tri_world: np.ndarray) -> TriangleTree:
        """The same tree over moved triangles (``tri_world`` in tree order), boxes refitted."""
        lo = np.empty_like(self.lo)
        hi = np.empty_like(self.hi)
        _refit(tri_world, self.left, self.start, self.count, lo, hi)
        return TriangleTree(tri_world, self.order, lo, hi, self.left, self.start, self.count)

    def arrays(self) -> tuple:
        return self.tri, self.lo, self.hi, self.left, self.start, self.count

    def closest(self, points: np.ndarray,
                max_distance: float = np.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact closest points: (points (n, 3), tree-order triangle (n,), feature (n,))."""
        p = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
        n = len(p)
        out_pt = np.empty((n, 3))
        out_tri = np.empty(n, np.int64)
        out_feat = np.empty(n, np.int64)
        # Per-pose batches are small: there thread start-up would cost more than the work.
        kernel = closest_points_parallel if n >= PARALLEL_MIN_POINTS else closest_points_serial
        if n:
            kernel(p, *self.arrays(), float(max_distance) ** 2, out_pt, out_tri, out_feat)
        return out_pt, out_tri, out_feat

    def distance_to(self, other: TriangleTree, max_distance: float = np.inf,
                    ) -> tuple[float, np.ndarray, np.ndarray, int, int]:
        """Exact minimum distance to another tree: (d, point here, point there, tri, tri)."""
        d2, pa, pb, ta, tb = mesh_mesh_distance(*self.arrays(), *other.arrays(),
                                                float(max_distance) ** 2)
        return float(np.sqrt(d2)), np.array(pa), np.array(pb), int(ta), int(tb)

"""Exact closest points and signed distances from points to a triangle mesh.

Open3D's RaycastingScene answers closest-point queries one thread at a time
(about 3 microseconds a point), too slow for millions of scan points, so this
module bins the triangles into a uniform grid and searches growing shells of
cells around each point with numba, in parallel. The answer is exact: a shell
search stops only when no unvisited cell can hold a closer triangle.

The triangle test is the one of :mod:`sim.geometry.primitives` that placement's BVH
(:mod:`sim.geometry.bvh`) uses too; the kernels release the GIL.

The sign uses angle-weighted pseudo-normals (Baerentzen & Aanaes 2005): the
normal of the face, edge or vertex the closest point lies on, so points near
edges and corners of a closed mesh get the right side. Positive means outside
the nominal surface (excess material), negative inside (missing material).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numba as nb
import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.geometry.bvh import TriangleTree
from sim.geometry.primitives import point_triangle
from sim.geometry.triangles import surface_triangles
from sim.mesh.features import edge_ids, pseudo_normals

# numba probes TBB before settling on OpenMP; the probe's version warning is noise.
warnings.filterwarnings("ignore", message="The TBB threading layer", category=nb.NumbaWarning)

_MAX_CELLS = 4_000_000
# Shells a grid search may grow before the point goes to the BVH (scan points near the
# surface finish within one or two; at up to 5 mm off the capped grid plus BVH costs a quarter
# of the CPU of the uncapped grid, see tests/benchmarks/test_point_mesh_distance.py).
SHELL_CAP = 2


@nb.njit(cache=True, inline="always")
def _axis_apart(a0, b0, a1, b1, a2, b2, u1, u2, half):
    """Whether the projections of the triangle (vertex coordinates a_k, b_k on the axis'
    two components) and of the cube onto the axis (u1, u2) are apart."""
    p0 = a0 * u1 + b0 * u2
    p1 = a1 * u1 + b1 * u2
    p2 = a2 * u1 + b2 * u2
    rad = half * (abs(u1) + abs(u2))
    return min(p0, min(p1, p2)) > rad or max(p0, max(p1, p2)) < -rad


@nb.njit(cache=True, inline="always")
def _triangle_touches_box(tri, t, cx, cy, cz, half):
    """Separating-axis test (Akenine-Moeller) of triangle t against a cube; closed, with slack.

    Binning by true overlap rather than bounding box keeps long diagonal CAD slivers out of
    the many cells their box spans but they do not touch. Scalars only: a heap array per
    test made binning allocation-bound (the fe fit rebins its deforming surface each step).
    """
    x0, y0, z0 = tri[t, 0, 0] - cx, tri[t, 0, 1] - cy, tri[t, 0, 2] - cz
    x1, y1, z1 = tri[t, 1, 0] - cx, tri[t, 1, 1] - cy, tri[t, 1, 2] - cz
    x2, y2, z2 = tri[t, 2, 0] - cx, tri[t, 2, 1] - cy, tri[t, 2, 2] - cz
    # Edges k -> k + 1.
    ex0, ey0, ez0 = x1 - x0, y1 - y0, z1 - z0
    ex1, ey1, ez1 = x2 - x1, y2 - y1, z2 - z1
    ex2, ey2, ez2 = x0 - x2, y0 - y2, z0 - z2
    # Nine axes: cross products of the box axes with the edges; the x axis crossed with an
    # edge has (y, z) components (-ez, ey), the y axis (z, x): (-ex, ez), the z axis (x, y):
    # (-ey, ex).
    if (_axis_apart(y0, z0, y1, z1, y2, z2, -ez0, ey0, half)
            or _axis_apart(z0, x0, z1, x1, z2, x2, -ex0, ez0, half)
            or _axis_apart(x0, y0, x1, y1, x2, y2, -ey0, ex0, half)
            or _axis_apart(y0, z0, y1, z1, y2, z2, -ez1, ey1, half)
            or _axis_apart(z0, x0, z1, x1, z2, x2, -ex1, ez1, half)
            or _axis_apart(x0, y0, x1, y1, x2, y2, -ey1, ex1, half)
            or _axis_apart(y0, z0, y1, z1, y2, z2, -ez2, ey2, half)
            or _axis_apart(z0, x0, z1, x1, z2, x2, -ex2, ez2, half)
            or _axis_apart(x0, y0, x1, y1, x2, y2, -ey2, ex2, half)):
        return False
    # The triangle's plane.
    nx = ey0 * ez1 - ez0 * ey1
    ny = ez0 * ex1 - ex0 * ez1
    nz = ex0 * ey1 - ey0 * ex1
    d = nx * x0 + ny * y0 + nz * z0
    return abs(d) <= half * (abs(nx) + abs(ny) + abs(nz))


@nb.njit(cache=True, inline="always")
def _touch(tri, t, lo, h, dims, half, start, out):
    """Number of cells triangle t touches; writes them to ``out[start:]`` in (i, j, k) order
    unless ``out`` is empty."""
    s0 = np.empty(3, np.int64)
    s1 = np.empty(3, np.int64)
    for ax in range(3):
        mn = min(tri[t, 0, ax], min(tri[t, 1, ax], tri[t, 2, ax]))
        mx = max(tri[t, 0, ax], max(tri[t, 1, ax], tri[t, 2, ax]))
        s0[ax] = min(max(int((mn - lo[ax]) / h), 0), dims[ax] - 1)
        s1[ax] = min(max(int((mx - lo[ax]) / h), 0), dims[ax] - 1)
    single = s0[0] == s1[0] and s0[1] == s1[1] and s0[2] == s1[2]
    write = out.shape[0] > 0
    n = 0
    for i in range(s0[0], s1[0] + 1):
        for j in range(s0[1], s1[1] + 1):
            for k in range(s0[2], s1[2] + 1):
                if not single and not _triangle_touches_box(
                        tri, t, lo[0] + (i + 0.5) * h, lo[1] + (j + 0.5) * h,
                        lo[2] + (k + 0.5) * h, half):
                    continue
                if write:
                    out[start + n] = (i * dims[1] + j) * dims[2] + k
                n += 1
    return n


# Threads pay off on big meshes only; on a small one (an organ's 10k triangles, rebinned at
# every step of a deformable fit) waking them costs more than they save on a busy machine.
_PARALLEL_BINNING = 20_000


@nb.njit(cache=True, nogil=True)
def _touched_cells_serial(tri, lo, h, dims, offsets, out):
    """Cells each triangle touches: counted when ``out`` is empty, else written to
    ``out[offsets[t]:]``."""
    half = 0.5 * h * (1.0 + 1e-6)  # a little slack so rounding never drops a contact
    count = np.zeros(tri.shape[0], np.int64)
    for t in range(tri.shape[0]):
        count[t] = _touch(tri, t, lo, h, dims, half, offsets[t] if out.shape[0] else 0, out)
    return count


@nb.njit(cache=True, nogil=True, parallel=True)
def _touched_cells_parallel(tri, lo, h, dims, offsets, out):
    """:func:`_touched_cells_serial` with the triangles in parallel."""
    half = 0.5 * h * (1.0 + 1e-6)
    count = np.zeros(tri.shape[0], np.int64)
    for t in nb.prange(tri.shape[0]):
        count[t] = _touch(tri, t, lo, h, dims, half, offsets[t] if out.shape[0] else 0, out)
    return count


@nb.njit(cache=True, nogil=True)
def _cell_lists(cells, counts, ncell):
    """CSR lists of triangles per cell from (triangle, cell) pairs ordered by triangle: a
    stable counting sort, so each cell lists its triangles in ascending order."""
    per_cell = np.zeros(ncell + 1, np.int64)
    for s in range(cells.shape[0]):
        per_cell[cells[s] + 1] += 1
    starts = np.cumsum(per_cell)
    fill = starts[:-1].copy()
    items = np.empty(cells.shape[0], np.int64)
    s = 0
    for t in range(counts.shape[0]):
        for _ in range(counts[t]):
            c = cells[s]
            items[fill[c]] = t
            fill[c] += 1
            s += 1
    return starts, items


def _bin_triangles(tri: np.ndarray, lo: np.ndarray, h: float,
                   dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of the triangles touching each grid cell (count, then fill, in parallel)."""
    touched = _touched_cells_parallel if len(tri) >= _PARALLEL_BINNING else _touched_cells_serial
    none = np.empty(0, np.int64)
    counts = touched(tri, lo, h, dims, none, none)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    cells = np.empty(offsets[-1], np.int64)
    touched(tri, lo, h, dims, offsets, cells)
    return _cell_lists(cells, counts, int(np.prod(dims)))


@nb.njit(cache=True, inline="always")
def _query_point(i, points, tri, starts, items, lo, h, dims, max_r, max_dist, feat_normals,
                 out_pt, out_tri, out_normal, out_signed, shell_cap):
    """Shell search for point i; a point still open after ``shell_cap`` shells gets triangle
    -2 (left to the tree: far from the surface a grid visits cubically many empty cells)."""
    px, py, pz = points[i, 0], points[i, 1], points[i, 2]
    cx = min(max(int(np.floor((px - lo[0]) / h)), 0), dims[0] - 1)
    cy = min(max(int(np.floor((py - lo[1]) / h)), 0), dims[1] - 1)
    cz = min(max(int(np.floor((pz - lo[2]) / h)), 0), dims[2] - 1)
    best, best_t, best_f = np.inf, -1, 0
    bqx, bqy, bqz = np.nan, np.nan, np.nan
    r = 0
    while True:
        for dx in range(-r, r + 1):
            x = cx + dx
            if x < 0 or x >= dims[0]:
                continue
            for dy in range(-r, r + 1):
                y = cy + dy
                if y < 0 or y >= dims[1]:
                    continue
                # Only the shell of the (2r+1)^3 block is new at radius r.
                step = 1 if (abs(dx) == r or abs(dy) == r) else max(2 * r, 1)
                for dz in range(-r, r + 1, step):
                    z = cz + dz
                    if z < 0 or z >= dims[2]:
                        continue
                    # Skip a cell whose box is already farther than the best hit.
                    gx = max(lo[0] + x * h - px, px - (lo[0] + (x + 1) * h), 0.0)
                    gy = max(lo[1] + y * h - py, py - (lo[1] + (y + 1) * h), 0.0)
                    gz = max(lo[2] + z * h - pz, pz - (lo[2] + (z + 1) * h), 0.0)
                    if gx * gx + gy * gy + gz * gz >= best:
                        continue
                    cell = (x * dims[1] + y) * dims[2] + z
                    for s in range(starts[cell], starts[cell + 1]):
                        t = items[s]
                        q, feat = point_triangle(
                            (px, py, pz), (tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2]),
                            (tri[t, 1, 0], tri[t, 1, 1], tri[t, 1, 2]),
                            (tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2]))
                        qx, qy, qz = q
                        d2 = (px - qx) ** 2 + (py - qy) ** 2 + (pz - qz) ** 2
                        if d2 < best:
                            best, best_t, best_f = d2, t, feat
                            bqx, bqy, bqz = qx, qy, qz
        # Nothing outside the visited block of cells is nearer than its boundary.
        bound = np.inf
        if cx - r > 0:
            bound = min(bound, px - (lo[0] + (cx - r) * h))
        if cx + r + 1 < dims[0]:
            bound = min(bound, lo[0] + (cx + r + 1) * h - px)
        if cy - r > 0:
            bound = min(bound, py - (lo[1] + (cy - r) * h))
        if cy + r + 1 < dims[1]:
            bound = min(bound, lo[1] + (cy + r + 1) * h - py)
        if cz - r > 0:
            bound = min(bound, pz - (lo[2] + (cz - r) * h))
        if cz + r + 1 < dims[2]:
            bound = min(bound, lo[2] + (cz + r + 1) * h - pz)
        if bound > 0.0 and best <= bound * bound:
            break
        if r >= max_r or (bound > max_dist and best > max_dist * max_dist):
            break
        if r >= shell_cap:
            best_t = -2
            break
        r += 1
    if best_t == -2:
        out_tri[i] = -2
        return
    if best_t < 0 or best > max_dist * max_dist:
        out_tri[i] = -1
        out_signed[i] = np.nan
        for ax in range(3):
            out_pt[i, ax] = np.nan
            out_normal[i, ax] = np.nan
        return
    out_tri[i] = best_t
    out_pt[i, 0] = bqx
    out_pt[i, 1] = bqy
    out_pt[i, 2] = bqz
    nx = feat_normals[best_t, best_f, 0]
    ny = feat_normals[best_t, best_f, 1]
    nz = feat_normals[best_t, best_f, 2]
    nn = np.sqrt(nx * nx + ny * ny + nz * nz)
    if nn > 0.0:
        nx, ny, nz = nx / nn, ny / nn, nz / nn
    out_normal[i, 0] = nx
    out_normal[i, 1] = ny
    out_normal[i, 2] = nz
    d = np.sqrt(best)
    side = (px - bqx) * nx + (py - bqy) * ny + (pz - bqz) * nz
    out_signed[i] = -d if side < 0.0 else d


# Few points (a deformable fit's stylus trace) are answered on the calling thread: waking the
# workers costs more than the search, and up to a scheduler tick on a busy machine.
_PARALLEL_QUERY = 1000


@nb.njit(cache=True, nogil=True, parallel=True)
def _query(points, tri, starts, items, lo, h, dims, max_dist, feat_normals, out_pt, out_tri,
           out_normal, out_signed, shell_cap):
    """:func:`_query_point` for every point, in parallel."""
    max_r = max(dims[0], max(dims[1], dims[2]))
    for i in nb.prange(points.shape[0]):
        _query_point(i, points, tri, starts, items, lo, h, dims, max_r, max_dist, feat_normals,
                     out_pt, out_tri, out_normal, out_signed, shell_cap)


@nb.njit(cache=True, nogil=True)
def _query_serial(points, tri, starts, items, lo, h, dims, max_dist, feat_normals, out_pt,
                  out_tri, out_normal, out_signed, shell_cap):
    """:func:`_query_point` for every point, on this thread."""
    max_r = max(dims[0], max(dims[1], dims[2]))
    for i in range(points.shape[0]):
        _query_point(i, points, tri, starts, items, lo, h, dims, max_r, max_dist, feat_normals,
                     out_pt, out_tri, out_normal, out_signed, shell_cap)


@dataclass(frozen=True)
class Closest:
    """Result of a closest-point query (one row per query point)."""

    points: np.ndarray  # (n, 3) closest points on the mesh, NaN where none within max_dist
    triangles: np.ndarray  # (n,) triangle index, -1 where none
    normals: np.ndarray  # (n, 3) unit pseudo-normal of the feature the closest point is on
    signed: np.ndarray  # (n,) signed distance in mm (+ outside, - inside), NaN where none

    @property
    def found(self) -> np.ndarray:
        return self.triangles >= 0


def triangles_of(mesh: pv.DataSet) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) and triangle indices (m, 3) of any surface, triangulating if needed."""
    return surface_triangles(mesh, "The nominal object has no surface triangles to measure against.")


class MeshDistance:
    """A triangle mesh prepared for fast exact closest-point and signed-distance queries."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray,
                 cell_size: float | None = None,
                 _edges: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        v = np.asarray(vertices, dtype=np.float64)
        f = np.asarray(faces, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
            raise InputError("A mesh needs (n, 3) vertices and at least one (m, 3) triangle.")
        if not np.isfinite(v).all():
            raise InputError("The mesh has non-finite vertex coordinates.")
        v, f = _merge_duplicate_vertices(v, f)
        cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        area2 = np.linalg.norm(cross, axis=1)
        keep = area2 > 1e-12 * max(float(area2.max()), 1e-300)
        if not keep.any():
            raise InputError("The mesh has only degenerate (zero-area) triangles.")
        self.vertices, self.faces = v, f[keep]
        self._source = (np.asarray(faces, dtype=np.int64), cell_size)
        # The edges of the same triangles (a deformed copy's) are reused, not re-sorted.
        same = _edges is not None and np.array_equal(_edges[0], self.faces)
        self._edges = (self.faces, _edges[1] if same else edge_ids(len(v), self.faces))
        self.face_normals = cross[keep] / area2[keep, None]
        self.feature_normals = np.ascontiguousarray(
            pseudo_normals(v, self.faces, self._edges[1]))
        self.tri = np.ascontiguousarray(v[self.faces])
        self._build_grid(cell_size)

    def deformed(self, vertices: np.ndarray) -> MeshDistance:
        """The same triangles with their vertices moved (a deforming surface): equal to
        ``MeshDistance(vertices, faces)``, only the edge topology is reused. The grid is
        rebuilt: positions change everywhere."""
        faces, cell_size = self._source
        return MeshDistance(vertices, faces, cell_size, self._edges)

    @classmethod
    def from_mesh(cls, mesh: pv.DataSet) -> MeshDistance:
        return cls(*triangles_of(mesh))

    def _build_grid(self, cell_size: float | None) -> None:
        lo = self.tri.reshape(-1, 3).min(axis=0)
        hi = self.tri.reshape(-1, 3).max(axis=0)
        extent = np.maximum(hi - lo, 1e-9)
        # About one cell per triangle of surface area keeps a few triangles in each
        # occupied cell whatever the tessellation; cap the grid size.
        area = 0.5 * float(np.linalg.norm(np.cross(self.tri[:, 1] - self.tri[:, 0],
                                                   self.tri[:, 2] - self.tri[:, 0]), axis=1).sum())
        h = cell_size or np.sqrt(area / len(self.tri))
        h = max(h, float(extent.max()) / 512.0, 1e-9)
        while np.prod(np.ceil(extent / h) + 1) > _MAX_CELLS:
            h *= 1.25
        self.lo, self.h = lo, h
        self.dims = (np.floor(extent / h).astype(np.int64) + 1)
        self.starts, self.items = _bin_triangles(self.tri, lo, h, self.dims)

    def closest(self, points: np.ndarray, max_distance: float = np.inf) -> Closest:
        """Closest mesh point, triangle, pseudo-normal and signed distance for each point."""
        p = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
        n = len(p)
        out_pt = np.empty((n, 3))
        out_tri = np.empty(n, np.int64)
        normals = np.empty((n, 3))
        signed = np.empty(n)
        if n:
            query = _query if n >= _PARALLEL_QUERY else _query_serial
            query(p, self.tri, self.starts, self.items, self.lo, float(self.h), self.dims,
                   float(max_distance), self.feature_normals, out_pt, out_tri, normals, signed,
                   SHELL_CAP)
            far = np.flatnonzero(out_tri == -2)
            if len(far):
                self._tree_closest(p[far], float(max_distance), far, out_pt, out_tri, normals,
                                   signed)
        return Closest(out_pt, out_tri, normals, signed)

    def _tree_closest(self, p: np.ndarray, max_distance: float, rows: np.ndarray,
                      out_pt: np.ndarray, out_tri: np.ndarray, normals: np.ndarray,
                      signed: np.ndarray) -> None:
        """Exact answers for points far from the surface, from the BVH (built on first use)."""
        if getattr(self, "_tree", None) is None:
            self._tree = TriangleTree.build(self.tri)
        q, t, feat = self._tree.closest(p, max_distance)
        found = t >= 0
        tri = np.where(found, self._tree.order[np.maximum(t, 0)], -1)
        nrm = self.feature_normals[np.maximum(tri, 0), feat]
        nrm = nrm / np.maximum(np.linalg.norm(nrm, axis=1), 1e-300)[:, None]
        diff = p - q
        d = np.linalg.norm(diff, axis=1)
        side = np.einsum("ij,ij->i", diff, nrm)
        out_pt[rows] = np.where(found[:, None], q, np.nan)
        out_tri[rows] = tri
        normals[rows] = np.where(found[:, None], nrm, np.nan)
        signed[rows] = np.where(found, np.where(side < 0.0, -d, d), np.nan)

    def approximate_closest(self, points: np.ndarray, max_distance: float = np.inf) -> Closest:
        """Nearest of dense surface samples (KD-tree) with its face normal: fast far away.

        Within ``sample_spacing`` of the exact answer; used for coarse alignment, where
        points may be centimetres off and an exact shell search would visit many cells.
        """
        tree, owner, spacing = self._samples()
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        d, i = tree.query(p, distance_upper_bound=max_distance, workers=-1)
        found = np.isfinite(d)
        tri = np.where(found, owner[np.minimum(i, len(owner) - 1)], -1)
        pts = np.full((len(p), 3), np.nan)
        pts[found] = tree.data[i[found]]
        normals = np.full((len(p), 3), np.nan)
        normals[found] = self.face_normals[tri[found]]
        side = np.einsum("ij,ij->i", p - pts, normals)
        signed = np.where(found, np.where(side < 0.0, -d, d), np.nan)
        return Closest(pts, tri, normals, signed)

    def _samples(self):
        """A KD-tree of points covering every triangle at about two grid cells' spacing."""
        if getattr(self, "_sample_tree", None) is None:
            from scipy.spatial import cKDTree

            spacing = 2.0 * float(self.h)  # coarse work only: a quarter of the points
            edge = np.max(np.linalg.norm(self.tri - np.roll(self.tri, 1, axis=1), axis=2), axis=1)
            k = np.clip(np.ceil(edge / spacing), 1, 32).astype(np.int64)
            pts, owner = [], []
            for kk in np.unique(k):  # one barycentric lattice per subdivision level
                tris = np.flatnonzero(k == kk)
                ij = np.array([(i, j) for i in range(kk + 1) for j in range(kk + 1 - i)]) / kk
                a, b, c = (self.tri[tris, m] for m in range(3))
                lattice = (a[:, None] + ij[None, :, :1] * (b - a)[:, None]
                           + ij[None, :, 1:] * (c - a)[:, None])
                pts.append(lattice.reshape(-1, 3))
                owner.append(np.repeat(tris, len(ij)))
            self._sample_tree = cKDTree(np.concatenate(pts))
            self._sample_owner = np.concatenate(owner)
        return self._sample_tree, self._sample_owner, 2.0 * float(self.h)

    def signed_distance(self, points: np.ndarray, max_distance: float = np.inf) -> np.ndarray:
        """Signed distance (mm) of each point to the surface: + outside, - inside."""
        return self.closest(points, max_distance).signed


def _merge_duplicate_vertices(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weld exactly coincident vertices (STL repeats them) so edges and corners are shared."""
    bits = np.ascontiguousarray(v + 0.0).view(np.uint64)  # + 0.0 folds -0.0 into 0.0
    key = (bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ (bits[:, 1] * np.uint64(
        0xC2B2AE3D27D4EB4F)) ^ (bits[:, 2] * np.uint64(0x165667B19E3779F9))
    if len(np.unique(key)) == len(v):  # a fast 1D test: distinct hashes, distinct vertices
        return v, f
    uniq, inverse = np.unique(v, axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1)[f]

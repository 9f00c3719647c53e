"""A surface prepared for placement queries: BVH, signed distances and a distance grid.

Exact answers (clearance, closest points, the deepest point) come from the BVH; the
signed-distance grid answers "inside or outside, roughly how deep" for thousands of
sample points per pose in microseconds. Grid nodes within two cells of the surface hold
exact signed distances, so there a trilinear value is within one cell diagonal of the
truth (distance is 1-Lipschitz); deeper nodes hold closest-point-transform values (right
side, distance an upper bound), which only ever pick candidates for exact re-checks.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pyvista as pv
from scipy.ndimage import distance_transform_edt

from sim.errors import InputError
from sim.geometry.bvh import TriangleTree, band_closest, grid_closest
from sim.geometry.triangles import surface_triangles
from sim.mesh.features import pseudo_normals
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MAX_GRID_NODES = 1_500_000
_BAND_BLOCK = 20_000  # triangles rasterised between two progress reports


def _content_key(v: np.ndarray, f: np.ndarray) -> str:
    """A digest of a surface's welded vertices and triangles (a few ms for 300k triangles)."""
    h = hashlib.blake2b(digest_size=20)
    for a in (v, f):
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.data)
    return h.hexdigest()


class FieldCache:
    """Trees, normals and distance grids of recently prepared surfaces, by content.

    Bounded by the number of triangles and grid nodes held (least recently used first
    out). Everything cached is read-only once built, so fields share it safely.
    """

    def __init__(self, max_triangles: int = 3_000_000, max_grid_nodes: int = 12_000_000) -> None:
        self.max_triangles, self.max_grid_nodes = max_triangles, max_grid_nodes
        self._geometry: OrderedDict[str, tuple] = OrderedDict()
        self._grids: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def geometry(self, key: str) -> tuple | None:
        with self._lock:
            if key in self._geometry:
                self._geometry.move_to_end(key)
                return self._geometry[key]
        return None

    def put_geometry(self, key: str, value: tuple) -> None:
        with self._lock:
            self._geometry[key] = value
            while len(self._geometry) > 1 and sum(
                    len(t.tri) for t, _ in self._geometry.values()) > self.max_triangles:
                self._geometry.popitem(last=False)

    def grid(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            if key in self._grids:
                self._grids.move_to_end(key)
                return self._grids[key]
        return None

    def put_grid(self, key: tuple, grid: np.ndarray) -> None:
        grid.setflags(write=False)
        with self._lock:
            self._grids[key] = grid
            while len(self._grids) > 1 and sum(
                    g.size for g in self._grids.values()) > self.max_grid_nodes:
                self._grids.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._geometry.clear()
            self._grids.clear()


CACHE = FieldCache()


def mesh_triangles(mesh: pv.DataSet) -> tuple[np.ndarray, np.ndarray]:
    """Welded vertices (n, 3) and non-degenerate triangles (m, 3) of any surface."""
    v, f = surface_triangles(mesh, "The surface has no triangles.")
    if not np.isfinite(v).all():
        raise InputError("The surface has non-finite vertex coordinates.")
    # STL repeats vertices; weld exact duplicates so edges and corners are shared.
    order = np.lexsort(v.T[::-1])
    new_run = np.r_[True, np.any(np.diff(v[order], axis=0) != 0, axis=1)]
    if not new_run.all():
        ids = np.empty(len(v), np.int64)
        ids[order] = np.cumsum(new_run) - 1
        v, f = v[order][new_run], ids[f]
    area2 = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    keep = area2 > 1e-12 * max(float(area2.max()), 1e-300)
    if not keep.any():
        raise InputError("The surface has only degenerate (zero-area) triangles.")
    return v, f[keep]


@nb.njit(cache=True, nogil=True)
def trilinear(grid: np.ndarray, origin: np.ndarray, h: float, points: np.ndarray,
              outside_value: float, out: np.ndarray) -> None:
    """Trilinear samples of ``grid`` (nx, ny, nz) at points; ``outside_value`` off the grid.

    Serial on purpose: per-pose batches are a few thousand points (tens of microseconds),
    where thread start-up and barriers would cost more than the work, badly so on a busy machine.
    """
    nx, ny, nz = grid.shape
    for i in range(points.shape[0]):
        fx = (points[i, 0] - origin[0]) / h
        fy = (points[i, 1] - origin[1]) / h
        fz = (points[i, 2] - origin[2]) / h
        if fx < 0.0 or fy < 0.0 or fz < 0.0 or fx > nx - 1 or fy > ny - 1 or fz > nz - 1:
            out[i] = outside_value
            continue
        ix = min(int(fx), nx - 2)
        iy = min(int(fy), ny - 2)
        iz = min(int(fz), nz - 2)
        tx, ty, tz = fx - ix, fy - iy, fz - iz
        c00 = grid[ix, iy, iz] * (1 - tx) + grid[ix + 1, iy, iz] * tx
        c10 = grid[ix, iy + 1, iz] * (1 - tx) + grid[ix + 1, iy + 1, iz] * tx
        c01 = grid[ix, iy, iz + 1] * (1 - tx) + grid[ix + 1, iy, iz + 1] * tx
        c11 = grid[ix, iy + 1, iz + 1] * (1 - tx) + grid[ix + 1, iy + 1, iz + 1] * tx
        out[i] = (c00 * (1 - ty) + c10 * ty) * (1 - tz) + (c01 * (1 - ty) + c11 * ty) * tz


class SurfaceField:
    """A closed triangle surface with exact signed-distance queries and a coarse grid.

    The tree and pseudo-normals of a surface, and its grids, are cached by content (see
    :data:`CACHE`): preparing the same structures again (another role or margin, another
    trajectory, the next Prepare click) reuses them instead of rebuilding.
    """

    def __init__(self, mesh: pv.DataSet, grid_spacing: float | None = None,
                 padding: float = 12.0, progress: Progress = no_progress) -> None:
        progress(0.0, "Reading the surface")
        v, f = mesh_triangles(mesh)
        self.vertices, self.faces = v, f
        self.key = _content_key(v, f)
        cached = CACHE.geometry(self.key)
        if cached is None:
            progress(0.1, f"Building the search tree ({len(f):,} triangles)")
            tree = TriangleTree.build(v[f])
            progress(0.6, "Surface normals")
            normals = pseudo_normals(v, f)[tree.order]
            CACHE.put_geometry(self.key, (tree, normals))
        else:
            tree, normals = cached
        self.tree, self.normals = tree, normals
        self.n_triangles = len(f)
        self._spacing, self._padding = grid_spacing, padding
        self._grid: np.ndarray | None = None
        progress(1.0, "Surface ready")

    def signed_distance(self, points: np.ndarray,
                        max_distance: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Exact signed distance (+ outside, - inside) and closest surface points."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        q, t, feat = self.tree.closest(p, max_distance)
        return self.signed_from_closest(p, q, t, feat), q

    def signed_from_closest(self, p: np.ndarray, q: np.ndarray, t: np.ndarray,
                            feat: np.ndarray) -> np.ndarray:
        found = t >= 0
        d = np.full(len(p), np.nan)
        if found.any():
            diff = p[found] - q[found]
            dist = np.linalg.norm(diff, axis=1)
            side = np.einsum("ij,ij->i", diff, self.normals[t[found], feat[found]])
            d[found] = np.where(side < 0.0, -dist, dist)
        return d

    # -- the grid -------------------------------------------------------------------
    @property
    def grid(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(values (nx, ny, nz) float64, origin (3,), spacing): built on first use."""
        if self._grid is None:
            self.build_grid()
        return self._grid, self._grid_origin, self._grid_h

    def limit_to(self, lo: ArrayLike, hi: ArrayLike) -> None:
        """Build the grid only over the box lo..hi (e.g. around a planned trajectory).

        Points off the grid but inside the surface's bounding box then fall back to exact
        queries, so a small region costs speed far from it, never correctness.
        """
        self._region = (np.asarray(lo, float), np.asarray(hi, float))
        self._grid = None

    def _grid_layout(self) -> tuple[np.ndarray, float, np.ndarray]:
        lo = self.vertices.min(axis=0) - self._padding
        hi = self.vertices.max(axis=0) + self._padding
        region = getattr(self, "_region", None)
        if region is not None:
            lo, hi = np.maximum(lo, region[0]), np.minimum(hi, region[1])
            if np.any(hi <= lo):  # the region misses this surface: a token grid
                lo, hi = region[0], region[0] + 1.0
        extent = hi - lo
        h = self._spacing or max(0.6, float(np.cbrt(np.prod(extent) / 250_000.0)))
        while np.prod(np.ceil(extent / h) + 1) > MAX_GRID_NODES:
            h *= 1.2
        dims = (np.ceil(extent / h) + 1).astype(np.int64)
        return np.asarray(lo, float), float(h), dims

    def build_grid(self, progress: Progress = no_progress) -> None:
        """Build the distance grid now (it is otherwise built on first use)."""
        lo, h, dims = self._grid_layout()
        key = (self.key, tuple(np.round(lo, 9)), round(h, 12), tuple(int(d) for d in dims))
        grid = CACHE.grid(key)
        if grid is None:
            q, t, feat = self.grid_closest_points(lo, h, dims, progress)
            axes = [lo[k] + h * np.arange(dims[k]) for k in range(3)]
            nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
            d = self.signed_from_closest(nodes, q, t, feat)
            grid = np.ascontiguousarray(d.reshape(tuple(dims)))
            CACHE.put_grid(key, grid)
        self._grid, self._grid_origin, self._grid_h = grid, lo, h
        progress(1.0, "Distance grid ready")

    def grid_closest_points(self, lo: np.ndarray, h: float, dims: np.ndarray,
                            progress: Progress = no_progress,
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest surface points of all grid nodes.

        Nodes within a band of 2 cells are exact (triangle rasterisation). Farther nodes
        take the closest point of their nearest band node (a closest-point transform):
        an upper bound on their distance, exact wherever both share a closest point, and
        on the same side of the surface, since a path across it passes through the band.
        Progress is reported (and a cancel honoured) between blocks of triangles.
        """
        n = int(np.prod(dims))
        q, t, feat = np.empty((n, 3)), np.full(n, -1, np.int64), np.zeros(n, np.int64)
        d2 = np.full(n, np.inf)
        band = 2.0 * h
        tri = self.tree.tri
        m = len(tri)
        block = max(_BAND_BLOCK, m // 50)
        for t0 in range(0, m, block):
            progress(0.85 * t0 / m, f"Distance grid ({100 * t0 // m} % of the surface)")
            band_closest(lo, h, dims, band, tri, d2, q, t, feat, t0, min(t0 + block, m))
        in_band = d2 <= band * band
        if not in_band.any():  # the surface is nowhere near this grid: search the tree
            grid_closest(lo, h, dims, *self.tree.arrays(), q, t, feat)
            return q, t, feat
        progress(0.85, "Distance grid (far nodes)")
        _, idx = distance_transform_edt(~in_band.reshape(tuple(dims)), return_indices=True)
        src = np.ravel_multi_index(tuple(idx.reshape(3, -1)), tuple(dims))
        far = ~in_band
        q[far], t[far], feat[far] = q[src[far]], t[src[far]], feat[src[far]]
        return q, t, feat

    def signed_on_lattice(self, lo: np.ndarray, h: float, dims: np.ndarray) -> np.ndarray:
        """Exact signed distances at the nodes ``lo + h * (i, j, k)`` (x slowest, z fastest).

        Neighbouring nodes bound each other's search (distance is 1-Lipschitz), so a lattice
        costs a fraction of as many independent point queries.
        """
        dims = np.asarray(dims, dtype=np.int64)
        n = int(np.prod(dims))
        q, t, feat = np.empty((n, 3)), np.empty(n, np.int64), np.empty(n, np.int64)
        grid_closest(np.asarray(lo, float), float(h), dims, *self.tree.arrays(), q, t, feat)
        axes = [lo[k] + h * np.arange(dims[k]) for k in range(3)]
        nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        return self.signed_from_closest(nodes, q, t, feat)

    @property
    def grid_error(self) -> float:
        """|trilinear value - true signed distance| bound near the surface (a cell diagonal)."""
        return float(np.sqrt(3.0) * self.grid[2])

    def approx_signed(self, points: np.ndarray, outside_value: float = 1e6) -> np.ndarray:
        """Grid-interpolated signed distance. Off the grid: exact inside the surface's
        bounding box, else ``outside_value`` (certainly outside)."""
        g, origin, h = self.grid
        p = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
        out = np.empty(len(p))
        trilinear(g, origin, h, p, np.nan, out)
        off = np.isnan(out)
        if off.any():
            lo, hi = self.bounds
            inbox = off & np.all((p >= lo) & (p <= hi), axis=1)
            if inbox.any():
                out[inbox] = self.signed_distance(p[inbox])[0]
            out[off & ~inbox] = outside_value
        return out

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_bounds"):
            self._bounds = (self.vertices.min(axis=0), self.vertices.max(axis=0))
        return self._bounds

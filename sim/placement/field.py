"""A surface prepared for placement queries: BVH, signed distances and a distance grid.

Exact answers (clearance, closest points, the deepest point) come from the BVH; the
signed-distance grid answers "inside or outside, roughly how deep" for thousands of
sample points per pose in microseconds. Grid nodes within two cells of the surface hold
exact signed distances, so there a trilinear value is within one cell diagonal of the
truth (distance is 1-Lipschitz); deeper nodes hold closest-point-transform values (right
side, distance an upper bound), which only ever pick candidates for exact re-checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pyvista as pv
from scipy.ndimage import distance_transform_edt

from sim.errors import InputError
from sim.mesh.features import pseudo_normals
from sim.placement.bvh import TriangleTree, band_closest, grid_closest

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MAX_GRID_NODES = 1_500_000


def mesh_triangles(mesh: pv.DataSet) -> tuple[np.ndarray, np.ndarray]:
    """Welded vertices (n, 3) and non-degenerate triangles (m, 3) of any surface."""
    if not isinstance(mesh, pv.PolyData):
        mesh = mesh.extract_surface()
    if mesh.n_cells == 0 or mesh.faces.size == 0:
        raise InputError("The surface has no triangles.")
    if not mesh.is_all_triangles:
        mesh = mesh.triangulate()
    v = np.asarray(mesh.points, dtype=np.float64)
    f = np.asarray(mesh.faces.reshape(-1, 4)[:, 1:], dtype=np.int64)
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


@nb.njit(cache=True)
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
    """A closed triangle surface with exact signed-distance queries and a coarse grid."""

    def __init__(self, mesh: pv.DataSet, grid_spacing: float | None = None,
                 padding: float = 12.0) -> None:
        v, f = mesh_triangles(mesh)
        self.vertices, self.faces = v, f
        self.tree = TriangleTree.build(v[f])
        self.normals = pseudo_normals(v, f)[self.tree.order]
        self.n_triangles = len(f)
        self._spacing, self._padding = grid_spacing, padding
        self._grid: np.ndarray | None = None

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
            self._build_grid()
        return self._grid, self._grid_origin, self._grid_h

    def limit_to(self, lo: ArrayLike, hi: ArrayLike) -> None:
        """Build the grid only over the box lo..hi (e.g. around a planned trajectory).

        Points off the grid but inside the surface's bounding box then fall back to exact
        queries, so a small region costs speed far from it, never correctness.
        """
        self._region = (np.asarray(lo, float), np.asarray(hi, float))
        self._grid = None

    def _build_grid(self) -> None:
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
        dims = (np.ceil(extent / h) + 1).astype(int)
        axes = [lo[k] + h * np.arange(dims[k]) for k in range(3)]
        nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        q, t, feat = self.grid_closest_points(np.asarray(lo, float), float(h), dims.astype(np.int64))
        d = self.signed_from_closest(nodes, q, t, feat)
        self._grid = np.ascontiguousarray(d.reshape(tuple(dims)))
        self._grid_origin, self._grid_h = lo, float(h)

    def grid_closest_points(self, lo: np.ndarray, h: float,
                            dims: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest surface points of all grid nodes.

        Nodes within a band of 2 cells are exact (triangle rasterisation). Farther nodes
        take the closest point of their nearest band node (a closest-point transform):
        an upper bound on their distance, exact wherever both share a closest point, and
        on the same side of the surface, since a path across it passes through the band.
        """
        n = int(np.prod(dims))
        q, t, feat = np.empty((n, 3)), np.full(n, -1, np.int64), np.zeros(n, np.int64)
        d2 = np.full(n, np.inf)
        band = 2.0 * h
        band_closest(lo, h, dims, band, self.tree.tri, d2, q, t, feat)
        in_band = d2 <= band * band
        if not in_band.any():  # the surface is nowhere near this grid: search the tree
            grid_closest(lo, h, dims, *self.tree.arrays(), q, t, feat)
            return q, t, feat
        _, idx = distance_transform_edt(~in_band.reshape(tuple(dims)), return_indices=True)
        src = np.ravel_multi_index(tuple(idx.reshape(3, -1)), tuple(dims))
        far = ~in_band
        q[far], t[far], feat[far] = q[src[far]], t[src[far]], feat[src[far]]
        return q, t, feat

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

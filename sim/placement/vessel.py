"""Vessel measurement for stent sizing: a centre line between two points, cross-sections.

The centre line is the cheapest path through the vessel's interior voxels where a step
costs more the closer it runs to the wall (1 / depth^2), so the path keeps to the middle
of the lumen. Each station's diameter comes from the exact cross-section of the surface
with the plane normal to the path: area-equivalent diameter, plus minimum and maximum
calliper widths (an oval lumen has both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv
from scipy import sparse
from scipy.ndimage import uniform_filter1d
from scipy.sparse.csgraph import dijkstra

from sim.errors import InputError
from sim.placement.field import SurfaceField
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MAX_NODES = 1_200_000


@dataclass
class VesselProfile:
    """Diameters (mm) at stations along a vessel's centre line."""

    arclength: np.ndarray  # (n,) mm from the start
    centers: np.ndarray  # (n, 3)
    tangents: np.ndarray  # (n, 3)
    diameters: np.ndarray  # (n,) area-equivalent diameter
    min_diameters: np.ndarray  # (n,) smallest calliper width
    max_diameters: np.ndarray  # (n,) largest calliper width

    @property
    def length(self) -> float:
        return float(self.arclength[-1])

    def to_dict(self) -> dict:
        return {"length_mm": round(self.length, 3),
                "stations": [{"s_mm": round(float(s), 3), "center": [round(float(v), 3) for v in c],
                              "diameter_mm": round(float(d), 3), "min_mm": round(float(a), 3),
                              "max_mm": round(float(b), 3)}
                             for s, c, d, a, b in zip(self.arclength, self.centers, self.diameters,
                                                      self.min_diameters, self.max_diameters,
                                                      strict=True)]}


def centerline(field: SurfaceField, start: ArrayLike, end: ArrayLike,
               spacing: float | None = None) -> np.ndarray:
    """Points of a central path through the closed surface from ``start`` to ``end``."""
    lo, hi = field.bounds
    extent = hi - lo
    h = spacing or max(float(np.cbrt(np.prod(extent) / 300_000.0)), 0.05)
    while np.prod(np.ceil(extent / h) + 1) > MAX_NODES:
        h *= 1.2
    dims = (np.ceil(extent / h) + 1).astype(int)
    axes = [lo[k] + h * np.arange(dims[k]) for k in range(3)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    # Exact near the wall, closest-point transform deeper in: the 1/depth^2 weights only
    # need to rank central paths, and the sign (inside the lumen) is exact either way.
    q, t, feat = field.grid_closest_points(np.asarray(lo, float), float(h), dims.astype(np.int64))
    sd = field.signed_from_closest(nodes, q, t, feat)
    inside = np.flatnonzero(sd < 0)
    if len(inside) < 2:
        raise InputError("The vessel is too thin for its measuring grid; is the surface closed?")
    depth = -sd[inside]
    pos = -np.ones(len(nodes), np.int64)
    pos[inside] = np.arange(len(inside))
    ijk = np.stack(np.unravel_index(inside, tuple(dims)), axis=1)
    rows, cols, weights = [], [], []
    for d in np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij")).reshape(3, -1).T:
        if not d.any() or tuple(d) < (0, 0, 0):
            continue  # each undirected edge once
        nb = ijk + d
        ok = np.all((nb >= 0) & (nb < dims), axis=1)
        flat = np.ravel_multi_index(nb[ok].T, tuple(dims))
        other = pos[flat]
        keep = other >= 0
        a, b = np.flatnonzero(ok)[keep], other[keep]
        step = h * float(np.linalg.norm(d))
        rows.append(a)
        cols.append(b)
        weights.append(step * 0.5 * (1.0 / depth[a] ** 2 + 1.0 / depth[b] ** 2))
    graph = sparse.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(len(inside), len(inside))).tocsr()
    pts = nodes[inside]

    def snap(p, what: str) -> int:
        p = np.asarray(p, float).reshape(3)
        if not np.isfinite(p).all():
            raise InputError(f"The {what} point must be finite.")
        k = int(np.argmin(np.linalg.norm(pts - p, axis=1)))
        if np.linalg.norm(pts[k] - p) > 3.0 * h + 2.0:
            raise InputError(f"The {what} point {np.round(p, 2).tolist()} is not in the vessel.")
        return k

    a, b = snap(start, "start"), snap(end, "end")
    dist, pred = dijkstra(graph, directed=False, indices=a, return_predecessors=True)
    if not np.isfinite(dist[b]):
        raise InputError("The start and end points are not connected through the vessel.")
    path = [b]
    while path[-1] != a:
        path.append(pred[path[-1]])
    return pts[np.array(path[::-1])]


def _resample(path: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Smooth the voxel path (about 2 mm window) and resample it every ``step`` mm."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(seg)]
    if s[-1] <= 0:
        raise InputError("The start and end points are the same place in the vessel.")
    dense = np.arange(0.0, s[-1] + 1e-9, min(step, 0.25))
    p = np.stack([np.interp(dense, s, path[:, k]) for k in range(3)], axis=1)
    win = max(int(round(2.0 / min(step, 0.25))), 1)
    p = uniform_filter1d(p, size=win, axis=0, mode="nearest")
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(seg)]
    n = max(int(np.floor(s[-1] / step)), 1)
    out_s = np.linspace(0.0, s[-1], n + 1)
    pts = np.stack([np.interp(out_s, s, p[:, k]) for k in range(3)], axis=1)
    tan = np.gradient(pts, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1)[:, None], 1e-12)
    return out_s, pts, tan


def cross_section(mesh: pv.PolyData, center: np.ndarray,
                  normal: np.ndarray) -> tuple[float, float, float]:
    """Area-equivalent, min and max calliper diameter of the lumen loop around ``center``."""
    cut = mesh.slice(normal=normal, origin=center)
    if cut.n_points < 3:
        return np.nan, np.nan, np.nan
    conn = cut.connectivity()
    region = np.asarray(conn.point_data["RegionId"])
    pts = np.asarray(conn.points)
    closest = region[int(np.argmin(np.linalg.norm(pts - center, axis=1)))]
    lines = conn.lines.reshape(-1, 3)[:, 1:]
    lines = lines[region[lines[:, 0]] == closest]
    a, b = pts[lines[:, 0]] - center, pts[lines[:, 1]] - center
    # Fan from the centre: exact polygon area for a loop that is star-shaped about it.
    area = 0.5 * float(np.abs(np.cross(a, b) @ normal).sum())
    loop = pts[region == closest] - center
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    xy = np.c_[loop @ u, loop @ v]
    ang = np.radians(np.arange(0.0, 180.0, 2.0))
    widths = np.ptp(xy @ np.c_[np.cos(ang), np.sin(ang)].T, axis=0)
    return 2.0 * np.sqrt(area / np.pi), float(widths.min()), float(widths.max())


def vessel_profile(mesh: pv.DataSet, start: ArrayLike, end: ArrayLike, step: float = 1.0,
                   field: SurfaceField | None = None,
                   progress: Progress = no_progress) -> VesselProfile:
    """Diameters along the vessel between two points inside it (``step`` mm apart)."""
    if not np.isfinite(step) or step <= 0:
        raise InputError("The measuring step must be a positive number of mm.")
    surf = mesh if isinstance(mesh, pv.PolyData) else mesh.extract_surface(algorithm=None)
    field = field or SurfaceField(surf)
    progress(0.05, "Tracing the centre line")
    path = centerline(field, start, end)
    s, pts, tan = _resample(path, step)
    progress(0.5, "Measuring cross-sections")
    d = np.empty((len(s), 3))
    for i, (c, t) in enumerate(zip(pts, tan, strict=True)):
        d[i] = cross_section(surf, c, t)
    progress(1.0, "Vessel measured")
    return VesselProfile(s, pts, tan, d[:, 0], d[:, 1], d[:, 2])

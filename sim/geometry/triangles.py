"""The triangles of any surface dataset, as the distance engines take them."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.errors import InputError


def surface_triangles(mesh: pv.DataSet, empty: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) float64 and triangles (m, 3) int64 of ``mesh``'s surface (volumes give
    their outer surface, polygons are triangulated); InputError ``empty`` when there are none."""
    if not isinstance(mesh, pv.PolyData):
        mesh = mesh.extract_surface()
    if mesh.n_cells == 0 or mesh.faces.size == 0:
        raise InputError(empty)
    if not mesh.is_all_triangles:
        mesh = mesh.triangulate()
    faces = mesh.faces.reshape(-1, 4)[:, 1:]
    return np.asarray(mesh.points, dtype=np.float64), np.ascontiguousarray(faces, dtype=np.int64)


def points_on_triangles(tri: np.ndarray, n: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform by area on the triangles ``tri`` (m, 3, 3): the index of each
    point's triangle and the point (a random triangle by area, then a uniform point in it)."""
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    idx = rng.choice(len(tri), size=n, p=area / area.sum())
    u, w = rng.random(n), rng.random(n)
    flip = u + w > 1.0  # the far half of the parallelogram folds back into the triangle
    u[flip], w[flip] = 1.0 - u[flip], 1.0 - w[flip]
    t = tri[idx]
    return idx, t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + w[:, None] * (t[:, 2] - t[:, 0])

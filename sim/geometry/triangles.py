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

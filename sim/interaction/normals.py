"""Per-vertex normals of a moving triangle surface, recomputed every frame (vectorised).

Smooth shading needs vertex normals; computing them through a VTK filter at add time
(``smooth_shading=True``) would render a *copy* whose points no longer follow the simulation.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
import scipy.sparse as sp


def triangles(surface: pv.PolyData) -> np.ndarray:
    faces = np.asarray(surface.faces)
    return faces.reshape(-1, 4)[:, 1:] if surface.is_all_triangles else \
        np.asarray(surface.triangulate().faces).reshape(-1, 4)[:, 1:]


class SurfaceNormals:
    """Area-weighted unit vertex normals of a fixed triangulation (sparse sum: ~1 ms / 10k)."""

    def __init__(self, tris: np.ndarray, n_points: int) -> None:
        self.tris = np.asarray(tris, dtype=np.int64)
        rows = self.tris.ravel()
        cols = np.repeat(np.arange(len(self.tris)), 3)
        self.incidence = sp.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                       shape=(n_points, len(self.tris)))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        t = self.tris
        a, b, c = points[t[:, 0]], points[t[:, 1]], points[t[:, 2]]
        out = self.incidence @ np.cross(b - a, c - a)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norm > 0, norm, 1.0)

    def apply(self, surface: pv.PolyData, points: np.ndarray) -> None:
        """Move ``surface`` in place and refresh its normals (what a renderer shows)."""
        surface.points = points
        surface.point_data["Normals"] = self(np.asarray(points, dtype=float))
        surface.point_data.active_normals_name = "Normals"

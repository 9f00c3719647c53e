"""Where a mesh's defects are, as geometry to draw on it: open (boundary) edges, edges shared
by more than two faces, degenerate and duplicate faces. :mod:`sim.io.mesh_check` counts
them; this module locates them (same merging of equal positions, so the two agree)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv

from sim.io.mesh_check import degenerate_mask, duplicate_mask, merge_duplicate_points, triangles_of
from sim.mesh.edges import edge_counts

# What each finding is called and drawn in (the GUI legend uses the same).
COLORS = {"open edges": "#ff3b30", "non-manifold edges": "#ff2bd6",
          "degenerate faces": "#ffd60a", "duplicate faces": "#30d5ff"}


@dataclass
class Finding:
    name: str
    count: int
    geometry: pv.PolyData  # lines for edges, points (face centroids) for faces

    @property
    def color(self) -> str:
        return COLORS[self.name]


def _lines(points: np.ndarray, edges: np.ndarray) -> pv.PolyData:
    if not len(edges):
        return pv.PolyData()
    used, inverse = np.unique(edges, return_inverse=True)
    lines = np.hstack([np.full((len(edges), 1), 2), inverse.reshape(-1, 2)]).ravel()
    return pv.PolyData(points[used], lines=lines)


def locate_defects(data: pv.DataSet) -> list[Finding]:
    """The mesh's located defects (those with a count above zero), in ``data``'s frame."""
    points, faces = triangles_of(data)
    points, faces = merge_duplicate_points(points, faces)
    out: list[Finding] = []
    if not len(faces):
        return out
    uniq, counts = edge_counts(faces)
    for name, mask in (("open edges", counts == 1), ("non-manifold edges", counts > 2)):
        if mask.any():
            out.append(Finding(name, int(mask.sum()), _lines(points, uniq[mask])))
    centroids = points[faces].mean(axis=1)
    for name, mask in (("degenerate faces", degenerate_mask(points, faces)),
                       ("duplicate faces", duplicate_mask(faces))):
        if mask.any():
            out.append(Finding(name, int(mask.sum()), pv.PolyData(centroids[mask])))
    return out

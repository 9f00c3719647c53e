"""Barycentric embedding: a coarse simulation mesh drives a finer visual surface (SOFA mapping).

Each visual vertex is located once in the element that contains it (or the nearest one, for
vertices slightly outside the simulation mesh) and keeps its reference coordinates there; any
nodal field (displacement, von Mises ...) is then mapped by the element's shape functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv
import scipy.sparse as sp

from sim.fem.elements import shape_functions
from sim.mesh.tetmesh import TetMesh


@dataclass
class Embedding:
    """A sparse (n_visual, n_sim_nodes) interpolation matrix and how far outside vertices were."""

    matrix: sp.csr_matrix
    outside_distance: np.ndarray  # mm from each visual vertex to its host element (0 inside)

    def map(self, nodal: np.ndarray) -> np.ndarray:
        """A nodal field (n_sim, ...) sampled at the visual vertices (n_visual, ...)."""
        flat = nodal.reshape(nodal.shape[0], -1)
        return (self.matrix @ flat).reshape((self.matrix.shape[0],) + nodal.shape[1:])

    def deform(self, surface: pv.PolyData, displacement: np.ndarray) -> pv.PolyData:
        """A copy of ``surface`` moved by the simulation's nodal displacement (n_sim, 3)."""
        out = surface.copy()
        out.points = np.asarray(surface.points) + self.map(displacement)
        return out


def embed(mesh: TetMesh, points: np.ndarray) -> Embedding:
    """Locate ``points`` (k, 3) in ``mesh`` and build the interpolation matrix."""
    pts = np.asarray(points, dtype=float)
    linear = mesh.with_order(1) if mesh.order == 2 else mesh
    grid = linear.to_pyvista()
    cell, closest = grid.find_closest_cell(pts, return_closest_point=True)
    cell = np.asarray(cell, dtype=np.int64).reshape(-1)
    corners = mesh.points[mesh.cells[cell, :4]]
    T = (corners[:, 1:] - corners[:, :1]).transpose(0, 2, 1)
    xi = np.linalg.solve(T, (pts - corners[:, 0])[:, :, None])[:, :, 0]
    bary = np.column_stack([1 - xi.sum(axis=1), xi])
    # Outside points keep their (extrapolating) coordinates only a little way: clamp, so a
    # vertex far from the body follows the nearest element rigidly instead of amplifying it.
    bary = np.clip(bary, -0.25, None)
    bary /= bary.sum(axis=1, keepdims=True)
    N, _ = shape_functions(mesh.order, bary[:, 1:])
    nn = mesh.cells.shape[1]
    rows = np.repeat(np.arange(len(pts)), nn)
    matrix = sp.csr_matrix((N.ravel(), (rows, mesh.cells[cell].ravel())),
                           shape=(len(pts), mesh.n_nodes))
    dist = np.linalg.norm(pts - np.asarray(closest), axis=1)
    return Embedding(matrix, dist)

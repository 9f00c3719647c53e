"""Faces of a part as a CAD user sees them: the smooth patch of a triangle surface around a
picked point, bounded by edges sharper than a feature angle.

A patch is defined by geometry (seed point + angle), not by triangle ids, so the same
selection finds the same face on the picked surface, on the tetrahedral mesh's boundary
and on a finer remesh: what the GUI shows is what ``twinsight fem solve`` loads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from sim.errors import InputError

DEFAULT_ANGLE = 30.0  # degrees: a box's 90-degree edges bound its faces, a fine cylinder's don't


def _normals(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = (points[tris[:, k]] for k in range(3))
    n = np.cross(b - a, c - a)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(length > 0, length, 1.0)


def patch_labels(points: np.ndarray, tris: np.ndarray, angle: float = DEFAULT_ANGLE) -> np.ndarray:
    """A patch number per triangle: neighbours across an edge share one when their normals
    differ by less than ``angle`` degrees (orientation-independent)."""
    tris = np.asarray(tris, dtype=np.int64)[:, :3]
    k = len(tris)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.sort(tris[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    owner = np.repeat(np.arange(k), 3)
    _, inverse = np.unique(edges, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    inv_sorted, own_sorted = inverse[order], owner[order]
    same = inv_sorted[1:] == inv_sorted[:-1]  # consecutive sharers of one edge
    a, b = own_sorted[:-1][same], own_sorted[1:][same]
    n = _normals(np.asarray(points, float), tris)
    smooth = np.abs(np.einsum("ij,ij->i", n[a], n[b])) >= np.cos(np.radians(float(angle)))
    graph = sp.coo_matrix((np.ones(int(smooth.sum())), (a[smooth], b[smooth])), shape=(k, k))
    _, labels = connected_components(graph, directed=False)
    return labels


def nearest_triangles(points: np.ndarray, tris: np.ndarray,
                      seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The triangle closest to each seed point and the seed's distance to it (mm)."""
    tris = np.asarray(tris, dtype=np.int64)[:, :3]
    poly = pv.PolyData(np.asarray(points, float),
                       np.hstack([np.full((len(tris), 1), 3), tris]).ravel())
    seeds = np.atleast_2d(np.asarray(seeds, float))
    ids, closest = poly.find_closest_cell(seeds, return_closest_point=True)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    return ids, np.linalg.norm(np.asarray(closest).reshape(-1, 3) - seeds, axis=1)


def patch_mask(points: np.ndarray, tris: np.ndarray, seeds: Any, angle: float = DEFAULT_ANGLE,
               max_distance: float | None = None) -> np.ndarray:
    """Triangles in the patches picked by ``seeds`` (points in mm, one patch each).

    A seed farther than ``max_distance`` from the surface picks nothing (a pick made on
    another object, or a spec that does not belong to this mesh), which is bad input.
    """
    seeds = np.asarray(seeds, dtype=float).reshape(-1, 3)
    if not len(seeds) or not np.isfinite(seeds).all():
        raise InputError("A patch selection needs at least one seed point [x, y, z] in mm.")
    tris = np.asarray(tris, dtype=np.int64)[:, :3]
    labels = patch_labels(points, tris, angle)
    nearest, distance = nearest_triangles(points, tris, seeds)
    if max_distance is not None:
        far = distance > max_distance
        if far.any():
            p = seeds[np.flatnonzero(far)[0]]
            raise InputError(f"Seed point [{p[0]:.4g}, {p[1]:.4g}, {p[2]:.4g}] mm is not on the "
                             "surface of the mesh.")
    return np.isin(labels, labels[nearest])


"""Turning raw vertex/face arrays into validated PyVista meshes (shared by the mesh readers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from sim.errors import FileFormatError

DEFAULT_COLOR = (0.85, 0.75, 0.55)


def triangles_to_polydata(path: Path, vertices: np.ndarray, faces: np.ndarray,
                          scale: float = 1.0) -> pv.PolyData:
    """A triangle mesh from (n,3) vertices and (m,3) vertex indices, checked for sanity."""
    vertices = np.asarray(vertices, dtype=np.float64 if vertices.dtype == np.float64 else np.float32)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise FileFormatError(path, "it contains no vertices")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise FileFormatError(path, "it contains no triangles")
    if not np.isfinite(vertices).all():
        raise FileFormatError(path, "it contains non-finite coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise FileFormatError(path, "a face refers to a vertex that does not exist")
    if scale != 1.0:
        vertices = vertices * scale
    return pv.PolyData.from_regular_faces(vertices, faces)


def polygons_to_polydata(path: Path, vertices: np.ndarray, polygons: list[list[int]],
                         scale: float = 1.0) -> pv.PolyData:
    """A polygon mesh (faces of any size >= 3), triangulated."""
    tris: list[tuple[int, int, int]] = []
    for poly in polygons:
        if len(poly) < 3:
            raise FileFormatError(path, "a face has fewer than three vertices")
        tris.extend((poly[0], poly[i], poly[i + 1]) for i in range(1, len(poly) - 1))
    return triangles_to_polydata(path, vertices, np.asarray(tris, dtype=np.int64).reshape(-1, 3),
                                 scale)


def merge_vertices(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact duplicate-vertex merge: (unique vertices, index of each input vertex).

    Triangle soups (STL) repeat every shared vertex. Hashing the three float bit
    patterns into one uint64 and sorting that is several times faster than a
    row-wise unique; a collision check falls back to the exact row-wise unique.
    """
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    v = v + np.float32(0.0)  # turns -0.0 into 0.0 so equal coordinates hash equally
    bits = v.view(np.uint32).astype(np.uint64)
    key = (bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ (bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F)) \
        ^ (bits[:, 2] * np.uint64(0x165667B19E3779F9))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    unique = v[first]
    if not np.array_equal(unique[inverse], v):  # a hash collision: use the exact method
        unique, inverse = np.unique(v, axis=0, return_inverse=True)
    return unique, inverse.ravel()

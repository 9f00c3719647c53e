"""Mesh quality report: watertightness, manifold edges, self-intersections, degenerate and
duplicate faces, winding consistency, connected components, volume and area.

Vertices at exactly the same position are merged before anything is counted (OBJ, PLY and
glTF files repeat a position wherever its normal or texture coordinate changes; STL
readers merge them), so the topology does not depend on the file format; the report says
how many were merged (``merged_vertices``). Vertices that are distinct but closer
than ``WELD_TOLERANCE`` of the size (STL exporters leave 1e-20 mm of noise on coordinates
that should be equal) are counted as ``coincident_vertices``: they leave slit-like "holes"
that ``mesh repair`` closes by welding them.

Edge topology is counted with numpy over all faces at once; self-intersections
use a k-d tree of triangle bounding spheres to find candidate pairs, then a
vectorised segment-triangle test, instead of testing every pair of triangles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyvista as pv
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sim.mesh.edges import edge_counts
from sim.progress import Progress, no_progress

WELD_TOLERANCE = 1e-7  # near-coincident vertices: closer than this fraction of the diagonal
SELF_INTERSECTION_LIMIT = 300_000  # triangles; above this the (slow) test is skipped and said so
_EPS = 1e-9


@dataclass
class MeshReport:
    triangles: int
    vertices: int
    watertight: bool
    boundary_edges: int
    non_manifold_edges: int
    degenerate_faces: int
    duplicate_faces: int
    inconsistent_edges: int  # edges whose two faces disagree about the winding
    components: int
    area_mm2: float
    volume_mm3: float | None  # only meaningful for a closed, consistently wound surface
    inverted: bool  # closed surface whose normals point inwards
    self_intersections: int | None  # triangle pairs; None when the mesh is too large to test
    coincident_vertices: int = 0  # distinct vertices within WELD_TOLERANCE of another one
    merged_vertices: int = 0  # stored vertices at exactly the position of an earlier one

    @property
    def ok(self) -> bool:
        return (self.watertight and self.non_manifold_edges == 0 and self.degenerate_faces == 0
                and self.duplicate_faces == 0 and self.inconsistent_edges == 0
                and not self.inverted and not self.self_intersections)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def defects(self) -> dict[str, int | None]:
        """The defect counts :func:`worse_defects` compares (lower is better)."""
        return {"boundary_edges": self.boundary_edges,
                "non_manifold_edges": self.non_manifold_edges,
                "degenerate_faces": self.degenerate_faces,
                "duplicate_faces": self.duplicate_faces,
                "inconsistent_edges": self.inconsistent_edges,
                "inverted": int(self.inverted),
                "self_intersections": self.self_intersections,
                "coincident_vertices": self.coincident_vertices}


DEFECT_NAMES = {
    "boundary_edges": "open boundary edges",
    "non_manifold_edges": "non-manifold edges",
    "degenerate_faces": "degenerate faces",
    "duplicate_faces": "duplicate faces",
    "inconsistent_edges": "edges with inconsistent winding",
    "inverted": "inward-pointing closed surface",
    "self_intersections": "self-intersecting triangle pairs",
    "coincident_vertices": "near-coincident vertices",
}


def worse_defects(before: MeshReport, after: MeshReport) -> dict[str, tuple[int, int]]:
    """Defects whose count grew from ``before`` to ``after``: {name: (before, after)}.
    A count that could not be measured on either side (None) is not compared."""
    a, b = before.defects(), after.defects()
    return {k: (a[k], b[k]) for k in a
            if a[k] is not None and b[k] is not None and b[k] > a[k]}


def near_coincident(points: np.ndarray, tolerance: float | None = None) -> np.ndarray:
    """For each vertex, the index of the vertex it welds onto: the lowest index among the
    vertices connected to it by chains of distances <= ``tolerance`` (default
    WELD_TOLERANCE x the bounding-box diagonal). Exact duplicates weld too."""
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if tolerance is None:
        tolerance = WELD_TOLERANCE * float(np.linalg.norm(np.ptp(points, axis=0)))
    pairs = cKDTree(points).query_pairs(max(float(tolerance), 0.0), output_type="ndarray")
    if not len(pairs):
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    return first[labels]


def triangles_of(data: pv.DataSet) -> tuple[np.ndarray, np.ndarray]:
    """(points, (m,3) faces) of a dataset's triangulated surface."""
    surf = data if isinstance(data, pv.PolyData) else data.extract_surface()
    surf = surf.triangulate()
    faces = surf.faces.reshape(-1, 4)[:, 1:] if surf.n_cells else np.zeros((0, 3), np.int64)
    return np.asarray(surf.points, dtype=np.float64), np.asarray(faces, dtype=np.int64)


def merge_duplicate_points(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique points, faces re-indexed onto them): exactly equal positions become one vertex
    (-0.0 and 0.0 count as equal). Per-vertex attributes are not consulted."""
    if not len(points):
        return points, faces
    uniq, inverse = np.unique(points + 0.0, axis=0, return_inverse=True)
    if len(uniq) == len(points):
        return points, faces
    return uniq, inverse.reshape(-1)[faces]


def _edge_stats(faces: np.ndarray) -> tuple[int, int, int]:
    """(boundary edges, non-manifold edges, inconsistently wound edges)."""
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    _, counts, inverse = edge_counts(faces, inverse=True)
    boundary = int((counts == 1).sum())
    non_manifold = int((counts > 2).sum())
    # Consistent winding: the two faces of a manifold edge traverse it in opposite directions.
    forward = directed[:, 0] < directed[:, 1]
    same_dir = np.bincount(inverse.ravel(), weights=forward, minlength=len(counts))
    manifold = counts == 2
    inconsistent = int((manifold & (same_dir != 1)).sum())
    return boundary, non_manifold, inconsistent


def _components(n_points: int, faces: np.ndarray) -> int:
    if not len(faces):
        return 0
    rows = np.repeat(faces[:, 0], 2)
    cols = faces[:, 1:].ravel()
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_points, n_points))
    _, labels = connected_components(graph, directed=False)
    return int(len(np.unique(labels[np.unique(faces)])))


def face_areas(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def degenerate_mask(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces with a repeated vertex or (relative to the mesh's size) no area."""
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    scale = float(np.ptp(points, axis=0).max()) if len(points) else 1.0
    return repeated | (face_areas(points, faces) <= _EPS * scale * scale)


def duplicate_mask(faces: np.ndarray) -> np.ndarray:
    """Faces whose vertex set already appeared earlier (the first copy is not marked)."""
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    mask = np.ones(len(faces), dtype=bool)
    mask[first] = False
    return mask


def _segments_cross(p0, p1, a, b, c) -> np.ndarray:
    """Vectorised Moller-Trumbore: does segment p0-p1 pass through the inside of triangle abc?"""
    d, e1, e2 = p1 - p0, b - a, c - a
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    scale = np.linalg.norm(d, axis=1) * np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1)
    valid = np.abs(det) > 1e-12 * np.maximum(scale, 1e-300)  # coplanar pairs are not counted
    inv = np.where(valid, 1.0 / np.where(valid, det, 1.0), 0.0)
    s = p0 - a
    u = inv * np.einsum("ij,ij->i", s, h)
    q = np.cross(s, e1)
    v = inv * np.einsum("ij,ij->i", d, q)
    t = inv * np.einsum("ij,ij->i", e2, q)
    eps = 1e-9
    return valid & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & (t > eps) & (t < 1 - eps)


def _candidate_pairs(points: np.ndarray, faces: np.ndarray, budget: int) -> np.ndarray | None:
    """Triangle pairs whose bounding spheres overlap (None if there are more than ``budget``)."""
    tri = points[faces]
    centres = tri.mean(axis=1)
    radii = np.linalg.norm(tri - centres[:, None, :], axis=2).max(axis=1)
    tree = cKDTree(centres)
    # Two spheres overlap only if the centres are within 2x the larger radius, so each
    # pair is found by querying around its larger triangle.
    counts = tree.query_ball_point(centres, r=2 * radii, return_length=True)
    if int(counts.sum()) > budget:
        return None
    neighbours = tree.query_ball_point(centres, r=2 * radii)
    i = np.repeat(np.arange(len(faces)), counts)
    j = np.fromiter((k for group in neighbours for k in group), dtype=np.int64, count=len(i))
    larger = (radii[i] > radii[j]) | ((radii[i] == radii[j]) & (i < j))
    i, j = i[larger], j[larger]
    close = np.linalg.norm(centres[i] - centres[j], axis=1) <= radii[i] + radii[j]
    i, j = i[close], j[close]
    shared = (faces[i][:, :, None] == faces[j][:, None, :]).any(axis=(1, 2))
    return np.stack([i[~shared], j[~shared]], axis=1)


def self_intersections(points: np.ndarray, faces: np.ndarray, progress: Progress = no_progress,
                       budget: int = 50_000_000) -> int | None:
    """Number of crossing triangle pairs (pairs sharing a vertex do not count); None if the
    broad phase finds more candidate pairs than ``budget`` (too costly to test)."""
    pairs = _candidate_pairs(points, faces, budget)
    if pairs is None:
        return None
    found = 0
    chunk = 200_000
    for start in range(0, len(pairs), chunk):
        progress(start / max(len(pairs), 1), "Testing self-intersections")
        i, j = pairs[start:start + chunk].T
        A, B = points[faces[i]], points[faces[j]]
        hit = np.zeros(len(i), dtype=bool)
        for tri_a, tri_b in ((A, B), (B, A)):  # an edge of one crosses the other
            for k in range(3):
                hit |= _segments_cross(tri_a[:, k], tri_a[:, (k + 1) % 3],
                                       tri_b[:, 0], tri_b[:, 1], tri_b[:, 2])
        found += int(hit.sum())
    return found


def check_mesh(data: pv.DataSet, progress: Progress = no_progress) -> MeshReport:
    """Inspect the triangulated surface of ``data`` (mm)."""
    points, faces = triangles_of(data)
    stored = len(points)
    points, faces = merge_duplicate_points(points, faces)
    progress(0.05, "Counting edges")
    boundary, non_manifold, inconsistent = _edge_stats(faces) if len(faces) else (0, 0, 0)
    watertight = len(faces) > 0 and boundary == 0 and non_manifold == 0
    area = float(face_areas(points, faces).sum()) if len(faces) else 0.0
    volume = None
    inverted = False
    if watertight and inconsistent == 0:
        a, b, c = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
        signed = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)
        inverted = signed < 0
        volume = abs(signed)
    used = np.unique(faces) if len(faces) else np.zeros(0, dtype=np.int64)
    welded = near_coincident(points[used])
    coincident = int((welded != np.arange(len(used))).sum())
    progress(0.2, "Finding components")
    components = _components(len(points), faces)
    si = None
    if 0 < len(faces) <= SELF_INTERSECTION_LIMIT:
        si = self_intersections(points, faces, lambda f, m: progress(0.2 + 0.8 * f, m))
    progress(1.0, "Mesh checked")
    return MeshReport(
        triangles=len(faces), vertices=stored, watertight=watertight,
        boundary_edges=boundary, non_manifold_edges=non_manifold,
        degenerate_faces=int(degenerate_mask(points, faces).sum()) if len(faces) else 0,
        duplicate_faces=int(duplicate_mask(faces).sum()) if len(faces) else 0,
        inconsistent_edges=inconsistent, components=components, area_mm2=area,
        volume_mm3=volume, inverted=inverted, self_intersections=si,
        coincident_vertices=coincident, merged_vertices=stored - len(points))

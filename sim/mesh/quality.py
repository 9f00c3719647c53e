"""Tetrahedral mesh quality: dihedral angles, aspect ratio, volumes (vectorised over elements)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.mesh.tetmesh import TetMesh

_EDGE_PAIRS = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
# For edge (i, j), the two faces meeting there are those opposite the other two vertices.
_OPPOSITE = np.array([[2, 3], [1, 3], [1, 2], [0, 3], [0, 2], [0, 1]])


def dihedral_angles(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The six dihedral angles (degrees) of each tetrahedron, shape (m, 6)."""
    x = points[cells[:, :4]]  # (m, 4, 3)
    # Inward face normals: the face opposite vertex k has normal pointing towards vertex k.
    normals = []
    for k in range(4):
        o = [i for i in range(4) if i != k]
        n = np.cross(x[:, o[1]] - x[:, o[0]], x[:, o[2]] - x[:, o[0]])
        side = np.einsum("ij,ij->i", n, x[:, k] - x[:, o[0]])
        n *= np.sign(side)[:, None]
        normals.append(n / np.linalg.norm(n, axis=1, keepdims=True))
    nrm = np.stack(normals, axis=1)  # (m, 4, 3)
    cos = -np.einsum("mij,mij->mi", nrm[:, _OPPOSITE[:, 0]], nrm[:, _OPPOSITE[:, 1]])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def aspect_ratios(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Normalised radius ratio R / (3 r): 1 for a regular tetrahedron, large for slivers."""
    x = points[cells[:, :4]]
    a, b, c = (x[:, k] - x[:, 0] for k in (1, 2, 3))
    vol = np.abs(np.einsum("ij,ij->i", a, np.cross(b, c))) / 6.0
    area = np.zeros(len(x))
    for k in range(4):
        o = [i for i in range(4) if i != k]
        area += 0.5 * np.linalg.norm(np.cross(x[:, o[1]] - x[:, o[0]], x[:, o[2]] - x[:, o[0]]),
                                     axis=1)
    inradius = 3.0 * vol / area
    # Circumradius: |a^2 (b x c) + b^2 (c x a) + c^2 (a x b)| / (12 V).
    num = (np.einsum("ij,ij->i", a, a)[:, None] * np.cross(b, c)
           + np.einsum("ij,ij->i", b, b)[:, None] * np.cross(c, a)
           + np.einsum("ij,ij->i", c, c)[:, None] * np.cross(a, b))
    circum = np.linalg.norm(num, axis=1) / (12.0 * np.maximum(vol, 1e-300))
    return circum / (3.0 * inradius)


def quality_report(mesh: TetMesh) -> dict[str, float]:
    """Summary figures a user can judge a mesh by (angles in degrees, lengths in mm)."""
    ang = dihedral_angles(mesh.points, mesh.cells)
    ar = aspect_ratios(mesh.points, mesh.cells)
    vol = mesh.volumes
    edges = mesh.points[mesh.cells[:, _EDGE_PAIRS[:, 0]]] - mesh.points[mesh.cells[:, _EDGE_PAIRS[:, 1]]]
    length = np.linalg.norm(edges, axis=2)
    return {
        "nodes": int(mesh.n_nodes),
        "elements": int(mesh.n_elements),
        "order": int(mesh.order),
        "min_dihedral_deg": float(ang.min()),
        "max_dihedral_deg": float(ang.max()),
        "max_aspect_ratio": float(ar.max()),
        "mean_aspect_ratio": float(ar.mean()),
        "min_volume_mm3": float(vol.min()),
        "max_volume_mm3": float(vol.max()),
        "total_volume_mm3": float(vol.sum()),
        "mean_edge_mm": float(length.mean()),
    }

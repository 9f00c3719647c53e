"""Triangle features and their angle-weighted pseudo-normals (Baerentzen & Aanaes 2005).

The closest point of a triangle mesh to a query lies on a face, a vertex or an edge of some
triangle; the sign of (query - closest) . pseudo-normal of that feature is then exactly
inside/outside for a closed mesh. Shared by clearance (sim.placement) and deviation
(sim.inspection).
"""

from __future__ import annotations

import numpy as np

# Which feature of a triangle the closest point lies on.
FACE, VERT_A, VERT_B, VERT_C, EDGE_AB, EDGE_BC, EDGE_CA = range(7)


def edge_ids(n_vertices: int, f: np.ndarray) -> np.ndarray:
    """(3m,) index of the undirected edge of each triangle side (AB sides, then BC, then CA):
    topology only, so a deforming surface computes it once."""
    pairs = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, edge_id = np.unique(pairs[:, 0] * np.int64(n_vertices) + pairs[:, 1], return_inverse=True)
    return edge_id.reshape(-1)


def pseudo_normals(v: np.ndarray, f: np.ndarray, edges: np.ndarray | None = None) -> np.ndarray:
    """(m, 7, 3) pseudo-normal of each feature of each triangle (face, 3 vertices, 3 edges);
    ``edges``: :func:`edge_ids` of ``f``, when known."""
    cr = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    fn = cr / np.linalg.norm(cr, axis=1)[:, None]
    m = len(f)
    out = np.empty((m, 7, 3))
    out[:, FACE] = fn
    # Vertex normals weighted by the incident angle of each face.
    vn = np.zeros_like(v, dtype=float)
    for k in range(3):
        e1 = v[f[:, (k + 1) % 3]] - v[f[:, k]]
        e2 = v[f[:, (k + 2) % 3]] - v[f[:, k]]
        cosang = np.einsum("ij,ij->i", e1, e2) / np.maximum(
            np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1), 1e-300)
        w = fn * np.arccos(np.clip(cosang, -1.0, 1.0))[:, None]
        for c in range(3):  # bincount: an order of magnitude faster than np.add.at
            vn[:, c] += np.bincount(f[:, k], weights=w[:, c], minlength=len(v))
    for k, feat in enumerate((VERT_A, VERT_B, VERT_C)):
        out[:, feat] = vn[f[:, k]]
    # Edge normals: the sum of the normals of the faces sharing the edge.
    edge_id = edge_ids(len(v), f) if edges is None else edges
    n_edges = int(edge_id.max()) + 1
    tiled = np.tile(fn, (3, 1))
    en = np.stack([np.bincount(edge_id, weights=tiled[:, c], minlength=n_edges)
                   for c in range(3)], axis=1)
    for k, feat in enumerate((EDGE_AB, EDGE_BC, EDGE_CA)):
        out[:, feat] = en[edge_id[k * m:(k + 1) * m]]
    return out

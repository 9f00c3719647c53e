"""Fast sparse assembly: the CSR pattern of a mesh is built once, then element matrices scatter
into it with one ``bincount`` (no COO sort per assembly, no Python loop over elements).

Degree of freedom ``3 * node + component``; element dofs ordered ``3 * local_node + component``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sim.mesh.tetmesh import TetMesh


@dataclass
class Pattern:
    """CSR structure of the global matrix and, per element entry, its slot in ``data``."""

    indptr: np.ndarray
    indices: np.ndarray
    slots: np.ndarray  # (m, nd * nd) positions in the CSR data array
    ndof: int

    @property
    def nnz(self) -> int:
        return len(self.indices)


def build_pattern(cells: np.ndarray, n_nodes: int) -> Pattern:
    m, n = cells.shape
    a = np.repeat(cells, n, axis=1).ravel()  # (m * n * n) row node
    b = np.tile(cells, (1, n)).ravel()  # column node
    key = a * n_nodes + b
    ukey, inverse = np.unique(key, return_inverse=True)
    row_node, col_node = np.divmod(ukey, n_nodes)
    node_ptr = np.searchsorted(row_node, np.arange(n_nodes + 1))
    deg = np.diff(node_ptr)
    # dof row (3a + i) starts at 9 * node_ptr[a] + 3 * i * deg[a]; pair p sits 3 * (p - node_ptr[a]) in.
    base = 9 * node_ptr[row_node] + 3 * (np.arange(len(ukey)) - node_ptr[row_node])  # (P,)
    i = np.arange(3)
    pair_slots = (base[:, None, None] + 3 * i[None, :, None] * deg[row_node][:, None, None]
                  + i[None, None, :])  # (P, 3, 3)
    nnz = 9 * len(ukey)
    indices = np.empty(nnz, dtype=np.int32)
    indices[pair_slots.ravel()] = np.broadcast_to(3 * col_node[:, None, None] + i[None, None, :],
                                                  pair_slots.shape).ravel()
    indptr = np.empty(3 * n_nodes + 1, dtype=np.int64)
    indptr[:-1] = (9 * node_ptr[:-1, None] + 3 * i[None, :] * deg[:, None]).ravel()
    indptr[-1] = nnz
    # Element slots ordered like the element matrix (a, i, b, j).
    ps = pair_slots[inverse.reshape(m, n, n)]  # (m, a, b, i, j)
    slots = ps.transpose(0, 1, 3, 2, 4).reshape(m, 9 * n * n)
    dtype = np.int32 if nnz < 2**31 - 1 else np.int64
    return Pattern(indptr, indices, slots.astype(dtype), 3 * n_nodes)


def mesh_pattern(mesh: TetMesh) -> Pattern:
    """:func:`build_pattern` cached on the mesh."""
    if "pattern" not in mesh._cache:
        mesh._cache["pattern"] = build_pattern(mesh.cells, mesh.n_nodes)
    return mesh._cache["pattern"]


def assemble_matrix(pattern: Pattern, ke: np.ndarray) -> sp.csr_matrix:
    """Sum element matrices (m, nd, nd) into the global CSR matrix."""
    data = np.bincount(pattern.slots.ravel(), weights=ke.ravel(), minlength=pattern.nnz)
    return sp.csr_matrix((data, pattern.indices, pattern.indptr),
                         shape=(pattern.ndof, pattern.ndof))


def assemble_vector(cells: np.ndarray, n_nodes: int, fe: np.ndarray) -> np.ndarray:
    """Sum element vectors (m, n * 3) into a global vector of length 3 * n_nodes."""
    dofs = (3 * cells[:, :, None] + np.arange(3)).reshape(len(cells), -1)
    return np.bincount(dofs.ravel(), weights=fe.ravel(), minlength=3 * n_nodes)


def element_dofs(cells: np.ndarray) -> np.ndarray:
    return (3 * cells[:, :, None] + np.arange(3)).reshape(len(cells), -1)

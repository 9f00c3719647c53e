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
    """CSR structure of the 3-dofs-per-node matrix of ``cells`` and each element entry's slot."""
    from sim.fem.element_kernels import element_slots, node_graph

    cells = np.ascontiguousarray(cells, dtype=np.int64)
    m, n = cells.shape
    node_ptr, node_cols = node_graph(cells, n_nodes)
    deg = np.diff(node_ptr)
    nnz = 9 * len(node_cols)
    # dof row (3a + i) holds the 3 * deg[a] columns of node a's neighbours, in order.
    i = np.arange(3)
    indptr = np.empty(3 * n_nodes + 1, dtype=np.int64)
    indptr[:-1] = (9 * node_ptr[:-1, None] + 3 * i[None, :] * deg[:, None]).ravel()
    indptr[-1] = nnz
    row_of = np.repeat(np.arange(n_nodes), deg)  # node of each node-level entry
    within = np.arange(len(node_cols)) - node_ptr[row_of]
    slots_nodes = (9 * node_ptr[row_of] + 3 * within)[:, None, None] + \
        3 * i[None, :, None] * deg[row_of][:, None, None] + i[None, None, :]
    indices = np.empty(nnz, dtype=np.int32)
    indices[slots_nodes.ravel()] = np.broadcast_to(
        3 * node_cols[:, None, None] + i[None, None, :], slots_nodes.shape).ravel()
    slots = np.empty((m, 3 * n, 3 * n), dtype=np.int64)
    element_slots(cells, node_ptr, node_cols, slots)
    dtype = np.int32 if nnz < 2**31 - 1 else np.int64
    return Pattern(indptr, indices, slots.reshape(m, -1).astype(dtype), 3 * n_nodes)


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

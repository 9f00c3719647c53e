"""TetMesh: the simulation body's tetrahedral mesh (linear P1 or quadratic P2 tetrahedra).

Node order follows VTK: corners 0-3, then for P2 the mid-edge nodes of edges
(0,1) (1,2) (0,2) (0,3) (1,3) (2,3). Corners of every element are positively
oriented (det[x1-x0, x2-x0, x3-x0] > 0); inputs that break this are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyvista as pv

from sim.errors import InputError

P2_EDGES = np.array([[0, 1], [1, 2], [0, 2], [0, 3], [1, 3], [2, 3]])
# Faces opposite to vertex 3, 2, 1, 0; each ordered so its normal points out of a positive tet.
TET_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
# For P2 faces: the local mid-edge nodes of (a,b), (b,c), (c,a) of each face above.
_EDGE_INDEX = {tuple(sorted(e)): 4 + i for i, e in enumerate(P2_EDGES.tolist())}
TET_FACE_MIDS = np.array([[_EDGE_INDEX[tuple(sorted((f[k], f[(k + 1) % 3])))] for k in range(3)]
                          for f in TET_FACES.tolist()])


def signed_volumes(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Volume of each tetrahedron from its corners (negative when inverted)."""
    x0 = points[cells[:, 0]]
    d = np.stack([points[cells[:, k]] - x0 for k in (1, 2, 3)], axis=1)
    return np.linalg.det(d) / 6.0


@dataclass(eq=False)
class TetMesh:
    """Nodes (n, 3) in mm and elements (m, 4) or (m, 10) of a tetrahedral body."""

    points: np.ndarray
    cells: np.ndarray
    name: str = "body"
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.points = np.ascontiguousarray(self.points, dtype=np.float64)
        self.cells = np.ascontiguousarray(self.cells, dtype=np.int64)
        self.validate()

    # -- checks ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Reject what no solver can use: bad shapes, NaN, dangling indices, flat or inverted tets."""
        p, c = self.points, self.cells
        if p.ndim != 2 or p.shape[1] != 3 or len(p) < 4:
            raise InputError(f"Mesh '{self.name}' needs at least 4 nodes with x, y, z coordinates.")
        if c.ndim != 2 or c.shape[1] not in (4, 10) or len(c) == 0:
            raise InputError(f"Mesh '{self.name}' needs tetrahedra with 4 or 10 nodes each.")
        if not np.isfinite(p).all():
            raise InputError(f"Mesh '{self.name}' has nodes with NaN or infinite coordinates.")
        if c.min() < 0 or c.max() >= len(p):
            raise InputError(f"Mesh '{self.name}' has elements that refer to missing nodes.")
        vol = signed_volumes(p, c)
        scale = float(np.ptp(p, axis=0).max()) or 1.0
        tiny = 1e-12 * scale**3
        flat = np.abs(vol) <= tiny
        if flat.any():
            raise InputError(f"Mesh '{self.name}' has {int(flat.sum())} degenerate (flat) "
                             f"tetrahedra, e.g. element {int(np.flatnonzero(flat)[0])}.")
        bad = vol < 0
        if bad.any():
            raise InputError(f"Mesh '{self.name}' has {int(bad.sum())} inverted tetrahedra "
                             f"(negative volume), e.g. element {int(np.flatnonzero(bad)[0])}.")

    # -- basic properties -----------------------------------------------------------------
    @property
    def order(self) -> int:
        return 1 if self.cells.shape[1] == 4 else 2

    @property
    def n_nodes(self) -> int:
        return len(self.points)

    @property
    def n_elements(self) -> int:
        return len(self.cells)

    @cached_property
    def volumes(self) -> np.ndarray:
        return signed_volumes(self.points, self.cells)

    @cached_property
    def corner_nodes(self) -> np.ndarray:
        """Indices of nodes that are element corners (all nodes for P1)."""
        return np.unique(self.cells[:, :4])

    def with_order(self, order: int) -> TetMesh:
        """This mesh as P1 (drop mid nodes) or P2 (add straight mid-edge nodes)."""
        if order == self.order:
            return self
        if order == 1:
            corners = self.corner_nodes
            remap = np.full(self.n_nodes, -1, dtype=np.int64)
            remap[corners] = np.arange(len(corners))
            return TetMesh(self.points[corners], remap[self.cells[:, :4]], self.name)
        if order != 2:
            raise InputError(f"Element order must be 1 or 2, not {order}.")
        edges = self.cells[:, P2_EDGES]  # (m, 6, 2)
        key = np.sort(edges, axis=2).reshape(-1, 2)
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        mids = 0.5 * (self.points[uniq[:, 0]] + self.points[uniq[:, 1]])
        mid_ids = self.n_nodes + inverse.reshape(-1, 6)
        return TetMesh(np.vstack([self.points, mids]), np.hstack([self.cells, mid_ids]), self.name)

    # -- topology -------------------------------------------------------------------------
    @cached_property
    def boundary(self) -> tuple[np.ndarray, np.ndarray]:
        """Boundary faces as (faces (k, 3|6) outward-oriented node ids, owning element ids)."""
        corner_faces = self.cells[:, TET_FACES]  # (m, 4, 3)
        key = np.sort(corner_faces, axis=2).reshape(-1, 3)
        _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        once = counts[inverse.ravel()] == 1
        elem, local = np.divmod(np.flatnonzero(once), 4)
        faces = self.cells[elem[:, None], TET_FACES[local]]
        if self.order == 2:
            faces = np.hstack([faces, self.cells[elem[:, None], TET_FACE_MIDS[local]]])
        return faces, elem

    @property
    def boundary_nodes(self) -> np.ndarray:
        return np.unique(self.boundary[0])

    def boundary_normals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per boundary face: unit outward normal, area (flat), centroid."""
        faces = self.boundary[0][:, :3]
        a, b, c = (self.points[faces[:, k]] for k in range(3))
        n = np.cross(b - a, c - a)
        area = 0.5 * np.linalg.norm(n, axis=1)
        return n / (2 * area[:, None]), area, (a + b + c) / 3.0

    def surface(self) -> pv.PolyData:
        """The boundary as a triangle surface (corner nodes only)."""
        faces = self.boundary[0][:, :3]
        return pv.PolyData(self.points, np.hstack([np.full((len(faces), 1), 3), faces]).ravel())

    # -- conversion -----------------------------------------------------------------------
    def to_pyvista(self) -> pv.UnstructuredGrid:
        ctype = pv.CellType.TETRA if self.order == 1 else pv.CellType.QUADRATIC_TETRA
        nn = self.cells.shape[1]
        conn = np.hstack([np.full((self.n_elements, 1), nn), self.cells]).ravel()
        return pv.UnstructuredGrid(conn, np.full(self.n_elements, ctype, dtype=np.uint8),
                                   self.points.copy())

    @classmethod
    def from_pyvista(cls, grid: pv.DataSet, name: str = "body") -> TetMesh:
        """Tetrahedra of a VTK grid (other cell types are ignored; none at all is an error)."""
        grid = grid if isinstance(grid, pv.UnstructuredGrid) else grid.cast_to_unstructured_grid()
        types = np.asarray(grid.celltypes)
        for ctype, nn in ((pv.CellType.QUADRATIC_TETRA, 10), (pv.CellType.TETRA, 4)):
            sel = types == ctype
            if sel.any():
                cells = grid.cells_dict[int(ctype)].reshape(-1, nn)
                return cls(np.asarray(grid.points, dtype=float), cells, name)
        raise InputError(f"'{name}' contains no tetrahedra.")

    def quality(self) -> dict[str, float]:
        from sim.mesh.quality import quality_report

        return quality_report(self)

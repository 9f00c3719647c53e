"""A sparse-grid tetrahedral body around a surface, in milliseconds (SOFA's SparseGridTopology).

Cubes of a regular grid that touch the inside of the surface are kept and split into six
tetrahedra each (the same Kuhn pattern as :func:`sim.mesh.generators.box`, so the mesh is
conforming). The mesh does not follow the surface exactly - it encloses it - and the fine
visual surface is embedded in it barycentrically. It needs no mesher and tolerates
self-intersecting surfaces, which makes it the instant alternative to the engine's
(quality, cached) tetrahedralisation for interactive work.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.mesh.generators import box
from sim.mesh.tetmesh import TetMesh

MAX_TETS = 2_000_000


def sparse_grid(surface: pv.PolyData, spacing: float | None = None,
                target_tets: int = 10_000, name: str = "body") -> TetMesh:
    """Tetrahedra of the grid cubes (edge ``spacing`` mm, or sized for ``target_tets``)
    touching the inside of the closed ``surface``."""
    surf = surface.triangulate() if not surface.is_all_triangles else surface
    lo = np.asarray(surf.bounds, dtype=float)[0::2]
    hi = np.asarray(surf.bounds, dtype=float)[1::2]
    size = hi - lo
    if surf.n_points < 4 or not (size > 0).all():
        raise InputError(f"'{name}' is not a solid surface (it is flat or empty).")
    if spacing is None:
        volume = abs(float(surf.volume)) or float(np.prod(size))
        spacing = 1.1 * (6.0 * volume / max(int(target_tets), 6)) ** (1.0 / 3.0)
    if not np.isfinite(spacing) or spacing <= 0:
        raise InputError(f"The grid spacing must be a positive number of mm, not {spacing}.")
    div = np.maximum(np.ceil(size / spacing).astype(int), 1)
    if 6 * int(np.prod(div)) > MAX_TETS:
        raise InputError(f"A {spacing:g} mm grid over '{name}' would exceed {MAX_TETS} "
                         "tetrahedra; use a larger spacing.")
    full = box(tuple(div * spacing), tuple(div), tuple(lo - 0.5 * (div * spacing - size)))
    nx, ny, nz = div + 1
    corner_in = _inside(surf, full.points)
    # A cube is kept if its centre or any corner is inside the surface.
    ci, cj, ck = np.meshgrid(*(np.arange(d) for d in div), indexing="ij")
    base = np.column_stack([ci.ravel(), cj.ravel(), ck.ravel()])
    keep = np.zeros(len(base), dtype=bool)
    for off in np.ndindex(2, 2, 2):
        ijk = base + off
        keep |= corner_in[(ijk[:, 0] * ny + ijk[:, 1]) * nz + ijk[:, 2]]
    centres = full.points[(base[:, 0] * ny + base[:, 1]) * nz + base[:, 2]] + 0.5 * spacing
    keep |= _inside(surf, centres)
    if not keep.any():
        raise InputError(f"No grid cube lies inside '{name}'; is the surface closed?")
    cells = full.cells.reshape(-1, 6, 4)[keep].reshape(-1, 4)
    used = np.unique(cells)
    remap = np.full(len(full.points), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return TetMesh(full.points[used], remap[cells], name)


def _inside(surface: pv.PolyData, points: np.ndarray) -> np.ndarray:
    probe = pv.PolyData(np.asarray(points, dtype=float))
    sel = probe.select_interior_points(surface, check_surface=False) \
        if hasattr(probe, "select_interior_points") else \
        probe.select_enclosed_points(surface, check_surface=False)
    name = "selected_points" if "selected_points" in sel.point_data else "SelectedPoints"
    return np.asarray(sel.point_data[name]).astype(bool)

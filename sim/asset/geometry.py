"""Structured tetrahedral meshes of simple asset shapes (the demo pump bracket).

The L-bracket is the catalogue's shape (sim.devices.generators.l_bracket): base leg on
z in [0, t], upright on x in [0, t], extruded along +y. Grid lines fall on the thickness so
the L's inner faces are element faces; every cube is split into the same 6 Kuhn tetrahedra,
which keeps the mesh conforming.
"""

from __future__ import annotations

import numpy as np

from sim.errors import InputError
from sim.mesh.generators import _KUHN_OFFSETS
from sim.mesh.tetmesh import TetMesh, signed_volumes


def _axis(length: float, thickness: float, h: float) -> np.ndarray:
    """Grid coordinates 0..length with a line at ``thickness``, spacing about ``h``."""
    k1 = max(1, int(round(thickness / h)))
    k2 = max(1, int(round((length - thickness) / h)))
    return np.concatenate([np.linspace(0.0, thickness, k1 + 1),
                           np.linspace(thickness, length, k2 + 1)[1:]])


def l_bracket_mesh(width: float = 40.0, leg: float = 50.0, thickness: float = 6.0,
                   element_size: float = 3.0, order: int = 2) -> TetMesh:
    """Tetrahedra of the L-bracket, element edges about ``element_size`` mm."""
    if not (0 < thickness < leg and width > 0 and element_size > 0):
        raise InputError("An L-bracket needs 0 < thickness < leg, a positive width and "
                         "element size.")
    if element_size < min(thickness, width) / 40:
        raise InputError(f"Element size {element_size:g} mm is too small for this bracket "
                         "(over a million elements).")
    xs = _axis(leg, thickness, element_size)
    zs = _axis(leg, thickness, element_size)
    ys = np.linspace(0.0, width, max(1, int(round(width / element_size))) + 1)
    gx, gy, gz = np.meshgrid(xs, ys, zs, indexing="ij")
    points = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    ny, nz = len(ys), len(zs)
    ci, cj, ck = np.meshgrid(*(np.arange(len(a) - 1) for a in (xs, ys, zs)), indexing="ij")
    base = np.column_stack([ci.ravel(), cj.ravel(), ck.ravel()])
    centre_x = 0.5 * (xs[base[:, 0]] + xs[base[:, 0] + 1])
    centre_z = 0.5 * (zs[base[:, 2]] + zs[base[:, 2] + 1])
    base = base[(centre_x < thickness) | (centre_z < thickness)]  # inside the L
    ijk = base[:, None, None, :] + _KUHN_OFFSETS[None]
    cells = ((ijk[..., 0] * ny + ijk[..., 1]) * nz + ijk[..., 2]).reshape(-1, 4)
    used, inverse = np.unique(cells, return_inverse=True)
    cells = inverse.reshape(-1, 4)
    points = points[used]
    neg = signed_volumes(points, cells) < 0
    cells[neg] = cells[neg][:, [0, 2, 1, 3]]
    return TetMesh(points, cells, "l_bracket").with_order(order)

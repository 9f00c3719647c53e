"""Oblique reformats: sample a volume on a plane of any orientation (headless, numpy/scipy).

A plane is given by a point on it and two orthonormal in-plane directions ``u`` and ``v``
(world LPS mm). The result is a one-voxel-thick :class:`pyvista.ImageData` lying exactly on
that plane (direction columns u, v, u x v), so it renders in place and its points are world
points. Samples outside the volume are NaN (or 0 for nearest-neighbour masks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv
from scipy import ndimage

from sim.errors import InputError
from sim.imaging.volume import affine_of, voxel_array

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MAX_SIDE = 1024  # samples per side: a reformat never gets bigger than this


def reslice(image: pv.ImageData, point: ArrayLike, u: ArrayLike, v: ArrayLike, *,
            values: np.ndarray | None = None,
            spacing: float | None = None, half_size: float | None = None,
            order: int = 1) -> pv.ImageData:
    """``values`` (default: the image's scalars) sampled on the plane through ``point`` spanned
    by ``u`` and ``v``, on a square grid centred on ``point`` large enough to hold the whole
    cross-section. ``order`` 1 is trilinear, 0 nearest (for masks and labels)."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    if abs(np.linalg.norm(u) - 1) > 1e-6 or abs(np.linalg.norm(v) - 1) > 1e-6 or abs(u @ v) > 1e-6:
        raise InputError("A reslice plane needs two orthonormal in-plane directions.")
    point = np.asarray(point, dtype=float)
    arr = voxel_array(image) if values is None else np.asarray(values)
    if arr.shape != tuple(image.dimensions):
        raise InputError(f"Values of shape {arr.shape} do not fit the image {image.dimensions}.")
    step = float(min(image.spacing)) if spacing is None else float(spacing)
    if half_size is None:  # reach every corner of the volume from the point
        lo, hi = np.asarray(image.bounds).reshape(3, 2).T
        half_size = float(np.linalg.norm(hi - lo)) / 2 + float(np.linalg.norm(point - (lo + hi) / 2))
    n = int(np.ceil(2 * half_size / step)) + 1
    if n > MAX_SIDE:
        n, step = MAX_SIDE, 2 * half_size / (MAX_SIDE - 1)
    corner = point - half_size * (u + v)
    a = np.arange(n) * step
    # world points of the grid, i (along u) fastest, as VTK orders points
    world = corner + a[:, None, None] * u + a[None, :, None] * v  # [i, j, 3]
    ijk = np.linalg.solve(affine_of(image), np.c_[world.reshape(-1, 3), np.ones(n * n)].T)[:3]
    out_dtype = np.float32 if order > 0 else arr.dtype
    cval = np.nan if order > 0 else 0
    sampled = ndimage.map_coordinates(arr.astype(out_dtype, copy=False), ijk, order=order,
                                      mode="constant", cval=cval, prefilter=False)
    plane = pv.ImageData(dimensions=(n, n, 1), spacing=(step, step, 1.0), origin=corner,
                         direction_matrix=np.column_stack([u, v, np.cross(u, v)]))
    plane.point_data["values"] = sampled.reshape(n, n).ravel(order="F")
    plane.point_data.active_scalars_name = "values"
    return plane

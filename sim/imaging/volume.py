"""Image volumes in the world frame: a voxel array plus spacing, origin and direction (LPS mm).

All image readers produce :class:`pyvista.ImageData` through :func:`make_image`, so
geometry conventions live in one place: array axes are (i, j, k) with i fastest in
memory (VTK order), ``direction`` columns are the world directions of i, j and k.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

SCALARS = "values"
MAX_VOXELS = 2_000_000_000  # refuse images whose header claims more (hostile or absurd)
MAX_LABEL_VALUES = 256


def make_image(array: np.ndarray, spacing: ArrayLike, origin: ArrayLike,
               direction: ArrayLike | None = None, name: str = SCALARS) -> pv.ImageData:
    """An ImageData from an [i, j, k] array with world ``spacing``, ``origin`` and ``direction``."""
    if array.ndim != 3:
        raise InputError(f"An image must have three dimensions, not {array.ndim}.")
    spacing = np.asarray(spacing, dtype=float)
    if not (np.isfinite(spacing).all() and (spacing > 0).all()):
        raise InputError(f"Voxel spacing {spacing.tolist()} is not a positive length.")
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    if not np.isfinite(direction).all() or abs(np.linalg.det(direction)) < 1e-6:
        raise InputError("The image orientation is degenerate.")
    image = pv.ImageData(dimensions=array.shape, spacing=spacing,
                         origin=np.asarray(origin, dtype=float), direction_matrix=direction)
    image.point_data[name] = np.ravel(array, order="F")
    image.point_data.active_scalars_name = name
    return image


def make_rgb_image(array: np.ndarray, spacing: ArrayLike, origin: ArrayLike,
                   direction: ArrayLike | None = None, name: str = SCALARS) -> pv.ImageData:
    """A colour image from an [i, j, k, 3] uint8 array: one RGB triple per voxel."""
    if array.ndim != 4 or array.shape[3] != 3 or array.dtype != np.uint8:
        raise InputError(f"A colour image must be [i, j, k, 3] 8-bit RGB, not {array.shape} "
                         f"{array.dtype}.")
    image = make_image(array[..., 0], spacing, origin, direction, name=name)
    image.point_data[name] = np.stack([np.ravel(array[..., c], order="F") for c in range(3)],
                                      axis=1)
    image.point_data.active_scalars_name = name
    return image


def is_rgb(image: pv.DataSet) -> bool:
    """True for a colour picture (three components per voxel), not measured values."""
    arr = image.active_scalars if isinstance(image, pv.ImageData) else None
    return arr is not None and np.asarray(arr).ndim == 2 and np.asarray(arr).shape[1] == 3


def rgb_array(image: pv.ImageData) -> np.ndarray:
    """The [i, j, k, 3] colours of an RGB image (a copy)."""
    if not is_rgb(image):
        raise InputError("The image is not a colour (RGB) image.")
    arr = np.asarray(image.active_scalars)
    return np.stack([arr[:, c].reshape(image.dimensions, order="F") for c in range(3)], axis=-1)


def affine_of(image: pv.ImageData) -> np.ndarray:
    """The 4x4 voxel-index -> world (LPS mm) matrix of an image."""
    out = np.eye(4)
    out[:3, :3] = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
    out[:3, 3] = image.origin
    return out


def split_affine(affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spacing, origin, direction) of a 4x4 voxel -> world matrix."""
    m = np.asarray(affine, dtype=float)[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    if not (spacing > 0).all():
        raise InputError("The image affine has a zero-length axis.")
    return spacing, np.asarray(affine, dtype=float)[:3, 3], m / spacing


def voxel_array(image: pv.ImageData, name: str | None = None) -> np.ndarray:
    """The [i, j, k] array of an image's scalars (a view, no copy)."""
    arr = image.point_data[name] if name else image.active_scalars
    if arr is None:
        raise InputError("The image has no scalar values.")
    if np.asarray(arr).ndim == 2:  # several components per voxel: a colour picture
        raise InputError("The image is a colour (RGB) picture, not a scan of measured values; "
                         "this needs a greyscale CT or MR volume.")
    return np.asarray(arr).reshape(image.dimensions, order="F")


def looks_like_labels(values: np.ndarray) -> bool:
    """An integer image with few non-negative values is a label map, not a scan."""
    if not np.issubdtype(values.dtype, np.integer) or values.size == 0:
        return False
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 65535:
        return False
    counts = np.bincount(values.ravel().astype(np.int64, copy=False), minlength=1)
    return int(np.count_nonzero(counts)) <= MAX_LABEL_VALUES

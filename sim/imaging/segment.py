"""Segmentation of a scan into binary masks: thresholds with presets, region growing,
connected components, morphology and hole filling.

Masks are [i, j, k] boolean arrays on the image's grid (see :mod:`sim.imaging.volume`).
Everything is vectorised (scipy.ndimage); nothing loops over voxels in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv
from scipy import ndimage

from sim.errors import InputError
from sim.imaging.presets import PRESETS, Preset
from sim.imaging.volume import affine_of, voxel_array

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def preset(name: str) -> Preset:
    try:
        return PRESETS[name.replace("-", "_").lower()]
    except KeyError:
        raise InputError(f"Unknown preset '{name}' (choose from {', '.join(PRESETS)}).") from None


def threshold(image: pv.ImageData, low: float, high: float) -> np.ndarray:
    if low > high:
        raise InputError(f"The threshold range {low}..{high} is empty.")
    values = voxel_array(image)
    return (values >= low) & (values <= high)


def world_to_index(image: pv.ImageData, point: ArrayLike) -> tuple[int, int, int]:
    """The voxel nearest to a world (LPS mm) point; InputError if it is outside the image."""
    ijk = np.linalg.solve(affine_of(image), np.append(np.asarray(point, dtype=float), 1.0))[:3]
    idx = np.round(ijk).astype(int)
    if (idx < 0).any() or (idx >= np.asarray(image.dimensions)).any():
        raise InputError(f"The point {np.round(point, 1).tolist()} mm is outside the image.")
    return tuple(int(v) for v in idx)  # type: ignore[return-value]


def _structure(connectivity: int) -> np.ndarray:
    return ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[connectivity])


def components(mask: np.ndarray, connectivity: int = 6) -> tuple[np.ndarray, int]:
    return ndimage.label(mask, structure=_structure(connectivity))


def keep_largest(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    labels, n = components(mask, connectivity)
    if n <= 1:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def pick_component(mask: np.ndarray, seed: tuple[int, int, int], connectivity: int = 6) -> np.ndarray:
    """The connected part of ``mask`` that contains voxel ``seed`` (empty if the seed is outside)."""
    if not mask[seed]:
        return np.zeros_like(mask)
    labels, _ = components(mask, connectivity)
    return labels == labels[seed]


def region_grow(image: pv.ImageData, seed_world: ArrayLike, low: float | None = None,
                high: float | None = None,
                tolerance: float = 100.0) -> np.ndarray:
    """Voxels connected to the seed whose values lie in [low, high] (default: seed value +- tolerance)."""
    seed = world_to_index(image, seed_world)
    value = float(voxel_array(image)[seed])
    lo = value - tolerance if low is None else low
    hi = value + tolerance if high is None else high
    return pick_component(threshold(image, lo, hi), seed)


def drop_border_components(mask: np.ndarray) -> np.ndarray:
    labels, n = components(mask)
    if n == 0:
        return mask.copy()
    border = np.zeros(n + 1, dtype=bool)
    for axis in range(3):
        for side in (0, -1):
            border[np.unique(np.take(labels, side, axis=axis))] = True
    border[0] = True
    return ~border[labels] & mask


def _ball(image: pv.ImageData, radius_mm: float) -> np.ndarray:
    """An ellipsoidal structuring element that is a ball of ``radius_mm`` in world units."""
    r = np.maximum(np.floor(radius_mm / np.asarray(image.spacing)), 0).astype(int)
    grids = np.ogrid[tuple(slice(-n, n + 1) for n in r)]
    sp = np.asarray(image.spacing)
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, sp, strict=True))
    return dist2 <= radius_mm**2 + 1e-9


def opening(image: pv.ImageData, mask: np.ndarray, radius_mm: float) -> np.ndarray:
    """Removes specks and thin bridges thinner than about 2 x radius."""
    return ndimage.binary_opening(mask, structure=_ball(image, radius_mm)) if radius_mm > 0 else mask


def closing(image: pv.ImageData, mask: np.ndarray, radius_mm: float) -> np.ndarray:
    """Closes gaps and pits narrower than about 2 x radius."""
    if radius_mm <= 0:
        return mask
    ball = _ball(image, radius_mm)
    pad = max(ball.shape) // 2 + 1  # pad so structures at the edge do not get eroded by it
    padded = np.pad(mask, pad)
    return ndimage.binary_closing(padded, structure=ball)[pad:-pad, pad:-pad, pad:-pad]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill cavities fully enclosed by the mask (in 3D)."""
    return ndimage.binary_fill_holes(mask)


def segment_preset(image: pv.ImageData, name: str, *, close_mm: float = 0.0, open_mm: float = 0.0,
                   fill: bool = False, largest: bool | None = None) -> np.ndarray:
    """A preset threshold with its clean-up steps."""
    p = preset(name)
    mask = threshold(image, p.low, p.high)
    if p.drop_border:
        mask = drop_border_components(mask)
    mask = opening(image, mask, open_mm)
    mask = closing(image, mask, close_mm)
    if fill:
        mask = fill_holes(mask)
    if p.keep_largest if largest is None else largest:
        mask = keep_largest(mask)
    return mask

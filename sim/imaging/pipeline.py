"""One segmentation recipe, shared by the CLI and the GUI's Segment panel:
threshold (preset or range) -> optional seed -> clean-up -> surface."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.imaging import segment as seg
from sim.imaging.surface import SMOOTHING_ITERATIONS, TARGET_TRIANGLES, mask_to_surface
from sim.progress import Progress, no_progress, sub_progress


@dataclass
class Recipe:
    preset: str | None = "bone"
    low: float | None = None  # override the preset's range
    high: float | None = None
    seed: tuple[float, float, float] | None = None  # world LPS mm: keep the part connected to it
    largest: bool = False
    open_mm: float = 0.0
    close_mm: float = 0.0
    fill_holes: bool = False
    smoothing_iterations: int = SMOOTHING_ITERATIONS
    target_triangles: int | None = TARGET_TRIANGLES

    def range(self) -> tuple[float, float]:
        if self.preset is None and (self.low is None or self.high is None):
            raise InputError("Give a preset or both a low and a high threshold.")
        p = seg.preset(self.preset) if self.preset else None
        low = self.low if self.low is not None else p.low  # type: ignore[union-attr]
        high = self.high if self.high is not None else p.high  # type: ignore[union-attr]
        return float(low), float(high)

    def color(self) -> tuple[float, float, float]:
        return seg.preset(self.preset).color if self.preset else (0.9, 0.8, 0.3)


@dataclass
class Result:
    mask: np.ndarray
    surface: pv.PolyData
    stats: dict[str, Any] = field(default_factory=dict)


def make_mask(image: pv.ImageData, recipe: Recipe, mask: np.ndarray | None = None) -> np.ndarray:
    """The recipe's mask; ``mask`` replaces the threshold step when given (see preview_mask)."""
    low, high = recipe.range()
    if mask is None:
        mask = seg.threshold(image, low, high)
    if recipe.preset and seg.preset(recipe.preset).drop_border and recipe.seed is None:
        mask = seg.drop_border_components(mask)
    mask = seg.opening(image, mask, recipe.open_mm)
    mask = seg.closing(image, mask, recipe.close_mm)
    if recipe.seed is not None:
        mask = seg.pick_component(mask, seg.world_to_index(image, recipe.seed))
    if recipe.fill_holes:
        mask = seg.fill_holes(mask)
    keep = recipe.largest or (recipe.seed is None and recipe.preset is not None
                              and seg.preset(recipe.preset).keep_largest)
    if keep:
        mask = seg.keep_largest(mask)
    return mask


PREVIEW_VOXELS = 4_000_000  # above this the live preview runs the recipe on a coarser grid


def coarse_factor(image: pv.ImageData, max_voxels: int = PREVIEW_VOXELS) -> int:
    n = int(np.prod(image.dimensions))
    return max(1, int(np.ceil((n / max_voxels) ** (1 / 3) - 1e-9)))


def _block_any(mask: np.ndarray, f: int) -> np.ndarray:
    """Each f x f x f block of ``mask`` -> True if any voxel in it is (keeps thin parts joined)."""
    t = mask.T  # image arrays are Fortran-ordered: reduce on the C-contiguous transposed view
    pad = [(0, -n % f) for n in t.shape]
    if any(p for _, p in pad):
        t = np.pad(t, pad)
    a, b, c = (n // f for n in t.shape)
    t = t.reshape(a, f, b * f * c * f).any(axis=1)  # one axis at a time: each pass shrinks it
    t = t.reshape(a, b, f, c * f).any(axis=2)
    return t.reshape(a, b, c, f).any(axis=3).T


def preview_mask(image: pv.ImageData, recipe: Recipe,
                 max_voxels: int = PREVIEW_VOXELS) -> tuple[np.ndarray, dict[str, Any]]:
    """The recipe's mask on the full grid, fast enough to follow the controls.

    Small images get exactly :func:`make_mask`. Large ones threshold at full resolution, run
    the rest of the recipe (seed, components, morphology) on f x f x f blocks (a block is in
    when any of its voxels is, so thin structures stay connected), and keep the full-resolution
    thresholded voxels of the chosen blocks, so edges stay sharp. Closing and hole filling add
    voxels outside the threshold; with them the chosen blocks are shown whole.
    """
    from sim.imaging.volume import make_image

    start = time.perf_counter()
    f = coarse_factor(image, max_voxels)
    if f == 1:
        mask = make_mask(image, recipe)
    else:
        low, high = recipe.range()
        fine = seg.threshold(image, low, high)
        blocks = _block_any(fine, f)
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
        origin = np.asarray(image.origin) + d @ np.full(3, (f - 1) / 2.0)  # block centres
        coarse = make_image(blocks.astype(np.uint8), np.asarray(image.spacing) * f, origin,
                            np.asarray(image.direction_matrix))
        if recipe.seed is not None and not fine[seg.world_to_index(image, recipe.seed)]:
            chosen = np.zeros_like(blocks)  # the seed voxel itself is outside the range
        else:
            chosen = make_mask(coarse, recipe, mask=blocks)
        nx, ny, nz = image.dimensions
        # upsample on the transposed (C-ordered) view so ``up`` has the image's Fortran order
        up = chosen.T.repeat(f, 0).repeat(f, 1).repeat(f, 2)[:nz, :ny, :nx].T
        mask = up if (recipe.close_mm > 0 or recipe.fill_holes) else up & fine
    n = int(np.count_nonzero(mask))
    return mask, {"voxels": n, "ml": n * float(np.prod(image.spacing)) / 1000.0, "factor": f,
                  "seconds": time.perf_counter() - start}


def run(image: pv.ImageData, recipe: Recipe, progress: Progress = no_progress) -> Result:
    start = time.perf_counter()
    progress(0.0, "Thresholding")
    mask = make_mask(image, recipe)
    n = int(np.count_nonzero(mask))
    if n == 0:
        raise InputError("No voxel matches the segmentation settings (the mask is empty).")
    surf = mask_to_surface(image, mask, smoothing_iterations=recipe.smoothing_iterations,
                           target_triangles=recipe.target_triangles,
                           progress=sub_progress(progress, 0.3, 1.0))
    voxel_ml = float(np.prod(image.spacing)) / 1000.0
    stats = {"voxels": n, "mask_volume_ml": round(n * voxel_ml, 3),
             "threshold": list(recipe.range()), "triangles": int(surf.n_cells),
             "surface_area_mm2": round(float(surf.area), 2) if surf.n_cells else 0.0,
             "bounds_mm": [round(float(b), 3) for b in surf.bounds],
             "seconds": round(time.perf_counter() - start, 3)}
    return Result(mask, surf, stats)

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
from sim.imaging.surface import mask_to_surface
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
    smoothing_iterations: int = 20
    target_triangles: int | None = 40_000

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


def make_mask(image: pv.ImageData, recipe: Recipe) -> np.ndarray:
    low, high = recipe.range()
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

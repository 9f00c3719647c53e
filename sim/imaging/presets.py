"""Segmentation presets and surface defaults: plain constants, so the CLI's parser can offer
them without importing scipy, pyvista and VTK (about a second at every command's start)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    low: float
    high: float
    color: tuple[float, float, float]
    description: str
    drop_border: bool = False  # remove components touching the image edge (air outside the body)
    keep_largest: bool = False


PRESETS: dict[str, Preset] = {
    "bone": Preset("bone", 250, 3071, (0.93, 0.90, 0.82), "cortical and dense trabecular bone"),
    "skin": Preset("skin", -300, 3071, (0.95, 0.78, 0.66), "the body outline (everything denser "
                   "than fat-air mixtures)", keep_largest=True),
    "soft_tissue": Preset("soft_tissue", -100, 200, (0.85, 0.55, 0.5),
                          "fat, muscle and organs (unenhanced)"),
    "lung": Preset("lung", -1000, -400, (0.75, 0.85, 0.95), "aerated lung", drop_border=True),
    "vessels": Preset("vessels", 150, 600, (0.85, 0.15, 0.15),
                      "contrast-filled vessels (CT angiography)"),
}


# Defaults measured on the bone of the real CT (tests/sim/imaging/test_surface_quality.py):
# squeezing a whole skeleton into 40k triangles folded about one triangle pair in ten (the
# "crumpled" look); 150k triangles with a little more windowed-sinc smoothing fold a third as
# many and stay as close to the voxels' boundary. Blurring the mask instead would smooth more
# but erase thin cortex and ribs.
SMOOTHING_ITERATIONS = 30
PASS_BAND = 0.05
TARGET_TRIANGLES = 150_000

"""Deviation colours and offscreen views: banded map, legend colours, POINTS adapter."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.inspection.deviation import Tolerance, compute_deviation
from sim.inspection.views import (
    IN_TOLERANCE,
    deviation_colours,
    display_metadata,
    render_deviation_views,
)
from sim.model import Case, ObjectKind, SceneObject
from sim.render import render_case_image


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])


def test_colours_are_banded():
    tol = Tolerance(-0.1, 0.2)
    cols = deviation_colours(tol, (-0.3, 0.6), n=91)  # 0.01 mm a colour
    x = np.linspace(-0.3, 0.6, 91)
    within = (x >= -0.1) & (x <= 0.2)
    assert all(c == IN_TOLERANCE for c, w in zip(cols, within, strict=True) if w)
    above = [_rgb(c) for c, v in zip(cols, x, strict=True) if v > 0.2]
    below = [_rgb(c) for c, v in zip(cols, x, strict=True) if v < -0.1]
    assert all(c[0] > c[2] for c in above) and all(c[2] > c[0] for c in below)  # warm / cold


def test_views_and_points_adapter_show_the_dent():
    box = pv.Box(bounds=(0, 40, 0, 40, 0, 10)).triangulate().subdivide(2)
    rng = np.random.default_rng(0)
    top = np.column_stack([rng.uniform(0, 40, 20_000), rng.uniform(0, 40, 20_000),
                           np.full(20_000, 10.0)])
    r = np.linalg.norm(top[:, :2] - 20.0, axis=1)
    top[:, 2] -= 0.5 * np.clip(1 - (r / 8.0) ** 2, 0, None)
    res = compute_deviation(top, box, 0.1)
    (img,) = render_deviation_views(res, box, views=["top"], size=(400, 300))
    px = img[..., :3].reshape(-1, 3).astype(int)
    green = np.sum((px[:, 1] > px[:, 0] + 60) & (px[:, 1] > px[:, 2] + 60))
    blue = np.sum((px[:, 2] > px[:, 0] + 80) & (px[:, 2] > px[:, 1] + 20))
    assert green > 2000 and blue > 200
    case = Case(name="map", anatomical=False)
    case.scene.add(SceneObject("map", ObjectKind.POINTS, res.as_polydata(),
                               metadata=display_metadata(res)))
    shot = render_case_image(case, size=(320, 240))
    px = shot[..., :3].reshape(-1, 3).astype(int)
    assert np.sum((px[:, 1] > px[:, 0] + 60) & (px[:, 1] > px[:, 2] + 60)) > 500

"""Object transforms are drawn by the render adapters: the CLI's offscreen screenshot shows a
moved object moved, exactly as the GUI does (one code path, sim.render.adapters)."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.geometry.rigid import from_parts
from sim.model import Case, SceneObject
from sim.model.case_io import save_case
from tests.sim.test_cli import read_png, run

RED, BLUE = (0.9, 0.1, 0.1), (0.1, 0.2, 0.95)


def _case(moved: bool) -> Case:
    case = Case(name="moved" if moved else "still")
    ball = SceneObject("Ball", "surface", pv.Sphere(radius=15, center=(0, 0, 0)), color=RED)
    ref = SceneObject("Reference", "surface", pv.Cube(center=(0, 0, 60), x_length=20,
                                                      y_length=20, z_length=20), color=BLUE)
    case.scene.add(ball)
    case.scene.add(ref)
    if moved:  # 50 mm to the patient's left: to the right of the image in an anterior view
        ball.transform = from_parts((50, 0, 0), (0, 0, 30))
    return case


def _centroid_x(img: np.ndarray, colour: str) -> float:
    rgb = img.astype(float)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mask = (r > g + 60) & (r > b + 60) if colour == "red" else (b > r + 60) & (b > g + 40)
    assert mask.sum() > 200, f"no {colour} object in the image"
    return float(np.nonzero(mask)[1].mean())


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shots")
    out = {}
    for moved in (False, True):
        case_path = save_case(_case(moved), folder / f"{moved}.twin")
        png = folder / f"{moved}.png"
        res = run("screenshot", case_path, "-o", png, "--size", "400x300", "--view", "A")
        assert res.returncode == 0, res.stderr
        out[moved] = read_png(png)
    return out


def test_screenshot_shows_a_moved_object_where_its_transform_puts_it(shots):
    still, moved = shots[False], shots[True]
    # unmoved: the ball sits right under the reference cube (same image column)
    assert abs(_centroid_x(still, "red") - _centroid_x(still, "blue")) < 3
    # moved 50 mm to the patient's left: the ball is right of the cube by about 50/20 of
    # the cube's width in pixels
    blue = moved[..., 2].astype(float) - moved[..., 0] > 60
    cube_px = np.ptp(np.nonzero(blue)[1])
    shift = _centroid_x(moved, "red") - _centroid_x(moved, "blue")
    assert shift == pytest.approx(50 / 20 * cube_px, rel=0.15)


def test_camera_framing_uses_world_bounds_of_moved_objects():
    case = _case(True)
    xmin, xmax = case.scene.bounds()[:2]
    # the ball's 30 mm box turned by 30 degrees about z, then moved 50 mm along x
    half = 15 * (np.cos(np.radians(30)) + np.sin(np.radians(30)))
    assert xmin == pytest.approx(-10, abs=1e-6) and xmax == pytest.approx(50 + half, abs=0.5)
    case.scene["Ball"].transform = np.eye(4)
    assert case.scene.bounds()[1] == pytest.approx(15, abs=0.5)

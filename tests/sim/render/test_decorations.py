"""The 3D view's decorations: the L/R/A/P/S/I orientation cube and the scale bar in mm."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.model import Case, SceneObject
from sim.render.offscreen import offscreen_plotter
from sim.render.scene_renderer import SceneRenderer

SIZE = (400, 300)


@pytest.fixture
def rendered():
    def make(anatomical: bool) -> SceneRenderer:
        case = Case(name="ball", anatomical=anatomical)
        case.scene.add(SceneObject("Ball", "surface", pv.Sphere(radius=50), color=(0.8, 0.8, 0.8)))
        plotter = offscreen_plotter(SIZE)
        made.append(plotter)
        return SceneRenderer(plotter, case)

    made: list = []
    yield make
    for plotter in made:
        plotter.close()


def _marker_colours(renderer: SceneRenderer) -> dict[str, int]:
    """Pixels of each axis colour (red x, green y, blue z) in the top-right marker corner."""
    img = renderer.plotter.screenshot(return_img=True)
    h, w = img.shape[:2]
    c = img[: int(h * 0.22), int(w * 0.86):, :3].astype(float)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    return {"red": int(((r > g + 60) & (r > b + 60)).sum()),
            "green": int(((g > r + 60) & (g > b + 40)).sum()),
            "blue": int(((b > r + 60) & (b > g + 20)).sum())}


def test_orientation_cube_names_the_lps_directions(rendered):
    renderer = rendered(anatomical=True)
    widget = renderer._orientation_widget
    assert widget.GetEnabled()
    cube = widget.GetOrientationMarker()
    faces = {face: getattr(cube, f"Get{face}FaceText")()
             for face in ("XPlus", "XMinus", "YPlus", "YMinus", "ZPlus", "ZMinus")}
    # LPS: +x is the patient's left, +y posterior, +z superior.
    assert faces == {"XPlus": "L", "XMinus": "R", "YPlus": "P", "YMinus": "A",
                     "ZPlus": "S", "ZMinus": "I"}
    # The cube turns with the camera: the face towards the viewer carries the view's letter
    # (x letters red, y green, z blue).
    renderer.set_view("L")
    seen = _marker_colours(renderer)
    assert seen["red"] > 30 and seen["green"] == 0 and seen["blue"] == 0, seen
    renderer.set_view("A")
    seen = _marker_colours(renderer)
    assert seen["green"] > 30 and seen["blue"] == 0, seen
    renderer.set_view("S")
    seen = _marker_colours(renderer)
    assert seen["blue"] > 30 and seen["green"] == 0, seen


def test_parts_get_plain_axes_instead(rendered):
    renderer = rendered(anatomical=False)
    assert renderer._orientation_widget.GetOrientationMarker().IsA("vtkAxesActor")


@pytest.mark.parametrize("view", ["A", "L"])
def test_scale_bar_reads_world_millimetres(rendered, view):
    renderer = rendered(anatomical=True)
    renderer.set_view(view)
    renderer.set_parallel_projection(True)
    plotter = renderer.plotter
    plotter.camera.parallel_scale = 80.0  # 160 mm from the bottom to the top of the view
    plotter.ren_win.Render()  # the bar measures the view when it is drawn
    axis = renderer._scale_bar.GetBottomAxis()
    assert renderer._scale_bar.GetVisibility() and axis.GetTitle() == "mm"
    x0 = axis.GetPositionCoordinate().GetComputedDisplayValue(plotter.renderer)[0]
    x1 = axis.GetPosition2Coordinate().GetComputedDisplayValue(plotter.renderer)[0]
    mm_per_pixel = 160.0 / SIZE[1]
    low, high = axis.GetRange()
    assert high - low == pytest.approx((x1 - x0) * mm_per_pixel, rel=0.02)
    assert np.isclose(low, -high), "labelled as distances from the bar's centre"

"""Live overlays drawn offscreen by the one overlay layer (issue #16): a red marker where the
alarming sensor is, a green one where the normal sensor is, the banner's text at the top, and a
tracked tool's tip that moves with a new pose without new actors. Pixels checked in the image."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
import vtk

from sim.model import Case, SceneObject
from sim.model import live_overlays as lo
from sim.render.offscreen import offscreen_plotter
from sim.render.scene_renderer import SceneRenderer

SIZE = (480, 360)
SHOTS = "/tmp/lo_shots"


@pytest.fixture
def scene():
    case = Case(name="plate", anatomical=False)
    case.scene.add(SceneObject("Plate", "surface", pv.Box((-60, 60, -40, 40, -2, 0)),
                               color=(0.55, 0.55, 0.6)))
    plotter = offscreen_plotter(SIZE)
    renderer = SceneRenderer(plotter, case)
    live = lo.LiveOverlays()
    renderer.overlays.set_live(live)
    renderer.set_view("S")  # looking down on the plate
    yield renderer, live
    renderer.overlays.close()
    plotter.close()


def _pixel(renderer: SceneRenderer, point) -> tuple[int, int]:
    """Where a world point lands in the screenshot (row, column; row 0 at the top)."""
    c = vtk.vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    c.SetValue(*point)
    x, y = c.GetComputedDisplayValue(renderer.plotter.renderer)
    return SIZE[1] - 1 - int(y), int(x)


def _near(img: np.ndarray, rc: tuple[int, int], r: int = 6) -> np.ndarray:
    return img[rc[0] - r:rc[0] + r + 1, rc[1] - r:rc[1] + r + 1, :3].astype(int)


def _reddish(px: np.ndarray) -> int:
    return int(((px[..., 0] > 150) & (px[..., 0] > px[..., 1] + 80)
                & (px[..., 0] > px[..., 2] + 80)).sum())


def _greenish(px: np.ndarray) -> int:
    return int(((px[..., 1] > 120) & (px[..., 1] > px[..., 0] + 60)
                & (px[..., 1] > px[..., 2] + 40)).sum())


def test_markers_and_banner_are_drawn_where_and_as_they_say(scene):
    renderer, live = scene
    hot, ok = (-30.0, 0.0, 1.0), (30.0, 0.0, 1.0)
    before = renderer.plotter.screenshot(return_img=True)
    assert _reddish(_near(before, _pixel(renderer, hot))) == 0  # a grey plate, nothing red
    live.replace("live:", [
        lo.SensorMarkers(id="live:sensors", radius=5.0, labels=False, marks=[
            lo.SensorMark(name="Vibration", point=hot, value=9.5, unit="mm/s", state="high"),
            lo.SensorMark(name="Temperature", point=ok, value=40, unit="degC",
                          state="normal")]),
        lo.AlarmBanner(id="live:alarm", text="ALARM: Vibration RMS 9.5 mm/s high")])
    img = renderer.plotter.screenshot(f"{SHOTS}/live_overlays_offscreen.png", return_img=True)
    assert _reddish(_near(img, _pixel(renderer, hot))) > 40  # the alarm colour on the marker
    assert _greenish(_near(img, _pixel(renderer, hot))) == 0
    assert _greenish(_near(img, _pixel(renderer, ok))) > 40
    assert _reddish(_near(img, _pixel(renderer, ok))) == 0
    # The banner: its light-red text in the top band, centred; none there before.
    band = img[: SIZE[1] // 8, SIZE[0] // 4: 3 * SIZE[0] // 4, :3].astype(int)
    assert _reddish(band) > 30
    assert _reddish(before[: SIZE[1] // 8, SIZE[0] // 4: 3 * SIZE[0] // 4, :3].astype(int)) == 0

    # Back to normal: the marker turns green and the banner goes.
    live.replace("live:", [lo.SensorMarkers(id="live:sensors", radius=5.0, labels=False,
                                            marks=[lo.SensorMark(name="Vibration", point=hot,
                                                                 value=2.0, state="normal")])])
    img = renderer.plotter.screenshot(return_img=True)
    assert _reddish(_near(img, _pixel(renderer, hot))) == 0
    assert _greenish(_near(img, _pixel(renderer, hot))) > 40
    band = img[: SIZE[1] // 8, SIZE[0] // 4: 3 * SIZE[0] // 4, :3].astype(int)
    assert _reddish(band) == 0
    assert len(renderer.overlays.actors) == 1


def test_a_tracked_tool_moves_without_new_actors(scene):
    renderer, live = scene
    pose = np.eye(4)
    pose[:3, 3] = (-30.0, 10.0, 5.0)
    glyph = lo.ToolGlyph(id="live:tool:S", name="S", pose=tuple(map(tuple, pose)),
                         tip_radius=4.0, reach=0.0, color=(0.1, 0.9, 1.0))
    live.set(glyph)
    actors = list(renderer.overlays.actors["live|live:tool:S"])

    def cyan_at(point) -> int:
        px = _near(renderer.plotter.screenshot(return_img=True), _pixel(renderer, point), 4)
        return int(((px[..., 2] > 150) & (px[..., 1] > 150) & (px[..., 0] < 120)).sum())

    assert cyan_at((-30.0, 10.0, 5.0)) > 20
    pose[:3, 3] = (35.0, -10.0, 5.0)
    live.set(glyph.model_copy(update={"pose": tuple(map(tuple, pose))}))
    assert renderer.overlays.actors["live|live:tool:S"] == actors  # the same actors, moved
    assert cyan_at((35.0, -10.0, 5.0)) > 20 and cyan_at((-30.0, 10.0, 5.0)) == 0

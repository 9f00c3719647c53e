"""The workbench's live overlays in the headset (issue #16): the stereo renderer draws a tracked
tool's tip where the eye geometry puts it, in both eyes, and follows its pose; the alarm banner
shows in each eye. Offscreen VTK with the headset's own eye cameras, no runtime."""

from __future__ import annotations

import numpy as np

from sim.model import live_overlays as lo
from sim.workbench import Workbench
from tests.viewer.xr.xr_child import project, sphere_case
from viewer.xr.eye_camera import EyeView, Fov, Pose, stereo_eyes

SIZE = (200, 200)
CYAN = (0.1, 0.9, 1.0)


def _cyan(img: np.ndarray, uv, r: int = 5) -> int:
    u, v = int(round(uv[0])), int(round(uv[1]))
    px = img[max(v - r, 0):v + r + 1, max(u - r, 0):u + r + 1].astype(int)
    return int(((px[..., 2] > 150) & (px[..., 1] > 150) & (px[..., 0] < 120)).sum())


def _glyph(at) -> lo.ToolGlyph:
    pose = np.eye(4)
    pose[:3, 3] = at
    return lo.ToolGlyph(id="live:tool:Stylus", name="Stylus", pose=tuple(map(tuple, pose)),
                        tip_radius=15.0, reach=0.0, color=CYAN)


def test_the_headset_draws_the_tracked_tool_and_the_banner():
    from viewer.xr.sim_link import SimulationLink
    from viewer.xr.stereo_renderer import StereoRenderer

    case = sphere_case()
    for obj in case.scene:
        obj.visible = False  # only the overlays in view
    bench = Workbench(case=case)
    stereo = StereoRenderer(SIZE)
    try:
        stereo.set_case(case)
        SimulationLink(bench).sync(stereo)  # what the headset does before each frame
        head = Pose(np.array([0.0, 1.6, 0.0]))
        stereo.placement.center_in_front((-30, 30, -30, 30, -30, 30), head, 0.4, 0.0)
        eyes = [EyeView(e.pose, Fov.symmetric(90.0, 1.0)) for e in stereo_eyes(head)]
        first, second = (-60.0, 0.0, 20.0), (60.0, 0.0, -20.0)
        bench.show_live([_glyph(first)])
        stereo.render(eyes)
        images = stereo.eye_images()
        for eye, img in zip(eyes, images, strict=True):
            assert _cyan(img, project(eye, stereo.placement.to_xr(first), SIZE)) > 15
            assert _cyan(img, project(eye, stereo.placement.to_xr(second), SIZE)) == 0
        # A new pose moves the tip in both eyes.
        bench.show_live([_glyph(second)])
        stereo.render(eyes)
        for eye, img in zip(eyes, stereo.eye_images(), strict=True):
            assert _cyan(img, project(eye, stereo.placement.to_xr(second), SIZE)) > 15
            assert _cyan(img, project(eye, stereo.placement.to_xr(first), SIZE)) == 0

        # The banner: light-red text near the top of each eye, gone when the alarm is.
        def red_top(img: np.ndarray) -> int:
            band = img[: SIZE[1] // 6].astype(int)
            return int(((band[..., 0] > 150) & (band[..., 0] > band[..., 1] + 80)).sum())

        bench.show_live([_glyph(second), lo.AlarmBanner(id="live:alarm", text="ALARM: hot")])
        stereo.render(eyes)
        assert all(red_top(img) > 20 for img in stereo.eye_images())
        bench.show_live([_glyph(second)])  # acknowledged: the banner goes, the tool stays
        stereo.render(eyes)
        assert all(red_top(img) == 0 for img in stereo.eye_images())
        assert all(_cyan(img, project(eye, stereo.placement.to_xr(second), SIZE)) > 15
                   for eye, img in zip(eyes, stereo.eye_images(), strict=True))
    finally:
        stereo.close()

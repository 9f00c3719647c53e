"""The headset-free side-by-side stereo preview window (no runtime needed)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewer.xr.xr_child import project, sphere_case

pytestmark = pytest.mark.gui


def ball_mask(img: np.ndarray) -> np.ndarray:
    rgb = img.astype(float)
    return (rgb[..., 0] > 90) & (rgb[..., 0] > rgb[..., 1] + 50) & (rgb[..., 0] > rgb[..., 2] + 50)


@pytest.fixture
def preview(qtbot):
    from viewer.xr.preview import XRPreviewWindow

    case = sphere_case()
    case.scene["Block"].visible = False
    win = XRPreviewWindow(case, refresh_ms=50)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.refresh()
    return win


def test_preview_shows_both_eyes_side_by_side_with_parallax(preview):
    left, right = preview.stereo.eye_images()
    assert left.shape == right.shape
    size = (left.shape[1], left.shape[0])
    eyes = preview.eyes()
    ball = preview.stereo.placement.to_xr([0.0, 0.0, 0.0])
    shifts = []
    for eye, img in zip(eyes, (left, right), strict=True):
        rows, cols = np.nonzero(ball_mask(img))
        assert cols.size > 50
        u, _ = project(eye, ball, size)
        assert cols.mean() == pytest.approx(u, abs=2.0)
        shifts.append(cols.mean())
    assert shifts[0] - shifts[1] > 5  # near object: further right in the left eye


def test_preview_head_moves_and_scene_scales(preview, qtbot):
    before = ball_mask(preview.stereo.eye_images()[0]).sum()
    preview.move_head(forward=0.2)  # step towards the ball: it looks bigger
    preview.refresh()
    nearer = ball_mask(preview.stereo.eye_images()[0]).sum()
    assert nearer > 1.5 * before
    preview.scale_scene(0.5)
    preview.refresh()
    assert ball_mask(preview.stereo.eye_images()[0]).sum() < nearer
    preview.close()

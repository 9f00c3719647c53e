"""The headset view against a real OpenXR runtime (Monado: null compositor, simulated or
remote-driven devices). Every session runs in its own process (see xr_child.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.viewer.xr.xr_helpers import run_child
from viewer.xr.stereo_renderer import XR_BACKGROUND

pytestmark = pytest.mark.slow

BACKGROUND = np.array(XR_BACKGROUND) * 255


def red_mask(img: np.ndarray) -> np.ndarray:
    rgb = img.astype(float)
    return (rgb[..., 0] > 90) & (rgb[..., 0] > rgb[..., 1] + 50) & (rgb[..., 0] > rgb[..., 2] + 50)


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def test_eye_images_from_the_swapchain_show_the_demo_case(monado_manifest, tmp_path, demo_case_dir):
    res = run_child("render", monado_manifest, tmp_path, case_dir=demo_case_dir)
    assert "Monado" in res["runtime"]
    w, h = res["size"]
    for eye in ("left", "right"):
        img = np.load(tmp_path / "render" / f"frame_{eye}.npy")
        assert img.shape == (h, w, 3)
        # Corners are the headset background; the anatomy (reddish liver, aorta) is in view.
        for corner in (img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]):
            assert np.abs(corner.astype(float) - BACKGROUND).max() <= 3
        assert red_mask(img).sum() > 0.002 * w * h
        assert (np.abs(img.astype(float) - BACKGROUND).max(axis=-1) > 30).mean() < 0.6


def test_left_and_right_eyes_differ_by_the_expected_parallax(monado_manifest, tmp_path):
    res = run_child("render", monado_manifest, tmp_path)
    left = np.load(tmp_path / "render" / "frame_left.npy")
    right = np.load(tmp_path / "render" / "frame_right.npy")
    # The scene's centre (between the ball and the block) projected through each located view.
    (lx, ly), (rx, ry) = res["projected"]
    expected = lx - rx
    assert expected > 5.0  # a life-size scene half a metre away: clear stereo disparity
    # The red ball: its image in each eye, and the shift between the eyes.
    shift = centroid(red_mask(left)) - centroid(red_mask(right))
    assert shift[0] == pytest.approx(expected, abs=1.5)
    assert abs(shift[1] - (ly - ry)) < 1.5
    assert not np.array_equal(left, right)


def test_a_deformation_in_the_model_appears_in_the_next_xr_frame(monado_manifest, tmp_path):
    res = run_child("deform", monado_manifest, tmp_path)
    for i, eye in enumerate(("left", "right")):
        before = red_mask(np.load(tmp_path / "deform" / f"before_{eye}.npy"))
        after = red_mask(np.load(tmp_path / "deform" / f"after_{eye}.npy"))
        edge_before = np.nonzero(before.any(axis=0))[0].max()
        edge_after = np.nonzero(after.any(axis=0))[0].max()
        # The ball's +x (patient-left) side was pushed 25 mm: its right edge moves in the image.
        assert edge_before == pytest.approx(res["tip_before"][i][0], abs=2.5)
        assert edge_after == pytest.approx(res["tip_after"][i][0], abs=2.5)
        assert edge_after - edge_before > 3


def test_scripted_controllers_grab_move_select_and_scale(monado_manifest,
                                                                            tmp_path):
    res = run_child("grab", monado_manifest, tmp_path, remote=True)
    np.testing.assert_allclose(res["hand_moved_m"], res["offset_m"], atol=1e-4)
    dx, dy, dz = res["offset_m"]
    # Headset (x right, y up, z back) metres -> patient LPS millimetres at life size.
    expected_mm = [1000 * dx, -1000 * dz, 1000 * dy]
    np.testing.assert_allclose(res["object_translation_mm"], expected_mm, atol=0.2)
    assert res["selected"] == "Block"
    assert res["placement_unchanged"]
    # The same runtime session: trigger along the aim ray selects, two hands scale the scene.
    assert res["ray_selected"] == "Ball"
    assert res["scene_grab_targets"] == [None, None]
    assert res["scale_ratio"] == pytest.approx(2.0, rel=1e-3)
    assert "Selected: Ball" in res["panel"] and "Between hands: 200 mm" in res["panel"]


def test_ten_start_stop_cycles_neither_crash_nor_leak(monado_manifest, tmp_path):
    res = run_child("cycles", monado_manifest, tmp_path, timeout=300)
    rss, fds, threads = res["rss_kb"], res["open_fds"], res["threads"]
    assert len(rss) == 10
    # After warm-up, memory, open files and threads (the runtime's own) stay flat.
    assert rss[-1] - rss[2] < 8_000, rss
    assert fds[-1] == fds[2], fds
    assert threads[-1] == threads[2], threads


def test_view_enter_xr_runs_frames_from_the_gui_timer_and_leaves(monado_manifest, tmp_path):
    res = run_child("gui", monado_manifest, tmp_path)
    assert res["rendered"] >= 5
    assert res["error"] is None
    assert res["checked_after"] is False
    assert res["block_visible_in_xr"] is False  # hidden on the desktop side -> hidden in XR


def test_without_a_display_the_session_shares_an_egl_context(monado_manifest, tmp_path):
    res = run_child("render", monado_manifest, tmp_path, env_changes={
        "DISPLAY": None, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"})
    assert res["render_window"] == "vtkEGLRenderWindow"
    for eye in ("left", "right"):
        img = np.load(tmp_path / "render" / f"frame_{eye}.npy")
        assert red_mask(img).sum() > 20  # the ball


def test_trigger_drag_pulls_fe_tissue_through_the_runtime(monado_manifest, tmp_path):
    res = run_child("pull", monado_manifest, tmp_path, remote=True)
    assert res["selected"] == "Tissue"
    assert res["grabbed"] == pytest.approx([20.0, 20.0, 40.0])  # the node under the ray
    assert res["pulled"] == pytest.approx([20.0, 20.0, 50.0], abs=1e-3)  # 1 cm hand lift
    assert "Selected: Tissue" in res["panel"]
    rate = re.search(r"Simulation: (\d+(?:\.\d)?) steps/s", res["panel"])
    assert rate and float(rate.group(1)) > 0, res["panel"]


def test_asymmetric_views_from_the_runtime_frame_the_scene_exactly(monado_manifest, tmp_path):
    from tests.viewer.xr.xr_child import ASYMMETRIC_FOVS

    res = run_child("asym", monado_manifest, tmp_path, remote=True)
    np.testing.assert_allclose(res["fovs"], ASYMMETRIC_FOVS, atol=1e-6)
    for i, eye in enumerate(("left", "right")):
        mask = red_mask(np.load(tmp_path / "asym" / f"frame_{eye}.npy"))
        u, v = res["projected"][i]
        # The ball sits off-centre by the frustum's asymmetry, where the located view puts it.
        assert abs(u - res["size"][0] / 2) > 10
        np.testing.assert_allclose(centroid(mask), [u, v], atol=2.0)


def test_a_rehearsal_attempts_tissue_deforms_in_the_headset(monado_manifest, tmp_path,
                                                           demo_case_dir):
    """The workbench runs the attempt; the headset shows whatever simulation runs (#16)."""
    res = run_child("rehearsal", monado_manifest, tmp_path, case_dir=demo_case_dir, timeout=300)
    assert res["owner"] == "rehearsal" and res["drawn"] == 1
    assert res["max_moved_mm"] > 5.0  # the retractor pushed the liver
    changed = 0
    for eye in ("left", "right"):
        a = np.load(tmp_path / "rehearsal" / f"before_{eye}.npy").astype(int)
        b = np.load(tmp_path / "rehearsal" / f"after_{eye}.npy").astype(int)
        changed += int((np.abs(a - b).sum(axis=-1) > 30).sum())
    assert changed > 50  # the deformation is in the pictures, both eyes together

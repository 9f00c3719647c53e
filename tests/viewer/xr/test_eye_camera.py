"""Per-eye camera maths and the stereo renderer, without a runtime (offscreen VTK)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewer.xr.xr_child import project, sphere_case
from viewer.xr.eye_camera import (
    LPS_TO_XR,
    EyeView,
    Fov,
    Pose,
    ScenePlacement,
    matrix_to_quat,
    projection_matrix,
    quat_to_matrix,
    stereo_eyes,
)


def test_quaternion_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        m = quat_to_matrix(q)
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(m)), m, atol=1e-9)


def test_lps_maps_to_an_upright_patient_facing_the_viewer():
    np.testing.assert_allclose(LPS_TO_XR @ [0, 0, 1], [0, 1, 0])  # superior is up
    np.testing.assert_allclose(LPS_TO_XR @ [0, -1, 0], [0, 0, 1])  # anterior faces the viewer
    np.testing.assert_allclose(LPS_TO_XR @ [1, 0, 0], [1, 0, 0])  # patient left on our right
    assert np.linalg.det(LPS_TO_XR) == pytest.approx(1.0)


def test_placement_round_trip_and_matrix():
    p = ScenePlacement(scale=0.002, translation=np.array([0.1, 1.2, -0.4]))
    pts = np.array([[10.0, -20.0, 30.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(p.to_scene(p.to_xr(pts)), pts, atol=1e-9)
    m = p.matrix()
    q = ScenePlacement()
    q.set_matrix(m)
    assert q.scale == pytest.approx(0.002)
    np.testing.assert_allclose(q.rotation, p.rotation, atol=1e-12)
    np.testing.assert_allclose(q.translation, p.translation)


def test_center_in_front_puts_the_scene_ahead_of_a_turned_head():
    head = Pose(np.array([0.3, 1.7, 0.2]), matrix_to_quat(quat_to_matrix(
        (0.0, np.sin(np.pi / 4), 0.0, np.cos(np.pi / 4)))))  # turned 90 degrees left
    p = ScenePlacement()
    bounds = (-100, 100, -50, 50, -20, 20)
    p.center_in_front(bounds, head, distance_m=0.6, drop_m=0.1)
    forward = head.rotation @ [0, 0, -1]
    np.testing.assert_allclose(p.to_xr([0, 0, 0]), head.position + 0.6 * forward - [0, 0.1, 0],
                               atol=1e-9)
    # The patient still stands upright and faces the viewer.
    np.testing.assert_allclose(p.rotation @ [0, 0, 1], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(p.rotation @ [0, -1, 0], -forward, atol=1e-12)


def test_projection_matrix_maps_the_frustum_edges_to_the_clip_cube():
    fov = Fov(-0.9, 0.5, 0.6, -0.7)
    proj = projection_matrix(fov, 0.1, 10.0)
    for x_tan, y_tan, ndc in ((np.tan(-0.9), np.tan(0.6), (-1, 1)), (np.tan(0.5), np.tan(-0.7), (1, -1))):
        clip = proj @ [x_tan * 2.0, y_tan * 2.0, -2.0, 1.0]
        np.testing.assert_allclose(clip[:2] / clip[3], ndc, atol=1e-12)


@pytest.mark.parametrize("fov", [Fov.symmetric(90.0, 1.0), Fov(-0.9, 0.5, 0.6, -0.7)],
                         ids=["symmetric", "asymmetric"])
def test_rendered_eyes_put_the_ball_where_the_view_geometry_says(fov):
    from viewer.xr.stereo_renderer import XR_BACKGROUND, StereoRenderer

    case = sphere_case()
    case.scene["Block"].visible = False
    size = (200, 200)
    stereo = StereoRenderer(size)
    try:
        stereo.set_case(case)
        head = Pose(np.array([0.0, 1.6, 0.0]))
        stereo.placement.center_in_front((-30, 30, -30, 30, -30, 30), head, 0.4, 0.0)
        eyes = [EyeView(e.pose, fov) for e in stereo_eyes(head)]
        stereo.render(eyes)
        images = stereo.eye_images()
        ball = stereo.placement.to_xr([0.0, 0.0, 0.0])
        for eye, img in zip(eyes, images, strict=True):
            # Everything that is not background is the ball (shading darkens its lower half).
            mask = np.abs(img.astype(float) - np.array(XR_BACKGROUND) * 255).max(axis=-1) > 12
            rows, cols = np.nonzero(mask)
            u, v = project(eye, ball, size)
            assert cols.mean() == pytest.approx(u, abs=1.5)
            assert rows.mean() == pytest.approx(v, abs=1.5)
        # Parallax: the near ball sits further right in the left eye than in the right eye.
        (ul, _), (ur, _) = (project(e, ball, size) for e in eyes)
        assert ul - ur > 5
    finally:
        stereo.close()

"""sim.geometry.rigid against analytic rotations and round trips (not against scipy itself)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.geometry import rigid

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
vec3 = st.tuples(finite, finite, finite).map(np.array)
axis3 = vec3.filter(lambda v: np.linalg.norm(v) > 1e-3)
angle = st.floats(-math.pi, math.pi, allow_nan=False)
quat = st.tuples(*[st.floats(-1, 1, allow_nan=False)] * 4).map(np.array).filter(
    lambda q: np.linalg.norm(q) > 1e-2)


def _is_rotation(r: np.ndarray) -> bool:
    return np.allclose(r.T @ r, np.eye(3), atol=1e-9) and abs(np.linalg.det(r) - 1) < 1e-9


@pytest.mark.parametrize(("axis", "v", "expected"), [
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)),   # right-hand rule: x turns to y about z
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    ((0, 1, 0), (0, 0, 1), (1, 0, 0)),
])
def test_quarter_turns_follow_the_right_hand_rule(axis, v, expected):
    np.testing.assert_allclose(rigid.rotation_about(axis, math.pi / 2) @ v, expected, atol=1e-12)
    np.testing.assert_allclose(rigid.rotation_deg(np.multiply(axis, 7.0), 90) @ v, expected, atol=1e-12)


def test_known_quaternions_in_wire_order_xyzw():
    h = math.sqrt(0.5)
    np.testing.assert_allclose(rigid.quaternion_matrix([0, 0, h, h]),
                               [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)  # 90 deg about z
    np.testing.assert_allclose(rigid.quaternion_matrix([2, 0, 0, 0]), np.diag([1, -1, -1]), atol=1e-12)
    np.testing.assert_allclose(rigid.matrix_quaternion([[0, -1, 0], [1, 0, 0], [0, 0, 1]]),
                               [0, 0, h, h], atol=1e-12)
    with pytest.raises(ValueError, match="zero"):
        rigid.quaternion_matrix([0, 0, 0, 0])


@settings(max_examples=200, deadline=None)
@given(axis3, angle)
def test_rotation_about_matches_rodrigues_and_its_angle(axis, theta):
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    hand = np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx
    r = rigid.rotation_about(axis, theta)
    np.testing.assert_allclose(r, hand, atol=1e-12)
    np.testing.assert_allclose(r @ k, k, atol=1e-12)  # the axis stays put
    assert rigid.rotation_angle_deg(r) == pytest.approx(abs(math.degrees(theta)), abs=1e-6)
    np.testing.assert_allclose(rigid.rotvec_matrices((k * theta)[None])[0], hand, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(quat)
def test_quaternion_round_trip_and_hand_formula(q):
    x, y, z, w = q / np.linalg.norm(q)
    hand = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    r = rigid.quaternion_matrix(q)
    np.testing.assert_allclose(r, hand, atol=1e-12)
    back = rigid.matrix_quaternion(r)
    assert back[3] >= 0
    sign = 1.0 if w >= 0 else -1.0  # q and -q are the same rotation
    if abs(w) > 1e-9:
        np.testing.assert_allclose(back, sign * np.array([x, y, z, w]), atol=1e-9)
    np.testing.assert_allclose(rigid.quaternion_matrix(back), r, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(vec3, st.tuples(*[st.floats(-179, 179)] * 3))
def test_parts_round_trip(t, angles):
    m = rigid.from_parts(t, angles)
    assert _is_rotation(m[:3, :3])
    t2, a2 = rigid.to_parts(m)
    np.testing.assert_allclose(t2, t)
    np.testing.assert_allclose(rigid.from_parts(t2, a2), m, atol=1e-9)
    rigid.check_rigid(m)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31), st.booleans(), st.floats(0.2, 5.0))
def test_fit_recovers_a_known_transform(seed, with_scale, s):
    rng = np.random.default_rng(seed)
    truth = rigid.random_rigid(rng, 100.0)
    assert _is_rotation(truth[:3, :3])
    pts = rng.normal(scale=30.0, size=(8, 3))
    scale = s if with_scale else 1.0
    fixed = pts @ (scale * truth[:3, :3]).T + truth[:3, 3]
    m, c = rigid.fit_rigid(pts, fixed, scale=with_scale)
    assert c == pytest.approx(scale, rel=1e-9)
    np.testing.assert_allclose(rigid.apply_transform(m, pts), fixed, atol=1e-7)
    rot_err, t_err = rigid.transform_error(rigid.make_transform(m[:3, :3] / c, m[:3, 3]),
                                           rigid.make_transform(truth[:3, :3], truth[:3, 3]))
    assert rot_err < 1e-5 and t_err < 1e-6


def test_fit_never_returns_a_reflection():
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    mirrored = pts * [1, 1, -1]  # the best orthogonal map is a reflection; a rotation is required
    m, _ = rigid.fit_rigid(pts, mirrored)
    assert _is_rotation(m[:3, :3])


def test_nearest_rotation_cleans_rounded_matrices():
    r = rigid.rotation_deg([1, 2, 3], 40)
    noisy = np.round(r, 4)
    assert rigid.rotation_angle_deg(rigid.nearest_rotation(noisy) @ r.T) < 0.01
    assert _is_rotation(rigid.nearest_rotation(np.diag([1, 1, -1.0])))


def test_bad_matrices_give_one_clear_error():
    with pytest.raises(InputError, match="4x4"):
        rigid.as_matrix([[1, 2], [3, 4]])
    with pytest.raises(InputError, match="not rigid"):
        rigid.check_rigid(np.diag([2.0, 1, 1, 1]))
    with pytest.raises(InputError, match="singular"):
        rigid.check_matrix(np.diag([0.0, 1, 1, 1]))

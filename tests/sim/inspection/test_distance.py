"""Closest points and signed distances against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.inspection.distance import MeshDistance, triangles_of


def brute_force_distance(points: np.ndarray, v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Unsigned distance to every triangle, vectorised over triangles (independent code path:
    barycentric projection with clamping to the three edges)."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    out = np.empty(len(points))

    def seg(p, s0, s1):
        d = s1 - s0
        t = np.clip(np.einsum("ij,ij->i", p - s0, d) / np.einsum("ij,ij->i", d, d), 0, 1)
        return np.linalg.norm(p - (s0 + t[:, None] * d), axis=1)

    n = np.cross(b - a, c - a)
    nn = n / np.linalg.norm(n, axis=1, keepdims=True)
    for i, p in enumerate(points):
        h = np.einsum("ij,ij->i", p - a, nn)
        proj = p - h[:, None] * nn
        # inside test via signs of sub-triangle normals
        c0 = np.einsum("ij,ij->i", np.cross(b - a, proj - a), n)
        c1 = np.einsum("ij,ij->i", np.cross(c - b, proj - b), n)
        c2 = np.einsum("ij,ij->i", np.cross(a - c, proj - c), n)
        inside = (c0 >= 0) & (c1 >= 0) & (c2 >= 0)
        pp = np.broadcast_to(p, a.shape)
        edge = np.minimum(np.minimum(seg(pp, a, b), seg(pp, b, c)), seg(pp, c, a))
        out[i] = np.min(np.where(inside, np.abs(h), edge))
    return out


def test_distance_matches_brute_force_on_real_part(idler_riser):
    v, f = triangles_of(idler_riser)
    md = MeshDistance(v, f)
    rng = np.random.default_rng(1)
    lo, hi = np.array(idler_riser.bounds[::2]), np.array(idler_riser.bounds[1::2])
    # Points everywhere: near the surface, inside, outside and far away.
    q = np.vstack([rng.uniform(lo - 20, hi + 20, (300, 3)),
                   v[rng.integers(0, len(v), 300)] + rng.normal(0, 0.3, (300, 3))])
    c = md.closest(q)
    expected = brute_force_distance(q, v, f)
    np.testing.assert_allclose(np.abs(c.signed), expected, atol=1e-9)
    # The closest point lies on the reported triangle's plane and matches the distance.
    np.testing.assert_allclose(np.linalg.norm(q - c.points, axis=1), expected, atol=1e-9)


def test_sign_is_inside_negative_outside_positive():
    sphere = pv.Sphere(radius=10.0, theta_resolution=60, phi_resolution=60)
    md = MeshDistance.from_mesh(sphere)
    rng = np.random.default_rng(2)
    dirs = rng.normal(size=(2000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    radii = rng.uniform(2.0, 18.0, 2000)
    d = md.signed_distance(dirs * radii[:, None])
    inside = radii < 9.9  # the tessellated sphere lies within 10 mm and beyond ~9.97 mm
    outside = radii > 10.01
    assert (d[inside] < 0).all() and (d[outside] > 0).all()


def test_sign_near_box_corners_and_edges():
    box = pv.Box(bounds=(0, 10, 0, 10, 0, 10)).triangulate()
    md = MeshDistance.from_mesh(box)
    pts = np.array([[11, 11, 11], [-1, -1, 5], [5, 11, 11], [9.9, 9.9, 9.9], [0.1, 5, 0.1]])
    d = md.signed_distance(pts)
    np.testing.assert_allclose(d, [np.sqrt(3), np.sqrt(2), np.sqrt(2), -0.1, -0.1], atol=1e-9)


def test_max_distance_leaves_far_points_unmatched():
    md = MeshDistance.from_mesh(pv.Box().triangulate())
    c = md.closest(np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 1.2]]), max_distance=1.0)
    assert list(c.found) == [False, True]
    assert np.isnan(c.signed[0]) and c.signed[1] == pytest.approx(0.2)


def test_bad_meshes_are_refused():
    with pytest.raises(InputError):
        MeshDistance(np.zeros((3, 3)), np.array([[0, 1, 2]]))  # degenerate only
    with pytest.raises(InputError):
        MeshDistance(np.array([[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]]), np.array([[0, 1, 2]]))
    with pytest.raises(InputError):
        triangles_of(pv.PolyData(np.random.rand(10, 3)))

"""Barycentric embedding of a fine visual surface in a coarse simulation mesh."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.fem.embedding import embed
from sim.mesh.generators import box


@pytest.mark.parametrize("order", [1, 2])
def test_embedded_surface_follows_linear_and_quadratic_fields(order):
    mesh = box((2.0, 2.0, 2.0), (3, 3, 3), origin=(-1, -1, -1), order=order)
    fine = pv.Sphere(radius=0.9, theta_resolution=60, phi_resolution=60)
    emb = embed(mesh, np.asarray(fine.points))
    assert emb.outside_distance.max() < 1e-9
    A = np.array([[0.1, 0.02, 0.0], [0.0, -0.05, 0.03], [0.01, 0.0, 0.2]])
    lin = mesh.points @ A.T
    assert np.allclose(emb.map(lin), np.asarray(fine.points) @ A.T, atol=1e-12)
    if order == 2:  # P2 shape functions reproduce quadratic fields exactly
        quad = np.column_stack([mesh.points[:, 0] ** 2, mesh.points[:, 1] * mesh.points[:, 2],
                                np.zeros(mesh.n_nodes)])
        p = np.asarray(fine.points)
        assert np.allclose(emb.map(quad), np.column_stack([p[:, 0] ** 2, p[:, 1] * p[:, 2],
                                                            np.zeros(len(p))]), atol=1e-12)
    moved = emb.deform(fine, lin)
    assert np.allclose(np.asarray(moved.points), np.asarray(fine.points) @ (np.eye(3) + A).T)
    scalar = emb.map(np.linalg.norm(lin, axis=1))
    assert scalar.shape == (fine.n_points,)


def test_vertices_outside_the_mesh_follow_the_nearest_element():
    mesh = box((1.0, 1.0, 1.0), (2, 2, 2))
    pts = np.array([[1.05, 0.5, 0.5], [0.5, 0.5, -0.02]])
    emb = embed(mesh, pts)
    assert np.allclose(emb.outside_distance, [0.05, 0.02])
    shift = np.tile([0.3, -0.1, 0.2], (mesh.n_nodes, 1))
    assert np.allclose(emb.map(shift), [[0.3, -0.1, 0.2]] * 2)  # rigid motion carried exactly

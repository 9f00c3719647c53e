"""Surface registration of a real factory part from arbitrary poses."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.errors import Cancelled, InputError
from sim.geometry.rigid import apply_transform, random_rigid, transform_error
from sim.registration.surface import register_surface
from tests.sim.idler_riser import sample_surface


def _scan(mesh: pv.PolyData, n: int, seed: int, noise: float, view=(0.3, 0.5, 0.8),
          outliers: float = 0.0) -> np.ndarray:
    """A single-view scan: the faces seen from ``view`` (+ grazing ones), noise, strays."""
    rng = np.random.default_rng(seed)
    pts, nrm = sample_surface(mesh, n, seed)
    v = np.asarray(view, float) / np.linalg.norm(view)
    pts = pts[nrm @ v > -0.2]
    pts = pts + rng.normal(0.0, noise, pts.shape)
    if outliers:
        lo, hi = np.array(mesh.bounds[::2]), np.array(mesh.bounds[1::2])
        pts = np.vstack([pts, rng.uniform(lo - 10, hi + 10, (int(outliers * len(pts)), 3))])
    return pts


def test_noisy_partial_scan_with_outliers_from_a_random_pose(idler_riser):
    scan = _scan(idler_riser, 150_000, seed=3, noise=0.03, outliers=0.02)
    assert len(scan) < 0.8 * 150_000 * 1.02  # it really is partial
    rng = np.random.default_rng(11)
    truth = random_rigid(rng, 100.0)
    moving = pv.PolyData(apply_transform(np.linalg.inv(truth), scan))
    res = register_surface(moving, idler_riser)
    rot, trans = transform_error(res.matrix, truth, at=idler_riser.center)
    assert rot < 0.1 and trans < 0.1, (rot, trans)
    assert res.fitness > 0.95  # the 2 % strays are the misfits
    assert res.inlier_rms < 0.05  # about the 30 um noise


def test_clean_data_known_transform_recovered_exactly(idler_riser):
    pts, _ = sample_surface(idler_riser, 30_000, seed=5)
    truth = random_rigid(np.random.default_rng(7), 80.0)
    moving = pv.PolyData(apply_transform(np.linalg.inv(truth), pts))
    res = register_surface(moving, idler_riser)
    np.testing.assert_allclose(res.matrix, truth, atol=1e-6)
    assert res.inlier_rms < 1e-6 and res.fitness == 1.0


def test_icp_only_from_a_nearby_pose_and_cloud_reference(idler_riser):
    pts, _ = sample_surface(idler_riser, 20_000, seed=6)
    small = random_rigid(np.random.default_rng(8), 1.0)
    small[:3, :3] = np.eye(3)  # a 1 mm slip, no turn
    moving = pv.PolyData(apply_transform(np.linalg.inv(small), pts))
    res = register_surface(moving, idler_riser, method="none")
    np.testing.assert_allclose(res.matrix, small, atol=1e-6)
    # Reference given only as points: Open3D point-to-plane ICP path.
    ref = pv.PolyData(sample_surface(idler_riser, 60_000, seed=9)[0])
    res2 = register_surface(moving, ref, method="none")
    rot, trans = transform_error(res2.matrix, small, at=idler_riser.center)
    assert rot < 0.2 and trans < 0.1


def test_bad_input_and_cancel(idler_riser):
    with pytest.raises(InputError):
        register_surface(pv.PolyData(np.zeros((3, 3))), idler_riser)
    with pytest.raises(InputError):
        register_surface(pv.PolyData(np.random.rand(100, 3)), idler_riser, method="magic")

    def cancel(fraction, message):
        if fraction > 0.2:
            raise Cancelled("registration")

    with pytest.raises(Cancelled):
        register_surface(pv.PolyData(sample_surface(idler_riser, 5000, 1)[0]), idler_riser,
                         progress=cancel)


def test_mesh_to_mesh_registration(idler_riser):
    truth = random_rigid(np.random.default_rng(21), 50.0)
    moving = idler_riser.copy()
    moving.points = apply_transform(np.linalg.inv(truth), np.asarray(idler_riser.points))
    res = register_surface(moving, idler_riser)
    rot, trans = transform_error(res.matrix, truth, at=idler_riser.center)
    assert rot < 1e-3 and trans < 1e-3 and res.fitness > 0.999

"""Clearance, collision, penetration and volume against brute-force and analytic references."""

import numpy as np
import pytest
import pyvista as pv
import trimesh
from scipy.spatial.transform import Rotation

from sim.devices.catalogue import Device
from sim.geometry.bvh import TriangleTree
from sim.placement import PlacementScene, RigidDevice, evaluate
from sim.placement.field import SurfaceField, mesh_triangles


def _segments_min_distance(p1, q1, p2, q2):
    """Brute force over all segment pairs (numpy, vectorised): the textbook clamped solution."""
    d1 = (q1 - p1)[:, None, :]
    d2 = (q2 - p2)[None, :, :]
    r = p1[:, None, :] - p2[None, :, :]
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    b = (d1 * d2).sum(-1)
    c = (d1 * r).sum(-1)
    f = (d2 * r).sum(-1)
    denom = a * e - b * b
    s = np.where(denom > 1e-300, np.clip((b * f - c * e) / np.where(denom > 1e-300, denom, 1), 0, 1), 0)
    t = (b * s + f) / e
    s = np.where(t < 0, np.clip(-c / a, 0, 1), np.where(t > 1, np.clip((b - c) / a, 0, 1), s))
    t = np.clip(t, 0, 1)
    x = p1[:, None, :] + d1 * s[..., None]
    y = p2[None, :, :] + d2 * t[..., None]
    return np.sqrt(((x - y) ** 2).sum(-1)).min()


def _intersect(mesh_a: pv.PolyData, mesh_b: pv.PolyData) -> bool:
    """VTK's triangle-triangle collision filter, an independent intersection test."""
    return mesh_a.collision(mesh_b, contact_mode=0, generate_scalars=False)[1] > 0


def _brute_force_distance(mesh_a: pv.PolyData, mesh_b: pv.PolyData) -> float:
    """Exact distance between surfaces: 0 if they intersect, else min of vertex-face
    (trimesh) and edge-edge (numpy, all pairs) distances."""
    if _intersect(mesh_a, mesh_b):
        return 0.0
    va, fa = mesh_triangles(mesh_a)
    vb, fb = mesh_triangles(mesh_b)
    ta, tb = trimesh.Trimesh(va, fa, process=False), trimesh.Trimesh(vb, fb, process=False)
    d_ab = trimesh.proximity.closest_point(tb, va)[1].min()
    d_ba = trimesh.proximity.closest_point(ta, vb)[1].min()
    ea, eb = ta.edges_unique, tb.edges_unique
    d_ee = _segments_min_distance(va[ea[:, 0]], va[ea[:, 1]], vb[eb[:, 0]], vb[eb[:, 1]])
    return float(min(d_ab, d_ba, d_ee))


def _random_pose(rng, spread):
    m = np.eye(4)
    m[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    m[:3, 3] = rng.uniform(-spread, spread, 3)
    return m


def _blob(rng, n=12):
    """A small irregular closed mesh: a low-res sphere with random radial bumps."""
    s = pv.Sphere(radius=4.0, theta_resolution=n, phi_resolution=n)
    pts = np.asarray(s.points)
    s.points = pts * rng.uniform(0.7, 1.3, (len(pts), 1))
    return s


def test_mesh_distance_matches_brute_force_to_1e6():
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(40):
        a = _blob(rng).transform(_random_pose(rng, 2.0), inplace=False)
        b = _blob(rng, 10).transform(_random_pose(rng, 9.0), inplace=False)
        ref = _brute_force_distance(a, b)
        ta = TriangleTree.build(np.asarray(mesh_triangles(a)[0])[mesh_triangles(a)[1]])
        tb = TriangleTree.build(np.asarray(mesh_triangles(b)[0])[mesh_triangles(b)[1]])
        d, pa, pb, _, _ = ta.distance_to(tb)
        assert d == pytest.approx(ref, abs=1e-6)
        if ref == 0:
            continue
        assert np.linalg.norm(pa - pb) == pytest.approx(d, abs=1e-9), "closest points realise it"
        checked += ref > 0
    assert checked >= 15


def test_evaluate_clearance_and_closest_points_are_exact():
    rng = np.random.default_rng(11)
    scene = PlacementScene(exact_within=np.inf)
    structure = _blob(rng, 14)
    scene.add("nerve", structure, role="critical", margin_mm=1.5)
    device = Device("user", "blob", {}, _blob(rng, 10), margin_mm=1.0)
    rigid = RigidDevice(device, n_samples=800)
    for _ in range(15):
        pose = _random_pose(rng, 10.0)
        ref = _brute_force_distance(device.placed(pose), structure)
        if ref < 1e-3:
            continue
        res = evaluate(scene, rigid, pose).result("nerve")
        assert not res.collision
        assert res.clearance_mm == pytest.approx(ref, abs=1e-6)
        assert (res.violation is not None) == (ref < 1.5)
        # The reported points lie on the two surfaces.
        sf = SurfaceField(structure)
        assert abs(sf.signed_distance(res.structure_point)[0][0]) < 1e-9
        dev_world = SurfaceField(device.placed(pose))
        assert abs(dev_world.signed_distance(res.device_point)[0][0]) < 1e-9


def test_signed_distance_matches_trimesh():
    rng = np.random.default_rng(5)
    mesh = _blob(rng, 16)
    field = SurfaceField(mesh)
    v, f = mesh_triangles(mesh)
    pts = rng.uniform(-7, 7, (400, 3))
    ours, _ = field.signed_distance(pts)
    theirs = trimesh.proximity.signed_distance(trimesh.Trimesh(v, f, process=False), pts)
    np.testing.assert_allclose(ours, -theirs, atol=1e-9)  # trimesh: positive inside
    approx = field.approx_signed(pts)
    assert np.abs(approx - ours).max() <= field.grid_error


def test_collision_penetration_and_volume_of_two_spheres():
    big, small_r, offset = 10.0, 3.0, 8.0
    scene = PlacementScene()
    scene.add("ball", pv.Sphere(radius=big, theta_resolution=120, phi_resolution=120),
              role="critical", grid_spacing=0.25)
    device = Device("user", "bead", {}, pv.Sphere(radius=small_r, theta_resolution=60,
                                                  phi_resolution=60), margin_mm=1.0)
    rigid = RigidDevice(device, n_samples=20000)
    pose = np.eye(4)
    pose[:3, 3] = [0, 0, offset]
    res = evaluate(scene, rigid, pose).result("ball")
    assert res.collision and res.clearance_mm == 0.0
    # Deepest device point: (0, 0, offset - r) is big - (offset - r) = 5 mm inside the ball.
    assert res.penetration_mm == pytest.approx(big - (offset - small_r), abs=0.02)
    # Lens volume of two intersecting spheres (analytic).
    d, R, r = offset, big, small_r
    lens = np.pi * (R + r - d) ** 2 * (d * d + 2 * d * r - 3 * r * r + 2 * d * R + 6 * r * R - 3 * R * R) / (12 * d)
    assert res.intersected_volume_mm3 == pytest.approx(lens, rel=0.03)
    assert "hits ball" in res.violation
    # Moved clear: exact gap between the spheres' surfaces (tessellation-limited).
    pose[:3, 3] = [0, 0, 15.0]
    res = evaluate(scene, rigid, pose).result("ball")
    assert not res.collision and res.clearance_mm == pytest.approx(2.0, abs=0.01)
    assert res.violation is None
    # Wholly inside (no surface contact) is still a collision.
    pose[:3, 3] = [0, 0, 1.0]
    res = evaluate(scene, rigid, pose).result("ball")
    assert res.collision and res.intersected_volume_mm3 == pytest.approx(rigid.volume, rel=1e-9)


def test_structure_inside_device_is_a_collision():
    scene = PlacementScene()
    scene.add("pebble", pv.Sphere(radius=0.5), role="critical")
    rigid = RigidDevice(Device("user", "shell", {}, pv.Sphere(radius=5.0), margin_mm=1.0), n_samples=500)
    res = evaluate(scene, rigid, np.eye(4)).result("pebble")
    assert res.collision
    assert res.penetration_mm == pytest.approx(4.5, abs=0.1)


def test_bad_pose_is_rejected():
    from sim.errors import InputError

    scene = PlacementScene()
    scene.add("ball", pv.Sphere(radius=1.0), role="critical")
    rigid = RigidDevice(Device("user", "b", {}, pv.Sphere(radius=1.0)), n_samples=200)
    with pytest.raises(InputError, match="rigid"):
        evaluate(scene, rigid, np.diag([2.0, 1, 1, 1]))
    with pytest.raises(InputError, match="4x4"):
        evaluate(scene, rigid, np.eye(3))

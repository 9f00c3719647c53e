"""Mesh check and repair, compared with trimesh and with defects we plant."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv
import trimesh

from sim.cli import main
from sim.io import load
from sim.io.mesh_check import check_mesh
from sim.io.mesh_repair import repair_mesh


def test_clean_part_matches_trimesh(shared_data):
    path = shared_data / "factory" / "plate_holes.STL"
    r = check_mesh(list(load(path).scene)[0].data)
    ref = trimesh.load(path)
    assert r.watertight == ref.is_watertight is True
    assert r.volume_mm3 == pytest.approx(ref.volume, rel=1e-6)
    assert r.area_mm2 == pytest.approx(ref.area, rel=1e-6)
    assert r.components == 1 and r.self_intersections == 0 and r.ok


def test_two_overlapping_spheres_self_intersect():
    a = pv.Sphere(radius=1.0, center=(0, 0, 0))
    b = pv.Sphere(radius=1.0, center=(1.0, 0, 0))
    r = check_mesh(a.merge(b, merge_points=False))
    assert r.components == 2
    assert r.self_intersections and r.self_intersections > 10
    far = a.merge(pv.Sphere(radius=1.0, center=(5.0, 0, 0)), merge_points=False)
    assert check_mesh(far).self_intersections == 0


def _damaged_sphere() -> pv.PolyData:
    s = pv.Sphere(theta_resolution=24, phi_resolution=24).triangulate()
    f = s.faces.reshape(-1, 4)[:, 1:].copy()
    f[30:33] = f[30:33, ::-1]  # flipped faces
    f = np.vstack([f[:100], f[110:], f[200:203], [[5, 5, 6]]])  # hole, duplicates, degenerate
    return pv.PolyData.from_regular_faces(np.asarray(s.points), f)


def test_planted_defects_are_found_and_fixed():
    mesh = _damaged_sphere()
    before = check_mesh(mesh)
    assert not before.watertight and before.boundary_edges > 0
    assert before.duplicate_faces == 3 and before.degenerate_faces == 1
    assert before.inconsistent_edges > 0
    result = repair_mesh(mesh)
    after = result.after
    assert after.ok, after.as_dict()
    text = " ".join(result.actions)
    assert "duplicate" in text and "degenerate" in text and "filled holes" in text
    assert "winding" in text
    sphere_volume = 4 / 3 * np.pi * 0.5**3
    assert after.volume_mm3 == pytest.approx(sphere_volume, rel=0.05)


def test_inverted_liver_is_turned_outwards(shared_data):
    data = list(load(shared_data / "anatomy" / "sofa-liver.vtk").scene)[0].data
    assert check_mesh(data).inverted
    result = repair_mesh(data)
    assert not result.after.inverted and result.after.watertight
    assert result.after.volume_mm3 == pytest.approx(result.before.volume_mm3, rel=1e-9)


def test_cli_check_and_repair(tmp_path, capsys):
    bad = tmp_path / "bad.stl"
    pv.PolyData(_damaged_sphere()).save(bad)
    assert main(["mesh", "check", str(bad), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["duplicate_faces"] == 3
    out = tmp_path / "fixed.ply"
    assert main(["mesh", "repair", str(bad), str(out)]) == 0
    text = capsys.readouterr().out
    assert "filled holes" in text and out.exists()
    assert main(["mesh", "check", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["mesh", "check", str(tmp_path / "missing.stl")]) == 2


def test_cli_convert_units(shared_data, tmp_path, capsys):
    out = tmp_path / "block.vtp"
    assert main(["mesh", "convert", str(shared_data / "factory" / "angle_block.STL"), str(out),
                 "--units", "in"]) == 0
    inch = list(load(out).scene)[0].data
    mm = list(load(shared_data / "factory" / "angle_block.STL").scene)[0].data
    np.testing.assert_allclose(inch.bounds, np.asarray(mm.bounds) * 25.4, rtol=1e-5)

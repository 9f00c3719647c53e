"""Reading scans: PCD (ascii/binary/compressed), point-only PLY, XYZ/PTS/CSV; bad files."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import FileFormatError
from sim.io import load
from sim.model import ObjectKind


def _only(case):
    (obj,) = list(case.scene)
    return obj


@pytest.fixture()
def cloud():
    return np.random.default_rng(0).uniform(-50, 50, (500, 3))


@pytest.mark.parametrize("mode", ["ascii", "binary", "compressed"])
def test_pcd_round_trip(tmp_path, cloud, mode):
    import open3d as o3d

    path = tmp_path / f"scan_{mode}.pcd"
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud))
    o3d.io.write_point_cloud(str(path), pc, write_ascii=mode == "ascii",
                             compressed=mode == "compressed")
    obj = _only(load(path))
    assert obj.kind == ObjectKind.POINTS
    np.testing.assert_allclose(np.asarray(obj.data.points), cloud, atol=1e-4)


def test_point_only_ply_is_a_scan_and_mesh_ply_is_a_surface(tmp_path, cloud, shared_data):
    import trimesh

    path = tmp_path / "scan.ply"
    trimesh.PointCloud(cloud).export(path)
    obj = _only(load(path))
    assert obj.kind == ObjectKind.POINTS and obj.data.n_points == 500
    mesh = _only(load(shared_data / "factory" / "cycloidal.ply"))
    assert mesh.kind == ObjectKind.SURFACE and mesh.data.n_cells > 1000


def test_text_point_lists(tmp_path, cloud):
    xyz = tmp_path / "scan.xyz"
    np.savetxt(xyz, cloud)
    np.testing.assert_allclose(np.asarray(_only(load(xyz)).data.points), cloud)
    csv = tmp_path / "scan.csv"
    csv.write_text("x,y,z,nx,ny,nz\n" + "\n".join(f"{a},{b},{c},0,0,1" for a, b, c in cloud))
    obj = _only(load(csv))
    np.testing.assert_allclose(np.asarray(obj.data.points), cloud)
    assert "Normals" in obj.data.point_data
    pts = tmp_path / "scan.pts"
    pts.write_text(f"{len(cloud)}\n" + "\n".join(f"{a} {b} {c} 7 10 20 30" for a, b, c in cloud))
    obj = _only(load(pts))
    assert obj.data.n_points == 500 and set(obj.data.point_data) >= {"intensity", "RGB"}
    inches = _only(load(xyz, units="in"))
    np.testing.assert_allclose(np.asarray(inches.data.points), cloud * 25.4)


@pytest.mark.parametrize("name,content,reason", [
    ("few.xyz", b"1 2\n3 4\n", "x, y and z"),
    ("ragged.csv", b"1,2,3\n4,5\n", "columns"),
    ("words.xyz", b"1 2 3\n4 five 6\n", "not a number"),
    ("binary.xyz", b"\x00\x01\x02" * 100, "binary"),
    ("header.pcd", b"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\n", "DATA"),
    ("short.pcd", b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
                  b"WIDTH 1000\nHEIGHT 1\nPOINTS 1000\nDATA binary\n" + b"\0" * 100, "truncated"),
    ("nofields.pcd", b"FIELDS a b\nSIZE 4 4\nPOINTS 1\nDATA ascii\n1 2\n", "x, y and z"),
])
def test_bad_scans_raise_one_sentence(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=reason):
        load(path)


def test_points_objects_and_deviation_maps_survive_a_case_save(tmp_path, cloud):
    import pyvista as pv

    from sim.inspection.deviation import compute_deviation
    from sim.inspection.views import deviation_display
    from sim.model import Case, SceneObject
    from sim.model.case_io import load_case, save_case

    res = compute_deviation(cloud / 50.0, pv.Box().triangulate(), 0.1)
    case = Case(name="scans", anatomical=False)
    case.scene.add(SceneObject("scan", ObjectKind.POINTS, pv.PolyData(cloud)))
    case.scene.add(SceneObject("map", ObjectKind.POINTS, res.as_polydata(),
                               display=deviation_display(res)))
    again = load_case(save_case(case, tmp_path / "scans.twin"))
    scan, dmap = again.scene["scan"], again.scene["map"]
    assert scan.kind == ObjectKind.POINTS and scan.data.n_points == len(cloud)
    np.testing.assert_allclose(dmap.data.point_data["deviation"], res.deviation)
    assert dmap.display.scalars == "deviation" and len(dmap.display.cmap) == 255

"""Mesh readers on real third-party files, cross-checked against trimesh and VTK."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from sim.io import load
from sim.io.registry import supported_suffixes


def _tri_count(case) -> int:
    return sum(o.data.triangulate().n_cells if hasattr(o.data, "triangulate") else o.data.n_cells
               for o in case.scene)


@pytest.mark.parametrize("name", ["1002_tray_bottom.STL", "idler_riser.STL", "plate_holes.STL",
                                  "angle_block.STL", "octagonal_pocket.stl", "cycloidal.ply"])
def test_factory_meshes_match_trimesh(shared_data, name):
    path = shared_data / "factory" / name
    case = load(path)
    ref = trimesh.load(path, process=False)
    (obj,) = list(case.scene)
    assert obj.data.n_cells == len(ref.faces)
    np.testing.assert_allclose(obj.data.bounds, np.ravel(ref.bounds.T), rtol=1e-5, atol=1e-4)
    assert not case.anatomical


def test_stl_vertices_are_merged_like_trimesh(shared_data):
    path = shared_data / "factory" / "plate_holes.STL"
    (obj,) = list(load(path).scene)
    assert obj.data.n_points == len(trimesh.load(path).vertices)


def test_off_aneurysm(shared_data):
    (obj,) = list(load(shared_data / "anatomy" / "sofa-aneurysm3D_1.off").scene)
    assert obj.data.n_points == 7095 and obj.data.n_cells == 14186


def test_obj_liver_reads_stated_centimetres(shared_data):
    path = shared_data / "anatomy" / "sofa-liver-smooth.obj"
    case = load(path)
    (obj,) = list(case.scene)
    ref = trimesh.load(path, process=False)
    assert obj.data.n_cells == len(ref.faces)
    # the header comment says centimetres: we read mm, i.e. 10x trimesh's raw numbers
    np.testing.assert_allclose(obj.data.bounds, np.ravel(ref.bounds.T) * 10, rtol=1e-5)
    assert "cm" in case.description


def test_units_override(shared_data):
    path = shared_data / "factory" / "angle_block.STL"
    mm = list(load(path).scene)[0].data
    inch = list(load(path, units="in").scene)[0].data
    np.testing.assert_allclose(np.asarray(inch.points), np.asarray(mm.points) * 25.4, rtol=1e-6)


def test_legacy_vtk_liver(shared_data):
    (obj,) = list(load(shared_data / "anatomy" / "sofa-liver.vtk").scene)
    assert (obj.data.n_points, obj.data.n_cells) == (5008, 10000)


def test_gmsh_v1_liver(shared_data):
    (obj,) = list(load(shared_data / "anatomy" / "sofa-liver.msh").scene)
    assert obj.data.n_points == 181
    assert obj.data.n_cells == 596
    assert set(np.unique(obj.data.celltypes)) == {10}  # VTK_TETRA
    assert float(obj.data.compute_cell_sizes(length=False, area=False)["Volume"].min()) > 0


def test_gmsh_v2_and_v4_match(tmp_path, shared_data):
    import meshio

    src = load(shared_data / "anatomy" / "sofa-liver.msh")
    grid = list(src.scene)[0].data
    m = meshio.Mesh(np.asarray(grid.points), [("tetra", grid.cells_dict[10])])
    for version, binary in (("2.2", False), ("4.1", False), ("4.1", True)):
        out = tmp_path / f"liver-{version}-{binary}.msh"
        meshio.gmsh.write(out, m, fmt_version=version, binary=binary)
        got = list(load(out).scene)[0].data
        assert got.n_cells == 596
        np.testing.assert_allclose(got.bounds, grid.bounds)


def test_glb_multi_part_names_colours_transforms(shared_data):
    path = shared_data / "factory" / "CesiumMilkTruck.glb"
    case = load(path)
    names = [o.name for o in case.scene]
    assert len(names) == 5 and names.count("Cesium_Milk_Truck") == 1
    assert "Wheels" in names and "Wheels (2)" in names
    ref = trimesh.load(path)
    assert sum(o.data.n_cells for o in case.scene) == sum(len(g.faces) for g in ref.dump())
    wheels = [o for o in case.scene if o.name.startswith("Wheels")]
    # the two wheel nodes share one mesh but sit at different places (node transforms)
    assert abs(wheels[0].data.center[0] - wheels[1].data.center[0]) > 2000  # mm
    glass = next(o for o in case.scene if o.metadata["material"] == "glass")
    assert glass.color[1] < 0.1  # dark glass, from baseColorFactor
    extent_m = np.ptp(ref.bounds, axis=0).max()
    bounds = case.scene.bounds()
    extent_mm = max(bounds[1] - bounds[0], bounds[3] - bounds[2], bounds[5] - bounds[4])
    assert extent_mm == pytest.approx(extent_m * 1000, rel=1e-3)
    assert bounds[5] - bounds[4] < bounds[1] - bounds[0]  # Z up after the Y-up turn


def test_3mf_units_and_colour(shared_data):
    path = shared_data / "factory" / "P_XPM_0331_01.3mf"
    case = load(path)
    ref = trimesh.load(path)
    assert sum(o.data.n_cells for o in case.scene) == sum(len(g.faces) for g in ref.dump())
    (obj,) = list(case.scene)
    assert obj.name == "S11_cube_NA_Sliced"
    assert obj.color == pytest.approx((0.0, 1.0, 1.0))  # colour group 7, index 5 = #00FFFF


def test_3mf_metre_unit_is_converted(tmp_path):
    import zipfile

    model = ('<?xml version="1.0"?><model unit="meter" xmlns="http://schemas.microsoft.com/'
             '3dmanufacturing/core/2015/02"><resources><object id="1" name="tri"><mesh>'
             '<vertices><vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/>'
             '<vertex x="0" y="1" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="2"/>'
             '</triangles></mesh></object></resources><build><item objectid="1" '
             'transform="1 0 0 0 1 0 0 0 1 0 0 2"/></build></model>')
    path = tmp_path / "m.3mf"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("3D/3dmodel.model", model)
    (obj,) = list(load(path).scene)
    np.testing.assert_allclose(obj.data.bounds, [0, 1000, 0, 1000, 2000, 2000])


def test_registry_lists_all_formats():
    assert {".stl", ".obj", ".ply", ".off", ".glb", ".gltf", ".3mf", ".vtk", ".vtp", ".vtu",
            ".msh", ".step", ".stp", ".iges", ".igs"} <= set(supported_suffixes())

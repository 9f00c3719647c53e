"""Surface -> tetrahedra on real files: SOFA's self-intersecting liver (fTetWild), a machined
part (gmsh), the cache, open surfaces, and the ``twinsight mesh tet`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv

from sim.cli import main
from sim.errors import InputError
from sim.mesh.tetrahedralize import tetrahedralize, tetrahedralize_file


@pytest.mark.slow
def test_liver_surface_meshes_with_tetwild_and_is_cached(shared_data):
    path = shared_data / "anatomy" / "sofa-liver-smooth.obj"
    mesh, report = tetrahedralize_file(path, edge_length=6.0)
    assert report["method"] == "tetwild"  # gmsh rejects the self-intersecting surface
    assert report["min_dihedral_deg"] > 5.0 and report["max_aspect_ratio"] < 20
    assert mesh.n_elements > 1000
    import trimesh

    surf = trimesh.load(path, process=True)
    assert report["total_volume_mm3"] == pytest.approx(surf.volume * 1000.0, rel=0.03)  # cm^3
    again, report2 = tetrahedralize_file(path, edge_length=6.0)
    assert report2["cached"] and report2["method"] == "tetwild"
    assert np.array_equal(again.cells, mesh.cells)


def test_machined_part_meshes_with_gmsh(shared_data):
    mesh, report = tetrahedralize_file(shared_data / "factory" / "angle_block.STL",
                                       edge_length=3.0, units="in", use_cache=False)
    assert report["method"] == "gmsh" and not report["cached"]
    import trimesh

    surf = trimesh.load(shared_data / "factory" / "angle_block.STL")
    assert report["total_volume_mm3"] == pytest.approx(surf.volume * 25.4**3, rel=0.01)
    assert (mesh.volumes > 0).all()


def test_open_surface_is_refused():
    sphere = pv.Sphere(radius=10.0)
    open_cup = sphere.clip(normal="z", value=5.0)
    with pytest.raises(InputError, match="not closed"):
        tetrahedralize(open_cup.triangulate(), 2.0)


def test_absurd_edge_length_is_refused():
    with pytest.raises(InputError, match="too small"):
        tetrahedralize(pv.Sphere(radius=100.0), 1e-3)
    with pytest.raises(InputError, match="positive"):
        tetrahedralize(pv.Sphere(radius=100.0), -1.0)


def test_mesh_tet_command(tmp_path, capsys):
    surf = tmp_path / "ball.stl"
    pv.Sphere(radius=10.0, theta_resolution=24, phi_resolution=24).save(surf)
    out = tmp_path / "ball.vtu"
    code = main(["mesh", "tet", str(surf), "-o", str(out), "--edge-length", "3", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["elements"] > 100 and report["method"] == "gmsh"
    grid = pv.read(out)
    assert grid.n_cells == report["elements"]
    assert report["total_volume_mm3"] == pytest.approx(4 / 3 * np.pi * 1000, rel=0.05)
    assert main(["mesh", "tet", str(surf), "-o", str(tmp_path / "x.txt")]) == 2
    assert main(["mesh", "tet", str(tmp_path / "missing.stl"), "-o", str(out)]) == 2

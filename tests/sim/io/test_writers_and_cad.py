"""Mesh writers round-trip through our readers; STEP parts are tessellated within tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from sim.io import load
from sim.io.writers import write_mesh


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply", ".vtp", ".vtu", ".glb"])
def test_round_trip_keeps_triangles_and_extent(shared_data, tmp_path, suffix):
    case = load(shared_data / "factory" / "CesiumMilkTruck.glb")
    objects = list(case.scene)
    out = write_mesh(objects, tmp_path / f"truck{suffix}")
    back = load(out)
    assert sum(o.data.n_cells for o in back.scene) == sum(o.data.n_cells for o in objects)
    np.testing.assert_allclose(back.scene.bounds(), case.scene.bounds(), atol=1e-2)
    if suffix in (".obj", ".glb"):  # formats that carry parts and colours
        assert len(back.scene) == len(objects)
        assert sorted(round(o.color[1], 2) for o in back.scene) == \
            sorted(round(o.color[1], 2) for o in objects)


def test_glb_is_metres_y_up_for_other_readers(shared_data, tmp_path):
    case = load(shared_data / "factory" / "angle_block.STL")
    out = write_mesh(list(case.scene), tmp_path / "block.glb")
    ref = trimesh.load(out)
    b = case.scene.bounds()
    extents_mm = sorted([b[1] - b[0], b[3] - b[2], b[5] - b[4]])
    np.testing.assert_allclose(sorted(ref.extents * 1000), extents_mm, rtol=1e-5)


def test_writer_units(shared_data, tmp_path):
    case = load(shared_data / "factory" / "angle_block.STL")
    out = write_mesh(list(case.scene), tmp_path / "block_cm.stl", units="cm")
    back = load(out, units="cm")
    np.testing.assert_allclose(back.scene.bounds(), case.scene.bounds(), rtol=1e-5)


@pytest.mark.slow
def test_step_multi_part_within_chord_tolerance(shared_data):
    case = load(shared_data / "factory" / "box_sides.STEP", chord_tolerance=0.2)
    names = [o.name for o in case.scene]
    assert len(names) == 10 and "box_base" in names and "box_top" in names
    for obj in case.scene:
        assert obj.metadata["chord_deviation_mm"] <= 0.2
        assert obj.data.n_cells > 0
    assert "OpenCASCADE" in case.description


@pytest.mark.slow
def test_step_finer_tolerance_gives_more_triangles(shared_data):
    coarse = load(shared_data / "factory" / "featuretype.STEP", chord_tolerance=1.0)
    fine = load(shared_data / "factory" / "featuretype.STEP", chord_tolerance=0.25)
    (c,), (f,) = list(coarse.scene), list(fine.scene)
    assert f.data.n_cells > c.data.n_cells
    assert f.metadata["chord_deviation_mm"] <= 0.25
    # the part's volume does not depend on the tessellation (to within a few per mille)
    from sim.io.mesh_check import check_mesh

    vc, vf = check_mesh(c.data).volume_mm3, check_mesh(f.data).volume_mm3
    assert vc == pytest.approx(vf, rel=5e-3)

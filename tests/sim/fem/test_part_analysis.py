"""A part analysis set up by picked faces (the Analysis panel's model, no GUI): the faces a
pick selects, the spec it exports, the numbers against bar theory, and `twinsight fem solve`
reproducing them from the exported spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv

from sim.cli import main
from sim.errors import InputError
from sim.fem.part_analysis import (
    Condition,
    PartAnalysis,
    default_material,
    export_spec,
    picked_faces,
    probe_surface,
    run,
)
from sim.fem.patches import patch_labels
from sim.model import ObjectKind

E_STEEL = 200000.0
F = 1000.0  # N
AREA = 100.0  # mm^2 (10 x 10 section)
LENGTH = 100.0


def _bar() -> pv.PolyData:
    return pv.Box(bounds=(0, LENGTH, 0, 10, 0, 10), level=2).triangulate().clean()


def _setup(force=F, order=1) -> PartAnalysis:
    return PartAnalysis(material="steel", order=order, edge_length=3.0, conditions=[
        Condition("root", "fixed", [[0, 5, 5]]),
        Condition("pull", "force", [[LENGTH, 3, 4]], [force, 0, 0])])


def test_a_pick_selects_the_whole_flat_face_and_nothing_else():
    bar = _bar()
    mask = picked_faces(bar, [[LENGTH, 2, 7]])
    centres = bar.cell_centers().points
    assert mask.sum() > 1
    assert np.allclose(centres[mask, 0], LENGTH)  # only the end face
    assert (np.isclose(centres[:, 0], LENGTH) <= mask).all()  # all of it
    assert len(np.unique(patch_labels(bar.points, bar.faces.reshape(-1, 4)[:, 1:]))) == 6


def test_a_fine_cylinder_side_is_one_face():
    cyl = pv.Cylinder(resolution=64, height=20, radius=5, capping=True).triangulate().clean()
    mask = picked_faces(cyl, [[0, 5, 0]])  # on the side (axis along x)
    normals = cyl.cell_normals
    assert np.abs(normals[mask, 0]).max() < 0.1  # no cap triangle
    assert mask.sum() == (np.abs(normals[:, 0]) < 0.5).sum()


def test_defaults_by_kind_and_name():
    assert default_material(ObjectKind.PART, "Pump bracket") == "steel"
    assert default_material(ObjectKind.DEVICE, "Pedicle screw") == "titanium_alloy"
    assert default_material(ObjectKind.SURFACE, "Liver") == "liver"
    assert default_material(ObjectKind.SURFACE, "L3 vertebra") == "cortical_bone"
    assert default_material(ObjectKind.SURFACE, "flange.stl") == "steel"


def test_bad_setups_are_refused_in_one_sentence():
    with pytest.raises(InputError, match="picked face"):
        Condition("f", "force", [], [1, 0, 0])
    with pytest.raises(InputError, match="not held"):
        PartAnalysis(conditions=[Condition("g", "gravity", value=[0, 0, -9810])]).check_runnable()
    with pytest.raises(InputError, match="Nothing loads"):
        PartAnalysis(conditions=[Condition("r", "fixed", [[0, 0, 0]])]).check_runnable()
    with pytest.raises(InputError, match="material"):
        PartAnalysis(material="unobtainium")
    setup = PartAnalysis(conditions=[Condition("r", "fixed", [[0, 5, 5]]),
                                     Condition("p", "force", [[500, 5, 5]], [1, 0, 0])])
    with pytest.raises(InputError, match="not on the surface"):
        run(setup, _bar())


def test_round_trip_through_the_case_section():
    setup = _setup()
    again = PartAnalysis.from_dict(json.loads(json.dumps(setup.to_dict())))
    assert again == setup


def test_bar_in_tension_matches_theory_and_the_cli_reproduces_it(tmp_path, capsys):
    bar = _bar()
    result = run(_setup(), bar, "bar")
    s = result.summary
    grid = result.grid
    middle = np.abs(grid.points[:, 0] - LENGTH / 2) < 10
    # sigma = F / A in the middle of the bar; reaction balances the load exactly
    assert np.median(grid.point_data["von_mises"][middle]) == pytest.approx(F / AREA, rel=0.01)
    assert s["reactions_n"]["root"] == pytest.approx([-F, 0, 0], abs=1e-6 * F)
    tip = grid.point_data["displacement"][grid.points[:, 0] > LENGTH - 1e-6][:, 0].mean()
    assert tip == pytest.approx(F * LENGTH / (E_STEEL * AREA), rel=0.02)  # clamped root: -0.4 %
    # probe on the surface, half way: u_x = F x / (E A)
    p = probe_surface(grid.extract_surface(), [LENGTH / 2, 0.0, 5.0])
    assert p["displacement_mm"][0] == pytest.approx(F * LENGTH / 2 / (E_STEEL * AREA), rel=0.03)
    assert p["von_mises_mpa"] == pytest.approx(F / AREA, rel=0.05)

    spec_path = export_spec(_setup(), bar, tmp_path, "bar")
    spec = json.loads(spec_path.read_text())
    assert spec["loads"][0]["select"] == {"patch": {"seeds": [[LENGTH, 3.0, 4.0]], "angle": 30.0}}
    out = tmp_path / "bar.vtu"
    assert main(["fem", "solve", str(spec_path), "--json", "-o", str(out)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["max_von_mises_mpa"] == pytest.approx(s["max_von_mises_mpa"], rel=1e-9)
    assert cli["reactions_n"]["root"] == pytest.approx(s["reactions_n"]["root"], abs=1e-6)
    assert pv.read(out).n_points == grid.n_points


def test_pressure_and_p2():
    """A pressure p on the end face pulls... pushes with force p A: the reaction says so."""
    bar = _bar()
    setup = PartAnalysis(material="aluminium", order=2, edge_length=5.0, conditions=[
        Condition("root", "fixed", [[0, 5, 5]]),
        Condition("push", "pressure", [[LENGTH, 5, 5]], 2.0)])
    result = run(setup, bar, "bar")
    assert result.summary["mesh"]["order"] == 2
    assert result.summary["reactions_n"]["root"][0] == pytest.approx(2.0 * AREA, rel=1e-6)
    middle = np.abs(result.grid.points[:, 0] - LENGTH / 2) < 10
    assert np.median(result.grid.point_data["von_mises"][middle]) == pytest.approx(2.0, rel=0.01)

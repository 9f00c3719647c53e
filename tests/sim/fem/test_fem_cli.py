"""``twinsight fem solve``: spec files (JSON/YAML), --json output, -o result, bad specs, and the
worked example shipped in the package (assets/fem_examples) and the two that read third-party data
(tests/sim/fem/examples)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv

from sim.cli import main

EXAMPLES = Path(__file__).resolve().parent / "examples"
CANTILEVER = {
    "name": "cantilever",
    "mesh": {"generator": "box", "size": [10, 1, 1], "divisions": [20, 2, 2]},
    "order": 2,
    "material": {"name": "test", "youngs_modulus": 1000, "poisson_ratio": 0.3},
    "constraints": [{"name": "clamp", "type": "fixed", "select": {"side": "xmin"}}],
    "loads": [{"name": "tip", "type": "surface_force", "select": {"side": "xmax"},
               "force": [0, 0, -1]}],
    "analysis": {"type": "static_linear"},
    "probes": {"tip": [10, 0.5, 0.5], "top fibre": [2.0, 0.5, 1.0]},
}


def _solve(tmp_path, spec, capsys, name="spec.json", extra=()):
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(spec))
    else:
        import yaml

        path.write_text(yaml.safe_dump(spec))
    code = main(["fem", "solve", str(path), *extra])
    out = capsys.readouterr()
    return code, out


def test_cantilever_spec_json_output(tmp_path, capsys):
    out_vtu = tmp_path / "beam.vtu"
    code, out = _solve(tmp_path, CANTILEVER, capsys, extra=["--json", "-o", str(out_vtu)])
    assert code == 0, out.err
    s = json.loads(out.out)
    tip = s["probes"]["tip"]["displacement_mm"]
    assert tip[2] == pytest.approx(-4.0306, rel=0.015)
    assert s["reactions_n"]["clamp"] == pytest.approx([0, 0, 1], abs=1e-9)
    # Top fibre at x = 2: bending stress M c / I = (1 * 8) * 0.5 / (1/12) = 48 MPa (beam theory).
    assert s["probes"]["top fibre"]["von_mises_mpa"] == pytest.approx(48.0, rel=0.05)
    assert s["converged"] and s["iterations"] == 1 and s["wall_time_s"] > 0
    assert s["max_displacement_mm"] >= abs(tip[2])
    grid = pv.read(out_vtu)
    assert {"displacement", "von_mises", "principal_stress", "stress", "strain"} <= set(grid.point_data)
    assert np.allclose(grid.point_data["displacement"].max(axis=0)[2], 0, atol=1e-9)


def test_yaml_spec_nonlinear_and_dynamic(tmp_path, capsys):
    spec = dict(CANTILEVER, order=1, law="neo_hookean",
                analysis={"type": "static_nonlinear", "steps": 2})
    spec["loads"] = [{"name": "tip", "type": "surface_force", "select": {"side": "xmax"},
                      "force": [0, 0, -0.01]}]
    code, out = _solve(tmp_path, spec, capsys, "spec.yaml", ["--json"])
    assert code == 0, out.err
    s = json.loads(out.out)
    assert s["law"] == "neo_hookean" and s["load_steps"] >= 2 and s["converged"]
    spec = dict(CANTILEVER, order=1, analysis={"type": "dynamic", "dt": 0.001, "duration": 0.005,
                                               "rayleigh": [10.0, 0.0]})
    spec["material"] = {"youngs_modulus": 1000, "poisson_ratio": 0.3, "density": 1e-8}
    code, out = _solve(tmp_path, spec, capsys, "dyn.json", ["--json"])
    assert code == 0, out.err
    s = json.loads(out.out)
    assert s["time_steps"] == 5 and len(s["max_displacement_history_mm"]) == 6


@pytest.mark.parametrize("change, message", [
    ({"material": "unobtainium"}, "No material"),
    ({"material": {"youngs_modulus": 2e11, "poisson_ratio": 0.3}}, "pascals"),
    ({"constraints": []}, "not held"),
    ({"constraints": [{"type": "fixed", "select": {"box": [50, 60, None, None, None, None]}}]},
     "selects no nodes"),
    ({"loads": [{"type": "magic"}]}, "Load type"),
    ({"analysis": {"type": "modal"}}, "Analysis type"),
    ({"order": 3}, "order"),
    ({"mesh": {"path": "nowhere.stl"}}, "no such file"),
])
def test_bad_specs_exit_2_with_one_sentence(tmp_path, capsys, change, message):
    code, out = _solve(tmp_path, {**CANTILEVER, **change}, capsys)
    assert code == 2
    assert message in out.err and "Traceback" not in out.err


def test_garbage_spec_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["fem", "solve", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    assert main(["fem", "solve", str(tmp_path / "list.yaml")]) == 2


def test_shipped_example_cantilever_matches_beam_theory(capsys):
    """The example every installation carries: Euler-Bernoulli tip and mid-span deflections."""
    assert main(["fem", "examples", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert "cantilever" in listed and Path(listed["cantilever"]["path"]).is_file()
    assert main(["fem", "solve", "--example", "cantilever", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    P, L, E, inertia = 100.0, 100.0, 200000.0, 10.0 ** 4 / 12.0
    tip = P * L ** 3 / (3 * E * inertia)  # 0.200 mm
    mid = P * (L / 2) ** 2 * (3 * L - L / 2) / (6 * E * inertia)  # 0.0625 mm
    assert s["material"]["name"] == "steel"
    assert s["probes"]["tip"]["displacement_mm"][2] == pytest.approx(-tip, rel=0.03)
    assert s["probes"]["mid-span"]["displacement_mm"][2] == pytest.approx(-mid, rel=0.03)
    assert s["reactions_n"]["clamped end"] == pytest.approx([0, 0, 100], abs=1e-6)
    assert main(["fem", "solve", "--example", "no-such"]) == 2
    assert "No shipped example 'no-such'" in capsys.readouterr().err
    assert main(["fem", "solve"]) == 2


def test_worked_example_bracket(shared_data, capsys):
    code = main(["fem", "solve", str(EXAMPLES / "bracket.yaml"), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    s = json.loads(out.out)
    assert s["mesh"]["order"] == 2 and s["material"]["name"] == "aluminium"
    assert s["reactions_n"]["top flange bolted"] == pytest.approx([0, -200, 0], abs=1e-6)
    assert s["probes"]["web bottom"]["displacement_mm"][1] > 0  # pushed along +y


@pytest.mark.slow
def test_worked_example_liver_under_gravity(shared_data, capsys):
    code = main(["fem", "solve", str(EXAMPLES / "liver_gravity.yaml"),
                 "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    s = json.loads(out.out)
    weight = s["total_load_n"][2]
    assert weight < 0 and s["reactions_n"]["ligament"][2] == pytest.approx(-weight, rel=1e-6)
    assert s["law"] == "neo_hookean" and s["inverted_elements"] == 0
    assert 0.5 < s["max_displacement_mm"] < 40
    assert s["probes"]["lower tip"]["displacement_mm"][2] < 0  # it sags


def test_materials_command(capsys):
    assert main(["fem", "materials", "--json"]) == 0
    mats = json.loads(capsys.readouterr().out)
    names = {m["name"] for m in mats}
    assert {"liver", "kidney", "brain", "fat", "muscle", "skin", "vessel_wall", "cortical_bone",
            "trabecular_bone", "steel", "titanium_alloy", "aluminium", "peek", "abs"} <= names
    assert all(len(m["source"]) > 40 for m in mats)
    soft = {m["name"]: m["youngs_modulus_mpa"] for m in mats}
    assert 0.001 <= soft["liver"] <= 0.02 and 1.5e5 < soft["steel"] < 2.2e5

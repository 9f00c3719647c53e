"""``twinsight place SPEC [--json]`` end to end, and bad specs as one-sentence errors."""

import json

import pytest

from tests.cli_process import run_cli

from .conftest import ENTRY, STRUCTURES, TARGET


def run(*args, timeout=300):
    return run_cli(*args, timeout=timeout)


def _yaml(d) -> str:
    return json.dumps(d, indent=1)  # JSON is valid YAML


@pytest.fixture()
def screw_spec(tmp_path, shared_data):
    spec = {"case": str(shared_data / "ct" / "totalseg" / "example_seg.nii.gz"),
            "structures": STRUCTURES,
            "device": {"family": "pedicle_screw", "size": {"diameter": 5.5, "length": 40}},
            "trajectory": {"entry": ENTRY.tolist(), "target": TARGET.tolist()},
            "action": "fit", "fit": {"budget": 200},
            "candidates": [{"label": "too medial", "size": {"diameter": 5.5, "length": 40},
                            "trajectory": {"entry": (ENTRY + [-6, 0, 0]).tolist(),
                                           "target": (TARGET + [-6, 0, 0]).tolist()}}]}
    path = tmp_path / "screw.yaml"
    path.write_text(_yaml(spec))
    return path


def test_place_fit_json(screw_spec):
    out = run("place", screw_spec, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    fitted = data["fit"]["result"]
    assert fitted["safe"] and data["chosen"]["safe"]
    by_name = {s["name"]: s for s in fitted["structures"]}
    assert by_name["spinal cord"]["clearance_mm"] >= 2.0
    assert by_name["L1"]["breach_mm"] <= 1.0
    assert len(data["chosen"]["pose"]) == 4
    medial = data["comparison"][1]
    assert medial["label"] == "too medial" and not medial["safe"]
    assert any(v.startswith("hits spinal cord") for v in medial["violations"])


def test_place_text_report(screw_spec):
    out = run("place", screw_spec)
    assert out.returncode == 0, out.stderr
    assert "Fitted pose:" in out.stdout and "Verdict: safe." in out.stdout
    assert "Comparison:" in out.stdout and "too medial" in out.stdout


def test_stent_sizing_spec(tmp_path, shared_data):
    spec = {"structures": [{"name": "artery", "mesh": str(shared_data / "anatomy" / "sofa-aneurysm3D_1.off"),
                            "role": "host"}],
            "device": {"family": "stent", "size": "auto"}, "action": "size",
            "vessel": {"structure": "artery", "start": [-19.6, -16.0, -13.3],
                       "end": [-9.3, 2.5, -4.5], "landing_mm": 5}}
    path = tmp_path / "stent.yaml"
    path.write_text(_yaml(spec))
    out = run("place", path, "--json")
    assert out.returncode == 0, out.stderr
    stent = json.loads(out.stdout)["stent"]
    assert stent["diameter_mm"] == 5.0  # 4.2-4.3 mm proximal landing zone + 10 %
    assert stent["length_mm"] >= stent["profile"]["length_mm"]


@pytest.mark.parametrize("text, message", [
    ("action: fit\n", "structures"),
    ("{structures: [{name: a, mesh: a.stl}], device: {family: pedicle_screw}, action: evaluate}",
     "trajectory"),
    ("[1, 2", "not valid YAML"),
    ("{structures: [{name: a, mesh: a.stl}], device: {family: spoon}, pose: [[1,0,0,0],[0,1,0,0],"
     "[0,0,1,0],[0,0,0,1]]}", "Unknown device family"),
    ("{structures: [{name: a, mesh: a.stl}], device: {family: bolt}, pose: [[2,0,0,0],[0,1,0,0],"
     "[0,0,1,0],[0,0,0,1]]}", "rigid"),
    ("{structures: [{name: a}], device: {family: bolt}, trajectory: {entry: [0,0,0], target: [0,0,0]}}",
     "same point"),
    ("{structures: [{name: a}], device: {family: bolt}, trajectory: {entry: [0,0,0], target: [0,0,1]},"
     " fit: {budget: lots}}", "fit budget must be a number"),
])
def test_bad_specs_exit_2_with_one_sentence(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = run("place", path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and message in out.stderr


def test_missing_spec_file(tmp_path):
    out = run("place", tmp_path / "nope.yaml")
    assert out.returncode == 2 and "Cannot read" in out.stderr

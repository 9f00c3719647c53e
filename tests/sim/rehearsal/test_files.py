"""Scenario and attempt files: validation, case storage, the CLI and the report."""

from __future__ import annotations

import copy
import json

import pytest

from sim.cli import main
from sim.errors import FileFormatError, InputError
from sim.rehearsal.attempt import Attempt, read_attempt, save_attempt
from sim.rehearsal.scenario import (
    Scenario,
    read_scenario,
    save_scenario,
    scenario_from_case,
    store_in_case,
)


def _mutate(d, path, value):
    d = copy.deepcopy(d)
    target = d
    for k in path[:-1]:
        target = target[k]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


@pytest.mark.parametrize("path, value, message", [
    (("format",), "twinsight-interaction", "not a rehearsal scenario"),
    (("version",), 99, "version 99"),
    (("steps",), [], "non-empty list of 'steps'"),
    (("colour",), "red", "unknown field"),
    (("steps", 0, "criteria", 0, "type"), "teleport", "needs a 'type'"),
    (("steps", 0, "criteria", 0, "min_mm"), -3, "between 0"),
    (("steps", 0, "instruments"), ["scalpel"], "does not have"),
    (("structures", 0, "max_von_mises_kpa"), 5.0, "is rigid in this scenario"),
    (("structures", 0, "contact"), False, "no damage threshold"),
    (("devices", 0, "target"), [1, 2], "must be a point"),
    (("scoring", "weights"), {"speed": 2}, "maps metric names"),
    (("scoring", "bands"), {"time_s": [50, 10]}, "good < bad"),
    (("simulation", "mesher"), "magic", "simulation.mesher"),
])
def test_bad_scenarios_are_clear_input_errors(demo_scenario, path, value, message):
    d = _mutate(demo_scenario.to_dict(), path, value)
    with pytest.raises(InputError, match=message):
        Scenario.from_dict(d)


def test_scenario_round_trips_through_a_file_and_the_case(demo_scenario, demo_case, tmp_path):
    from sim.io import load
    from sim.model.case_io import save_case_folder

    path = save_scenario(demo_scenario, tmp_path / "scenario.json")
    again = read_scenario(path)
    assert again.to_dict() == demo_scenario.to_dict() and again.digest() == demo_scenario.digest()
    store_in_case(demo_case, demo_scenario)
    try:
        folder = save_case_folder(demo_case, tmp_path / "case")
        assert (folder / "sections" / "rehearsal.json").is_file()
        reopened = scenario_from_case(load(folder))
    finally:
        demo_case.sections.pop("rehearsal", None)
    assert reopened.to_dict() == demo_scenario.to_dict()


def test_unreadable_files(tmp_path, demo_scenario):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FileFormatError, match="not valid JSON"):
        read_scenario(bad)
    with pytest.raises(FileFormatError, match="not valid JSON"):
        read_attempt(bad)
    with pytest.raises(InputError, match="Cannot read"):
        read_scenario(tmp_path / "missing.json")
    wrong = tmp_path / "attempt.json"
    wrong.write_text(json.dumps({"format": "twinsight-attempt", "version": 1, "dt": 0.05,
                                 "steps": 10, "events": [{"type": "next", "step": 11}]}))
    with pytest.raises(FileFormatError, match="bad step index 11"):
        read_attempt(wrong)
    wrong.write_text(json.dumps({"format": "twinsight-attempt", "version": 1, "dt": 0.05,
                                 "steps": 10, "events": [],
                                 "osats": {"Respect for tissue": 7}}))
    with pytest.raises(FileFormatError, match="1 to 5"):
        read_attempt(wrong)


def test_osats_rating_is_stored_with_the_attempt(good_attempt, tmp_path):
    a = Attempt.from_dict(good_attempt.to_dict())
    a.osats = {"Respect for tissue": 4, "Time and motion": 5}
    assert read_attempt(save_attempt(a, tmp_path / "a.json")).osats == a.osats


def _cli(args, capsys) -> tuple[int, dict | str]:
    code = main(args)
    out = capsys.readouterr()
    try:
        return code, json.loads(out.out)
    except json.JSONDecodeError:
        return code, out.err


def test_cli_scores_the_same_attempt_the_same_every_time(demo_scenario, demo_case_dir,
                                                         good_attempt, tmp_path, capsys):
    sc = save_scenario(demo_scenario, tmp_path / "scenario.json")
    att = save_attempt(good_attempt, tmp_path / "attempt.json")
    args = ["rehearse", str(sc), "--case", str(demo_case_dir), "--attempt", str(att), "--json"]
    code1, first = _cli(args, capsys)
    code2, second = _cli(args, capsys)
    assert code1 == code2 == 0
    assert first["replay_matches_recording"] and not first["scenario_changed"]
    assert first["score"] == second["score"] == good_attempt.scores["score"]
    assert first["steps"] == second["steps"] and first["metrics"] == second["metrics"]
    assert first["passed"] is True


def test_cli_bad_input_exit_codes(demo_case_dir, tmp_path, capsys):
    bad = tmp_path / "scenario.json"
    bad.write_text(json.dumps({"format": "twinsight-scenario", "version": 1, "name": "x",
                               "simulation": {"body": "Liver"}, "steps": []}))
    code, err = _cli(["rehearse", str(bad), "--case", str(demo_case_dir), "--attempt",
                      str(bad)], capsys)
    assert code == 2 and "non-empty list of 'steps'" in err
    code, err = _cli(["rehearse", str(demo_case_dir), "--attempt", str(bad)], capsys)
    assert code == 2 and "holds no rehearsal scenario" in err


def test_cli_script_build_and_reports(demo_case_dir, demo_scenario, tmp_path, capsys):
    from tests.sim.rehearsal.conftest import retraction_script

    sc = tmp_path / "scenario.json"
    code, out = _cli(["rehearse", str(demo_case_dir), "--build", str(sc), "--json"], capsys)
    assert code == 0 and out["steps"] == ["retract", "place-1"]
    script = tmp_path / "script.json"
    script.write_text(json.dumps(retraction_script(read_scenario(sc), -30.0, trainee="B")))
    att = tmp_path / "attempt.json"
    code, out = _cli(["rehearse", str(sc), "--case", str(demo_case_dir), "--script",
                      str(script), "--out", str(att), "--json"], capsys)
    assert code == 0 and out["passed"] is False and out["trainee"] == "B"
    html = tmp_path / "report.html"
    pdf = tmp_path / "report.pdf"
    code, out = _cli(["rehearse", str(sc), "--case", str(demo_case_dir), "--attempt",
                      str(att), "--report", str(html), "--report", str(pdf), "--json"], capsys)
    assert code == 0 and out["reports"] == [str(html), str(pdf)] and out["report"] == str(html)
    assert out["replay_matches_recording"] is True
    text = html.read_text()
    assert "FAILED" in text and text.count("data:image/png;base64,") >= 3
    assert "no damage to the Liver" in text and "Respect for tissue" in text
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 30_000


def test_instruction_images_embed_and_read_back(tmp_path):
    """A step's picture: a PNG/JPEG file embedded as a data: URI, or a path beside the case."""
    from PIL import Image

    from sim.rehearsal.scenario import image_bytes, image_data_uri

    png = tmp_path / "step.png"
    Image.new("RGB", (8, 6), (200, 30, 30)).save(png)
    uri = image_data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert image_bytes(uri) == png.read_bytes()
    assert image_bytes("step.png", tmp_path) == png.read_bytes()  # relative to the folder
    jpg = tmp_path / "step.jpg"
    Image.new("RGB", (8, 6)).save(jpg)
    assert image_data_uri(jpg).startswith("data:image/jpeg;base64,")
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(InputError, match="not a PNG or JPEG"):
        image_data_uri(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="Cannot read"):
        image_bytes("missing.png", tmp_path)
    with pytest.raises(InputError, match="not valid base64"):
        image_bytes("data:image/png;base64,@@@")

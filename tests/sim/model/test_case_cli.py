"""``twinsight case info|validate|convert``: output, exit codes, passwords."""

from __future__ import annotations

import json
import zipfile

import pytest

from sim.cli import main
from sim.model.case_io import load_case, save_case
from sim.model.schema import SCHEMA_VERSION
from tests.sim.model.sample import assert_cases_equal, make_case
from tests.sim.model.test_migrations import write_v1_folder


@pytest.fixture
def case_file(tmp_path):
    return save_case(make_case(), tmp_path / "c.twin")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_json_and_text(capsys, case_file):
    code, out, _ = run(capsys, "case", "info", case_file, "--json")
    info = json.loads(out)
    assert code == 0 and info["form"] == "archive" and info["schema_version"] == SCHEMA_VERSION
    assert [o["kind"] for o in info["objects"]] == ["volume", "labelmap", "surface", "points",
                                                   "device", "part"]
    assert info["objects"][4]["transformed"] and len(info["markups"]) == 5
    assert info["sections"] == ["link", "plans"]
    code, out, _ = run(capsys, "case", "info", case_file)
    assert code == 0 and "Sample 0" in out and f"schema {SCHEMA_VERSION}" in out and "Screw [device]" in out


def test_validate_good_old_and_bad(capsys, case_file, tmp_path):
    code, out, _ = run(capsys, "case", "validate", case_file)
    assert code == 0 and "valid archive" in out
    write_v1_folder(tmp_path / "old")
    code, out, _ = run(capsys, "case", "validate", tmp_path / "old", "--json")
    assert code == 0 and json.loads(out)["migrated_from"] == 1
    bad = tmp_path / "bad.twin"
    with zipfile.ZipFile(case_file) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".vtu"):
                data = data.replace(b"UnstructuredGrid", b"UnstructuredGrit", 1)
            zout.writestr(info, data)
    code, _, err = run(capsys, "case", "validate", bad)
    assert code == 2 and "checksum" in err and err.count("\n") == 1


@pytest.mark.parametrize("content", [b"", b"hello", b"PK\x03\x04\x00\x00", b"\x89PNG\r\n"])
def test_corrupt_or_foreign_files_exit_2(capsys, tmp_path, content):
    path = tmp_path / "x.twin"
    path.write_bytes(content)
    for action in ("info", "validate"):
        code, out, err = run(capsys, "case", action, path)
        assert code == 2 and out == "" and str(path) in err and "Traceback" not in err


def test_encrypted_case_passwords(capsys, tmp_path, monkeypatch, fast_kdf):
    path = save_case(make_case(), tmp_path / "s.twin", password="s3cret")
    monkeypatch.delenv("TWINSIGHT_PASSWORD", raising=False)
    code, _, err = run(capsys, "case", "info", path)
    assert code == 2 and "password" in err and "--password-file" in err
    (tmp_path / "pw").write_text("wrong\n")
    code, _, err = run(capsys, "case", "validate", path, "--password-file", tmp_path / "pw")
    assert code == 2 and "password is wrong" in err
    monkeypatch.setenv("TWINSIGHT_PASSWORD", "s3cret")
    code, out, _ = run(capsys, "case", "validate", path)
    assert code == 0 and "encrypted archive" in out
    # tamper with the last byte: refused with exit 2, never half-read
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0x80
    path.write_bytes(bytes(blob))
    code, _, err = run(capsys, "case", "info", path)
    assert code == 2 and "modified or damaged" in err


def test_convert_between_forms(capsys, tmp_path, case_file, monkeypatch, fast_kdf):
    code, _, _ = run(capsys, "case", "convert", case_file, tmp_path / "unpacked", "--folder")
    assert code == 0 and (tmp_path / "unpacked" / "manifest.json").is_file()
    monkeypatch.setenv("TWINSIGHT_NEW_PASSWORD", "pw2")
    code, out, _ = run(capsys, "case", "convert", tmp_path / "unpacked", tmp_path / "e.twin",
                       "--encrypt", "--json")
    assert code == 0 and json.loads(out)["encrypted"]
    assert_cases_equal(load_case(case_file), load_case(tmp_path / "e.twin", password="pw2"))
    code, _, err = run(capsys, "case", "convert", case_file, case_file)
    assert code == 2 and "new path" in err
    monkeypatch.setenv("TWINSIGHT_PASSWORD", "pw2")  # encrypted archive -> encrypted folder
    code, out, _ = run(capsys, "case", "convert", tmp_path / "e.twin", tmp_path / "e.case",
                       "--folder", "--encrypt", "--json")
    assert code == 0 and json.loads(out)["form"] == "folder" and json.loads(out)["encrypted"]
    code, out, _ = run(capsys, "case", "validate", tmp_path / "e.case")
    assert code == 0 and "encrypted folder" in out
    monkeypatch.setenv("TWINSIGHT_PASSWORD", "wrong")
    code, _, err = run(capsys, "case", "info", tmp_path / "e.case")
    assert code == 2 and "password is wrong" in err


def test_markups_list_import_and_export(capsys, tmp_path, case_file):
    from tests.sim.markups.test_slicer_json import HAND_WRITTEN

    code, out, _ = run(capsys, "case", "markups", case_file)
    assert code == 0 and "Gap [line]: 13.00 mm" in out and "Knee [angle]: 90.0°" in out
    src = tmp_path / "hand.mrk.json"
    src.write_text(json.dumps(HAND_WRITTEN))
    code, out, _ = run(capsys, "case", "markups", case_file, "--import", src,
                       "--export", tmp_path / "all.mrk.json", "--ras", "--json")
    info = json.loads(out)
    assert code == 0 and len(info["markups"]) == 12
    assert any(m["type"] == "curve" for m in info["markups"])  # curves stay curves now
    assert len(load_case(case_file).markups) == 12  # saved back into the case
    doc = json.loads((tmp_path / "all.mrk.json").read_text())
    assert {n["coordinateSystem"] for n in doc["markups"]} == {"RAS"} and len(doc["markups"]) == 12
    (tmp_path / "bad.mrk.json").write_text("{}")
    code, _, err = run(capsys, "case", "markups", case_file, "--import", tmp_path / "bad.mrk.json")
    assert code == 2 and "markups" in err
    assert len(load_case(case_file).markups) == 12  # a refused import changes nothing

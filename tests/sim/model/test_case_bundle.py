"""Case bundles: exact round trips in both forms, manifests, and refusal of bad files."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest
import pyvista as pv

from sim.errors import FileFormatError, InputError
from sim.io import load
from sim.model import Case, SceneObject
from sim.model.case_io import (
    is_case,
    load_case,
    read_manifest,
    save_case,
    save_case_folder,
    validate_case,
)
from sim.model.schema import SCHEMA_VERSION
from tests.sim.model.sample import assert_cases_equal, make_case


@pytest.mark.parametrize("folder", [False, True], ids=["archive", "folder"])
def test_round_trip_of_every_kind_is_exact(tmp_path, folder):
    case = make_case()
    path = tmp_path / ("case.twin" if not folder else "case.twin.d")
    save_case(case, path, folder=folder)
    assert path.is_dir() == folder
    back = load_case(path)
    assert_cases_equal(case, back)
    assert back.created is not None and back.source == str(path)
    # and through the one file entry point
    assert_cases_equal(case, load(path))


def test_manifest_records_versions_dates_and_hashes(tmp_path):
    path = save_case(make_case(), tmp_path / "c.twin")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for name, entry in manifest["files"].items():
            blob = zf.read(name)
            assert hashlib.sha256(blob).hexdigest() == entry["sha256"]
            assert len(blob) == entry["size"]
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["app_version"] and manifest["created"] and manifest["modified"]
    assert {o["file"].rsplit(".", 1)[1] for o in manifest["objects"]} == {"vti", "vtp", "vtu"}
    assert any(n.endswith(".npy") for n in manifest["files"])  # metadata arrays, exactly
    m, form = read_manifest(path)
    assert form == "archive" and len(m.objects) == 6 and len(m.markups) == 5
    assert set(m.sections) == {"plans", "link"}


def test_resave_keeps_created_and_updates_modified(tmp_path):
    path = save_case(make_case(), tmp_path / "c.twin")
    first, _ = read_manifest(path)
    case = load_case(path)
    case.scene["Liver"].color = (0.1, 0.2, 0.3)
    save_case(case, path)
    second, _ = read_manifest(path)
    assert second.created == first.created and second.modified >= first.modified
    assert load_case(path).scene["Liver"].color == (0.1, 0.2, 0.3)


def test_real_liver_mesh_round_trips(shared_data, tmp_path):
    case = load(shared_data / "anatomy" / "sofa-liver.vtk")
    path = save_case(case, tmp_path / "liver.twin")
    back = load_case(path)
    assert_cases_equal(case, back)
    assert back.scene[case.scene[next(iter(o.name for o in case.scene))].name].data.n_points \
        == 5008


def test_validate_reports_and_is_case(tmp_path):
    path = save_case(make_case(), tmp_path / "c.twin")
    report = validate_case(path)
    assert report["valid"] and report["objects"] == 6 and report["files_checked"] == 6
    assert is_case(path) and not is_case(tmp_path)


def _rewrite_member(src, dst, name, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, change(data) if info.filename == name else data)


def test_modified_object_file_is_refused(tmp_path):
    path = save_case(make_case(), tmp_path / "c.twin")
    with zipfile.ZipFile(path) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".vtp"))
    bad = tmp_path / "bad.twin"
    _rewrite_member(path, bad, member, lambda b: b[:-10] + bytes([b[-10] ^ 1]) + b[-9:])
    with pytest.raises(FileFormatError, match="checksum"):
        load_case(bad)
    with pytest.raises(FileFormatError, match="checksum"):
        validate_case(bad)


def test_modified_byte_in_folder_form_is_refused(tmp_path):
    folder = save_case(make_case(), tmp_path / "c", folder=True)
    target = next((folder / "objects").glob("*.vti"))
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(FileFormatError, match="checksum"):
        load_case(folder)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_archive_is_refused(tmp_path, cut):
    path = save_case(make_case(), tmp_path / "c.twin")
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * cut)])
    with pytest.raises(FileFormatError):
        load_case(path)


@pytest.mark.parametrize("content", [
    b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"solid x\nendsolid x\n", bytes(range(256)) * 10,
    b"PK\x03\x04garbage",
], ids=["empty", "png", "stl", "random", "fake-zip"])
def test_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "foreign.twin"
    path.write_bytes(content)
    with pytest.raises(FileFormatError):
        load_case(path)
    with pytest.raises(FileFormatError):
        load(path)


def _zip_with_manifest(path, manifest, extra=()):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in extra:
            zf.writestr(name, data)
    return path


def test_zip_without_manifest_or_with_foreign_manifest_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.twin", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(FileFormatError, match="missing"):
        load_case(tmp_path / "a.twin")
    _zip_with_manifest(tmp_path / "b.twin", {"format": "something-else"})
    with pytest.raises(FileFormatError, match="not a Twinsight case"):
        load_case(tmp_path / "b.twin")
    _zip_with_manifest(tmp_path / "c.twin", {"format": "twinsight-case", "schema_version": 99})
    with pytest.raises(FileFormatError, match="newer Twinsight"):
        load_case(tmp_path / "c.twin")


def test_hostile_manifest_entries_are_refused(tmp_path):
    path = save_case(make_case(), tmp_path / "c.twin")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    evil = json.loads(json.dumps(manifest))
    evil["objects"][0]["file"] = "../../etc/passwd"
    with pytest.raises(FileFormatError, match="manifest is invalid"):
        load_case(_zip_with_manifest(tmp_path / "evil.twin", evil))
    evil = json.loads(json.dumps(manifest))
    evil["objects"][1]["opacity"] = 7
    with pytest.raises(FileFormatError, match="opacity"):
        load_case(_zip_with_manifest(tmp_path / "evil2.twin", evil))
    evil = json.loads(json.dumps(manifest))
    del evil["files"][evil["objects"][0]["file"]]
    with pytest.raises(FileFormatError, match="checksum"):
        load_case(_zip_with_manifest(tmp_path / "evil3.twin", evil))


def test_garbage_data_with_matching_hash_is_refused_whole(tmp_path):
    """A consistent manifest pointing at non-VTK bytes: one clear error, no partial case."""
    junk = b"<VTKFile type='PolyData'>nonsense"
    manifest = {"format": "twinsight-case", "schema_version": 2, "app_version": "x",
                "created": "2026-01-01T00:00:00+00:00", "modified": "2026-01-01T00:00:00+00:00",
                "case": {"uid": "u", "name": "n"},
                "objects": [{"uid": "a", "name": "a", "kind": "surface", "file": "objects/a.vtp"}],
                "files": {"objects/a.vtp": {"sha256": hashlib.sha256(junk).hexdigest(),
                                            "size": len(junk)}}}
    path = _zip_with_manifest(tmp_path / "junk.twin", manifest, [("objects/a.vtp", junk)])
    with pytest.raises(FileFormatError, match="not valid VTP"):
        load_case(path)


def test_save_refuses_bad_requests(tmp_path):
    case = make_case()
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="folder of that name"):
        save_case(case, tmp_path / "dir", folder=False)
    with pytest.raises(InputError, match="password must not be empty"):
        save_case(case, tmp_path / "f", folder=True, password="")
    odd = Case()
    odd.scene.add(SceneObject("multi", "surface", pv.Sphere()))
    odd.scene["multi"].metadata = {"bad": object()}
    with pytest.raises(InputError, match="cannot be saved"):
        save_case(odd, tmp_path / "odd.twin")
    assert not (tmp_path / "odd.twin").exists()


def test_legacy_helpers_still_work(tmp_path):
    case = make_case()
    folder = save_case_folder(case, tmp_path / "legacy.case")
    assert folder.is_dir()
    assert_cases_equal(case, load_case(folder))


def test_objects_from_two_cases_never_share_a_uid(tmp_path):
    a = load_case(save_case(make_case(), tmp_path / "a.twin"))
    b = load_case(save_case(make_case(), tmp_path / "b.twin"))
    for obj in list(b.scene):
        b.scene.remove(obj)
        a.scene.add(obj)
    assert len({o.uid for o in a.scene}) == len(a.scene) == 12
    save_case(a, tmp_path / "merged.twin")
    assert len(load_case(tmp_path / "merged.twin").scene) == 12
    assert np.isfinite(a.scene.bounds()).all()


def test_metadata_arrays_and_sections_round_trip_exactly(tmp_path):
    case = make_case()
    back = load_case(save_case(case, tmp_path / "c.twin"))
    scan = back.scene["Scan"]
    assert scan.texture.dtype == np.uint8 and scan.texture.shape == (8, 6, 3)
    assert scan.metadata["thumbnail"].dtype == np.uint8 and scan.metadata["matrix"].shape == (4, 4)
    assert scan.metadata["nested"]["weights"][0].dtype == np.int64
    assert back.sections["plans"]["screw"]["length_mm"] == 45 and back.sections["link"]["igtl"] is None


def test_hostile_array_and_section_files_are_refused(tmp_path):
    path = save_case(make_case(), tmp_path / "c.twin")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        members = {n: zf.read(n) for n in zf.namelist()}
    npy = next(n for n in members if n.endswith(".npy"))
    # a header promising a gigantic array, re-hashed so only the size check can catch it
    evil = members[npy].replace(b"(4, 4)", b"(99999999, 99999)")
    for name, blob, match in ((npy, evil, "array file"),
                              ("sections/plans.json", b"{not json", "not valid JSON")):
        m = json.loads(json.dumps(manifest))
        m["files"][name] = {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
        out = tmp_path / f"evil-{name.rsplit('.', 1)[1]}.twin"
        with zipfile.ZipFile(out, "w") as zf:
            for n, data in members.items():
                zf.writestr(n, blob if n == name else
                            (json.dumps(m).encode() if n == "manifest.json" else data))
        with pytest.raises(FileFormatError, match=match):
            load_case(out)


def test_bad_sections_are_refused_on_save(tmp_path):
    case = make_case()
    case.sections["../escape"] = {}
    with pytest.raises(InputError, match="section name"):
        save_case(case, tmp_path / "a.twin")
    del case.sections["../escape"]
    case.sections["plans"] = {"x": object()}
    with pytest.raises(InputError, match="section 'plans'"):
        save_case(case, tmp_path / "b.twin")
    assert not list(tmp_path.iterdir())

"""Schema version 1 folders (the first case format) open through the explicit migration."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv

from sim.errors import FileFormatError
from sim.model.case_io import load_case, read_manifest, save_case, validate_case
from sim.model.migrations import MigrationError, migrate
from sim.model.schema import SCHEMA_VERSION


def write_v1_folder(folder):
    """A case folder exactly as schema version 1 wrote it (manifest fields at top level)."""
    (folder / "objects").mkdir(parents=True)
    mesh = pv.Sphere(radius=12.5)
    mesh.save(folder / "objects" / "obj1.vtp")
    image = pv.ImageData(dimensions=(5, 6, 7), spacing=(1, 1, 2), origin=(3, 2, 1))
    image["values"] = np.arange(image.n_points, dtype=np.float32)
    image.save(folder / "objects" / "obj2.vti")
    manifest = {"format": "twinsight-case", "schema_version": 1, "app_version": "0.1.0",
                "name": "Old case", "anatomical": False, "description": "from v1",
                "objects": [
                    {"uid": "obj1", "name": "ball", "kind": "surface", "file": "objects/obj1.vtp",
                     "color": [0.1, 0.2, 0.3], "opacity": 0.5, "visible": True,
                     "metadata": {"note": "kept"}},
                    {"uid": "obj2", "name": "img", "kind": "volume", "file": "objects/obj2.vti",
                     "color": [0.8, 0.8, 0.8], "opacity": 1.0, "visible": False,
                     "metadata": {}}]}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return mesh, image


def test_v1_folder_opens_through_migration(tmp_path):
    mesh, image = write_v1_folder(tmp_path / "old.case")
    manifest, form = read_manifest(tmp_path / "old.case")
    assert form == "folder" and manifest.migrated_from == 1
    assert manifest.schema_version == SCHEMA_VERSION
    case = load_case(tmp_path / "old.case")
    assert (case.name, case.anatomical, case.description) == ("Old case", False, "from v1")
    ball, img = case.scene["ball"], case.scene["img"]
    assert ball.color == (0.1, 0.2, 0.3) and ball.opacity == 0.5
    assert ball.metadata == {"note": "kept"} and not img.visible
    assert np.array_equal(ball.data.points, mesh.points)
    assert np.array_equal(img.data["values"], image["values"])
    report = validate_case(tmp_path / "old.case")
    assert report["migrated_from"] == 1 and len(report["unhashed_files"]) == 2


def test_saving_a_migrated_case_writes_the_current_schema(tmp_path):
    write_v1_folder(tmp_path / "old.case")
    case = load_case(tmp_path / "old.case")
    save_case(case, tmp_path / "old.case")  # stays a folder, now version 2 with checksums
    manifest, _ = read_manifest(tmp_path / "old.case")
    assert manifest.migrated_from is None and len(manifest.files) == 2
    again = load_case(tmp_path / "old.case")
    assert [o.name for o in again.scene] == ["ball", "img"] and again.uid == case.uid


def test_migrate_refuses_what_it_cannot_upgrade():
    for raw in (None, [], {"format": "x"}, {"format": "twinsight-case"},
                {"format": "twinsight-case", "schema_version": "1"},
                {"format": "twinsight-case", "schema_version": 0}):
        with pytest.raises(MigrationError):
            migrate(raw)
    with pytest.raises(MigrationError, match="newer"):
        migrate({"format": "twinsight-case", "schema_version": SCHEMA_VERSION + 1})


def test_current_manifest_passes_unchanged(tmp_path):
    from tests.sim.model.sample import make_case

    path = save_case(make_case(), tmp_path / "c.twin")
    import zipfile

    with zipfile.ZipFile(path) as zf:
        raw = json.loads(zf.read("manifest.json"))
    assert migrate(json.loads(json.dumps(raw))) == raw


def test_v1_folder_with_missing_object_file_is_refused(tmp_path):
    write_v1_folder(tmp_path / "old.case")
    (tmp_path / "old.case" / "objects" / "obj2.vti").unlink()
    with pytest.raises(FileFormatError, match="missing"):
        load_case(tmp_path / "old.case")

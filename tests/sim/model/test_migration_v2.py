"""Schema version 2 cases (transform and display settings as loose metadata keys) open with
typed ``transform`` and ``display`` fields, and save back as the current version."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyvista as pv

from sim.geometry.rigid import from_parts
from sim.model.case_io import load_case, read_manifest, save_case, validate_case
from sim.model.display import Display
from sim.model.schema import SCHEMA_VERSION


def write_v2_folder(folder, move):
    """A case folder exactly as schema version 2 wrote it: checksummed files, and the
    object's transform / display settings inside its metadata."""
    (folder / "objects").mkdir(parents=True)
    mesh = pv.Sphere(radius=12.5)
    mesh["von_mises"] = np.linspace(0.0, 300.0, mesh.n_points)
    mesh.save(folder / "objects" / "0000-a.vtp")
    image = pv.ImageData(dimensions=(5, 6, 7), spacing=(1, 1, 2))
    image["HU"] = np.arange(image.n_points, dtype=np.int16)
    image.save(folder / "objects" / "0001-b.vti")
    files = {}
    for name in ("objects/0000-a.vtp", "objects/0001-b.vti"):
        blob = (folder / name).read_bytes()
        files[name] = {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
    stamp = "2026-01-02T03:04:05+00:00"
    manifest = {
        "format": "twinsight-case", "schema_version": 2, "app_version": "0.1.0",
        "created": stamp, "modified": stamp,
        "case": {"uid": "c2", "name": "Version 2", "anatomical": True, "description": ""},
        "objects": [
            {"uid": "a", "name": "screw", "kind": "device", "file": "objects/0000-a.vtp",
             "metadata": {"transform": move.tolist(), "scalars": "von_mises",
                          "clim": [0.0, 250.0], "warp_factor": 2.0, "cmap": "turbo",
                          "diameter_mm": 6.5, "texture_shown": None}},
            {"uid": "b", "name": "CT", "kind": "volume", "file": "objects/0001-b.vti",
             "metadata": {"modality": "CT", "window": [40.0, 400.0],
                          "point_size": "huge"}}],  # a value that never fitted: kept aside
        "markups": [], "sections": {}, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_v2_case_opens_with_typed_fields_and_saves_as_current(tmp_path):
    move = from_parts((10.0, -5.0, 2.0), (0.0, 0.0, 30.0))
    write_v2_folder(tmp_path / "v2.case", move)
    manifest, _ = read_manifest(tmp_path / "v2.case")
    assert manifest.schema_version == SCHEMA_VERSION and manifest.migrated_from == 2
    assert validate_case(tmp_path / "v2.case")["unhashed_files"] == []  # still checksummed

    case = load_case(tmp_path / "v2.case")
    screw, ct = case.scene["screw"], case.scene["CT"]
    assert np.allclose(screw.transform, move) and screw.has_transform
    assert screw.display == Display(scalars="von_mises", clim=(0.0, 250.0), warp_factor=2.0,
                                    cmap="turbo")
    assert screw.metadata == {"diameter_mm": 6.5}  # provenance only
    assert ct.display.window == (40.0, 400.0) and not ct.has_transform
    assert ct.metadata == {"modality": "CT", "legacy_point_size": "huge"}

    save_case(case, tmp_path / "v2.case")
    raw = json.loads((tmp_path / "v2.case" / "manifest.json").read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    entry = raw["objects"][0]
    assert np.allclose(entry["transform"], move) and entry["display"]["scalars"] == "von_mises"
    assert "transform" not in entry["metadata"] and "scalars" not in entry["metadata"]
    assert "transform" not in raw["objects"][1]  # identity is not written
    again = load_case(tmp_path / "v2.case")
    assert np.allclose(again.scene["screw"].transform, move)
    assert again.scene["screw"].display == screw.display


def test_display_and_transform_round_trip_through_an_archive(tmp_path):
    from sim.model import Case, SceneObject

    case = Case()
    obj = case.scene.add(SceneObject("cloud", "points", pv.PolyData(np.eye(3))))
    obj.display = Display(scalars="d", cmap=("#000000", "#ffffff"), clim=(-1.0, 1.0),
                          n_colors=2, point_size=5.0)
    obj.transform = from_parts((1.0, 2.0, 3.0), (90.0, 0.0, 0.0))
    again = load_case(save_case(case, tmp_path / "c.twin")).scene["cloud"]
    assert again.display == obj.display and np.allclose(again.transform, obj.transform)

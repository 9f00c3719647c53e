"""A scene object's label table, trajectory, tracking binding, texture, live source and
segmented scan are typed fields: checked on assignment, evented, undoable, saved in the case,
and read from the loose metadata keys of schema-3 cases."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.geometry.rigid import from_parts
from sim.model import Case, ObjectKind, SceneObject
from sim.model.case_io import load_case, read_manifest, save_case, validate_case
from sim.model.object_fields import LabelTable, LiveSource, Tracking, Trajectory
from sim.model.schema import SCHEMA_VERSION

POSE = from_parts((4.0, -2.0, 30.0), (0.0, 20.0, 45.0))
FRAME = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)


def _grid() -> pv.ImageData:
    image = pv.ImageData(dimensions=(2, 2, 2))
    image["labels"] = np.arange(8, dtype=np.uint8) % 4
    return image


def _npy(value: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=False)
    return buf.getvalue()


def write_v3_folder(folder):
    """A case folder as schema version 3 wrote it: the seven keys inside ``metadata``, the
    pose and the frame as referenced ``.npy`` files (how version 3 stored arrays)."""
    (folder / "objects").mkdir(parents=True)
    blobs = {}
    image = pv.ImageData(dimensions=(4, 4, 4))
    image["labels"] = np.tile(np.array([0, 1, 7, 1], np.uint8), 16)
    image.save(folder / "objects" / "0000-seg.vti")
    pv.Cone().save(folder / "objects" / "0001-tool.vtp")
    pv.Cylinder().triangulate().save(folder / "objects" / "0002-screw.vtp")
    quad = pv.PolyData(np.eye(4, 3), faces=np.array([4, 0, 1, 2, 3]))
    quad.save(folder / "objects" / "0003-us.vtp")
    pv.Sphere().save(folder / "objects" / "0004-bad.vtp")
    blobs["objects/0001-tool.meta.pose.npy"] = _npy(POSE)
    blobs["objects/0003-us.meta.texture.npy"] = _npy(FRAME)
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    files = {}
    for p in sorted((folder / "objects").iterdir()):
        blob = p.read_bytes()
        files[f"objects/{p.name}"] = {"sha256": hashlib.sha256(blob).hexdigest(),
                                      "size": len(blob)}
    stamp = "2026-06-02T03:04:05+00:00"
    manifest = {
        "format": "twinsight-case", "schema_version": 3, "app_version": "0.2.0",
        "created": stamp, "modified": stamp,
        "case": {"uid": "c3", "name": "Version 3", "anatomical": True, "description": ""},
        "objects": [
            {"uid": "seg", "name": "seg", "kind": "labelmap", "file": "objects/0000-seg.vti",
             "metadata": {"source_format": "NRRD", "segmentation_of": "ct-uid", "labels": {
                 "1": {"name": "liver", "color": [0.8, 0.4, 0.3]},
                 "7": {"name": "tumour", "color": [1.0, 0.0, 0.0]}}}},
            {"uid": "tool", "name": "Stylus", "kind": "device", "file": "objects/0001-tool.vtp",
             "metadata": {"live": "igtl", "tracked_device": "StylusToTracker",
                          "pose": {"$ndarray": "objects/0001-tool.meta.pose.npy"}}},
            {"uid": "screw", "name": "Screw", "kind": "device", "file": "objects/0002-screw.vtp",
             "metadata": {"diameter_mm": 6.5, "trajectory": {"entry": [18.0, 88.0, 0.0],
                                                             "target": [11.0, 62.0, 0.0]}}},
            {"uid": "us", "name": "Image", "kind": "surface", "file": "objects/0003-us.vtp",
             "metadata": {"live": "igtl-image",
                          "texture": {"$ndarray": "objects/0003-us.meta.texture.npy"}}},
            {"uid": "bad", "name": "Odd", "kind": "device", "file": "objects/0004-bad.vtp",
             "metadata": {"trajectory": {"entry": [1, 2, 3], "target": [1, 2, 3]},
                          "labels": "not a table", "tracked_device": "",
                          "live": "carrier-pigeon", "segmentation_of": 42}}],
        "markups": [], "sections": {}, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _check_typed(case: Case) -> None:
    seg, tool, screw, us = (case.scene[n] for n in ("seg", "Stylus", "Screw", "Image"))
    assert seg.label_table.names() == {1: "liver", 7: "tumour"}
    assert seg.label_table[7].color == (1.0, 0.0, 0.0)
    assert seg.metadata == {"source_format": "NRRD"} and seg.segmentation_of == "ct-uid"
    assert tool.tracking.device == "StylusToTracker"
    assert np.allclose(tool.tracking.matrix, POSE)
    assert tool.metadata == {} and tool.live_source is LiveSource.IGTL
    assert screw.trajectory == Trajectory(entry=(18.0, 88.0, 0.0), target=(11.0, 62.0, 0.0))
    assert screw.metadata == {"diameter_mm": 6.5}
    assert np.array_equal(us.texture, FRAME) and us.texture.dtype == np.uint8
    assert us.metadata == {} and us.live_source == "igtl-image"
    assert screw.live_source is None and screw.segmentation_of is None


def test_v3_case_opens_with_typed_fields_and_saves_as_current(tmp_path):
    write_v3_folder(tmp_path / "v3.case")
    manifest, _ = read_manifest(tmp_path / "v3.case")
    assert manifest.schema_version == SCHEMA_VERSION == 4 and manifest.migrated_from == 3
    assert validate_case(tmp_path / "v3.case")["valid"]
    case = load_case(tmp_path / "v3.case")
    _check_typed(case)
    odd = case.scene["Odd"]  # values that never fitted are kept aside, not used, not fatal
    assert odd.trajectory is None and odd.tracking is None and not odd.label_table
    assert odd.live_source is None and odd.segmentation_of is None
    assert odd.metadata == {"legacy_trajectory": {"entry": [1, 2, 3], "target": [1, 2, 3]},
                            "legacy_labels": "not a table", "legacy_tracked_device": "",
                            "legacy_live": "carrier-pigeon", "legacy_segmentation_of": 42}

    save_case(case, tmp_path / "v3.case")
    raw = json.loads((tmp_path / "v3.case" / "manifest.json").read_text())
    assert raw["schema_version"] == SCHEMA_VERSION and "migrated_from" not in raw
    by_uid = {e["uid"]: e for e in raw["objects"]}
    assert by_uid["seg"]["label_table"]["labels"]["7"]["name"] == "tumour"
    assert by_uid["screw"]["trajectory"]["entry"] == [18.0, 88.0, 0.0]
    assert by_uid["tool"]["tracking"]["device"] == "StylusToTracker"
    assert by_uid["us"]["texture"].endswith(".texture.npy")
    assert by_uid["us"]["live_source"] == "igtl-image" and by_uid["tool"]["live_source"] == "igtl"
    assert by_uid["seg"]["segmentation_of"] == "ct-uid" and "live_source" not in by_uid["seg"]
    for e in raw["objects"]:  # metadata holds provenance only
        assert not {"labels", "trajectory", "tracked_device", "pose", "texture", "live",
                    "segmentation_of"} & set(e["metadata"])
    _check_typed(load_case(tmp_path / "v3.case"))


@pytest.mark.parametrize("name", ["c.twin", "c.case"])
def test_typed_fields_round_trip_through_archive_and_folder(tmp_path, name):
    case = Case()
    seg = case.scene.add(SceneObject("seg", ObjectKind.LABELMAP, _grid(),
                                     label_table={3: {"name": "kidney", "color": (0, 0.5, 1)}}))
    dev = case.scene.add(SceneObject("needle", ObjectKind.DEVICE, pv.Cone()))
    dev.trajectory = Trajectory(entry=(0, 0, 0), target=(0, 0, 80.5))
    dev.tracking = Tracking(device="Needle", pose=POSE)
    dev.texture = FRAME
    dev.live_source = "igtl"
    seg.segmentation_of = dev.uid
    back = load_case(save_case(case, tmp_path / name, folder=name.endswith(".case")))
    b_seg, b_dev = back.scene["seg"], back.scene["needle"]
    assert b_dev.live_source is LiveSource.IGTL and b_seg.live_source is None
    assert b_seg.segmentation_of == dev.uid and b_dev.segmentation_of is None
    assert b_seg.label_table == seg.label_table == LabelTable(
        labels={3: {"name": "kidney", "color": (0.0, 0.5, 1.0)}})
    assert b_dev.trajectory == dev.trajectory and b_dev.tracking == dev.tracking
    assert np.array_equal(b_dev.texture, FRAME) and not b_dev.texture.flags.writeable
    assert b_seg.trajectory is None and b_seg.tracking is None and b_seg.texture is None


@pytest.mark.parametrize("field, value, words", [
    ("label_table", {1: {"name": "x", "color": (2.0, 0, 0)}}, "label table is not valid"),
    ("label_table", {"one": {"name": "x", "color": (1, 0, 0)}}, "label table is not valid"),
    ("label_table", [1, 2], "label table is not valid"),
    ("trajectory", {"entry": (1, 2, 3), "target": (1, 2, 3)}, "the same point"),
    ("trajectory", {"entry": (0, 0, float("nan")), "target": (1, 2, 3)}, "trajectory is not"),
    ("tracking", {"device": "", "pose": None}, "tracking is not valid"),
    ("tracking", {"device": "T", "pose": np.diag([2.0, 1, 1, 1])}, "not rigid"),
    ("texture", np.zeros((4, 4, 3), np.float32), "uint8 image"),
    ("texture", np.zeros((4, 4), np.uint8), "uint8 image"),
    ("live_source", "carrier-pigeon", "live source must be one of igtl, igtl-image, mqtt"),
    ("live_source", 3, "not 3"),
    ("segmentation_of", "", "must be an object uid"),
    ("segmentation_of", 42, "must be an object uid"),
    ("segmentation_of", "x" * 201, "1 to 200 printable characters"),
    ("segmentation_of", "obj-1\nrm", "must be an object uid"),
])
def test_invalid_values_are_refused_in_one_sentence(field, value, words):
    obj = SceneObject("a", ObjectKind.DEVICE, pv.Cone())
    with pytest.raises(InputError) as err:
        setattr(obj, field, value)
    text = str(err.value)
    assert words in text and text.endswith(".") and "\n" not in text
    assert getattr(obj, field) is None or field == "label_table"


def test_edits_are_events_and_undo_steps_but_live_updates_are_not():
    case = Case()
    obj = case.scene.add(SceneObject("seg", ObjectKind.LABELMAP, _grid()))
    history = case.history
    seen = []
    obj.events.connect(lambda info: seen.append(info.signal.name))
    obj.label_table = {1: {"name": "liver", "color": (0.8, 0.4, 0.3)}}
    assert seen == ["label_table"] and history.undo_text == "Edit labels of 'seg'"
    obj.tracking = {"device": "Tool"}
    assert history.undo_text == "Change tracking of 'seg'"
    history.undo()
    assert obj.tracking is None and obj.label_table.names() == {1: "liver"}
    history.undo()
    assert not obj.label_table
    history.redo()
    assert obj.label_table[1].name == "liver"

    obj.tracking = {"device": "Tool"}
    steps, seen[:] = len(history), []
    obj.set_live(tracking=obj.tracking.moved(POSE), texture=FRAME)  # a tracker's frame
    assert seen == [] and len(history) == steps
    assert np.allclose(obj.tracking.matrix, POSE) and np.array_equal(obj.texture, FRAME)
    with pytest.raises(InputError, match="not a field a live stream sets"):
        obj.set_live(label_table={})


def test_live_source_and_segmented_scan_are_events_and_undo_steps():
    case = Case()
    scan = case.scene.add(SceneObject("ct", ObjectKind.VOLUME, _grid()))
    seg = case.scene.add(SceneObject("seg", ObjectKind.LABELMAP, _grid()))
    history, seen = case.history, []
    seg.events.connect(lambda info: seen.append((info.signal.name, info.args[0])))
    seg.segmentation_of = scan.uid
    assert seen == [("segmentation_of", scan.uid)]
    assert history.undo_text == "Change segmented scan of 'seg'"
    seg.live_source = "deformable-live"
    assert seen[-1] == ("live_source", LiveSource.DEFORMABLE)
    assert history.undo_text == "Change live source of 'seg'"
    with pytest.raises(InputError):
        seg.live_source = "nope"
    assert seg.live_source is LiveSource.DEFORMABLE and len(seen) == 2  # refused: no event
    history.undo()
    assert seg.live_source is None and seg.segmentation_of == scan.uid
    history.undo()
    assert seg.segmentation_of is None


def test_schema_4_case_written_before_the_two_fields_adopts_their_keys(tmp_path):
    """Schema 4 as first released today still wrote ``live`` and ``segmentation_of`` in
    metadata: such a case opens with the typed fields (the manifest is not re-versioned)."""
    case = Case()
    case.scene.add(SceneObject("ct", ObjectKind.VOLUME, _grid(), uid="ct"))
    case.scene.add(SceneObject("seg", ObjectKind.LABELMAP, _grid(), uid="seg"))
    case.scene.add(SceneObject("Stylus", ObjectKind.DEVICE, pv.Cone(), uid="tool"))
    folder = save_case(case, tmp_path / "early.case", folder=True)
    raw = json.loads((folder / "manifest.json").read_text())
    assert raw["schema_version"] == 4
    for entry in raw["objects"]:
        entry["metadata"] = {"seg": {"segmentation_of": "ct", "source": "editor"},
                             "tool": {"live": "igtl"}}.get(entry["uid"], {})
    (folder / "manifest.json").write_text(json.dumps(raw))
    back = load_case(folder)
    assert back.scene["seg"].segmentation_of == "ct"
    assert back.scene["seg"].metadata == {"source": "editor"}
    assert back.scene["Stylus"].live_source is LiveSource.IGTL
    assert back.scene["Stylus"].metadata == {} and back.scene["ct"].live_source is None


def test_objects_built_the_old_way_get_typed_fields():
    """Scripts written for schema 3 put the keys in metadata; the object moves them."""
    obj = SceneObject("screw", ObjectKind.DEVICE, pv.Cone(), metadata={
        "trajectory": {"entry": [0, 0, 0], "target": [0, 0, 10]}, "vendor": "x",
        "tracked_device": "Driver", "pose": POSE, "texture": FRAME,
        "labels": {2: {"name": "b", "color": [0, 0, 1]}}, "live": "mqtt",
        "segmentation_of": "obj-0123"})
    assert obj.metadata == {"vendor": "x"}
    assert obj.live_source is LiveSource.MQTT and obj.segmentation_of == "obj-0123"
    typed = SceneObject("x", ObjectKind.DEVICE, pv.Cone(), live_source="igtl",
                        metadata={"live": "mqtt"})  # the typed field wins
    assert typed.live_source is LiveSource.IGTL and typed.metadata == {}
    assert obj.trajectory.target == (0.0, 0.0, 10.0) and obj.tracking.device == "Driver"
    assert obj.label_table.names() == {2: "b"} and obj.texture.shape == (4, 5, 3)
    with pytest.raises(InputError, match="trajectory is not valid"):
        SceneObject("x", ObjectKind.DEVICE, pv.Cone(), metadata={"trajectory": [1, 2]})
    with pytest.raises(InputError, match="live source must be one of"):
        SceneObject("x", ObjectKind.DEVICE, pv.Cone(), metadata={"live": "pigeon"})

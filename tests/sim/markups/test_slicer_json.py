"""3D Slicer .mrk.json: hand-written files import with correct LPS coordinates; round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.errors import FileFormatError
from sim.geometry.rigid import from_parts
from sim.markups import MarkupType
from sim.markups.slicer import SCHEMA_URL, export_markups, import_markups
from tests.sim.model.sample import make_case

# Written by hand following Slicer's markups schema v1.0.3: one node per type, mixed frames.
HAND_WRITTEN = {
    "@schema": SCHEMA_URL,
    "markups": [
        {"type": "Fiducial", "coordinateSystem": "RAS", "name": "F",
         "controlPoints": [
             {"id": "1", "label": "nasion", "position": [10.0, 20.0, 30.0],
              "positionStatus": "defined"},
             {"id": "2", "label": "unplaced", "positionStatus": "undefined"},
             {"id": "3", "label": "inion", "position": [-1.5, 2.5, -3.5]}],
         "display": {"visibility": True, "color": [0.4, 1.0, 1.0],
                     "selectedColor": [1.0, 0.5, 0.5]}},
        {"type": "Line", "coordinateSystem": "LPS", "coordinateUnits": "mm", "name": "Width",
         "locked": True,
         "controlPoints": [{"position": [0, 0, 0]}, {"position": [30.0, 40.0, 0.0]}],
         "measurements": [{"name": "length", "value": 50.0, "units": "mm"}]},
        {"type": "Angle", "coordinateSystem": "RAS", "name": "Knee",
         "controlPoints": [{"position": [100, 0, 0]}, {"position": [0, 0, 0]},
                           {"position": [0, 0, 100]}]},
        {"type": "Plane", "coordinateSystem": "RAS", "name": "Cut",
         "planeType": "pointNormal", "center": [5.0, 6.0, 7.0], "normal": [1.0, 0.0, 0.0],
         "size": [40.0, 20.0, 0.0], "controlPoints": [{"position": [5.0, 6.0, 7.0]}]},
        {"type": "ROI", "coordinateSystem": "RAS", "name": "Box", "roiType": "Box",
         "center": [1.0, 2.0, 3.0], "size": [10.0, 20.0, 30.0],
         "orientation": [1, 0, 0, 0, 1, 0, 0, 0, 1],
         "controlPoints": [{"position": [1.0, 2.0, 3.0]}]},
        {"type": "Line", "coordinateSystem": "LPS", "coordinateUnits": "um", "name": "Tiny",
         "controlPoints": [{"position": [0, 0, 0]}, {"position": [0, 0, 500]}]},
        {"type": "Curve", "name": "Path", "controlPoints": [{"position": [0, 0, 1]},
                                                            {"position": [0, 1, 1]}]},
    ],
}


def test_hand_written_file_imports_in_lps(tmp_path):
    path = tmp_path / "hand.mrk.json"
    path.write_text(json.dumps(HAND_WRITTEN))
    markups, notes = import_markups(path)
    f, line, knee, cut, box, tiny, curve = markups
    assert f.type is MarkupType.POINT
    assert f.points == ((-10.0, -20.0, 30.0), (1.5, -2.5, -3.5))  # RAS -> LPS, unplaced skipped
    assert f.labels == ("nasion", "inion") and f.color == (1.0, 0.5, 0.5)
    assert line.points[1] == (30.0, 40.0, 0.0) and line.locked
    assert line.measurement()["value"] == pytest.approx(50.0)
    assert knee.points[0] == (-100.0, -0.0, 0.0) and knee.measurement()["value"] == \
        pytest.approx(90.0)
    assert cut.points == ((-5.0, -6.0, 7.0),) and np.allclose(cut.normal, (-1.0, 0.0, 0.0))
    assert cut.size == (40.0, 20.0, 0.0)
    assert box.points == ((-1.0, -2.0, 3.0),) and box.size == (10.0, 20.0, 30.0)
    assert box.measurement()["value"] == pytest.approx(6000.0)
    assert tiny.measurement()["value"] == pytest.approx(0.5)  # micrometres -> mm
    assert curve.type is MarkupType.CURVE and curve.points == ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0))
    assert curve.measurement()["value"] == pytest.approx(1.0) and notes == []


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_export_import_round_trip(tmp_path, system):
    markups = list(make_case().markups)
    path = export_markups(markups, tmp_path / "out.mrk.json", coordinate_system=system)
    doc = json.loads(path.read_text())
    assert doc["@schema"] == SCHEMA_URL
    assert {n["coordinateSystem"] for n in doc["markups"]} == {system}
    assert [n["type"] for n in doc["markups"]][:5] == ["Fiducial", "Line", "Angle", "Plane",
                                                      "ROI"]
    line = doc["markups"][1]
    assert line["measurements"][0]["name"] == "length"
    assert line["measurements"][0]["value"] == pytest.approx(13.0)
    back, notes = import_markups(path)
    assert notes == []
    for a, b in zip(markups, back, strict=True):
        assert (a.name, a.type, a.color, a.visible, a.locked) == (b.name, b.type, b.color,
                                                                   b.visible, b.locked)
        assert np.allclose(a.points, b.points, atol=1e-12)
        assert [a.label(i) for i in range(len(a.points))] == list(b.labels)
        if a.type in (MarkupType.PLANE, MarkupType.ROI):
            assert np.allclose(a.axes, b.axes, atol=1e-9) and a.size == b.size


def test_ras_export_negates_x_and_y(tmp_path):
    case = make_case()
    case.markups["Cut"].orientation = tuple(from_parts(rotation_deg=(0, 90, 0))[:3, :3]
                                            .reshape(-1))
    export_markups([case.markups["Gap"], case.markups["Cut"]], tmp_path / "r.mrk.json", "RAS")
    doc = json.loads((tmp_path / "r.mrk.json").read_text())
    assert doc["markups"][0]["controlPoints"][1]["position"] == [-3.0, -4.0, 12.0]
    assert np.allclose(doc["markups"][1]["normal"], [-1.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("content,match", [
    ("not json", "not valid JSON"), ("[]", "no 'markups'"), ('{"markups": 3}', "no 'markups'"),
    ('{"markups": [{"type": "Line", "coordinateSystem": "XYZ", "controlPoints": []}]}',
     "coordinate system"),
    ('{"markups": [{"type": "Line", "controlPoints": [{"position": [1, 2]}]}]}', "3 finite"),
    ('{"markups": [{"type": "Line", "coordinateUnits": "ft", "controlPoints": []}]}', "units"),
    ('{"markups": [{"type": "ROI", "controlPoints": []}]}', "centre"),
])
def test_bad_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.mrk.json"
    path.write_text(content)
    with pytest.raises(FileFormatError, match=match):
        import_markups(path)


def test_export_refuses_unknown_frame(tmp_path):
    from sim.errors import InputError

    with pytest.raises(InputError):
        export_markups([], tmp_path / "x.mrk.json", "XYZ")


def test_three_point_plane_bounding_box_roi_and_object_to_base(tmp_path):
    doc = {"@schema": SCHEMA_URL, "markups": [
        {"type": "Plane", "name": "P3", "planeType": "3Points", "coordinateSystem": "LPS",
         "controlPoints": [{"position": [0, 0, 0]}, {"position": [10, 0, 0]},
                           {"position": [0, 10, 0]}]},
        {"type": "ROI", "name": "BB", "roiType": "BoundingBox", "coordinateSystem": "RAS",
         "controlPoints": [{"position": [0, 0, 0]}, {"position": [10, 20, 30]}]},
        {"type": "Plane", "name": "OB", "coordinateSystem": "LPS", "center": [1, 1, 1],
         "objectToBase": [0, 0, 1, 0, 0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 0, 1]},
    ]}
    path = tmp_path / "p.mrk.json"
    path.write_text(json.dumps(doc))
    (p3, bb, ob), _ = import_markups(path)
    assert p3.points == ((0.0, 0.0, 0.0),) and np.allclose(p3.normal, (0, 0, 1))
    assert np.allclose(p3.axes[:, 0], (1, 0, 0))
    assert np.allclose(bb.points[0], (-5, -10, 15)) and bb.size == (10.0, 20.0, 30.0)
    assert np.allclose(ob.normal, (1, 0, 0)) and ob.points == ((1.0, 1.0, 1.0),)

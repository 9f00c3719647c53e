"""Slicer plane and curve fidelity (issue #23).

Plane files are generated the way Slicer's ``vtkMRMLMarkupsPlaneJsonStorageNode`` writes
them (RAS matrices held internally; in an LPS file the first two rows of each 4x4 are
negated, ``center``/``normal``/``orientation`` flipped), so the expected values come from
the matrices the test chose, not from Twinsight. Exports are validated against Slicer's own
markups JSON schemas (v1.0.0-v1.0.3, ../shared/data/slicer-schema) with ``jsonschema``;
plane fits are compared with trimesh's ``plane_fit``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.markups import Markup
from sim.markups.slicer import SCHEMA_URL, export_markups, import_markups

SCHEMAS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "slicer-schema"
L4 = np.diag([-1.0, -1.0, 1.0, 1.0])


def _rot(axis, deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    t = np.radians(deg)
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _rigid(r, t):
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, t
    return m


# Slicer's internal (RAS) plane: a base 35 degrees off the axes, an extra object rotation,
# and bounds that are off-centre and 100 x 60 mm.
BASE_RAS = _rigid(_rot((1, 2, 0.5), 35), (12.0, -30.0, 45.0))
OBJECT_RAS = _rigid(_rot((0, 0, 1), 25) @ _rot((1, 0, 0), 10), (3.0, -4.0, 0.0))
BOUNDS = [-30.0, 70.0, -20.0, 40.0]
OBJECT_TO_NODE = BASE_RAS @ OBJECT_RAS


def _expected_lps():
    middle = np.array([(BOUNDS[0] + BOUNDS[1]) / 2, (BOUNDS[2] + BOUNDS[3]) / 2, 0.0, 1.0])
    centre_ras = OBJECT_TO_NODE @ middle
    axes_lps = np.diag([-1.0, -1.0, 1.0]) @ OBJECT_TO_NODE[:3, :3]
    return centre_ras[:3] * (-1, -1, 1), axes_lps


def slicer_plane(system: str) -> dict:
    """A plane node as Slicer writes it (WriteBasicProperties of the plane storage node)."""
    lps = system == "LPS"
    flip3 = np.array([-1.0, -1.0, 1.0]) if lps else np.ones(3)
    origin = OBJECT_TO_NODE[:3, 3]
    axes = OBJECT_TO_NODE[:3, :3].copy()
    orientation = axes.reshape(-1).copy()  # row-major: [x0 y0 z0 x1 y1 z1 x2 y2 z2]
    if lps:
        orientation[:6] *= -1
    return {
        "type": "Plane", "name": "Cut", "coordinateSystem": system, "coordinateUnits": "mm",
        "planeType": "pointNormal", "sizeMode": "absolute", "autoScalingFactor": 1.0,
        "center": list(origin * flip3), "normal": list(axes[:, 2] * flip3),
        "objectToBase": list(((L4 if lps else np.eye(4)) @ OBJECT_RAS).reshape(-1)),
        "baseToNode": list(((L4 if lps else np.eye(4)) @ BASE_RAS).reshape(-1)),
        "orientation": list(orientation),
        "size": [BOUNDS[1] - BOUNDS[0], BOUNDS[3] - BOUNDS[2], 0.0], "planeBounds": BOUNDS,
        "controlPoints": [{"id": "1", "label": "Cut-1",
                           "position": list(BASE_RAS[:3, 3] * flip3),
                           "positionStatus": "defined"}],
    }


def _validator(version: str):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed "
                                     "(pip install -e '.[test]')")
    path = SCHEMAS / f"markups-schema-v{version}.json"
    if not path.is_file():
        pytest.skip(f"Slicer's markups schemas are not at {SCHEMAS} (see ../shared/data)")
    schema = json.loads(path.read_text())
    return jsonschema.Draft7Validator(schema)


def _load(tmp_path, nodes):
    path = tmp_path / "p.mrk.json"
    path.write_text(json.dumps({"@schema": SCHEMA_URL, "markups": nodes}))
    return import_markups(path)


@pytest.mark.parametrize("system", ["LPS", "RAS"])
@pytest.mark.parametrize("drop", [
    (),  # everything Slicer writes
    ("normal", "orientation", "center", "size"),  # only what Slicer itself reads back
    ("size",),  # size only from planeBounds
])
def test_slicer_written_plane_orientation_centre_and_size(tmp_path, system, drop):
    node = {k: v for k, v in slicer_plane(system).items() if k not in drop}
    assert not list(_validator("1.0.3").iter_errors({"@schema": SCHEMA_URL, "markups": [node]}))
    (plane,), notes = _load(tmp_path, [node])
    centre, axes = _expected_lps()
    assert np.allclose(plane.points[0], centre, atol=1e-9)
    assert np.allclose(plane.axes, axes, atol=1e-9)
    assert plane.size[:2] == pytest.approx((100.0, 60.0))


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_plane_with_base_to_node_only_and_bounds(tmp_path, system):
    """The issue's case: baseToNode (35 degrees off) without objectToBase, 100x100 bounds."""
    lps = system == "LPS"
    node = {"type": "Plane", "name": "B", "coordinateSystem": system,
            "baseToNode": list(((L4 if lps else np.eye(4)) @ BASE_RAS).reshape(-1)),
            "planeBounds": [-50.0, 50.0, -50.0, 50.0], "size": [50.0, 50.0, 0.0]}
    (plane,), _ = _load(tmp_path, [node])
    normal_lps = BASE_RAS[:3, 2] * (-1, -1, 1)
    assert np.allclose(plane.normal, normal_lps, atol=1e-12)
    assert np.degrees(np.arccos(plane.normal[2])) == pytest.approx(
        np.degrees(np.arccos(BASE_RAS[2, 2])))
    assert plane.size[:2] == (100.0, 100.0)
    assert np.allclose(plane.points[0], BASE_RAS[:3, 3] * (-1, -1, 1))


def test_three_point_and_plane_fit_types(tmp_path):
    trimesh = pytest.importorskip("trimesh", reason="trimesh is not installed")
    rng = np.random.default_rng(3)
    r = _rot((0.3, -1, 0.2), 40)
    local = np.c_[rng.uniform(-20, 20, (12, 2)), rng.normal(0, 0.3, 12)]
    pts = local @ r.T + (5.0, 7.0, -9.0)
    p3 = pts[:3]
    nodes = [
        {"type": "Plane", "name": "T", "coordinateSystem": "LPS",  # no planeType: 3Points
         "controlPoints": [{"position": list(p)} for p in p3]},
        {"type": "Plane", "name": "F", "planeType": "planeFit", "coordinateSystem": "RAS",
         "controlPoints": [{"position": list(p * (-1, -1, 1))} for p in pts]},
    ]
    (t, f), _ = _load(tmp_path, nodes)
    x = (p3[1] - p3[0]) / np.linalg.norm(p3[1] - p3[0])
    n = np.cross(p3[1] - p3[0], p3[2] - p3[0])
    assert np.allclose(t.axes[:, 0], x) and np.allclose(t.normal, n / np.linalg.norm(n))
    assert np.allclose(t.points[0], p3[0])
    # Automatic size: twice the farthest control point along each in-plane axis.
    d = (p3 - p3[0]) @ t.axes
    assert t.size[:2] == pytest.approx((2 * np.abs(d[:, 0]).max(), 2 * np.abs(d[:, 1]).max()))
    centroid, normal = trimesh.points.plane_fit(pts)
    assert np.allclose(f.points[0], centroid, atol=1e-9)
    assert abs(float(np.dot(f.normal, normal))) == pytest.approx(1.0, abs=1e-9)
    assert f.normal[2] >= 0  # Slicer keeps the fitted normal on its previous +z side


def _every_type() -> list[Markup]:
    r = _rot((1, 1, 0), 30)
    return [
        Markup("F", "point", points=[(1, 2, 3), (4, 5, 6)], labels=["a", "b"]),
        Markup("L", "line", points=[(0, 0, 0), (3, 4, 12)]),
        Markup("A", "angle", points=[(1, 0, 0), (0, 0, 0), (0, 1, 0)]),
        Markup("C", "curve", points=[(0, 0, 0), (10, 0, 0), (10, 10, 0), (10, 10, 5)]),
        Markup("CC", "closed_curve", points=[(0, 0, 0), (10, 0, 0), (10, 10, 0), (0, 10, 0)]),
        Markup("P", "plane", points=[(5, -5, 7)], size=(80, 60, 0),
               orientation=tuple(r.reshape(-1))),
        Markup("R", "roi", points=[(-5, 0, 10)], size=(20, 30, 40),
               orientation=tuple(r.reshape(-1))),
    ]


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_round_trip_every_type_against_slicer_schemas(tmp_path, system):
    markups = _every_type()
    path = export_markups(markups, tmp_path / "all.mrk.json", coordinate_system=system)
    doc = json.loads(path.read_text())
    errors = [e.message for e in _validator("1.0.3").iter_errors(doc)]
    assert errors == []
    for version in ("1.0.0", "1.0.1", "1.0.2"):  # older schemas: every type they know
        older = _validator(version)
        known = older.schema["properties"]["markups"]["items"]["anyOf"][0]["properties"][
            "type"]["enum"]
        part = {**doc, "markups": [n for n in doc["markups"] if n["type"] in known]}
        assert len(part["markups"]) >= 6
        assert [e.message for e in older.iter_errors(part)] == []
    assert [n["type"] for n in doc["markups"]] == ["Fiducial", "Line", "Angle", "Curve",
                                                   "ClosedCurve", "Plane", "ROI"]
    back, notes = import_markups(path)
    assert notes == []
    for a, b in zip(markups, back, strict=True):
        assert (a.name, a.type) == (b.name, b.type)
        assert np.allclose(a.points, b.points, atol=1e-12)
        assert np.allclose(a.axes, b.axes, atol=1e-12) and a.size == b.size
    assert back[3].measurement()["value"] == pytest.approx(25.0)  # open path: 10+10+5
    assert back[4].measurement()["value"] == pytest.approx(40.0)  # closed loop: 4 x 10


def test_schema_rejects_a_broken_export(tmp_path):
    """The schema check can fail: a plane with a 2-element size is not valid v1.0.3."""
    path = export_markups(_every_type(), tmp_path / "x.mrk.json")
    doc = json.loads(path.read_text())
    doc["markups"][5]["size"] = [80, 60]
    assert list(_validator("1.0.3").iter_errors(doc))

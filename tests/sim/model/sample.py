"""Sample cases with every object kind and markup type, and an exact comparison of two cases."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.geometry.rigid import from_parts
from sim.markups import Markup
from sim.model import Case, ObjectKind, SceneObject
from sim.model.display import Display


def make_case(seed: int = 0, big: bool = False) -> Case:
    rng = np.random.default_rng(seed)
    case = Case(name=f"Sample {seed}", anatomical=True, description="every kind of object")
    n = 64 if big else 12
    ct = pv.ImageData(dimensions=(n, n + 3, n + 5), spacing=(0.7, 0.8, 2.5), origin=(-10, 5, 30))
    ct.direction_matrix = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ct["HU"] = rng.integers(-1024, 3000, ct.n_points).astype(np.int16)
    case.scene.add(SceneObject("CT", ObjectKind.VOLUME, ct, display=Display(window=(40.0, 400.0))))
    labels = pv.ImageData(dimensions=(8, 9, 10), spacing=(1.5, 1.5, 3.0))
    labels["labels"] = rng.integers(0, 5, labels.n_points).astype(np.uint8)
    case.scene.add(SceneObject("Segments", ObjectKind.LABELMAP, labels, opacity=0.5,
                               label_table={1: {"name": "liver", "color": (0.8, 0.4, 0.3)},
                                            4: {"name": "tumour", "color": (1.0, 0.0, 0.0)}}))
    liver = pv.Sphere(radius=40.0, theta_resolution=30, phi_resolution=20)
    liver.point_data["thickness"] = rng.random(liver.n_points)
    liver.cell_data["region"] = np.arange(liver.n_cells, dtype=np.int32)
    case.scene.add(SceneObject("Liver", ObjectKind.SURFACE, liver, color=(0.7, 0.2, 0.2),
                               visible=False, metadata={"source": "test", "tags": ["a", "b"]}))
    cloud = pv.PolyData(rng.random((50, 3)) * 100)
    cloud["intensity"] = rng.random(50).astype(np.float32)
    case.scene.add(SceneObject("Scan", ObjectKind.POINTS, cloud, metadata={
        "matrix": rng.random((4, 4)), "thumbnail": rng.integers(0, 255, (8, 6), dtype=np.uint8),
        "nested": {"weights": [np.arange(3, dtype=np.int64), 2.5]}},
        texture=rng.integers(0, 255, (8, 6, 3), dtype=np.uint8)))
    screw = pv.Cylinder(radius=2.0, height=30.0).triangulate()
    dev = SceneObject("Screw", ObjectKind.DEVICE, screw, color=(0.6, 0.6, 0.65))
    dev.transform = from_parts((10.0, -4.0, 2.5), (15.0, -30.0, 90.0))
    dev.trajectory = {"entry": (18.0, 88.0, 0.0), "target": (11.0, 62.0, 0.0)}
    dev.tracking = {"device": "ScrewDriver", "pose": from_parts((1.0, 2.0, 3.0), (0, 45, 0))}
    case.scene.add(dev)
    body = pv.ImageData(dimensions=(4, 5, 6)).cast_to_unstructured_grid()
    body.point_data["u"] = rng.random((body.n_points, 3))
    case.scene.add(SceneObject("Bracket", ObjectKind.PART, body, opacity=0.25))
    case.markups.add(Markup("Landmarks", "point", points=[(1, 2, 3), (4.5, -6, 7.25)],
                            labels=["tip", ""]))
    case.markups.add(Markup("Gap", "line", points=[(0, 0, 0), (3, 4, 12)], color=(0, 1, 0)))
    case.markups.add(Markup("Knee", "angle", points=[(1, 0, 0), (0, 0, 0), (0, 1, 0)],
                            locked=True))
    rot = from_parts(rotation_deg=(10, 20, 30))[:3, :3]
    case.markups.add(Markup("Cut", "plane", points=[(5, 5, 5)], size=(80, 60, 0),
                            orientation=tuple(rot.reshape(-1)), description="osteotomy"))
    case.markups.add(Markup("Box", "roi", points=[(-5, 0, 10)], size=(20, 30, 40),
                            visible=False))
    case.sections["plans"] = {"screw": {"entry": [1.0, 2.0, 3.0], "length_mm": 45}}
    case.sections["link"] = {"mqtt": {"host": "localhost", "port": 1883}, "igtl": None}
    return case


def assert_datasets_equal(a: pv.DataSet, b: pv.DataSet) -> None:
    assert type(a) is type(b)
    assert a.n_points == b.n_points and a.n_cells == b.n_cells
    if isinstance(a, pv.ImageData):
        assert a.dimensions == b.dimensions
        assert np.array_equal(a.origin, b.origin) and np.array_equal(a.spacing, b.spacing)
        assert np.array_equal(a.direction_matrix, b.direction_matrix)
    else:
        assert np.array_equal(np.asarray(a.points), np.asarray(b.points))
    if isinstance(a, pv.PolyData):
        assert np.array_equal(a.faces, b.faces)
    if isinstance(a, pv.UnstructuredGrid):
        assert np.array_equal(a.cells, b.cells) and np.array_equal(a.celltypes, b.celltypes)
    for mine, theirs in ((a.point_data, b.point_data), (a.cell_data, b.cell_data)):
        assert set(mine.keys()) == set(theirs.keys())
        for k in mine:
            assert mine[k].dtype == theirs[k].dtype, k
            assert np.array_equal(mine[k], theirs[k]), k


def assert_values_equal(a, b) -> None:
    """Deep equality where numpy arrays must match in dtype, shape and every value."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            assert_values_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_values_equal(x, y)
    else:
        assert a == b


def assert_cases_equal(a: Case, b: Case) -> None:
    assert (a.name, a.anatomical, a.description, a.uid) == (b.name, b.anatomical,
                                                             b.description, b.uid)
    assert [o.uid for o in a.scene] == [o.uid for o in b.scene]
    for x, y in zip(a.scene, b.scene, strict=True):
        assert (x.name, x.kind, x.color, x.opacity, x.visible) == (
            y.name, y.kind, tuple(y.color), y.opacity, y.visible)
        assert_values_equal(x.metadata, y.metadata)
        assert np.array_equal(x.transform, y.transform)
        assert (x.display, x.label_table, x.trajectory, x.tracking) == (
            y.display, y.label_table, y.trajectory, y.tracking)
        assert (x.texture is None) == (y.texture is None)
        if x.texture is not None:
            assert_values_equal(x.texture, y.texture)
        assert_datasets_equal(x.data, y.data)
    assert_values_equal(a.sections, b.sections)
    assert len(a.markups) == len(b.markups)
    fields = ("uid", "name", "type", "points", "labels", "color", "visible", "locked", "size",
              "orientation", "description")
    for x, y in zip(a.markups, b.markups, strict=True):
        assert {f: getattr(x, f) for f in fields} == {f: getattr(y, f) for f in fields}

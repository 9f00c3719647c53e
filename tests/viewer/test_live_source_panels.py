"""Panels read an object's typed ``live_source`` and ``segmentation_of``: Inspect and landmark
registration leave out what an instrument link streams (tools, image planes), the deformable
update also the live organ preview, and the Segment Editor finds a scan's segmentation -
the same after the case is saved and opened again, and for objects built the old way (the keys
in metadata)."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.model import Case, ObjectKind, SceneObject
from sim.model.case_io import load_case, save_case
from sim.model.object_fields import LiveSource
from tests.viewer.case_window import shared_window_fixture  # noqa: F401

pytestmark = pytest.mark.gui


def _image(labels: bool) -> pv.ImageData:
    grid = pv.ImageData(dimensions=(6, 6, 6), spacing=(2.0, 2.0, 2.0))
    grid.point_data["labels" if labels else "ct"] = (
        np.zeros(grid.n_points, np.uint8) if labels else np.arange(grid.n_points, dtype=float))
    return grid


def _case(old_way: bool) -> Case:
    """Every live source and a segmentation, typed or (``old_way``) as metadata keys."""
    def obj(name, kind, data, live=None, seg_of=None):
        if old_way:
            meta = {k: v for k, v in (("live", live), ("segmentation_of", seg_of)) if v}
            return SceneObject(name, kind, data, metadata=meta)
        return SceneObject(name, kind, data, live_source=live, segmentation_of=seg_of)

    case = Case(name="live sources")
    scan = case.scene.add(obj("ct", ObjectKind.VOLUME, _image(False)))
    case.scene.add(obj("Segmentation", ObjectKind.LABELMAP, _image(True), seg_of=scan.uid))
    case.scene.add(obj("Other labels", ObjectKind.LABELMAP, _image(True)))
    case.scene.add(obj("organ", ObjectKind.SURFACE, pv.Sphere(radius=20.0)))
    case.scene.add(obj("scan points", ObjectKind.POINTS, pv.PolyData(np.eye(3) * 10)))
    case.scene.add(obj("Stylus", ObjectKind.DEVICE, pv.Cone(), live="igtl"))
    case.scene.add(obj("US", ObjectKind.SURFACE, pv.Plane(), live="igtl-image"))
    case.scene.add(obj("Pump bracket", ObjectKind.PART, pv.Cube(), live="mqtt"))
    case.scene.add(obj("organ (live)", ObjectKind.SURFACE, pv.Sphere(), live="deformable-live"))
    return case


def _names(combo) -> set[str]:
    return {combo.itemText(i) for i in range(combo.count())}


@pytest.mark.parametrize("how", ["typed", "old way", "saved and opened"])
def test_panels_filter_by_live_source_and_find_the_segmentation(shared_window, qtbot,
                                                                 tmp_path, how):
    win = shared_window
    qtbot.waitExposed(win)
    case = _case(old_way=how == "old way")
    if how == "saved and opened":
        case = load_case(save_case(case, tmp_path / "c.twin"))
    assert case.scene["Stylus"].live_source is LiveSource.IGTL
    assert "live" not in case.scene["Stylus"].metadata
    win.set_case(case)
    inspect = win.inspect
    usable = {o.name for o in inspect._objects()}
    assert {"Stylus", "US"}.isdisjoint(usable)  # the link's tools and images
    assert {"organ", "scan points", "Pump bracket", "organ (live)"} <= usable
    lm = inspect.landmarks
    lm.refresh()
    targets = _names(lm.target_combo)
    assert {"Stylus", "US"}.isdisjoint(targets) and {"organ", "Pump bracket"} <= targets
    box = inspect.deformable
    box.refresh()
    points = _names(box.points_combo)
    assert points == {"scan points"}  # never a live tool, image or the live preview

    editor = win.imaging.editor
    editor.set_volume(case.scene["ct"])
    assert editor.editor is not None and editor.editor.obj is case.scene["Segmentation"]
    editor.set_volume(case.scene["Segmentation"])  # shown itself: still edited
    assert editor.editor.obj is case.scene["Segmentation"]

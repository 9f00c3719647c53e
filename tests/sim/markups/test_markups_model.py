"""Markups: measurements against hand-computed values, validation, the evented list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import InputError
from sim.markups import Markup, MarkupList, MarkupType
from sim.markups.model import angle_deg


def test_line_length_and_angle():
    line = Markup("d", "line", points=[(1, 2, 3), (4, 6, 15)])
    assert line.measurement() == {"name": "length", "value": 13.0, "units": "mm"}
    assert line.measurement_text() == "13.00 mm"
    angle = Markup("a", "angle", points=[(10, 0, 0), (0, 0, 0), (5, 5 * math.sqrt(3), 0)])
    assert angle.measurement()["value"] == pytest.approx(60.0, abs=1e-12)
    assert angle_deg(np.array([1, 0, 0]), np.zeros(3), np.array([-1, 1e-9, 0])) == \
        pytest.approx(180.0, abs=1e-6)


def test_plane_roi_and_points():
    roi = Markup("r", "roi", points=[(0, 0, 0)], size=(10, 20, 30))
    assert roi.measurement()["value"] == 6000.0 and roi.measurement_text() == "6.00 cm³"
    plane = Markup("p", MarkupType.PLANE, points=[(0, 0, 0)],
                   orientation=(0, 0, 1, 0, 1, 0, -1, 0, 0))
    assert np.allclose(plane.normal, (1, 0, 0))
    pts = Markup("f", "point")
    assert not pts.complete and pts.measurement() is None
    pts.add_point((1, 1, 1))
    assert pts.label(0) == "f-1" and pts.complete


def test_incomplete_markups_and_placement():
    line = Markup("d", "line")
    assert line.measurement_text() == "(placing…)"
    line.add_point((0, 0, 0))
    line.add_point((0, 0, 1))
    with pytest.raises(InputError, match="already has"):
        line.add_point((1, 1, 1))
    line.move_point(0, (0, 0, -1))
    assert line.measurement()["value"] == 2.0
    with pytest.raises(InputError):
        line.move_point(5, (0, 0, 0))


@pytest.mark.parametrize("kwargs,match", [
    ({"type": "spline"}, "not a markup type"),
    ({"type": "line", "points": [(0, 0, 0)] * 3}, "at most 2"),
    ({"type": "point", "points": [(0, 0, float("nan"))]}, "finite"),
    ({"type": "point", "points": [(0, 0)]}, "three"),
    ({"type": "roi", "orientation": (2, 0, 0, 0, 1, 0, 0, 0, 1)}, "rotation"),
])
def test_invalid_markups_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        Markup("bad", **kwargs)


def test_list_events_names_and_order():
    lst = MarkupList()
    seen = []
    lst.added.connect(lambda m: seen.append(("+", m.name)))
    lst.removed.connect(lambda m: seen.append(("-", m.name)))
    a = lst.add(Markup("m", "point"))
    b = lst.add(Markup("m", "point"))
    assert b.name == "m (2)" and lst["m (2)"] is b and lst[0] is a
    lst.remove(a)
    lst.insert(0, a)
    assert [m.name for m in lst] == ["m", "m (2)"] and lst.find(b.uid) is b
    assert seen == [("+", "m"), ("+", "m (2)"), ("-", "m"), ("+", "m")]
    with pytest.raises(InputError):
        lst.add(a)


def test_resize_handles_and_resizing_planes_and_rois():
    from sim.markups.model import MIN_SIZE_MM

    plane = Markup("Cut", "plane", points=[(10, 0, 0)], size=(40, 20, 1))
    corners = plane.resize_handles()
    assert corners.shape == (4, 3) and np.allclose(corners[2], (30, 10, 0))
    centre, size = plane.resized(2, (35, 15, 3))  # a corner dragged out: centred, wider
    assert centre == (10, 0, 0) and size == (50, 30, 1)
    assert plane.resized(0, (10, 0, 9))[1][:2] == (MIN_SIZE_MM, MIN_SIZE_MM)

    # an ROI turned 90 degrees about z: its own x axis points along world y
    turned = (0, -1, 0, 1, 0, 0, 0, 0, 1)
    roi = Markup("Box", "roi", points=[(0, 0, 0)], size=(10, 20, 30), orientation=turned)
    faces = roi.resize_handles()
    assert faces.shape == (6, 3) and np.allclose(faces[1], (0, 5, 0))  # +x face: world +y
    centre, size = roi.resized(1, (3, 9, -4))  # +x face to 9 mm, the -x face stays at -5
    assert np.allclose(centre, (0, 2, 0)) and np.allclose(size, (14, 20, 30))
    centre, size = roi.resized(4, (0, 0, -25), centre=(0, 0, 0), size=(10, 20, 30))
    assert np.allclose(centre, (0, 0, -5)) and np.allclose(size, (10, 20, 40))  # -z face out
    centre, size = roi.resized(5, (0, 0, -99))  # +z face past the -z face: minimum size
    assert np.isclose(size[2], MIN_SIZE_MM) and np.isclose(centre[2], -15 + MIN_SIZE_MM / 2)
    assert len(Markup("P", "point", points=[(0, 0, 0)]).resize_handles()) == 0

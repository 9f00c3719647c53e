"""The markups panel: place by clicking on a surface, drag handles, table, Slicer files, undo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QWidget

from sim.markups import MarkupType
from tests.sim.markups.test_slicer_json import HAND_WRITTEN
from tests.viewer.case_window import shared_window_fixture, win_fixture  # noqa: F401
from tests.viewer.view_points import display_point, widget_point, widget_pos


def _click(qtbot, win, world, offset=(0, 0)):
    x, y = display_point(win.view, world)
    qtbot.mouseClick(win.view.plotter.interactor, Qt.MouseButton.LeftButton,
                     pos=widget_pos(win.view, x + offset[0], y + offset[1]))


@pytest.fixture
def liver_only(win):
    for obj in win.case.scene:
        obj.visible = obj.name == "Liver"
    win.case.history.clear()
    win.view.renderer.set_view("A")
    return win


def test_line_placed_by_clicks_measured_dragged_and_undone(liver_only, qtbot):
    win, panel = liver_only, liver_only.session.markups
    qtbot.mouseClick(panel.type_buttons[MarkupType.LINE], Qt.MouseButton.LeftButton)
    assert panel.placing is MarkupType.LINE
    _click(qtbot, win, (0, 0, 0), offset=(-40, 0))
    _click(qtbot, win, (0, 0, 0), offset=(40, 30))
    assert panel.placing is None and not panel.type_buttons[MarkupType.LINE].isChecked()
    line = win.case.markups[-1]
    assert line.type is MarkupType.LINE and len(line.points) == 2
    radii = np.linalg.norm(np.asarray(line.points), axis=1)
    assert np.allclose(radii, 40.0, atol=0.5)  # both points lie on the liver sphere (r=40)
    assert all(p[1] < 0 for p in line.points)  # on its anterior side, facing the camera
    length = float(np.linalg.norm(np.subtract(*line.points)))
    row = panel.row_of(line)
    assert panel.table.item(row, 2).text() == f"{length:.2f} mm"
    drawn = panel.layer.drawn[line.uid]
    assert len(drawn.actors) >= 3 and len(drawn.handles) == 2

    # drag the first handle with the mouse
    start = np.array(line.points[0])
    widget = win.view.plotter.interactor
    x, y = display_point(win.view, start)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=widget_pos(win.view, x, y))
    for step in range(1, 6):
        qtbot.mouseMove(widget, widget_pos(win.view, x + 6 * step, y + 4 * step))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=widget_pos(win.view, x + 30, y + 20))
    moved = np.array(line.points[0])
    assert np.linalg.norm(moved - start) > 5.0
    assert panel.table.item(row, 2).text() != f"{length:.2f} mm"
    win.case.history.undo()  # the whole drag is one step
    assert np.allclose(line.points[0], start)
    win.case.history.undo()
    win.case.history.undo()  # placing: one step for the line and its first point
    assert line not in list(win.case.markups) and line.uid not in panel.layer.drawn


def test_plane_takes_the_surface_normal_and_points_list_until_right_click(liver_only, qtbot):
    win, panel = liver_only, liver_only.session.markups
    panel.start_placement(MarkupType.PLANE)
    _click(qtbot, win, (0, 0, 0))
    plane = win.case.markups[-1]
    centre = np.asarray(plane.points[0])
    assert np.dot(plane.normal, centre / np.linalg.norm(centre)) > 0.95  # sphere normal
    panel.start_placement(MarkupType.POINT)
    for dx in (-30, 0, 30):
        _click(qtbot, win, (0, 0, 0), offset=(dx, 10))
    qtbot.mouseClick(win.view.plotter.interactor, Qt.MouseButton.RightButton,
                     pos=widget_point(win.view, (0, 0, 0)))
    points = win.case.markups[-1]
    assert points.type is MarkupType.POINT and len(points.points) == 3 and panel.placing is None


def test_table_edits_angle_delete_and_visibility(win, qtbot):
    panel = win.session.markups
    panel.start_placement(MarkupType.ANGLE)
    for p in ((10, 0, 0), (0, 0, 0), (0, 0, 10)):
        panel.place_at(p)
    angle = win.case.markups[-1]
    row = panel.row_of(angle)
    assert panel.table.item(row, 2).text() == "90.0°" and panel.table.item(row, 1).text() == "Angle"
    panel.table.item(row, 0).setText("Hip angle")
    assert angle.name == "Hip angle"
    panel.table.item(row, 0).setCheckState(Qt.CheckState.Unchecked)
    assert angle.visible is False and panel.layer.drawn[angle.uid].actors == []
    win.case.history.undo()
    assert angle.visible is True and panel.layer.drawn[angle.uid].actors
    panel.table.selectRow(panel.row_of(angle))
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert angle not in list(win.case.markups)
    win.case.history.undo()
    assert win.case.markups[-1] is angle and panel.table.rowCount() == len(win.case.markups)


def test_slicer_import_and_export(win, tmp_path):
    panel = win.session.markups
    src = tmp_path / "hand.mrk.json"
    src.write_text(json.dumps(HAND_WRITTEN))
    before = len(win.case.markups)
    added = panel.import_file(src)
    assert len(added) == 7 and panel.table.rowCount() == before + 7
    assert win.case.markups["F"].points[0] == (-10.0, -20.0, 30.0)  # RAS in the file -> LPS
    assert win.case.markups["Path"].type is MarkupType.CURVE  # curves stay curves (#23)
    assert panel.layer.drawn[win.case.markups["Path"].uid].actors
    win.case.history.undo()  # one step for the whole import
    assert len(win.case.markups) == before
    out = panel.export_file(tmp_path / "out.mrk.json", "RAS")
    doc = json.loads(out.read_text())
    gap = next(n for n in doc["markups"] if n["name"] == "Gap")
    assert gap["coordinateSystem"] == "RAS" and gap["controlPoints"][1]["position"] == [-3, -4, 12]


def test_points_can_be_placed_on_image_slices(win, qtbot):
    for obj in win.case.scene:
        obj.visible = obj.name == "CT"
    win.view.renderer.set_view("A")
    panel = win.session.markups
    panel.start_placement(MarkupType.POINT)
    ct = win.case.scene["CT"]
    centre = np.asarray(ct.data.center)
    _click(qtbot, win, centre)
    panel.finish_placement()
    m = win.case.markups[-1]
    assert m.type is MarkupType.POINT and len(m.points) == 1
    b = np.asarray(ct.data.bounds).reshape(3, 2)
    assert np.all(np.asarray(m.points[0]) >= b[:, 0] - 1e-6)
    assert np.all(np.asarray(m.points[0]) <= b[:, 1] + 1e-6)


def test_clicks_in_2d_slice_views_place_points(win):
    views = [w for w in win.findChildren(QWidget) if hasattr(w, "cursor_picked")]
    if not views:
        pytest.skip("this build has no 2D slice views")
    panel = win.session.markups
    before = len(win.case.markups)
    views[0].cursor_picked.emit(np.array([1.0, 2.0, 3.0]))  # not placing: only the crosshair
    assert len(win.case.markups) == before
    panel.start_placement(MarkupType.LINE)
    views[0].cursor_picked.emit(np.array([1.0, 2.0, 3.0]))
    views[-1].cursor_picked.emit(np.array([1.0, 2.0, 13.0]))
    line = win.case.markups[-1]
    assert line.points == ((1.0, 2.0, 3.0), (1.0, 2.0, 13.0)) and panel.placing is None


def _drag(qtbot, win, world, dx, dy, steps=5):
    """A real left-button drag starting on the projection of ``world``."""
    widget = win.view.plotter.interactor
    x, y = display_point(win.view, world)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=widget_pos(win.view, x, y))
    for step in range(1, steps + 1):
        qtbot.mouseMove(widget, widget_pos(win.view, x + dx * step / steps, y + dy * step / steps))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=widget_pos(win.view, x + dx, y + dy))


def test_roi_and_plane_resized_by_dragging_their_handles(liver_only, qtbot):
    win, panel = liver_only, liver_only.session.markups
    panel.start_placement(MarkupType.ROI)
    roi = panel.place_at((0.0, -60.0, 0.0))
    panel.start_placement(MarkupType.PLANE)
    plane = panel.place_at((0.0, -45.0, 0.0), normal=(0.0, -1.0, 0.0))
    win.case.history.clear()
    faces, corners = panel.layer.size_handles(roi), panel.layer.size_handles(plane)
    assert len(faces) == 6 and len(corners) == 4 and len(panel.layer.handles(roi)) == 1
    assert np.allclose(faces[1].GetCenter(), (10, -60, 0))  # the +x face of a 20 mm box

    # drag the ROI's +x face (on the patient's left: to the right in an anterior view)
    _drag(qtbot, win, (10.0, -60.0, 0.0), 40, 0)
    (cx, cy, cz), (sx, sy, sz) = roi.points[0], roi.size
    assert sx > 30 and (sy, sz) == (20, 20) and (cy, cz) == (-60, 0)  # only x changed
    assert cx - sx / 2 == pytest.approx(-10, abs=1e-6)  # the opposite face stayed put
    assert np.allclose(faces[1].GetCenter(), (cx + sx / 2, -60, 0))  # snapped onto the face
    assert panel.table.item(panel.row_of(roi), 2).text() == f"{sx * 400 / 1000:.2f} cm³"
    assert win.case.history.undo_text == "Resize 'ROI'"
    win.case.history.undo()  # the whole drag is one step
    assert roi.size == (20, 20, 20) and roi.points[0] == (0, -60, 0)

    # drag a plane corner outwards: it grows about its centre
    before = np.array(plane.size)
    corner = np.array(corners[2].GetCenter())
    _drag(qtbot, win, corner, 30, 30)
    assert plane.points[0] == (0, -45, 0)
    assert plane.size[0] > before[0] + 5 and plane.size[1] > before[1] + 5
    quad = np.asarray(plane.resize_handles())
    assert np.allclose(quad[2], corners[2].GetCenter())
    assert len(win.case.history) == 1
    win.case.history.undo()
    assert np.allclose(plane.size, before)
    plane.locked = True  # a locked markup has no handles at all
    assert panel.layer.size_handles(plane) == [] and panel.layer.handles(plane) == []


def _send(widget, kind, pos, buttons):
    from PyQt6.QtCore import QEvent, QPointF
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtWidgets import QApplication

    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)),
                        Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    assert kind is not QEvent.Type.MouseButtonDblClick or event.type() == kind


def test_angle_clicks_spaced_in_time_are_never_dropped(liver_only, qtbot):
    """Clicks seconds apart (shortened here) each add a point: also a click the window system
    delivers as the second of a double click (widgets then get MouseButtonDblClick, not a
    press), a click whose hand moved a few pixels, and a click on a point already placed."""
    from PyQt6.QtCore import QEvent

    win, panel = liver_only, liver_only.session.markups
    widget = win.view.plotter.interactor
    qtbot.mouseClick(panel.type_buttons[MarkupType.ANGLE], Qt.MouseButton.LeftButton)
    x, y = display_point(win.view, (0, 0, 0))
    left = Qt.MouseButton.LeftButton
    none = Qt.MouseButton.NoButton
    # 1: an ordinary click
    _click(qtbot, win, (0, 0, 0), offset=(-35, 0))
    angle = win.case.markups[-1]
    assert angle.type is MarkupType.ANGLE and len(angle.points) == 1
    qtbot.wait(400)
    # 2: the same spot again, as the second click of a double click: press comes as DblClick
    at = widget_pos(win.view, x - 35, y)
    _send(widget, QEvent.Type.MouseButtonDblClick, at, left)
    _send(widget, QEvent.Type.MouseButtonRelease, at, none)
    assert len(angle.points) == 2 and panel.placing is MarkupType.ANGLE
    assert panel.table.item(panel.row_of(angle), 2).text() == "(placing…)"
    qtbot.wait(600)
    # 3: a real click whose hand moved 6 px between press and release
    a, b = widget_pos(win.view, x + 30, y + 20), widget_pos(win.view, x + 34, y + 22)
    qtbot.mousePress(widget, left, pos=a)
    qtbot.mouseMove(widget, b)
    qtbot.mouseRelease(widget, left, pos=b)
    assert len(angle.points) == 3 and panel.placing is None
    assert panel.table.item(panel.row_of(angle), 2).text().endswith("°")
    radii = np.linalg.norm(np.asarray(angle.points), axis=1)
    assert np.allclose(radii, 40.0, atol=0.5)  # every point on the liver, none on a handle


def test_slice_views_made_after_opening_the_case_take_markup_clicks(win):
    """The 2D views are built when their dock first shows: placing hears their clicks once,
    through the slice viewer's own signal (no search for widgets by signal name)."""
    slices = win.imaging.slices
    slices.ensure_views()  # (no-op when an earlier case showed them already)
    panel = win.session.markups
    panel.start_placement(MarkupType.LINE)
    slices.views[0].cursor_picked.emit(np.array([1.0, 2.0, 3.0]))
    panel.finish_placement()
    panel.start_placement(MarkupType.LINE)
    slices.views[1].cursor_picked.emit(np.array([5.0, 2.0, 3.0]))
    slices.views[2].cursor_picked.emit(np.array([5.0, 2.0, 9.0]))
    line = win.case.markups[-1]
    assert line.points == ((5.0, 2.0, 3.0), (5.0, 2.0, 9.0)) and panel.placing is None

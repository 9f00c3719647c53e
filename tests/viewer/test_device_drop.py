"""Dragging a catalogue device into the 3D view and the scene tree (Issue #7).

QDrag.exec() cannot be driven synchronously, so each test sends the drag-enter, drag-move and
drop events a real drag delivers, carrying the catalogue list's own QMimeData, to the widget
under the cursor.
"""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PyQt6.QtWidgets import QApplication

from sim.model import Case, ObjectKind, SceneObject
from tests.viewer.view_points import display_point
from viewer.panels.device_drag import DEVICE_MIME, device_from_mime

pytestmark = pytest.mark.gui


@pytest.fixture
def window(new_window):
    win = new_window()
    case = Case(name="bone block", anatomical=False)
    case.scene.add(SceneObject("Bone", ObjectKind.SURFACE,
                               pv.Box(bounds=(-15, 15, -15, 15, 0, 60), level=2).triangulate()))
    win.set_case(case)
    cam = win.view.plotter.camera  # looking at the block's +x face
    cam.position, cam.focal_point, cam.up = (250.0, 0.0, 30.0), (0.0, 0.0, 30.0), (0.0, 0.0, 1.0)
    win.view.plotter.renderer.ResetCameraClippingRange()
    win.view.plotter.render()
    return win


def screw_mime(panel, size=None) -> QMimeData:
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("pedicle_screw"))
    if size is not None:
        panel.catalogue.select_size(size)
    return panel.catalogue.mimeData([panel.catalogue.currentItem()])


def widget_pos(view, world) -> QPointF:
    """Qt widget position of a world point in the 3D view."""
    dx, dy = display_point(view, world)
    ratio = view.plotter.interactor.devicePixelRatioF()
    return QPointF(dx / ratio, view.plotter.interactor.height() - 1 - dy / ratio)


def drag_and_drop(widget, mime: QMimeData, pos: QPointF) -> tuple[bool, bool]:
    """Deliver a drag's enter, move and drop; whether the enter and the drop were accepted."""
    copy, none = Qt.DropAction.CopyAction, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos.toPoint(), copy, mime, none, mods)
    QApplication.sendEvent(widget, enter)
    QApplication.sendEvent(widget, QDragMoveEvent(pos.toPoint() + QPoint(1, 0), copy, mime, none,
                                                  mods))
    if not enter.isAccepted():
        return False, False
    drop = QDropEvent(pos, copy, mime, none, mods)
    QApplication.sendEvent(widget, drop)
    return True, drop.isAccepted()


def test_catalogue_list_drags_the_chosen_device(window):
    mime = screw_mime(window.place, {"diameter": 5.5, "length": 40.0})
    assert mime.formats() == [DEVICE_MIME] and not mime.hasUrls()
    assert device_from_mime(mime) == ("pedicle_screw", {"diameter": 5.5, "length": 40.0})
    bad = QMimeData()
    bad.setData(DEVICE_MIME, b"{not json")
    assert device_from_mime(bad) is None


def test_drop_on_the_view_lands_on_the_surface_under_the_cursor_as_one_undo_step(window):
    view, panel, case = window.view, window.place, window.case
    target = np.array([15.0, 4.0, 38.0])  # on the block's +x face
    mime = screw_mime(panel, {"diameter": 5.5, "length": 40.0})
    depth = len(case.history)
    assert drag_and_drop(view.plotter.interactor, mime, widget_pos(view, target)) == (True, True)
    devices = [o for o in case.scene if o.kind == ObjectKind.DEVICE]
    assert len(devices) == 1 and devices[0] is panel.device_obj
    pose = devices[0].transform
    assert pose[0, 3] == pytest.approx(15.0, abs=1e-3), "on the face"
    np.testing.assert_allclose(pose[1:3, 3], target[1:], atol=0.6)  # within a pixel or so
    np.testing.assert_allclose(pose[:3, 2], (-1.0, 0.0, 0.0), atol=1e-6)  # pointing into it
    assert "5.5" in devices[0].name and case.scene.selected is devices[0]
    assert len(case.history) == depth + 1
    case.history.undo()
    assert not [o for o in case.scene if o.kind == ObjectKind.DEVICE]
    case.history.redo()
    np.testing.assert_allclose(case.scene[devices[0].name].transform, pose)


def test_drop_with_a_trajectory_set_points_along_it(window):
    view, panel = window.view, window.place
    panel.set_trajectory((0.0, 0.0, 0.0), (0.0, -3.0, -4.0))
    target = np.array([15.0, -6.0, 20.0])
    drag_and_drop(view.plotter.interactor, screw_mime(panel), widget_pos(view, target))
    pose = panel.device_obj.transform
    np.testing.assert_allclose(pose[:3, 3], target, atol=0.6)
    np.testing.assert_allclose(pose[:3, 2], (0.0, -0.6, -0.8), atol=1e-9)


def test_drop_beside_the_block_lands_on_the_focal_plane(window):
    view, panel = window.view, window.place
    drag_and_drop(view.plotter.interactor, screw_mime(panel), widget_pos(view, (0.0, 60.0, 30.0)))
    pose = panel.device_obj.transform
    np.testing.assert_allclose(pose[:3, 3], (0.0, 60.0, 30.0), atol=0.6)
    sight = np.array([0.0, 60.0, 30.0]) - view.plotter.camera.position
    np.testing.assert_allclose(pose[:3, 2], sight / np.linalg.norm(sight), atol=1e-2)


def test_drop_on_the_scene_tree_adds_the_device(window):
    panel, tree = window.place, window.tree
    panel.set_trajectory((1.0, 2.0, 3.0), (1.0, 2.0, 13.0))
    mime = screw_mime(panel, {"diameter": 6.5, "length": 45.0})
    assert drag_and_drop(tree.viewport(), mime, QPointF(20, 20)) == (True, True)
    obj = panel.device_obj
    assert obj is not None and obj.metadata["params"]["diameter"] == 6.5
    np.testing.assert_allclose(obj.transform[:3, 3], (1.0, 2.0, 3.0))
    assert tree.topLevelItemCount() == 2


def test_other_drags_are_refused_and_files_still_open(window, qtbot, tmp_path):
    text = QMimeData()
    text.setText("a screw")
    assert drag_and_drop(window.view.plotter.interactor, text, QPointF(50, 50)) == (False, False)
    assert drag_and_drop(window.tree.viewport(), text, QPointF(20, 20))[1] is False
    assert len(window.case.scene) == 1
    # A file dropped on the 3D view opens through the main window, not pyvistaqt's own drop.
    mesh = tmp_path / "ball.vtp"
    pv.Sphere(radius=20).save(mesh)
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(mesh))])
    assert drag_and_drop(window.view.plotter.interactor, files, QPointF(50, 50)) == (True, True)
    qtbot.waitUntil(lambda: window.case.name == "ball", timeout=20_000)
    assert len(window.case.scene) == 1

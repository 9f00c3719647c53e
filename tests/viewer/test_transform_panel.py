"""The transform panel: numeric edits, the 3D manipulator, reset and harden, all undoable."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPoint, Qt

from sim.geometry.rigid import from_parts, to_parts
from tests.viewer.case_window import shared_window_fixture, win_fixture  # noqa: F401
from tests.viewer.view_points import display_point


def _user_matrix(win, obj):
    m = win.view.renderer.adapters[obj.uid].actors[0].GetUserMatrix()
    return np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])


def test_numeric_edit_shows_on_actor_and_undoes(win):
    panel = win.session.transform
    liver = win.case.scene["Liver"]
    win.case.scene.select(liver)
    assert panel.title.text() == "Transform of 'Liver'" and panel.spins[0].isEnabled()
    panel.spins[0].setValue(12.5)  # translate x
    panel.spins[5].setValue(30.0)  # rotate z
    t, r = to_parts(liver.transform)
    assert np.allclose(t, (12.5, 0, 0)) and np.allclose(r, (0, 0, 30))
    assert np.allclose(_user_matrix(win, liver), liver.transform)
    assert np.allclose(liver.data.points, win.case.scene["Liver"].data.points)  # geometry kept
    win.case.history.undo()
    assert np.allclose(to_parts(liver.transform)[1], 0) and panel.spins[5].value() == 0.0
    win.case.history.undo()
    assert not liver.has_transform and np.allclose(_user_matrix(win, liver), np.eye(4))
    assert panel.spins[0].value() == 0.0


def test_existing_and_registration_transforms_are_shown(win):
    screw = win.case.scene["Screw"]  # the sample case saved it with a transform
    assert np.allclose(_user_matrix(win, screw), screw.transform)
    bracket = win.case.scene["Bracket"]
    m = from_parts((1, 2, 3), (0, 0, 90))
    bracket.transform = m  # as registration sets it
    assert np.allclose(_user_matrix(win, bracket), m)
    win.case.scene.select(bracket)
    assert win.session.transform.spins[1].value() == 2.0


def test_harden_moves_geometry_and_undo_restores(win):
    panel = win.session.transform
    screw = win.case.scene["Screw"]
    m = screw.transform
    before = np.array(screw.data.points)
    win.case.scene.select(screw)
    panel.harden_button.click()
    assert not screw.has_transform and np.allclose(_user_matrix(win, screw), np.eye(4))
    assert np.allclose(screw.data.points, before @ m[:3, :3].T + m[:3, 3], atol=1e-4)
    win.case.history.undo()
    assert np.allclose(screw.data.points, before) and np.allclose(screw.transform, m)
    ct = win.case.scene["CT"]
    win.case.scene.select(ct)
    panel.spins[2].setValue(-7.0)
    panel.harden_button.click()  # images keep their voxels: origin moves instead
    assert np.allclose(win.view.renderer.adapters[ct.uid].actors[0].GetCenter()[2],
                       np.mean(ct.data.bounds[4:]), atol=1.0)


def test_manipulator_drag_moves_the_object_rigidly(win, qtbot):
    panel = win.session.transform
    for obj in win.case.scene:
        obj.visible = obj.name == "Liver"
    for m in win.case.markups:  # their drag handles would sit on top of the box's centre
        m.visible = False
    liver = win.case.scene["Liver"]
    win.case.scene.select(liver)
    win.view.renderer.set_view("A")
    cam = win.view.plotter.camera  # oblique, so the centre handle is not behind a face handle
    cam.Azimuth(35)
    cam.Elevation(25)
    win.case.history.clear()
    qtbot.mouseClick(panel.manip_button, Qt.MouseButton.LeftButton)
    assert panel.manipulator is not None and panel.manipulator.widget.GetEnabled()
    widget = win.view.plotter.interactor
    x, y = display_point(win.view, (0, 0, 0))  # the box's centre handle: a drag translates
    ratio = widget.devicePixelRatioF()
    qpos = QPoint(int(x / ratio), int(widget.height() - 1 - y / ratio))
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=qpos)
    for step in range(1, 6):
        qtbot.mouseMove(widget, qpos + QPoint(10 * step, 0))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=qpos + QPoint(50, 0))
    m = liver.transform
    assert liver.has_transform and np.linalg.norm(m[:3, 3]) > 5.0
    assert np.allclose(m[:3, :3].T @ m[:3, :3], np.eye(3), atol=1e-9)  # rigid
    assert np.allclose(_user_matrix(win, liver), m)
    assert panel.spins[0].value() != 0.0
    assert len(win.case.history) == 1  # the drag is one undo step
    win.case.history.undo()
    assert not liver.has_transform
    panel.manip_button.click()
    assert panel.manipulator is None

"""The Simulate panel: a real mouse drag in the 3D view deforms the body in the drag
direction; start/pause/step/reset/end, colour map with legend, instruments, recording."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv
from PyQt6.QtCore import Qt

from sim.model import Case, ObjectKind, SceneObject
from tests.viewer.view_points import widget_point

BOUNDS = (0.0, 30.0, 0.0, 30.0, 0.0, 15.0)


@pytest.fixture
def sim_window(qtbot, new_window):
    win = new_window((1100, 800))
    case = Case(name="block")
    case.scene.add(SceneObject("Block", ObjectKind.SURFACE,
                               pv.Box(bounds=BOUNDS, level=4).triangulate(),
                               color=(0.7, 0.3, 0.3)))
    win.set_case(case)
    panel = win.simulate
    panel.edge_spin.setValue(5.0)
    panel.material_combo.setCurrentText("Custom…")
    panel.e_spin.setValue(10.0)  # kPa
    panel.fix_mode.setCurrentText("Box")
    panel.fix_axis.setCurrentText("z min")
    panel.fix_depth.setValue(20)
    yield win
    panel.end()


def _start(qtbot, win, start=True):
    panel = win.simulate
    panel.prepare(then_start=start)
    qtbot.waitUntil(lambda: panel.loop is not None, timeout=120_000)
    return panel


def test_mouse_drag_moves_the_surface_in_the_drag_direction(qtbot, sim_window):
    win = sim_window
    win.view.renderer.set_view("A")  # camera in front (-y): screen right = +x, up = +z
    panel = _start(qtbot, win)
    qtbot.waitUntil(lambda: panel.loop.latest.step > 3, timeout=30_000)
    display = panel.display
    grab = np.array([12.0, 0.0, 12.0])  # a vertex of the front face
    rest = np.asarray(panel.session.visual.points)
    near = np.linalg.norm(rest - grab, axis=1) < 4.0
    widget = win.view.plotter.interactor
    p0 = widget_point(win.view, grab)
    p1 = widget_point(win.view, grab + [6.0, 0, 0])  # 6 mm to the right on screen
    assert p1.x() - p0.x() > 10
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=p0)
    assert panel.session.grab_spring is not None or panel.loop.latest.grab_target is not None \
        or qtbot.waitUntil(lambda: panel.loop.latest.grab_target is not None, timeout=5000) is None
    for k in range(1, 11):
        qtbot.mouseMove(widget, p0 + (p1 - p0) * (k / 10))
        qtbot.wait(20)

    def moved():  # what the view draws: the points of the surface actor's own dataset
        drawn = display.actor.GetMapper().GetInput()
        return (np.asarray(pv.wrap(drawn).points) - rest)[near].mean(axis=0)

    qtbot.waitUntil(lambda: moved()[0] > 2.0, timeout=20_000)
    d = moved()
    assert d[0] > 2.0 and abs(d[1]) < 0.5 * d[0] and abs(d[2]) < 0.5 * d[0]
    cam_before = win.view.plotter.camera_position
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=p1)
    assert win.view.plotter.camera_position == cam_before  # the drag did not rotate the view
    qtbot.waitUntil(lambda: panel.loop.latest.grab_target is None, timeout=5000)
    qtbot.waitUntil(lambda: moved()[0] < 0.5, timeout=30_000)  # it relaxes after release
    assert "steps/s" in panel.rate_label.text() and "fps" in panel.rate_label.text()


def test_panel_controls_instruments_colour_map_and_recording(qtbot, sim_window, tmp_path):
    win = sim_window
    panel = win.simulate
    name = panel.add_instrument("probe")
    panel.field_combo.setCurrentIndex(panel.field_combo.findData("von_mises"))
    _start(qtbot, win, start=False)
    assert not panel.loop.running
    panel.step()
    qtbot.waitUntil(lambda: panel.loop.latest.step == 1, timeout=10_000)
    assert win.view.plotter.scalar_bars  # the legend with units
    assert any("kPa" in title for title in win.view.plotter.scalar_bars.keys())  # noqa: SIM118 (no __iter__)
    # Push the probe down onto the top face along the view direction (key O from S).
    win.view.renderer.set_view("S")
    panel.pointer.active_instrument = name
    panel.start()
    start = panel.loop.latest.poses[name].copy()
    widget = win.view.plotter.interactor
    widget.setFocus()
    right = panel.pointer._camera_axes()[0]
    qtbot.keyClick(widget, Qt.Key.Key_L)  # a real key: 1 mm to the camera's right
    qtbot.waitUntil(lambda: np.allclose(panel.loop.latest.poses[name][:3, 3],
                                        start[:3, 3] + right), timeout=10_000)
    qtbot.keyClick(widget, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)  # turn 5 degrees
    qtbot.waitUntil(lambda: abs(panel.loop.latest.poses[name][2, 2]) < 0.999, timeout=10_000)
    qtbot.keyClick(widget, Qt.Key.Key_J, Qt.KeyboardModifier.ShiftModifier)  # and back
    # Ctrl+drag moves it in the view plane, back to x = start - 1 mm or so (screen left).
    tip = panel.loop.latest.poses[name][:3, 3]
    a, b = widget_point(win.view, tip), widget_point(win.view, tip + [-2.0, 0, 0])
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, ctrl, a)
    qtbot.mouseMove(widget, b)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, ctrl, b)
    qtbot.waitUntil(lambda: panel.loop.latest.poses[name][0, 3] < tip[0] - 1.5, timeout=10_000)
    pose = panel.loop.latest.poses[name].copy()
    pose[:3, :3] = start[:3, :3]  # upright again, then down onto the block
    panel.pointer.post_pose(name, pose)
    start_z = pose[2, 3]
    for _ in range(22):  # 20 mm above the top face, 22 x 1 mm down: 2 mm deep
        panel.pointer.nudge(2, 1, False)
    qtbot.waitUntil(lambda: panel.loop.latest.poses[name][2, 3] < start_z - 21.5, timeout=10_000)
    qtbot.waitUntil(lambda: panel.loop.latest.forces[name][2] > 1e-4, timeout=20_000)
    qtbot.waitUntil(lambda: "N" in panel.force_label.text(), timeout=5000)
    assert panel.display.surface.point_data["field"].max() > 0
    rec = panel.save_recording(tmp_path / "rec.json")
    data = json.loads(rec.read_text())
    assert data["steps"] > 0 and any(e["type"] == "pose" for e in data["events"])
    panel.pause()
    panel.reset()
    qtbot.waitUntil(lambda: panel.loop.latest.step == 0, timeout=10_000)
    panel.end()
    assert panel.loop is None and not win.view.plotter.scalar_bars
    adapter = win.view.renderer.adapters[win.case.scene["Block"].uid]
    assert all(a.GetVisibility() for a in adapter.actors)  # the case shows again

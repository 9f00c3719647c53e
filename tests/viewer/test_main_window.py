"""The main window on the demo case, driven as a user would."""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from tests.viewer.conftest import LIVER_RGB, liver_pixels
from tests.viewer.view_points import display_point, widget_pos


def _click(qtbot, window, x, y):
    """A real Qt mouse click at VTK display pixel (x, y) (origin bottom-left)."""
    widget = window.view.plotter.interactor
    ratio = widget.devicePixelRatioF()
    qpos = QPoint(int(x / ratio), int(widget.height() - 1 - y / ratio))
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=qpos)


def test_window_shows_the_demo(window):
    names = [window.tree.topLevelItem(i).text(0) for i in range(window.tree.topLevelItemCount())]
    assert names[:3] == ["CT", "Skin", "Liver"] and len(names) == 9
    img = window.view.screenshot()
    assert img.std() > 10, "the 3D view is not blank"
    assert liver_pixels(img) > 2000, "the liver's colour is visible"
    dist = np.abs(img[..., :3].reshape(-1, 3).astype(float) - LIVER_RGB).sum(axis=1)
    assert dist.min() < 90
    assert "Demo phantom" in window.windowTitle()


def test_tree_selection_drives_the_model_and_properties(window, qtbot):
    liver = window.case.scene["Liver"]
    window.tree.setCurrentItem(window.tree.item_for(liver))
    assert window.case.scene.selected is liver
    assert window.properties.name_edit.text() == "Liver"
    assert "area" in window.properties.details.text()
    window.properties.opacity_slider.setValue(40)
    assert liver.opacity == 0.4


def test_clicking_an_object_selects_it_in_the_tree(window, qtbot):
    window.view.renderer.set_view("A")
    liver = window.case.scene["Liver"]
    x, y = (round(v) for v in display_point(window.view, np.asarray(liver.data.center)))
    _click(qtbot, window, x, y)
    assert window.case.scene.selected is liver
    assert window.tree.selectedItems()[0].text(0) == "Liver"
    # A click on empty background clears the selection.
    _click(qtbot, window, 3, window.view.plotter.window_size[1] - 3)
    assert window.case.scene.selected is None
    # A second quick click arrives as a double-click press; a hand that moved 6 px: both
    # are still clicks that select.
    from PyQt6.QtCore import QEvent
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtWidgets import QApplication

    widget = window.view.plotter.interactor
    at = widget_pos(window.view, x, y)
    for kind, pos, buttons in ((QEvent.Type.MouseButtonDblClick, at, Qt.MouseButton.LeftButton),
                               (QEvent.Type.MouseButtonRelease, at + QPoint(6, 0),
                                Qt.MouseButton.NoButton)):
        QApplication.sendEvent(widget, QMouseEvent(
            kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), Qt.MouseButton.LeftButton,
            buttons, Qt.KeyboardModifier.NoModifier))
    assert window.case.scene.selected is liver


def test_visibility_checkbox_changes_the_render(window, qtbot):
    window.view.renderer.set_view("A")
    before = liver_pixels(window.view.screenshot())
    item = window.tree.item_for(window.case.scene["Liver"])
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert window.case.scene["Liver"].visible is False
    after = liver_pixels(window.view.screenshot())
    assert after < before / 2
    window.case.scene["Liver"].visible = True  # the model drives the tree back
    assert item.checkState(0) == Qt.CheckState.Checked


def test_standard_views_and_projection(window):
    cam = window.view.plotter.camera
    window.view_actions["L"].trigger()
    d = np.asarray(cam.position) - np.asarray(cam.focal_point)
    assert d[0] > 0 and abs(d[1]) < 1e-6 * abs(d[0]), "left view looks from patient left (+x)"
    window.view_actions["S"].trigger()
    d = np.asarray(cam.position) - np.asarray(cam.focal_point)
    assert d[2] > 0 and np.allclose(cam.up, (0, -1, 0))
    window.parallel_action.setChecked(True)
    assert cam.parallel_projection
    window.parallel_action.setChecked(False)
    assert not cam.parallel_projection


def test_keyboard_shortcuts_are_standard_unique_and_work(window, qtbot):
    from PyQt6.QtGui import QAction, QKeySequence

    owners: dict[str, list[str]] = {}
    for act in window.findChildren(QAction):
        for seq in act.shortcuts():
            if not seq.isEmpty():
                owners.setdefault(seq.toString(), []).append(act.text())
    ambiguous = {k: v for k, v in owners.items() if len(v) > 1}
    assert not ambiguous, f"a key opens two actions (Qt then runs neither): {ambiguous}"
    std = QKeySequence.StandardKey
    for key, text in ((std.Open, "&Open…"), (std.Save, "&Save"), (std.SaveAs, "Save &As…"),
                      (std.Quit, "&Quit"), (std.Undo, "&Undo")):
        seq = QKeySequence(key).toString()  # the platform's primary binding
        assert seq and owners.get(seq) == [text], (seq, text)
    # A real key press reaches its action: Ctrl+3 looks from the patient's left.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    cam = window.view.plotter.camera
    d = np.asarray(cam.position) - np.asarray(cam.focal_point)
    assert d[0] > 0 and abs(d[1]) < 1e-6 * abs(d[0])


def test_clipping_plane_cuts_the_scene(window):
    for obj in window.case.scene:
        obj.visible = obj.name == "Liver"
    window.view.renderer.set_view("A")
    before = liver_pixels(window.view.screenshot())
    window.clip_action.setChecked(True)
    window.view.renderer.set_clip_plane(origin=(0, 0, 0), normal=(1, 0, 0))  # keep patient left
    after = liver_pixels(window.view.screenshot())
    assert after < before / 3, "the liver (patient right) is clipped away"
    window.clip_action.setChecked(False)
    assert liver_pixels(window.view.screenshot()) > before * 0.8


def test_export_screenshot(window, tmp_path):
    out = tmp_path / "shot.png"
    window.view.screenshot(str(out))
    assert pv.read(out).dimensions[0] > 100


def test_opening_a_bad_file_shows_a_readable_error(window, qtbot, tmp_path):
    bad = tmp_path / "broken.stl"
    bad.write_bytes(b"\x00" * 84 + b"\x01" * 7)
    window.open_path(bad)
    qtbot.waitUntil(lambda: window.task is None, timeout=20_000)
    box = window.last_error
    assert box is not None and box.isVisible()
    assert "broken.stl" in box.text() and "truncated or corrupt" in box.text()
    assert "Traceback" in box.detailedText()
    assert window.case.name == "Demo phantom", "the open case is untouched"
    box.close()


def test_dropping_a_file_opens_it_and_remembers_it(window, qtbot, tmp_path):
    from viewer import settings

    mesh = tmp_path / "ball.vtp"
    pv.Sphere(radius=20).save(mesh)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(mesh))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.case is not None and window.case.name == "ball", timeout=20_000)
    assert settings.recent_files()[0] == str(mesh)
    window.recent_menu.aboutToShow.emit()
    assert str(mesh) in [a.text() for a in window.recent_menu.actions()]


def test_long_work_reports_progress_and_can_be_cancelled(window, qtbot):
    import time

    seen = []

    def slow(progress):
        for i in range(400):
            progress(i / 400, f"step {i}")
            time.sleep(0.01)
        return "finished"

    window.run_task("Slow work", slow, seen.append)
    qtbot.waitUntil(lambda: window.progress_bar.value() > 0, timeout=5_000)
    assert window.progress_bar.isVisible() and window.cancel_button.isVisible()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.task is None, timeout=5_000)
    assert seen == [] and "cancelled" in window.status_label.text()
    assert not window.progress_bar.isVisible()


def test_save_as_case_folder_and_reopen(window, qtbot, tmp_path):
    window.case.scene["Liver"].color = (0.1, 0.9, 0.1)
    window.save_to(tmp_path / "saved.case")
    qtbot.waitUntil(lambda: window.task is None, timeout=30_000)
    window.open_path(tmp_path / "saved.case")
    qtbot.waitUntil(lambda: window.task is None, timeout=30_000)
    assert window.case.scene["Liver"].color == (0.1, 0.9, 0.1)


def test_layout_is_persisted_and_window_closes_cleanly(qtbot, window):
    from viewer.main_window import MainWindow

    window.resize(1111, 777)
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.size().width() == 1111 and again.size().height() == 777
    again.close()


def test_about_names_versions():
    import vtk

    from viewer.main_window import about_text

    assert vtk.vtkVersion.GetVTKVersion() in about_text() and "Qt" in about_text()


def test_selection_is_outlined_in_the_view(window):
    renderer = window.view.renderer
    assert renderer._highlight is None
    window.case.scene.select(window.case.scene["Vertebra L1"])
    assert renderer._highlight is not None and renderer._highlight.GetVisibility()
    window.case.scene.select(None)
    assert renderer._highlight is None


def test_unexpected_errors_in_slots_become_dialogs(window, qtbot):
    import sys

    from viewer.app import install_excepthook

    old = sys.excepthook
    install_excepthook(window)
    try:
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        assert "boom in a slot" in window.last_error.text()
        assert "RuntimeError" in window.last_error.detailedText()
        window.last_error.close()
    finally:
        sys.excepthook = old


def test_add_to_case_adds_a_files_objects_as_one_undo_step(window, qtbot, tmp_path):
    scan = tmp_path / "scan.ply"
    pv.Sphere(radius=12).save(scan)
    n = len(window.case.scene)
    window.add_path(scan)
    qtbot.waitUntil(lambda: window.task is None, timeout=20_000)
    assert len(window.case.scene) == n + 1 and window.case.name == "Demo phantom"
    added = list(window.case.scene)[-1]
    assert added.name == "scan" and added.data.n_points == pv.Sphere(radius=12).n_points
    assert window.has_unsaved_changes() and "Added 1 object" in window.status_label.text()
    window.case.history.undo()
    assert len(window.case.scene) == n
    assert window.add_action.shortcut().toString() == "Ctrl+Shift+O"

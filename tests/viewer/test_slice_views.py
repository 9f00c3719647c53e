"""Slice views, window presets, crosshair, 3D slices, volume rendering and the Segment panel,
driven in the real main window on a real CT."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.imaging.display import WINDOW_PRESETS
from sim.imaging.volume import voxel_array
from tests.viewer.view_points import widget_point

pytestmark = pytest.mark.gui


def _click(qtbot, view, dx: int, dy: int):
    """A real Qt click dx pixels right of and dy pixels above the view's centre."""
    from PyQt6.QtCore import QPoint, Qt

    widget = view.plotter.interactor
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton,
                     pos=QPoint(widget.width() // 2 + dx, widget.height() // 2 - dy))


def test_three_views_show_the_scan(ct_window):
    ui = ct_window.imaging
    assert ui.slices_dock.isVisible()  # opened automatically for a scan
    axial, coronal, sagittal = ui.slices.views
    assert (axial.axis, coronal.axis, sagittal.axis) == (2, 1, 0)
    for v in ui.slices.views:
        assert v.screenshot().std() > 10, f"{v.title.text()} is blank"


def test_scroll_and_crosshair_link_the_views(ct_window, qtbot):
    from sim.imaging.volume import affine_of

    slices = ct_window.imaging.slices
    axial, coronal, sagittal = slices.views
    k = axial.index
    slices.scroll(2, 3)
    assert axial.index == k + 3
    start = slices.cursor.copy()
    before = (coronal.index, sagittal.index)
    _click(qtbot, axial, 20, 0)  # right of centre: towards the patient's left (+x in LPS)
    qtbot.waitUntil(lambda: (coronal.index, sagittal.index) != before, timeout=5000)
    assert slices.cursor[0] > start[0] + 5 and abs(slices.cursor[1] - start[1]) < 3
    assert axial.index == k + 3  # clicking in a plane does not leave it
    here = slices.cursor.copy()
    _click(qtbot, axial, 20, 20)  # above: anterior (-y in LPS)
    qtbot.waitUntil(lambda: slices.cursor[1] < here[1] - 5, timeout=5000)
    ijk = np.round(np.linalg.solve(affine_of(slices.obj.data), np.append(slices.cursor, 1))[:3])
    assert tuple(ijk.astype(int)) == (sagittal.index, coronal.index, axial.index)
    _click(qtbot, coronal, 0, 20)  # above in the coronal view: superior (+z)
    qtbot.waitUntil(lambda: slices.cursor[2] > here[2] + 5, timeout=5000)


def test_wheel_scrolls_slices(ct_window, qtbot):
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    axial = ct_window.imaging.slices.views[0]
    k = axial.index
    widget = axial.plotter.interactor
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    qtbot.waitUntil(lambda: axial.index == k + 1, timeout=5000)
    assert "/" in axial.title.text()


def test_wheel_steps_of_one_turn_are_one_scroll(ct_window, qtbot):
    """Five wheel clicks delivered before the event loop runs move five slices in one scroll
    (one reslice and one plan update), and the slice number shows at once in the view while
    the header label follows when scrolling pauses."""
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    slices = ct_window.imaging.slices
    axial = slices.views[0]
    k = axial.index
    scrolls = []
    slices.views[0].scrolled.connect(lambda axis, step: scrolls.append(step))
    widget = axial.plotter.interactor
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(5):
        QApplication.sendEvent(widget, QWheelEvent(
            centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase, False))
    assert axial.index == k  # nothing drawn yet: the steps wait for the event loop
    qtbot.waitUntil(lambda: axial.index == k - 5, timeout=5000)
    assert scrolls == [-5]
    n = axial.image.dimensions[2]
    assert axial._number_actor.GetInput() == f"{k - 4}/{n}"
    qtbot.waitUntil(lambda: axial.title.text().endswith(f"{k - 4}/{n}"), timeout=5000)
    # the other views' crosshair moved with the scroll (its line is on the new axial plane) and
    # is drawn a moment later, once, rather than on every step
    coronal = slices.views[1]
    slices.scroll(2, 2)
    z = axial.plane()[0][2]
    horizontal = np.asarray(coronal._cross.points)[:2]
    assert np.allclose(horizontal[:, 2], z, atol=0.5)
    assert coronal._lag_timer.isActive()
    qtbot.waitUntil(lambda: not coronal._lag_timer.isActive(), timeout=5000)


def test_window_presets_change_the_grey_levels(ct_window):
    slices = ct_window.imaging.slices
    slices.window_box.setCurrentText("CT bone")
    level, width = WINDOW_PRESETS["CT bone"]
    assert slices.views[0].clim == (level - width / 2, level + width / 2)
    soft = slices.views[0].screenshot().astype(float)
    slices.window_box.setCurrentText("CT lung")
    assert np.abs(slices.views[0].screenshot().astype(float) - soft).mean() > 2


def test_slices_and_volume_rendering_in_3d(ct_window):
    slices = ct_window.imaging.slices
    plotter = ct_window.view.plotter
    before = ct_window.view.screenshot().astype(float)
    slices.slices3d.setChecked(True)
    assert all(f"slice3d-{i}" in plotter.actors for i in range(3))
    slices.render_box.setChecked(True)
    assert "volume-rendering" in plotter.actors
    after = ct_window.view.screenshot().astype(float)
    changed = (np.abs(after - before).sum(axis=-1) > 30).mean()  # share of pixels that changed
    # the scan fills a small part of the view: the rendered bone alone changes about 2 %
    assert changed > 0.01, f"only {changed:.1%} of the 3D view changed"
    slices.render_box.setChecked(False)
    slices.slices3d.setChecked(False)
    assert "volume-rendering" not in plotter.actors and "slice3d-0" not in plotter.actors


def test_segment_panel_preview_and_surface(ct_window, qtbot):
    ui = ct_window.imaging
    ui.segment_action.trigger()
    assert ui.segment_dock.isVisible()
    panel = ui.segment
    panel.preset.setCurrentText("bone")
    panel.triangles.setValue(5000)
    with qtbot.waitSignal(panel.preview_changed, timeout=30_000) as shown:
        panel.update_preview()  # computed in the panel's worker, delivered on the GUI thread
    hu = voxel_array(ui.slices.obj.data)
    assert shown.args[0].sum() == np.count_nonzero((hu >= 250) & (hu <= 3071))
    assert ui.slices.views[0].plotter.actors.get("preview") is not None
    n = len(ct_window.case.scene)
    panel.create.click()
    qtbot.waitUntil(lambda: len(ct_window.case.scene) == n + 1 and ct_window.task is None,
                    timeout=60_000)
    surface = list(ct_window.case.scene)[-1]
    assert surface.kind == "surface" and 0 < surface.data.n_cells <= 5001
    assert "Segmented" in ct_window.status_label.text()


def test_file_menu_imports_deidentified_dicom(qtbot, shared_data):
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    file_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    assert win.imaging.import_deid_action in file_menu.actions()
    win.imaging.import_deidentified(shared_data / "ct" / "totalseg" / "example_ct_dicom")
    qtbot.waitUntil(lambda: win.case is not None and win.task is None, timeout=60_000)
    assert win.case.name == "De-identified scan"
    (obj,) = list(win.case.scene)
    assert obj.data.dimensions[2] == 20 and obj.metadata["deidentified"]
    assert win.imaging.slices.obj is obj


def test_label_map_to_named_surfaces(qtbot, shared_data):
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.open_path(shared_data / "ct" / "totalseg" / "example_seg.nii.gz")
    qtbot.waitUntil(lambda: win.case is not None and win.task is None, timeout=60_000)
    from PyQt6.QtCore import Qt

    from viewer.panels.scene_tree import SceneTree

    panel = win.imaging.segment
    assert panel.from_labels.isEnabled()
    # the panel lists the structures by the names TotalSegmentator stores in the NIfTI header
    items = [panel.label_list.item(i) for i in range(panel.label_list.count())]
    texts = [it.text() for it in items]
    assert len(items) == 41 and panel.label_list.isVisibleTo(panel)
    assert any(t.split() == ["5", "liver"] for t in texts)
    assert any(t.split() == ["52", "aorta"] for t in texts)
    spleen = next(it for it in items if it.text().split() == ["1", "spleen"])
    spleen.setCheckState(Qt.CheckState.Unchecked)  # left out
    assert 1 not in panel.checked_labels() and len(panel.checked_labels()) == 40
    panel.triangles.setValue(2000)
    panel.from_labels.click()
    qtbot.waitUntil(lambda: win.task is None and len(win.case.scene) > 30, timeout=120_000)
    surfaces = [o for o in win.case.scene if o.kind == "surface"]
    names = {o.name for o in surfaces}
    assert len(surfaces) == 40 and "spleen" not in names
    assert {"liver", "aorta", "vertebrae_L1", "rib_left_7", "inferior_vena_cava"} <= names
    assert next(o for o in surfaces if o.name == "liver").color == (0.0, 1.0, 1.0)
    # the scene tree shows the names
    tree = win.findChild(SceneTree)
    shown = {tree.item_for(o).text(0) for o in surfaces}
    assert {"liver", "aorta", "vertebrae_L1"} <= shown


def _bone_point(image):
    """World point of the dense (vertebra) voxel nearest the middle of the central axial slice."""
    from sim.imaging.volume import affine_of

    hu = voxel_array(image)
    k = hu.shape[2] // 2
    cand = np.argwhere(hu[:, :, k] > 400)
    best = cand[np.argmin(((cand - np.array(hu.shape[:2]) / 2) ** 2).sum(1))]
    return (affine_of(image) @ np.array([best[0], best[1], k, 1.0]))[:3]


def test_seed_clicked_in_a_slice_view_drives_the_preview(ct_window, qtbot):
    from PyQt6.QtCore import QPoint, Qt

    from sim.imaging.pipeline import make_mask

    ui = ct_window.imaging
    ui.segment_action.trigger()
    panel, slices = ui.segment, ui.slices
    panel.preset.setCurrentText("bone")
    target = _bone_point(slices.obj.data)
    slices.set_cursor(target)
    axial = slices.views[0]
    pos = widget_point(axial, target)
    slices.set_cursor(target + np.array([20.0, 20.0, 0.0]))  # same axial slice, elsewhere
    cursor = slices.cursor.copy()
    qtbot.mouseClick(axial.plotter.interactor, Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier, pos)
    qtbot.waitUntil(lambda: panel.seed_point is not None, timeout=5000)
    assert np.linalg.norm(panel.seed_point[:2] - target[:2]) < 3.0  # within a voxel (3 mm)
    np.testing.assert_allclose(slices.cursor, cursor)  # Shift+click leaves the crosshair
    assert panel.seed.isChecked() and "seed at" in panel.seed_label.text()
    assert "seed" in axial.plotter.actors and "segment-seed" in ct_window.view.plotter.actors
    recipe = panel.recipe()
    assert recipe.seed is not None
    qtbot.waitUntil(lambda: panel.last_preview is not None and
                    panel.last_preview["voxels"] == int(make_mask(slices.obj.data, recipe).sum()),
                    timeout=30_000)
    assert 0 < panel.last_preview["voxels"] < int(((voxel_array(slices.obj.data) >= 250)).sum())
    # 'Pick seed': the next plain click sets the seed, then the button lets go
    panel.pick_seed.setChecked(True)
    assert axial.seed_mode
    before = panel.seed_point.copy()
    qtbot.mouseClick(axial.plotter.interactor, Qt.MouseButton.LeftButton, pos=pos + QPoint(15, 0))
    qtbot.waitUntil(lambda: not panel.pick_seed.isChecked(), timeout=5000)
    assert not np.allclose(panel.seed_point, before) and not axial.seed_mode
    np.testing.assert_allclose(slices.cursor, cursor)


def test_ctrl_drag_changes_window_level(ct_window, qtbot):
    from PyQt6.QtCore import QPoint, Qt

    slices = ct_window.imaging.slices
    axial = slices.views[0]
    widget = axial.plotter.interactor
    lo, hi = axial.clim
    level, width = (lo + hi) / 2, hi - lo
    before = axial.screenshot().astype(float)
    start = QPoint(widget.width() // 2, widget.height() // 2)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, start)
    qtbot.mouseMove(widget, start + QPoint(100, -50))  # right: wider; up: higher level
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                       start + QPoint(100, -50))
    new_lo, new_hi = axial.clim
    assert new_hi - new_lo == pytest.approx(width * (1 + 100 / 250), rel=1e-6)
    assert (new_lo + new_hi) / 2 == pytest.approx(level + width * 50 / 250, rel=1e-6)
    assert slices.window_box.currentText() == "Custom"
    assert all(v.clim == axial.clim for v in slices.views)
    assert np.abs(axial.screenshot().astype(float) - before).mean() > 1
    slices.window_box.setCurrentText("CT bone")  # a preset replaces the custom window
    assert slices.window_box.findText("Custom") < 0
    bone_level, bone_width = WINDOW_PRESETS["CT bone"]
    assert axial.clim == (bone_level - bone_width / 2, bone_level + bone_width / 2)


def test_oblique_reformat(ct_window, qtbot):
    from PyQt6.QtCore import QPoint, Qt

    slices = ct_window.imaging.slices
    axial = slices.views[0]
    straight = axial.screenshot().astype(float)
    axial.tilt_box.setValue(30)  # the GUI control: tilt about the screen's horizontal axis
    assert axial.oblique and "oblique" in axial.title.text()
    assert np.abs(axial.screenshot().astype(float) - straight).mean() > 2
    right, up, towards = axial.frame()
    assert abs(towards[2]) == pytest.approx(np.cos(np.radians(30)), abs=1e-6)
    # a click above the centre lands on the tilted plane, off the axial plane: z changes
    start = slices.cursor.copy()
    widget = axial.plotter.interactor
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton,
                     pos=QPoint(widget.width() // 2, widget.height() // 2 - 30))
    qtbot.waitUntil(lambda: not np.allclose(slices.cursor, start), timeout=5000)
    assert abs(float((slices.cursor - start) @ towards)) < 1e-6
    assert abs(slices.cursor[2] - start[2]) > 3
    here = slices.cursor.copy()
    slices.scroll(2, 2)  # scrolling steps along the oblique normal
    np.testing.assert_allclose(slices.cursor - here, towards * 2 * min(slices.obj.data.spacing),
                               atol=1e-6)
    slices.slices3d.setChecked(True)
    assert "slice3d-0" in ct_window.view.plotter.actors
    axial.set_oblique(0, 0)
    assert not axial.oblique and "/" in axial.title.text()


def _bone_point_off_midlines(image):
    """World point on the 3D view's central axial slice plane (between two voxel layers) over
    bone in both layers, at least 12 mm from the central sagittal and coronal planes (which are
    seen edge-on from above)."""
    from sim.imaging.volume import affine_of

    hu = voxel_array(image)
    k = image.dimensions[2] / 2 - 0.5  # the plane through the volume's centre
    both = (hu[:, :, int(k)] > 300) & (hu[:, :, int(k) + 1] > 300)
    affine, centre = affine_of(image), np.asarray(image.center)
    points = np.array([(affine @ np.array([i, j, k, 1.0]))[:3] for i, j in np.argwhere(both)])
    off = points[(np.abs(points[:, :2] - centre[:2]) > 12).all(axis=1)]
    return off[np.argmin(np.linalg.norm(off - centre, axis=1))]


def test_seed_shift_clicked_in_the_3d_view(ct_window, qtbot):
    from PyQt6.QtCore import Qt

    from sim.imaging.pipeline import make_mask
    from sim.model import ObjectKind, SceneObject

    ui, view = ct_window.imaging, ct_window.view
    panel, slices = ui.segment, ui.slices
    image = slices.obj.data
    target = _bone_point_off_midlines(image)
    view.renderer.set_view("S")  # looking down on the central axial slice
    view.plotter.render()
    widget = view.plotter.interactor
    # the Segment panel is closed: Shift+click is an ordinary click, no seed
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     widget_point(view, target))
    assert panel.seed_point is None and "segment-seed" not in view.plotter.actors
    ui.segment_action.trigger()
    panel.preset.setCurrentText("bone")
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     widget_point(view, target))
    qtbot.waitUntil(lambda: panel.seed_point is not None, timeout=5000)
    assert np.linalg.norm(panel.seed_point - target) < 3.0  # a voxel is 3 mm
    assert abs(panel.seed_point[2] - target[2]) < 1e-6  # exactly on the clicked plane
    assert panel.seed.isChecked() and "seed at" in panel.seed_label.text()
    # marked like a 2D pick: the sphere in 3D, the ring in the axial view (the crosshair moved
    # to the seed so the slice views show it)
    assert "segment-seed" in view.plotter.actors
    np.testing.assert_allclose(slices.cursor, panel.seed_point)
    assert "seed" in slices.views[0].plotter.actors
    recipe = panel.recipe()
    assert recipe.seed is not None
    qtbot.waitUntil(lambda: panel.last_preview is not None and
                    panel.last_preview["voxels"] == int(make_mask(image, recipe).sum()),
                    timeout=30_000)
    assert 0 < panel.last_preview["voxels"] < int((voxel_array(image) >= 250).sum())
    # a surface in front of the slice takes the click: the seed sits just under its top
    top = target + np.array([0.0, 0.0, 25.0])
    ball = SceneObject("ball", ObjectKind.SURFACE, pv.Sphere(radius=10, center=top - [0, 0, 10]))
    ct_window.case.scene.add(ball)
    view.plotter.render()
    before = len(ct_window.case.scene)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     widget_point(view, top))
    qtbot.waitUntil(lambda: panel.seed_point[2] > target[2] + 10, timeout=5000)
    assert np.linalg.norm(panel.seed_point - (top - [0, 0, 1.5])) < 1.5
    assert ct_window.case.scene.selected is not ball  # the seed click selects nothing
    assert len(ct_window.case.scene) == before


def test_alt_drag_turns_the_oblique_plane(ct_window, qtbot):
    from PyQt6.QtCore import QPoint, Qt

    from viewer.views.slice_view import TURN_DEG_PER_PIXEL

    slices = ct_window.imaging.slices
    slices.slices3d.setChecked(True)
    axial = slices.views[0]
    widget = axial.plotter.interactor
    cursor = slices.cursor.copy()
    straight = axial.screenshot().astype(float)
    in_3d = ct_window.view.screenshot().astype(float)
    start = QPoint(widget.width() // 2, widget.height() // 2)
    alt = Qt.KeyboardModifier.AltModifier
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, alt, start)
    for step in range(1, 5):  # right 40 px and up 60 px, in steps like a hand
        qtbot.mouseMove(widget, start + QPoint(10 * step, -15 * step))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, alt, start + QPoint(40, -60))
    # the boxes follow the mouse: up tilts, right spins
    assert axial.tilt_box.value() == round(60 * TURN_DEG_PER_PIXEL) == 30
    assert axial.spin_box.value() == round(40 * TURN_DEG_PER_PIXEL) == 20
    assert axial.oblique and "oblique" in axial.title.text()
    right, up, towards = axial.frame()
    # turned off axial by both angles
    assert abs(towards[2]) == pytest.approx(np.cos(np.radians(30)) * np.cos(np.radians(20)))
    np.testing.assert_allclose(slices.cursor, cursor)  # a turn, not a click: crosshair stays
    assert np.abs(axial.screenshot().astype(float) - straight).mean() > 2  # resliced
    assert np.abs(ct_window.view.screenshot().astype(float) - in_3d).mean() > 0.05  # 3D plane
    # a second drag goes on from there: left and down turns back
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, alt, start)
    qtbot.mouseMove(widget, start + QPoint(-20, 10))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, alt, start + QPoint(-20, 10))
    assert (axial.tilt_box.value(), axial.spin_box.value()) == (25, 10)
    # typing in a box still turns the plane, and the next drag starts from it
    axial.tilt_box.setValue(0)
    axial.spin_box.setValue(0)
    assert not axial.oblique

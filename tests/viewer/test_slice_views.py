"""Slice views, window presets, crosshair, 3D slices, volume rendering and the Segment panel,
driven in the real main window on a real CT."""

from __future__ import annotations

import numpy as np
import pytest

from sim.imaging.display import WINDOW_PRESETS
from sim.imaging.volume import voxel_array

pytestmark = pytest.mark.gui


@pytest.fixture
def ct_window(qtbot, shared_data):
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1500, 950)
    win.show()
    qtbot.waitExposed(win)
    win.open_path(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz")
    qtbot.waitUntil(lambda: win.case is not None and win.task is None, timeout=60_000)
    yield win
    if win.task is not None:
        win.task.cancel()
        win.task.wait()


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
    assert axial.index == k + 1


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
    assert np.abs(after - before).mean() > 1
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
    panel = win.imaging.segment
    assert panel.from_labels.isEnabled()
    panel.triangles.setValue(2000)
    panel.from_labels.click()
    qtbot.waitUntil(lambda: win.task is None and len(win.case.scene) > 30, timeout=120_000)
    surfaces = [o for o in win.case.scene if o.kind == "surface"]
    names = {o.name for o in surfaces}
    # names and colours from the label table TotalSegmentator stores in the NIfTI header
    assert {"liver", "spleen", "aorta", "vertebrae_L1", "rib_left_7"} <= names
    assert next(o for o in surfaces if o.name == "liver").color == (0.0, 1.0, 1.0)

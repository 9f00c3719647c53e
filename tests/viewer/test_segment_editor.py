"""The Segment Editor dock in the real window on the real CT: paint with the sphere brush by
dragging on the axial view (pixels and voxels), undo from the Edit menu, scissors by a lasso in
the 3D view (checked against VTK's own projection of the voxels), islands and logical buttons,
grow from seeds in the background, and surfaces from segments."""

from __future__ import annotations

import numpy as np
import pytest

from sim.imaging.volume import affine_of
from tests.viewer.view_points import display_point, widget_point

pytestmark = pytest.mark.gui


@pytest.fixture
def ct_window(ct_window):
    """The CT window with the Segment Editor open."""
    ct_window.imaging.editor_action.trigger()
    return ct_window


def _drag(qtbot, widget, start, end, steps=5):
    from PyQt6.QtCore import Qt

    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(widget, start + (end - start) * i / steps)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def test_paint_on_axial_and_undo(ct_window, qtbot):
    from PyQt6.QtCore import QPoint

    ui = ct_window.imaging
    panel, slices = ui.editor, ui.slices
    assert ui.editor_dock.isVisible()
    panel.name.setText("spinal cord")
    panel.add_button.click()
    value = panel.current_value()
    assert value is not None and panel.segment_list.currentItem().text() == "spinal cord"
    panel.set_tool("Paint")
    panel.radius.setValue(6.0)
    axial = slices.views[0]
    assert axial.tool is not None
    centre = np.asarray(axial.plane()[0])
    cursor = slices.cursor.copy()
    start = widget_point(axial, centre)
    _drag(qtbot, axial.plotter.interactor, start, start + QPoint(20, 0))
    ed = panel.editor
    mask = ed.mask(value)
    assert mask.sum() > 0
    np.testing.assert_allclose(slices.cursor, cursor)  # painting does not move the crosshair
    # painted voxels lie on and next to the axial plane, within the brush of the stroke
    idx = np.argwhere(mask)
    world = (np.c_[idx, np.ones(len(idx))] @ affine_of(ed.image).T)[:, :3]
    assert (np.abs(world[:, 2] - centre[2]) <= 6.0 + 1e-6).all()
    assert np.abs(world[:, 0] - centre[0]).max() > 10  # the stroke went right (+x)
    # the segment's colour is on the axial view where it was painted
    img = axial.screenshot()
    x, y = display_point(axial, centre)
    px = img[int(img.shape[0] - 1 - y), int(x), :3].astype(int)
    color = np.asarray(ed.segments()[value]["color"]) * 255
    assert np.linalg.norm(px - (0.5 * color + 0.5 * px.mean())) < np.linalg.norm(px - px.mean()) + 80
    assert abs(int(px[0]) - int(px[1])) > 20  # tinted, not the grey of the CT
    # one stroke, one undo step (Edit > Undo)
    assert "Paint 'spinal cord'" in ct_window.session.undo.undo_action.text()
    ct_window.session.undo.undo_action.trigger()
    assert ed.mask(value).sum() == 0
    ct_window.session.undo.redo_action.trigger()
    assert ed.mask(value).sum() == len(idx)
    # islands and logical buttons act on the selected segment
    panel.largest_button.click()
    assert ed.islands(value)[1] == 1
    panel.name.setText("other")
    panel.add_button.click()
    other = panel.current_value()
    ed.paint(other, centre, 3.0)
    panel.logic_op.setCurrentText("subtract")
    panel.logic_with.setCurrentText("spinal cord")
    panel.logic_button.click()
    assert ed.mask(other).sum() == 0


def test_scissors_lasso_in_3d(ct_window, qtbot):
    from PyQt6.QtCore import QPoint

    ui = ct_window.imaging
    panel, view = ui.editor, ct_window.view
    value = panel.add_segment("block")
    ed = panel.editor
    centre = np.asarray(ed.image.center)
    with ed.step("fill", [value]):
        ed.mask(value)[40:80, 30:70, 8:22] = 1
    total = int(ed.mask(value).sum())
    view.renderer.set_view("A")
    view.plotter.render()
    panel.set_tool("Scissors")
    widget = view.plotter.interactor
    c = widget_point(view, centre)
    corners = [c + QPoint(-15, -15), c + QPoint(15, -15), c + QPoint(15, 15), c + QPoint(-15, 15)]
    from PyQt6.QtCore import Qt

    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=corners[0])
    for p in corners[1:] + corners[:1]:
        qtbot.mouseMove(widget, p)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=corners[0])
    left = ed.mask(value)
    erased = total - int(left.sum())
    assert erased > 0 and "Scissors removed" in panel.info.text()
    # independent check: VTK's own WorldToDisplay of sample voxels says which were inside
    ren = view.plotter.renderer
    ratio = widget.devicePixelRatioF()
    xs = sorted(p.x() * ratio for p in corners)
    ys = sorted((widget.height() - 1 - p.y()) * ratio for p in corners)
    rng = np.random.default_rng(0)
    for ijk in rng.choice(np.argwhere(np.ones((40, 40, 14), bool)), 200) + [40, 30, 8]:
        w = (affine_of(ed.image) @ np.append(ijk, 1.0))[:3]
        ren.SetWorldPoint(*w, 1.0)
        ren.WorldToDisplay()
        x, y, _ = ren.GetDisplayPoint()
        inside = xs[0] + 1 < x < xs[-1] - 1 and ys[0] + 1 < y < ys[-1] - 1
        outside = x < xs[0] - 1 or x > xs[-1] + 1 or y < ys[0] - 1 or y > ys[-1] + 1
        if inside:
            assert not left[tuple(ijk)]
        elif outside:
            assert left[tuple(ijk)]
    panel.set_tool("None")


def test_grow_from_seeds_and_surfaces(ct_window, qtbot):
    ui = ct_window.imaging
    panel = ui.editor
    bone = panel.add_segment("vertebra")
    back = panel.add_segment("background")
    ed = panel.editor
    hu = ui.slices.obj.data.point_data[ui.slices.obj.data.active_scalars_name].reshape(
        ed.image.dimensions, order="F")
    k = hu.shape[2] // 2
    dense = np.argwhere(hu[:, :, k] > 300)
    mid = dense[np.argmin(((dense - np.array(hu.shape[:2]) / 2) ** 2).sum(1))]
    seed = (affine_of(ed.image) @ np.array([mid[0], mid[1], k, 1.0]))[:3]
    ed.paint(bone, seed, 4.0)
    ed.paint(back, seed + [0, -45, 0], 8.0)
    ed.paint(back, seed + [40, 0, 0], 8.0)
    before = int(ed.mask(bone).sum())
    assert panel.grow_button.isEnabled()
    panel.grow_button.click()
    qtbot.waitUntil(lambda: ct_window.task is None and int(ed.mask(bone).sum()) > before,
                    timeout=60_000)
    grown = ed.mask(bone).astype(bool)
    # the dense bone round the seed is in the vertebra, and the vertebra is brighter than the
    # background. (With only two background blobs on one slice the geodesic growing also
    # gives the vertebra the soft tissue above and below: 13 % of it is bone, where the
    # gradient watershed it replaced gave over half; its quality against a reference is
    # tests/sim/imaging/test_segment_edit.py's Dice.)
    ijk = np.indices(hu.shape).reshape(3, -1).T
    world = ijk @ affine_of(ed.image)[:3, :3].T + affine_of(ed.image)[:3, 3]
    near = (np.linalg.norm(world - seed, axis=1) <= 9.0).reshape(hu.shape) & (hu > 300)
    assert near.sum() >= 5 and grown[near].mean() > 0.9
    assert hu[grown].mean() > hu[ed.mask(back).astype(bool)].mean() + 25
    n = len(ct_window.case.scene)
    panel.surface_button.click()
    qtbot.waitUntil(lambda: ct_window.task is None and len(ct_window.case.scene) > n,
                    timeout=60_000)
    names = {o.name for o in ct_window.case.scene if o.kind == "surface"}
    assert {"vertebra", "background"} <= names


def test_preview_count_equals_the_result(qtbot, shared_data):
    """On a scan large enough for the coarse live preview, the exact mask follows it, and the
    count it shows is the voxel count of 'Create surface'."""
    from scipy import ndimage

    from sim.imaging.pipeline import run
    from sim.imaging.volume import make_image, voxel_array
    from sim.io import load
    from sim.model import ObjectKind, SceneObject
    from viewer.panels.segment import SegmentPanel

    src = next(iter(load(shared_data / "ct" / "totalseg" / "example_ct.nii.gz").scene)).data
    hu = voxel_array(src).astype(np.float32)
    zoom = np.array([256, 256, 100]) / np.array(hu.shape)
    big = make_image(ndimage.zoom(hu, zoom, order=1).astype(np.int16),
                     np.asarray(src.spacing) / zoom, src.origin, np.asarray(src.direction_matrix))
    panel = SegmentPanel()
    qtbot.addWidget(panel)
    panel.set_volume(SceneObject("CT", ObjectKind.VOLUME, big))
    panel.preset.setCurrentText("bone")
    panel.largest.setChecked(True)
    shown = []
    panel._computed.connect(lambda g, m, s: shown.append((g, panel._latest, s)))
    qtbot.waitUntil(lambda: bool(panel.last_preview and panel.last_preview.get("exact")),
                    timeout=60_000)
    assert any(s and s["factor"] > 1 for _, _, s in shown)  # the fast coarse preview came first
    result = run(big, panel.recipe())
    assert panel.last_preview["voxels"] == result.stats["voxels"]
    assert f"{result.stats['voxels']:,} voxels" in panel.info.text()
    panel.shutdown()

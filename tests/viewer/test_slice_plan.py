"""The plan on the slice views, in the real main window on a real CT: a screw's cross-section
outline and a surface's contour drawn where they cut the plane (checked in pixels), clearance
violations in red, markups and a trajectory, the value under the mouse equal to the voxel's,
orientation letters, window/level numbers, and dragging a markup point on a slice."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.imaging.volume import affine_of, voxel_array
from tests.viewer.view_points import display_point, widget_point

pytestmark = pytest.mark.gui

BLUE = (0.0, 0.3, 1.0)
GREEN = (0.1, 1.0, 0.1)


def _pixels_near(img: np.ndarray, x: float, y: float, r: int = 3) -> np.ndarray:
    """RGB pixels of a screenshot within r of VTK display point (x, y) (origin bottom-left)."""
    h = img.shape[0]
    row, col = int(round(h - 1 - y)), int(round(x))
    return img[max(row - r, 0):row + r + 1, max(col - r, 0):col + r + 1, :3].reshape(-1, 3).astype(int)


def _is_color(px: np.ndarray, rgb) -> np.ndarray:
    return np.linalg.norm(px - np.asarray(rgb) * 255, axis=1) < 60


def _ring_hits(view, img, centre, radius, rgb, axes=((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0))):
    """How many of the four points at ``radius`` from ``centre`` (world) show colour ``rgb``."""
    hits = 0
    for a in axes:
        x, y = display_point(view, centre + radius * np.asarray(a, dtype=float))
        hits += bool(_is_color(_pixels_near(img, x, y), rgb).any())
    return hits


def _body_point(image):
    """A world point inside the body near the middle of the central axial slice."""
    c = np.asarray(image.center, dtype=float)
    return c


def test_screw_outline_surface_contour_and_violation_on_axial(ct_window, qtbot):
    from sim.model import ObjectKind, SceneObject
    from sim.model.sections import set_section

    slices = ct_window.imaging.slices
    image = slices.obj.data
    axial = slices.views[0]
    centre = _body_point(image)
    slices.set_cursor(centre)
    screw = pv.Cylinder(center=centre, direction=(0, 0, 1), radius=10.0, height=60,
                        resolution=64).triangulate()
    ball_centre = centre + np.array([29.0, 0.0, 0.0])
    ball = pv.Sphere(radius=15.0, center=ball_centre, theta_resolution=64, phi_resolution=64)
    scene = ct_window.case.scene
    dev = scene.add(SceneObject("screw", ObjectKind.DEVICE, screw, color=BLUE))
    nerve = scene.add(SceneObject("nerve", ObjectKind.SURFACE, ball, color=GREEN))
    qtbot.waitUntil(lambda: len(axial.plan.markup_points) == 0 and
                    axial.plotter.actors.get("plan-devices") is not None, timeout=5000)
    img = axial.screenshot()
    # the screw's outline: a blue ring of radius 10 mm round the screw's axis, not at its middle
    assert _ring_hits(axial, img, centre, 10.0, BLUE) == 4
    assert not _is_color(_pixels_near(img, *display_point(axial, centre), r=2), BLUE).any()
    assert not _ring_hits(axial, img, centre, 20.0, BLUE)
    # the ball's contour where the axial plane cuts it: radius sqrt(15^2 - dz^2)
    dz = float(axial.plane()[0][2] - ball_centre[2])
    r = np.sqrt(15.0**2 - dz**2)
    assert _ring_hits(axial, img, ball_centre, r, GREEN) >= 3
    # clearance: the nerve is critical with a 5 mm margin; the screw's outline passes 4 mm from
    # it (29 - 15 - 10), so the near part of the outline turns red, the far part not
    set_section(ct_window.case, "placement", {"structures": {nerve.uid: {"role": "critical",
                                                                         "margin_mm": 5.0}}})
    qtbot.waitUntil(lambda: len(axial.plan.violation_points) > 0, timeout=5000)
    v = axial.plan.violation_points
    assert (v[:, 0] > centre[0] + 5).all()  # only on the side facing the nerve
    img = axial.screenshot()
    x, y = display_point(axial, centre + np.array([10.0, 0, 0]))
    assert _is_color(_pixels_near(img, x, y), (1.0, 0.1, 0.1)).any()
    # hiding the device takes its outline off the slice
    dev.visible = False
    qtbot.waitUntil(lambda: not axial.plotter.actors["plan-devices"].GetVisibility(), timeout=5000)


def test_contours_are_cut_once_per_plane_and_follow_a_moved_surface(ct_window, qtbot):
    """Scrolling away and back re-uses the contour cut for that plane (no new cut), the
    contour drawn equals pyvista's own slice of the surface, and moving the surface cuts anew."""
    from sim.model import ObjectKind, SceneObject

    slices = ct_window.imaging.slices
    axial = slices.views[0]
    centre = np.asarray(slices.obj.data.center, dtype=float)
    slices.set_cursor(centre)
    ball = pv.Sphere(radius=20.0, center=centre, theta_resolution=48, phi_resolution=48)
    obj = ct_window.case.scene.add(SceneObject("ball", ObjectKind.SURFACE, ball, color=GREEN))
    qtbot.waitUntil(lambda: obj.uid in axial.plan._cuts, timeout=5000)
    cut = axial.plan._cuts[obj.uid][1]

    def drawn() -> np.ndarray:
        return np.asarray(axial.plan._held["plan-contours"][0].points)  # the actor's data

    first = drawn()
    for step in (1, 1, -1, -1):
        slices.scroll(2, step)
    made = cut.cuts_made
    for step in (1, 1, -1, -1):  # the same planes again
        slices.scroll(2, step)
    assert cut.cuts_made == made
    point, normal = axial.plane()
    reference = ball.slice(normal=normal, origin=point)  # pyvista's cutter, not ours
    np.testing.assert_allclose(np.sort(first[:, 0]), np.sort(drawn()[:, 0]), atol=1e-6)
    assert abs(len(drawn()) - reference.n_points) <= 2
    r = np.linalg.norm(drawn()[:, :2] - point[:2], axis=1)
    assert np.allclose(r, np.linalg.norm(np.asarray(reference.points)[:, :2] - point[:2],
                                         axis=1).mean(), atol=0.5)
    obj.transform = np.array([[1, 0, 0, 5.0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    qtbot.waitUntil(lambda: axial.plan._cuts[obj.uid][1] is not cut, timeout=5000)
    moved = drawn()
    assert abs(moved[:, 0].mean() - first[:, 0].mean() - 5.0) < 0.5


def test_markups_and_trajectory_on_slices(ct_window, qtbot):
    from sim.markups.model import Markup

    slices = ct_window.imaging.slices
    image = slices.obj.data
    axial, coronal, _ = slices.views
    centre = _body_point(image)
    slices.set_cursor(centre)
    on_plane = axial.plane()[0]
    ct_window.case.markups.add(Markup("F", "point", points=[tuple(on_plane + [10, 10, 0])],
                                      color=(1.0, 0.0, 1.0)))
    traj = Markup("trajectory", "line", points=[tuple(on_plane + [-20, -20, -30]),
                                                tuple(on_plane + [-20, 20, 30])], color=(0, 1, 1))
    ct_window.case.markups.add(traj)
    qtbot.waitUntil(lambda: len(axial.plan.markup_points) == 1, timeout=5000)
    img = axial.screenshot()
    x, y = display_point(axial, on_plane + [10, 10, 0])
    assert _is_color(_pixels_near(img, x, y, 2), (1.0, 0.0, 1.0)).mean() > 0.5  # a filled dot
    # the trajectory crosses the axial plane half-way (x=-20, y=0): a cross there, in cyan
    x, y = display_point(axial, on_plane + [-20, 0, 0])
    assert _is_color(_pixels_near(img, x, y, 2), (0, 1, 1)).any()
    # the point is off the coronal plane by 10 mm: not drawn there
    assert coronal.plan.markup_points == []


def test_value_under_mouse_letters_and_window_numbers(ct_window, qtbot):
    slices = ct_window.imaging.slices
    image = slices.obj.data
    axial, coronal, sagittal = slices.views
    hu = voxel_array(image)
    k = axial.index
    ijk = np.array([hu.shape[0] // 2 + 7, hu.shape[1] // 2 - 5, k])
    world = (affine_of(image) @ np.append(ijk, 1.0))[:3]
    qtbot.mouseMove(axial.plotter.interactor, widget_point(axial, world))
    qtbot.waitUntil(lambda: axial.hu is not None, timeout=5000)
    got = np.round(np.linalg.solve(affine_of(image), np.append(axial.hover, 1))[:3]).astype(int)
    assert axial.hu == float(hu[tuple(got)])  # the voxel under the mouse, exactly
    assert (np.abs(got - ijk) <= 1).all()
    assert f"{axial.hu:.0f} HU" in axial.info.text()
    lo, hi = axial.clim
    assert f"W {hi - lo:.0f}" in axial.info.text() and f"L {(lo + hi) / 2:.0f}" in axial.info.text()
    slices.window_box.setCurrentText("CT bone")
    assert "W 1800" in axial.info.text() and "L 400" in axial.info.text()
    # radiological orientation letters at the edges of each view
    assert axial.orientation_letters() == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert coronal.orientation_letters() == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert sagittal.orientation_letters() == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    img = axial.screenshot()
    h, w = img.shape[:2]
    right_edge = img[h // 2 - 15:h // 2 + 15, w - 25:w, :3].astype(int)
    assert (np.linalg.norm(right_edge - np.array([255, 242, 140]), axis=2) < 60).any()  # "L"
    axial.tilt_box.setValue(40)  # oblique: the top edge points anterior and superior
    assert axial.orientation_letters()["top"] in ("AS", "AI", "SA", "IA")


def test_drag_markup_point_on_slice_moves_it_in_3d(ct_window, qtbot):
    from PyQt6.QtCore import QPoint, Qt

    from sim.markups.model import Markup

    slices = ct_window.imaging.slices
    image = slices.obj.data
    axial = slices.views[0]
    slices.set_cursor(_body_point(image))
    p0 = axial.plane()[0] + np.array([-15.0, 5.0, 0.0])
    m = ct_window.case.markups.add(Markup("F", "point", points=[tuple(p0)]))
    qtbot.waitUntil(lambda: len(axial.plan.markup_points) == 1, timeout=5000)
    cursor = slices.cursor.copy()
    widget = axial.plotter.interactor
    start = widget_point(axial, p0)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 5):
        qtbot.mouseMove(widget, start + QPoint(8 * step, 0))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=start + QPoint(32, 0))
    moved = np.asarray(m.points[0])
    # right on the axial view is the patient's left (+x); the point stays on the plane
    assert moved[0] - p0[0] == pytest.approx(32 * axial.pixel_mm(), abs=2 * axial.pixel_mm())
    assert abs(moved[1] - p0[1]) < 1.5 * axial.pixel_mm() and moved[2] == pytest.approx(p0[2])
    np.testing.assert_allclose(slices.cursor, cursor)  # a drag, not a click: crosshair stays
    # the 3D view's markup layer follows the model: its handle is at the new place
    from viewer.panels.markups import MarkupsPanel

    layer = ct_window.findChild(MarkupsPanel).layer
    np.testing.assert_allclose(layer.drawn[m.uid].handles[0].GetCenter(), moved, atol=1e-6)
    # one drag is one undo step
    ct_window.case.history.undo()
    np.testing.assert_allclose(m.points[0], p0)


def test_markup_shapes_and_merge_match_pyvista():
    """The numpy-made dots, rings and crosses and the joined mesh of a view's overlay are the
    shapes pyvista's Disc, lines_from_points and merge make (no vertex cell added per point)."""
    from viewer.views.slice_plan import _disc, _merged, _rows, _segments

    centre, right, up = np.array([10.0, 20.0, 30.0]), np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    for inner, outer in ((0.0, 5.0), (3.0, 4.0)):
        ours = _disc(centre, inner, outer, right, up)
        ref = pv.Disc(center=centre, inner=inner, outer=outer, normal=(0, 1, 0), c_res=20)
        assert np.allclose(ours.bounds, ref.bounds)
        assert ours.area == pytest.approx(ref.area, rel=1e-6)
        assert (ours.n_points, ours.n_cells, ours.n_verts) == (ref.n_points, ref.n_cells, 0)
    rng = np.random.default_rng(3)
    ends = rng.random((4, 3))
    parts = [pv.Sphere().slice(normal="z"), _disc(centre, 3.0, 4.0, right, up), _segments(ends),
             pv.lines_from_points(rng.random((5, 3))), pv.PolyData(rng.random((3, 3)))]
    def length(mesh):
        return float(mesh.compute_cell_sizes(length=True, area=False, volume=False)["Length"].sum())

    assert length(_segments(ends)) == pytest.approx(
        np.linalg.norm(ends[1] - ends[0]) + np.linalg.norm(ends[3] - ends[2]))
    for i, p in enumerate(parts):
        p.point_data["rgb"] = _rows((i / 5, 0.5, 1.0), p.n_points)
    ours, ref = _merged(parts), parts[0].merge(parts[1:], merge_points=False)
    assert (ours.n_points, ours.n_verts, ours.n_lines, ours.GetNumberOfPolys()) == (
        ref.n_points, ref.n_verts, ref.n_lines, ref.GetNumberOfPolys())
    assert ours.area == pytest.approx(ref.area, rel=1e-6)
    assert length(ours) == pytest.approx(length(ref), rel=1e-6)
    assert np.allclose(np.sort(ours.points, axis=0), np.sort(ref.points, axis=0), atol=1e-6)
    assert np.array_equal(np.sort(ours.point_data["rgb"], axis=0), np.sort(ref.point_data["rgb"], axis=0))

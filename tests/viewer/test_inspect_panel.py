"""The Inspect panel: register a scan in the background, undo it, map deviation, report."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.geometry.rigid import apply_transform
from sim.model import Case, ObjectKind, SceneObject
from tests.sim.idler_riser import INCH, sample_surface
from tests.sim.inspection.test_deviation import _flat_spot
from tests.viewer.case_window import shared_window_fixture  # noqa: F401
from tests.viewer.view_points import display_point


@pytest.fixture
def inspect_win(shared_window, qtbot, shared_data):
    from sim.io import load

    qtbot.waitExposed(shared_window)
    qtbot.waitUntil(lambda: shared_window.task is None, timeout=240_000)
    part = next(iter(load(shared_data / "factory" / "idler_riser.STL").scene)).data
    part = part.scale(INCH, inplace=False)
    pts, nrm = sample_surface(part, 25_000, seed=2)
    centre = pts[_flat_spot(pts, nrm, radius=3.5)].copy()
    r = np.linalg.norm(pts - centre, axis=1)
    pts -= nrm * (0.5 * np.clip(1 - (r / 3.0) ** 2, 0, None))[:, None]  # a 0.5 mm dent
    slip = np.eye(4)
    slip[:3, 3] = (0.8, -0.5, 0.3)  # the scan arrives 1 mm off
    case = Case(name="inspection", anatomical=False)
    case.scene.add(SceneObject("nominal", ObjectKind.PART, part))
    case.scene.add(SceneObject("scan", ObjectKind.POINTS, pv.PolyData(apply_transform(slip, pts))))
    shared_window.set_case(case)
    return shared_window, slip, centre


def test_register_measure_and_report(inspect_win, qtbot, tmp_path):
    win, slip, centre = inspect_win
    panel = win.inspect
    scan, nominal = win.case.scene["scan"], win.case.scene["nominal"]
    assert panel.moving_combo.currentData() == scan.uid
    assert panel.fixed_combo.currentData() == nominal.uid
    panel.method_combo.setCurrentText("ICP from current pose")
    assert panel.register() is not None
    qtbot.waitUntil(lambda: win.task is None, timeout=240_000)
    np.testing.assert_allclose(scan.transform, np.linalg.inv(slip), atol=1e-3)
    assert "Fitness" in panel.reg_label.text()
    assert scan.data.points is not None and not np.allclose(scan.transform, np.eye(4))
    win.case.history.undo()  # the registration is one undoable step
    assert not scan.has_transform
    win.case.history.redo()
    assert scan.has_transform

    panel.tolerance.setValue(0.2)
    assert panel.measure() is not None
    qtbot.waitUntil(lambda: win.task is None, timeout=240_000)
    dev = panel.deviation_obj
    assert dev is not None and dev.kind == ObjectKind.POINTS and not scan.visible
    assert "deviation" in dev.data.point_data and dev.uid in win.view.renderer.adapters
    assert panel.result.stats.below_pct > 0 and "within" in panel.stats_label.text()
    assert panel.legend.colours and panel.table.rowCount() == 1  # the dent, and only it
    assert panel.table.item(0, 1).text() == "below"
    region = panel.regions[0]
    assert np.linalg.norm(region.centroid - centre) < 1.0
    panel.callout_edit.setText(", ".join(f"{x:.3f}" for x in centre))
    panel.add_callout_from_text()
    assert panel.table.rowCount() == 2 and panel.table.item(0, 1).text() == "below"
    # Picking on the map: the dent's centre projected to the screen gets a callout.
    plotter = win.view.plotter
    plotter.view_xy()
    plotter.reset_camera()
    plotter.render()
    x, y = display_point(win.view, centre)
    panel.pick_button.setChecked(True)
    assert panel.pick_callout_at(int(round(x)), int(round(y)))
    picked = panel.callouts[-1]
    assert picked.status == "below" and np.linalg.norm(picked.position - centre) < 2.0

    # The histogram in the panel: 60 bars coloured by band; the dent's bars are blue.
    bars = panel.hist_axes.patches
    assert len(bars) == 60
    below = [b for b in bars if b.get_height() > 0 and b.get_x() + b.get_width() < -0.2]
    assert below and all(_is_below_blue(b.get_facecolor()) for b in below)
    assert _blue_pixels(panel.hist_canvas) > 20

    # A section through the dent: the whiskers there reach about -0.5 mm, elsewhere the
    # scan lies on the model; the cut plane shows in the 3D view.
    sec = panel.show_section("x", centre[0])
    c2 = np.array([(centre - sec.origin) @ sec.u, (centre - sec.origin) @ sec.v])
    r = np.linalg.norm(sec.points - c2, axis=1)
    assert sec.deviation[r < 1.0].min() < -0.4
    assert np.abs(sec.deviation[r > 4.0]).max() < 0.2
    assert len(panel.section_axes.collections) >= 2  # the nominal cut and the whiskers
    assert _blue_pixels(panel.section_canvas) > 5
    assert "overlay:inspect:section" in win.view.plotter.actors  # a case overlay, saved too
    from sim.model import overlays as ov

    plane = ov.overlays(win.case)["inspect:section"]
    assert plane.normal == (1.0, 0.0, 0.0) and plane.origin[0] == pytest.approx(centre[0])
    assert win.workbench.results["inspection"] is panel.result  # scripts see the result
    # The slider sweeps the plane along the axis.
    panel.section_slider.setValue(200)
    qtbot.waitUntil(lambda: panel.section is not sec, timeout=5_000)
    lo, hi = np.asarray(panel.nominal.bounds)[:2]
    assert panel.section.origin[0] == pytest.approx(lo + 0.2 * (hi - lo))
    win.grab().save(str(tmp_path / "inspect.png"))
    print(f"\nscreenshot {tmp_path / 'inspect.png'}")

    panel.show_section("x", centre[0])
    panel.add_section_to_report()
    assert panel.sections_edit.text() == f"x={centre[0]:.3f}"
    out = panel.export_report(tmp_path / "report.html")
    text = out.read_text()
    assert "data:image/png;base64" in text and "Section S1" in text


def _is_below_blue(rgba) -> bool:
    return rgba[2] > 0.7 and rgba[0] < 0.3 and rgba[1] < 0.4  # "#2c3bd9"


def _blue_pixels(canvas) -> int:
    """Pixels of the below-tolerance blue in what the canvas shows on screen."""
    canvas.draw()
    img = canvas.grab().toImage()
    from PyQt6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    arr = arr.reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3]
    rgb = arr.reshape(img.height(), img.width(), 3).astype(int)
    return int(((abs(rgb[..., 0] - 0x2c) < 40) & (abs(rgb[..., 1] - 0x3b) < 40)
                & (abs(rgb[..., 2] - 0xd9) < 40)).sum())


def test_ambiguous_registration_is_not_applied(shared_window, qtbot):
    """A symmetric plate: the panel says the pose is ambiguous, asks for landmarks and
    leaves the scan where it is (no transform, nothing to undo)."""
    from tests.sim.registration.plates import generated_parts, in_plane_turn, partial_scan

    qtbot.waitExposed(shared_window)
    qtbot.waitUntil(lambda: shared_window.task is None, timeout=240_000)
    part = generated_parts()["symmetric"]
    scan = apply_transform(in_plane_turn(part, 40.0), partial_scan(part, 20_000, 2))
    case = Case(name="flat", anatomical=False)
    case.scene.add(SceneObject("nominal", ObjectKind.PART, part))
    case.scene.add(SceneObject("scan", ObjectKind.POINTS, pv.PolyData(scan)))
    shared_window.set_case(case)
    panel = shared_window.inspect
    panel.method_combo.setCurrentText("Feature match (RANSAC) + ICP")
    assert panel.register() is not None
    qtbot.waitUntil(lambda: shared_window.task is None, timeout=240_000)
    text = panel.reg_label.text()
    assert "ambiguous" in text and "No pose was applied" in text and "landmarks" in text
    assert not case.scene["scan"].has_transform and panel.last_registration is None
    assert "landmarks needed" in shared_window.status_label.text()

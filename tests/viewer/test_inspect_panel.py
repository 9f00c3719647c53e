"""The Inspect panel: register a scan in the background, undo it, map deviation, report."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.model import Case, ObjectKind, SceneObject
from sim.registration.transform import apply_transform
from tests.sim.inspection.conftest import INCH, sample_surface
from tests.sim.inspection.test_deviation import _flat_spot
from tests.viewer.case_window import shared_window_fixture  # noqa: F401


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
    ren = plotter.renderer
    ren.SetWorldPoint(*centre, 1.0)
    ren.WorldToDisplay()
    x, y, _ = ren.GetDisplayPoint()
    panel.pick_button.setChecked(True)
    assert panel.pick_callout_at(int(round(x)), int(round(y)))
    picked = panel.callouts[-1]
    assert picked.status == "below" and np.linalg.norm(picked.position - centre) < 2.0
    panel.sections_edit.setText(f"x={centre[0]:.3f}")
    out = panel.export_report(tmp_path / "report.html")
    text = out.read_text()
    assert "data:image/png;base64" in text and "Section S1" in text

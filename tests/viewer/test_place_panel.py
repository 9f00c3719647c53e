"""The Place panel driven like a user: add a screw, align it, live feedback, fit in the background."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.model import Case, ObjectKind, SceneObject


@pytest.fixture
def place_window(qtbot):
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    case = Case(name="spine block")
    # A bone block with a 'nerve' rod running beside the planned screw path.
    case.scene.add(SceneObject("Bone", ObjectKind.SURFACE,
                               pv.Box(bounds=(-15, 15, -15, 15, 0, 60), level=3).triangulate()))
    case.scene.add(SceneObject("Nerve", ObjectKind.SURFACE,
                               pv.Cylinder(center=(7.0, 0, 30), direction=(0, 1, 0), radius=1.5,
                                           height=40, resolution=40).triangulate()))
    win.set_case(case)
    yield win
    if win.task is not None:
        win.task.cancel()
        win.task.wait()


def test_place_align_feedback_and_fit(qtbot, place_window):
    win = place_window
    panel = win.place
    assert panel.structure_table.rowCount() == 2
    panel.set_role("Bone", "host", 1.0)
    panel.set_role("Nerve", "critical", 2.0)
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("pedicle_screw"))
    panel.catalogue.select_size({"diameter": 5.5, "length": 40.0})
    # A plan that passes 2.5 mm from the nerve's axis: the screw hits it.
    panel.set_trajectory((4.5, 0.0, 5.0), (4.5, 0.0, 55.0))
    obj = panel.add_device()
    assert obj.kind == ObjectKind.DEVICE and obj in list(win.case.scene)
    assert np.allclose(obj.transform[:3, 3], (4.5, 0.0, 5.0))
    panel.prepare()
    qtbot.waitUntil(lambda: panel.scene is not None and win.task is None, timeout=120_000)
    assert panel.feedback.rowCount() == 2
    assert not panel.last.safe and panel.last.result("Nerve").collision
    assert "hits Nerve" in panel.verdict.text()
    # Closest points and the clearance colour map are drawn in the 3D view.
    assert "place-closest" in win.view.plotter.actors
    panel.show_map.setChecked(True)
    assert "place-map-Nerve" in win.view.plotter.actors
    assert "place-map-Bone" not in win.view.plotter.actors
    # Slide along the axis: live re-evaluation on the pose change.
    panel.depth_spin.setValue(3.0)
    assert np.allclose(win.case.scene[obj.name].transform[:3, 3], (4.5, 0.0, 8.0))
    assert panel.last.pose[2, 3] == pytest.approx(8.0)
    panel.keep_candidate()
    panel.fit()
    qtbot.waitUntil(lambda: win.task is None, timeout=120_000)
    assert panel.last.safe, panel.last.violations
    assert panel.last.result("Nerve").clearance_mm >= 2.0
    assert "Verdict: safe." in panel.reasons.text()
    panel.keep_candidate()
    table = panel.comparison.toPlainText()
    assert "#1" in table and "#2" in table and "Nerve clearance mm" in table


def test_markup_trajectory_and_snap(qtbot, place_window):
    from sim.markups.model import Markup

    win = place_window
    panel = win.place
    win.case.markups.add(Markup("screw path", "line", points=((-5.0, 0.0, -10.0), (-5.0, 0.0, 40.0))))
    assert panel.markup_combo.findText("screw path") >= 0
    panel.set_role("Bone", "host", 1.0)
    panel.add_device()
    panel.markup_combo.setCurrentIndex(panel.markup_combo.findText("screw path"))
    panel.use_markup()
    assert np.allclose(panel.device_obj.transform[:3, 3], (-5.0, 0.0, -10.0))
    panel.prepare()
    qtbot.waitUntil(lambda: panel.scene is not None and win.task is None, timeout=120_000)
    panel.snap()
    pose = panel.device_obj.transform
    assert pose[:3, 3] == pytest.approx((-5.0, 0.0, 0.0), abs=1e-6), "on the bone's bottom face"
    assert pose[:3, 2] == pytest.approx((0.0, 0.0, 1.0), abs=1e-6), "pointing into the bone"

"""Inspect panel: *Update model (deformable)* on SOFA's liver - background job, the updated
organ in the 3D view (pixels), the pre-op toggle, moved targets, undo, saved in the case."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.markups.model import Markup
from sim.model import Case, ObjectKind, SceneObject
from tests.sim.registration.liver_truth import anterior_patch, liver_truth, sample_patch
from tests.viewer.case_window import shared_window_fixture  # noqa: F401

pytestmark = pytest.mark.slow
PREOP_RGB = (0.25, 0.45, 0.95)


def _count(img: np.ndarray, rgb) -> int:
    """Pixels whose hue is near ``rgb`` (shading scales all channels, so compare ratios)."""
    px = img[..., :3].astype(float)
    target = np.asarray(rgb) / max(rgb)
    norm = px / np.maximum(px.max(axis=2, keepdims=True), 1.0)
    return int(((np.abs(norm - target).max(axis=2) < 0.12) & (px.max(axis=2) > 60)).sum())


@pytest.fixture
def liver_win(shared_window, qtbot, shared_data):
    qtbot.waitExposed(shared_window)
    qtbot.waitUntil(lambda: shared_window.task is None, timeout=240_000)
    truth = liver_truth(shared_data)
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.35), 400, 1.0,
                       np.random.default_rng(3))
    case = Case(name="liver update")
    case.scene.add(SceneObject("liver", ObjectKind.SURFACE, truth.surface.copy(),
                               color=PREOP_RGB))
    case.scene.add(SceneObject("stylus", ObjectKind.POINTS, pv.PolyData(pts)))
    tumour = np.asarray(truth.surface.center)
    case.markups.add(Markup("tumour", "point", points=(tuple(tumour),)))
    shared_window.set_case(case)
    return shared_window, truth, tumour


def test_update_model_shows_moves_undoes_and_saves(liver_win, qtbot, tmp_path):
    win, truth, tumour = liver_win
    box = win.inspect.deformable
    case = win.case
    liver = case.scene["liver"]
    assert box.points_combo.currentData() == case.scene["stylus"].uid
    assert box.organ_combo.currentData() == liver.uid
    box.noise_spin.setValue(1.0)
    assert box.update_model() is not None
    qtbot.waitUntil(lambda: win.task is None, timeout=300_000)
    updated = case.scene["liver (updated)"]
    assert not liver.visible and updated.visible
    assert "uncertainty_mm" in updated.data.point_data
    moved = np.asarray(case.markups[0].points[0])
    truth_moved = truth.move(tumour[None])[0]
    assert np.linalg.norm(moved - tumour) > 3.0  # the target followed the organ ...
    assert np.linalg.norm(moved - truth_moved) < np.linalg.norm(tumour - truth_moved)  # closer
    report = case.sections["deformable_update"]
    assert report["organ"] == "liver" and report["structures"][0]["name"] == "tumour"
    assert "Residual RMS" in box.label.text()

    # The 3D view shows the updated organ; the toggle brings the pre-op one back.
    win.view.renderer.set_view("A")
    win.view.plotter.render()
    img = win.view.screenshot(str(tmp_path / "updated.png"))
    assert _count(img, (0.93, 0.55, 0.25)) > 2000 and _count(img, PREOP_RGB) < 200
    assert box.preop_check.isEnabled()
    box.preop_check.setChecked(True)
    qtbot.waitUntil(lambda: liver.visible, timeout=5000)
    win.view.plotter.render()
    both = win.view.screenshot(str(tmp_path / "both.png"))
    assert _count(both, PREOP_RGB) > 500

    # One undo takes the whole update back.
    case.history.undo()  # the visibility toggle
    case.history.undo()  # the update
    assert "liver (updated)" not in [o.name for o in case.scene]
    assert liver.visible and np.allclose(case.markups[0].points[0], tumour)
    assert "deformable_update" not in case.sections

    # Saved with the case: redo, save, reopen.
    case.history.redo()
    from sim.model.case_io import load_case, save_case

    path = save_case(case, tmp_path / "updated.twinsight")
    again = load_case(path)
    assert "liver (updated)" in [o.name for o in again.scene]
    assert again.sections["deformable_update"]["organ"] == "liver"


def test_neo_hookean_material_model_is_chosen_used_and_saved(liver_win, qtbot):
    win, truth, tumour = liver_win
    box = win.inspect.deformable
    box.material_combo.setCurrentIndex(box.material_combo.findData("neo-hookean"))
    assert win.case.sections["deformable_settings"]["material_model"] == "neo-hookean"
    assert box.update_model() is not None
    qtbot.waitUntil(lambda: win.task is None, timeout=300_000)
    report = win.case.sections["deformable_update"]
    assert report["material_model"] == "neo-hookean" and "warning" not in report
    moved = np.asarray(win.case.markups[0].points[0])
    truth_moved = truth.move(tumour[None])[0]
    assert np.linalg.norm(moved - truth_moved) < np.linalg.norm(tumour - truth_moved)


def test_bad_points_give_a_message_not_a_job(liver_win, monkeypatch):
    win, truth, _ = liver_win
    few = SceneObject("few", ObjectKind.POINTS, pv.PolyData(np.asarray(truth.surface.points)[:4]))
    win.case.scene.add(few)
    box = win.inspect.deformable
    box.points_combo.setCurrentIndex(box.points_combo.findData(few.uid))
    shown = []
    monkeypatch.setattr("viewer.panels.deformable_update.show_error",
                        lambda _parent, title, exc: shown.append(str(exc)) or str(exc))
    job = box.update_model()
    if job is not None:  # points are checked in the job: the error arrives from it
        from PyQt6.QtWidgets import QApplication

        job.wait()
        QApplication.processEvents()
    assert "liver (updated)" not in [o.name for o in win.case.scene]

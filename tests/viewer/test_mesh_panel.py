"""The Mesh panel and unit-aware import (issue #20): a .vtu result opens coloured by its
stress with a legend and can be recoloured and warped; a file in metres or inches is added
at its real size; mesh check draws the open edges on the part in red and repair closes them."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from PyQt6.QtWidgets import QDockWidget

from sim.model import Case, ObjectKind, SceneObject

SHOTS = "/tmp/shots20b"


@pytest.fixture
def win(new_window):
    w = new_window((1200, 800))
    w.set_case(Case(name="parts"))
    w.findChild(QDockWidget, "dockMesh").raise_()
    return w


def _wait(qtbot, w):
    qtbot.waitUntil(lambda: w.task is None, timeout=60_000)


def _result_vtu(path):
    """A cantilever's result as another solver would write it: fields on a tet grid."""
    grid = pv.ImageData(dimensions=(21, 5, 5), spacing=(2.0, 2.0, 2.0)).to_tetrahedra()
    x = grid.points[:, 0]
    grid.point_data["von_mises"] = 100.0 * (1 - x / 40.0)  # highest at the root
    u = np.zeros((grid.n_points, 3))
    u[:, 2] = -0.01 * x ** 2  # bends down
    grid.point_data["displacement"] = u
    grid.save(path)
    return path


def test_vtu_result_opens_coloured_with_legend_recolour_and_warp(qtbot, win, tmp_path):
    path = _result_vtu(tmp_path / "cantilever.vtu")
    win.add_path(path)
    _wait(qtbot, win)
    obj = win.case.scene["cantilever"]
    assert obj.display.scalars == "von_mises"
    win.case.scene.select(obj)
    bars = win.view.plotter.scalar_bars
    assert "von Mises stress (MPa)" in bars
    assert bars["von Mises stress (MPa)"].GetLookupTable().GetRange() == pytest.approx((0, 100))
    win.view.renderer.set_view("A")
    img = win.view.screenshot(f"{SHOTS}/vtu_von_mises.png")
    rgb = img[..., :3].astype(int)
    hues = rgb[: int(0.7 * len(rgb))]
    saturated = hues.max(axis=2) - hues.min(axis=2) > 90
    assert saturated.sum() > 2000  # the part is drawn in colour-map colours
    panel = win.mesh_panel
    assert [panel.field_combo.itemData(i) for i in range(panel.field_combo.count())][:3] == \
        ["", "von_mises", "displacement"]
    panel.field_combo.setCurrentIndex(panel.field_combo.findData("displacement"))
    assert "Displacement (mm)" in win.view.plotter.scalar_bars
    assert "von Mises stress (MPa)" not in win.view.plotter.scalar_bars
    actor = win.view.renderer.adapters[obj.uid].actors[0]
    z_before = actor.GetMapper().GetInput().GetBounds()[4]
    panel.warp_spin.setValue(2.0)
    actor = win.view.renderer.adapters[obj.uid].actors[0]
    assert actor.GetMapper().GetInput().GetBounds()[4] == pytest.approx(z_before - 2 * 16.0,
                                                                        abs=0.01)
    win.view.screenshot(f"{SHOTS}/vtu_displacement_warped.png")
    win.grab().save(f"{SHOTS}/mesh_panel_fields.png")
    win.case.history.undo()  # the warp is an edit like any other
    assert obj.display.warp_factor == 0.0


def test_units_on_import_and_rescale(qtbot, win, tmp_path):
    stl = tmp_path / "plate.stl"
    pv.Box(bounds=(0, 0.1, 0, 0.05, 0, 0.01)).triangulate().save(stl)  # metres
    win.add_path(stl, units="m")
    _wait(qtbot, win)
    obj = win.case.scene["plate"]
    assert obj.data.bounds[1] == pytest.approx(100.0)
    stl2 = tmp_path / "pin.stl"
    pv.Box(bounds=(0, 1, 0, 1, 0, 2)).triangulate().save(stl2)  # inches, read as mm
    win.add_path(stl2)
    _wait(qtbot, win)
    pin = win.case.scene["pin"]
    win.case.scene.select(pin)
    panel = win.mesh_panel
    panel.unit_combo.setCurrentIndex(panel.unit_combo.findData("in"))
    panel.rescale_button.click()
    assert pin.data.bounds[5] == pytest.approx(50.8)


def test_check_draws_open_edges_and_repair_closes_them(qtbot, win):
    box = pv.Box(bounds=(0, 40, 0, 40, 0, 40), level=3).triangulate().clean()
    centres = box.cell_centers().points
    open_box = box.remove_cells(np.flatnonzero(centres[:, 1] < 1e-6))  # no front (y = 0) face
    obj = win.case.scene.add(SceneObject("Open box", ObjectKind.PART, open_box))
    win.case.scene.select(obj)
    win.view.renderer.set_view("A")
    panel = win.mesh_panel
    panel.check_button.click()
    _wait(qtbot, win)
    names = {f.name: f.count for f in panel.findings}
    assert names == {"open edges": 16}  # 4 x 4 edge segments around the missing face
    assert "16 open edges" in panel.report_label.text()
    img = win.view.screenshot(f"{SHOTS}/mesh_check_open_edges.png")
    rgb = img[..., :3].astype(int)
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)
    assert red.sum() > 300  # the hole's rim is drawn red
    win.grab().save(f"{SHOTS}/mesh_panel_check.png")
    panel.repair_button.click()
    _wait(qtbot, win)
    _wait(qtbot, win)
    assert "No defects found" in panel.report_label.text()
    assert panel.findings == []
    img = win.view.screenshot()
    rgb = img[..., :3].astype(int)
    assert ((rgb[..., 0] > 200) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)).sum() == 0

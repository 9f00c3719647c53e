"""The Analysis panel, used as an engineer would: pick the end faces of a bar with the mouse,
add a support and a force, solve in the background, read the colour map, its legend, the
reactions and the value under the cursor; the setup is saved with the case, the exported spec
reproduces the numbers with `twinsight fem solve`, the report is written."""

from __future__ import annotations

import json

import pytest
import pyvista as pv
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget

from sim.cli import main
from sim.model import Case, ObjectKind, SceneObject
from tests.viewer.view_points import display_point, widget_point

SHOTS = "/tmp/shots20b"
L, W = 80.0, 20.0  # bar length and square side (mm)


@pytest.fixture
def bar_window(qtbot, new_window):
    win = new_window((1300, 850))
    case = Case(name="bar")
    case.scene.add(SceneObject("Bracket arm", ObjectKind.PART,
                               pv.Box(bounds=(0, L, 0, W, 0, W), level=2).triangulate().clean()))
    win.set_case(case)
    win.findChild(QDockWidget, "dockAnalysis").raise_()
    qtbot.waitUntil(lambda: win.analysis.isVisible(), timeout=5000)
    return win


def _click(qtbot, win, world):
    qtbot.mouseClick(win.view.plotter.interactor, Qt.MouseButton.LeftButton,
                     pos=widget_point(win.view, world))


def _setup_by_clicks(qtbot, win, force=(500.0, 0.0, 0.0)):
    panel = win.analysis
    panel.edge_spin.setValue(4.0)
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData("fixed"))
    win.view.renderer.set_view("R")  # camera at -x: the x = 0 end faces us
    panel.pick_button.setChecked(True)
    _click(qtbot, win, (0.0, W / 2, W / 2))
    assert panel.pending and panel.pending[0][0] == pytest.approx(0.0, abs=0.5)
    panel.add_button.click()
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData("force"))
    for spin, v in zip((panel.vx, panel.vy, panel.vz), force, strict=True):
        spin.setValue(v)
    win.view.renderer.set_view("L")  # camera at +x: the far end
    panel.pick_button.setChecked(True)
    _click(qtbot, win, (L, W / 2, W / 2))
    assert panel.pending and panel.pending[0][0] == pytest.approx(L, abs=0.5)
    panel.add_button.click()
    assert [c.kind for c in panel.setup.conditions] == ["fixed", "force"]


def _solve(qtbot, win):
    panel = win.analysis
    panel.solve()
    qtbot.waitUntil(lambda: panel.job is None and win.task is None, timeout=120_000)
    res = panel.result_object()
    assert res is not None
    return panel, res


def _legend_range(win, res):
    bars = win.view.plotter.scalar_bars
    title = next(iter(bars.keys()))
    return bars[title].GetLookupTable().GetRange(), title


def test_pick_solve_colour_map_probe_and_reactions(qtbot, bar_window, tmp_path, capsys):
    win = bar_window
    panel = win.analysis
    assert panel.material_combo.currentText() == "Steel (AISI 1018)"  # a part is not liver
    _setup_by_clicks(qtbot, win)
    win.view.renderer.look_from((0.5, -1.0, 0.6), (0, 0, 1))
    win.view.screenshot(f"{SHOTS}/analysis_setup.png")
    panel, res = _solve(qtbot, win)
    s = panel.summary
    sigma = 500.0 / (W * W)  # axial stress F / A
    assert s["reactions_n"]["fixed 1"][0] == pytest.approx(-500.0, rel=1e-6)
    assert panel.reactions.rowCount() == 1
    assert "-500" in panel.reactions.item(0, 1).text()
    (lo, hi), title = _legend_range(win, res)
    assert "von Mises stress (MPa)" in title
    assert hi == pytest.approx(s["max_von_mises_mpa"], rel=1e-6)
    # the value under the cursor, half way along the front face: sigma and u = F x / (E A)
    win.view.renderer.set_view("A")
    x, y = display_point(win.view, (L / 2, 0.0, W / 2))
    probe = panel.probe_at(int(round(x)), int(round(y)))
    assert probe["von_mises_mpa"] == pytest.approx(sigma, rel=0.05)
    assert probe["displacement_mm"][0] == pytest.approx(500 * L / 2 / (200000 * W * W), rel=0.05)
    assert "MPa" in panel.probe_label.text()
    win.view.renderer.look_from((0.5, -1.0, 0.6), (0, 0, 1))
    axial = win.view.screenshot(f"{SHOTS}/analysis_axial.png")
    win.grab().save(f"{SHOTS}/analysis_panel.png")

    # the colour map follows the load: a bending load colours the root's top and bottom
    # fibres hot and the neutral axis cool; the axial pull is one colour along the bar
    panel.setup.conditions[1].value = [0.0, 0.0, -500.0]
    panel, res = _solve(qtbot, win)
    win.view.renderer.look_from((0.5, -1.0, 0.6), (0, 0, 1))
    bending = win.view.screenshot(f"{SHOTS}/analysis_bending.png")
    (lo2, hi2), _ = _legend_range(win, res)
    assert hi2 > 5 * hi  # bending stress M c / I = 6 F L / W^3 = 30 MPa vs 1.25 MPa axial

    def spread(img):
        rgb = img[: int(0.7 * img.shape[0]), :, :3].astype(float)  # above the legend
        part = rgb.max(axis=2) - rgb.min(axis=2) > 90  # colour-map hues, not the grey-blue
        return rgb[part].std(axis=0).sum()

    assert spread(bending) > 2 * spread(axial)

    # warp by displacement: the drawn tip moves down
    tip_before = res.data.points[:, 2].min()
    panel.warp_spin.setValue(50.0)
    actor = win.view.renderer.adapters[res.uid].actors[0]
    assert actor.GetMapper().GetInput().GetBounds()[4] < tip_before - 1.0
    win.view.screenshot(f"{SHOTS}/analysis_warped.png")

    # saved with the case
    stored = win.case.sections["analysis"]
    assert stored["setup"]["conditions"][1]["value"] == [0.0, 0.0, -500.0]
    assert stored["result"]["summary"]["max_von_mises_mpa"] == pytest.approx(hi2, rel=1e-6)

    # reproducible with the CLI
    spec = panel.export_spec(tmp_path)
    assert main(["fem", "solve", str(spec), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["max_von_mises_mpa"] == pytest.approx(panel.summary["max_von_mises_mpa"], rel=1e-9)

    job = panel.write_report(tmp_path / "report.pdf")
    qtbot.waitUntil(lambda: job.done, timeout=60_000)
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_cancel_leaves_nothing_and_bad_setup_says_why(qtbot, bar_window, monkeypatch):
    win = bar_window
    panel = win.analysis
    shown = []
    monkeypatch.setattr("viewer.panels.analysis.show_error",
                        lambda parent, title, exc: shown.append(str(exc)))
    panel.solve()
    assert shown and "not held" in shown[0]
    _setup_by_clicks(qtbot, win)
    job = panel.solve()
    job.cancel()
    qtbot.waitUntil(lambda: panel.job is None and win.task is None, timeout=120_000)
    assert panel.result_object() is None
    assert "cancelled" in panel.status_label.text()
    assert len(win.case.scene) == 1

"""The Sweep dialog: reachable from Tools > Sweep…, the Analysis panel and the Place panel;
runs a real Dask sweep in the background with progress, shows the histogram and sensitivity
chart, writes the report, and Cancel stops a sweep keeping what finished."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv
from PyQt6.QtWidgets import QDockWidget

from sim.model import Case, ObjectKind, SceneObject
from sim.sweep.store import read_results

pytestmark = pytest.mark.gui
PI = 3.141592653589793


@pytest.fixture
def win(qtbot):
    from viewer.main_window import MainWindow

    w = MainWindow()
    w.resize(1300, 850)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    dlg = getattr(w, "sweep", None)
    if dlg is not None and dlg.job is not None:
        dlg.job.cancel()
        qtbot.waitUntil(lambda: dlg.job is None, timeout=60_000)


def _menu_action(w, text):
    for menu in w.menuBar().actions():
        for act in menu.menu().actions():
            if act.text() == text:
                return act
    raise AssertionError(f"no menu entry {text}")


def _fill_python(dlg, tmp_path, model, params, n, qoi="y"):
    dlg.kind_combo.setCurrentIndex(dlg.kind_combo.findData("python"))
    dlg.base_edit.setText(model)
    for p in params:
        dlg.add_parameter(p)
    dlg.n_spin.setValue(n)
    dlg.qoi_edit.setText(qoi)
    dlg.workers_spin.setValue(1)
    dlg.output_edit.setText(str(tmp_path / "gui.parquet"))


def test_tools_menu_sweep_runs_with_plots_and_report(win, qtbot, tmp_path):
    _menu_action(win, "&Sweep…").trigger()
    dlg = win.sweep
    assert dlg.isVisible()
    _fill_python(dlg, tmp_path, "sim.sweep.functions:spin",
                 [{"path": "x", "dist": "uniform", "a": 0, "b": 2},
                  {"path": "seconds", "dist": "discrete", "b": "[0.0, 0.001]"}], 64)
    dlg.sampler_combo.setCurrentText("sobol")
    job = dlg.run()
    assert job is not None and not dlg.run_button.isEnabled() and dlg.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=180_000)
    assert "64 of 64 samples succeeded" in dlg.status.text(), dlg.status.text()
    df = read_results(tmp_path / "gui.parquet")
    assert len(df) == 64 and np.allclose(df["q.y"], df["p.x"] ** 2)
    assert dlg.progress.value() == 1000
    assert len(dlg.figure.axes) == 2 and dlg.figure.axes[0].patches  # histogram and tornado
    # the spec written next to the results reruns with the CLI (resume: nothing left to do)
    spec = (tmp_path / "gui.yaml").read_text()
    assert "sim.sweep.functions:spin" in spec
    from sim.cli import main

    assert main(["sweep", str(tmp_path / "gui.yaml"), "--no-run", "--json"]) == 0
    out = dlg.write_report(tmp_path / "gui.html")
    assert out is not None and "Sweep report" in out.read_text()
    dlg.resize(900, 760)
    qtbot.wait(200)
    dlg.grab().save(str(tmp_path / "sweep_dialog.png"))
    dlg.grab().save("/tmp/sweep_dialog.png")


def test_cancel_keeps_finished_samples(win, qtbot, tmp_path):
    dlg = win.sweep_dialog()
    _fill_python(dlg, tmp_path, "sim.sweep.functions:spin",
                 [{"path": "seconds", "dist": "uniform", "a": 0.2, "b": 0.3}], 60)
    dlg.sampler_combo.setCurrentText("mc")
    dlg.run()
    qtbot.waitUntil(lambda: dlg.progress.value() > 0, timeout=120_000)
    dlg.cancel_button.click()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=60_000)
    assert "cancelled" in dlg.status.text()
    assert dlg.run_button.isEnabled()
    df = read_results(tmp_path / "gui.parquet")
    assert 0 < len(df) < 60 and df["error"].isna().all()


def test_reachable_from_analysis_and_place_panels(win, qtbot):
    case = Case(name="bar")
    case.scene.add(SceneObject("Bar", ObjectKind.PART,
                               pv.Box(bounds=(0, 80, 0, 20, 0, 20), level=2).triangulate().clean()))
    win.set_case(case)
    dock = next(d for d in win.findChildren(QDockWidget) if d.widget() is win.analysis)
    dock.raise_()
    qtbot.waitUntil(win.analysis.isVisible, timeout=5000)
    win.analysis.sweep_button.click()
    dlg = win.sweep
    assert dlg is not None and dlg.kind_combo.currentData() == "fem"
    spec = json.loads(Path(dlg.base_edit.text()).read_text())
    assert spec["material"]["youngs_modulus"] > 0  # a library material made explicit to vary
    assert dlg.table.rowCount() == 1 and dlg.table.item(0, 0).text() == "material.youngs_modulus"
    dlg.close()
    dock = next(d for d in win.findChildren(QDockWidget) if d.widget() is win.place)
    dock.raise_()
    qtbot.waitUntil(win.place.isVisible, timeout=5000)
    win.place.sweep_button.click()
    dlg = win.sweep
    assert dlg.kind_combo.currentData() == "place" and dlg.base_doc is None  # nothing planned yet
    assert "min_clearance_mm" in dlg.qoi_edit.text()

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
    # The map is a case overlay (saved; drawn by the layer the screenshot and headset share).
    nerve, bone = win.case.scene["Nerve"], win.case.scene["Bone"]
    assert f"overlay:placement:{nerve.uid}" in win.view.plotter.actors
    assert f"overlay:placement:{bone.uid}" not in win.view.plotter.actors
    from sim.model import overlays as ov

    assert {o.structure for o in ov.overlays(win.case).values()
            if isinstance(o, ov.ClearanceMap)} == {nerve.uid}
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


def _click(qtbot, win, button) -> None:
    """A real mouse click on a Place panel button (its dock raised, the button scrolled
    into view), then wait for any background task it started."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QDockWidget, QScrollArea

    dock = win.findChild(QDockWidget, "dockPlace")
    dock.show()
    dock.raise_()
    win.place.findChild(QScrollArea).ensureWidgetVisible(button)
    qtbot.waitUntil(button.isVisible, timeout=5000)
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.task is None, timeout=120_000)


def _devices(case) -> list[SceneObject]:
    return [o for o in case.scene if o.kind == ObjectKind.DEVICE]


def test_every_place_button_clicked(qtbot, place_window, tmp_path, monkeypatch):
    """Each button of the Place panel, clicked with the mouse, does what it says (#15: Add
    to scene failed on the button's `checked` flag)."""
    from PyQt6.QtWidgets import QFileDialog, QPushButton

    from sim.markups.model import Markup

    win = place_window
    panel = win.place
    buttons = {b.text() for b in panel.findChildren(QPushButton)}
    clicked: set[str] = set()

    def click(button):
        _click(qtbot, win, button)
        clicked.add(button.text())

    panel.set_role("Bone", "host", 1.0)
    panel.set_role("Nerve", "critical", 2.0)
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("pedicle_screw"))
    panel.catalogue.select_size({"diameter": 5.5, "length": 40.0})
    panel.set_trajectory((4.5, 0.0, 5.0), (4.5, 0.0, 55.0))

    # Add your own: a closed surface file chosen in the (answered) file dialog.
    stl = tmp_path / "peg.stl"
    pv.Cylinder(center=(0, 0, 10), direction=(0, 0, 1), radius=2.0, height=20,
                resolution=24).triangulate().save(stl)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(stl), "")))
    click(panel.user_button)
    assert len(_devices(win.case)) == 1 and panel.device_obj.metadata["source"] != "catalogue"

    click(panel.add_button)
    screws = _devices(win.case)
    assert len(screws) == 2 and panel.device_obj is screws[-1]
    assert panel.device_obj.name == "Pedicle screw 5.5x40"
    assert np.allclose(panel.device_obj.transform[:3, 3], (4.5, 0.0, 5.0))

    click(panel.prepare_button)
    assert panel.scene is not None and [s.name for s in panel.scene.structures] == ["Bone", "Nerve"]
    assert panel.feedback.rowCount() == 2 and "hits Nerve" in panel.verdict.text()

    panel.depth_spin.setValue(3.0)
    panel.device_obj.transform = np.eye(4)  # moved away by hand
    click(panel.align_button)
    assert np.allclose(panel.device_obj.transform[:3, 3], (4.5, 0.0, 8.0))

    click(panel.keep_button)
    assert len(panel.candidates) == 1 and "#1" in panel.comparison.toPlainText()

    click(panel.fit_button)
    assert panel.last.safe, panel.last.violations
    assert panel.last.result("Nerve").clearance_mm >= 2.0
    assert "Verdict: safe." in panel.reasons.text()

    n_devices = len(_devices(win.case))
    click(panel.size_button)
    assert len(_devices(win.case)) == n_devices + 1, "the recommended screw is added"
    assert panel.device_obj.metadata["device_family"] == "pedicle_screw"
    assert "safe size" in panel.reasons.text() or "fits" in panel.reasons.text()
    assert panel.last.safe

    win.case.markups.add(Markup("screw path", "line",
                                points=((-5.0, 0.0, -10.0), (-5.0, 0.0, 40.0))))
    panel.markup_combo.setCurrentIndex(panel.markup_combo.findText("screw path"))
    panel.depth_spin.setValue(0.0)
    click(panel.markup_button)
    assert [s.value() for s in panel.entry] == [-5.0, 0.0, -10.0]
    assert [s.value() for s in panel.target] == [-5.0, 0.0, 40.0]
    assert np.allclose(panel.device_obj.transform[:3, 3], (-5.0, 0.0, -10.0))

    click(panel.snap_button)
    pose = panel.device_obj.transform
    assert pose[:3, 3] == pytest.approx((-5.0, 0.0, 0.0), abs=1e-6), "on the bone's bottom face"
    assert pose[:3, 2] == pytest.approx((0.0, 0.0, 1.0), abs=1e-6), "pointing into the bone"

    click(panel.keep_button)
    assert "#2" in panel.comparison.toPlainText()
    click(panel.clear_button)
    assert panel.candidates == [] and panel.comparison.toPlainText() == ""
    click(panel.sweep_button)  # this plan, its entry uncertain, in the Sweep dialog
    assert win.sweep is not None and win.sweep.isVisible()
    win.sweep.close()
    assert clicked == buttons, f"not clicked: {buttons - clicked}"


def _settings_shown(panel) -> dict:
    """Every setting the Place panel shows, to compare before saving and after reopening."""
    return {
        "family": panel.family_combo.currentData(), "size": panel.catalogue.current_size(),
        "roles": panel._structure_roles(), "entry": [s.value() for s in panel.entry],
        "target": [s.value() for s in panel.target], "depth": panel.depth_spin.value(),
        "roll": panel.roll_spin.value(), "markup": panel.markup_combo.currentText(),
        "closest": panel.show_closest.isChecked(), "map": panel.show_map.isChecked(),
        "comparison": panel.comparison.toPlainText(),
    }


def test_place_settings_belong_to_the_case(qtbot, place_window, tmp_path, monkeypatch):
    """Every Place setting marks the case modified, is undoable, and comes back after
    Save and reopening (#15: roles and trajectory were lost)."""
    from sim.markups.model import Markup

    monkeypatch.setenv("TWINSIGHT_RECOVERY_DIR", str(tmp_path / "recovery"))
    win = place_window
    panel = win.place
    win.case.markups.add(Markup("path A", "line", points=((0.0, 0.0, 0.0), (0.0, 0.0, 10.0))))
    win.case.markups.add(Markup("path B", "line", points=((1.0, 0.0, 0.0), (1.0, 0.0, 10.0))))
    win.case.history.set_clean()
    assert not win.has_unsaved_changes()

    def change(what, action):
        win.case.history.set_clean()
        action()
        assert win.has_unsaved_changes(), f"changing {what} did not mark the case modified"

    screw = panel.family_combo.findData("pedicle_screw")
    change("family", lambda: panel.family_combo.setCurrentIndex(1 if screw == 0 else 0))
    change("family", lambda: panel.family_combo.setCurrentIndex(screw))
    change("size", lambda: panel.catalogue.select_size({"diameter": 6.5, "length": 45.0}))
    change("role", lambda: panel.set_role("Bone", "host"))
    change("margin", lambda: panel.set_role("Bone", "host", 1.5))
    change("critical role", lambda: panel.set_role("Nerve", "critical", 3.0))
    for i, v in enumerate((4.5, -1.0, 5.0)):
        change(f"entry {i}", lambda i=i, v=v: panel.entry[i].setValue(v))
    for i, v in enumerate((4.5, 2.0, 55.0)):
        change(f"target {i}", lambda i=i, v=v: panel.target[i].setValue(v))
    change("device", panel.add_device)
    change("slide", lambda: panel.depth_spin.setValue(2.5))
    change("roll", lambda: panel.roll_spin.setValue(30.0))
    change("markup", lambda: panel.markup_combo.setCurrentIndex(
        panel.markup_combo.findText("path B")))
    change("closest points", lambda: panel.show_closest.setChecked(False))
    panel.prepare()
    qtbot.waitUntil(lambda: panel.scene is not None and win.task is None, timeout=120_000)
    change("map", lambda: panel.show_map.setChecked(True))
    change("candidates", panel.keep_candidate)
    device_uid = panel.device_obj.uid
    pose = panel.device_obj.transform
    shown = _settings_shown(panel)
    assert shown["roles"][win.case.scene["Bone"].uid] == {"role": "host", "margin_mm": 1.5}
    assert shown["comparison"].count("#1") == 1

    # Undo takes a setting back out of the panel; redo puts it back.
    win.case.history.undo()  # the kept candidate
    assert panel.candidates == [] and panel.comparison.toPlainText() == ""
    win.case.history.redo()
    assert panel.comparison.toPlainText() == shown["comparison"]

    path = tmp_path / "placed.twin"
    win.save_to(path)
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    assert not win.has_unsaved_changes()
    win.new_case()
    assert panel.structure_table.rowCount() == 0 and panel.device_obj is None
    win.open_path(path)
    qtbot.waitUntil(lambda: win.task is None and win.case_path == path, timeout=60_000)
    assert not win.has_unsaved_changes(), "showing the stored settings is not an edit"
    again = _settings_shown(panel)
    assert again == shown
    from sim.model import overlays as ov

    maps = [o for o in ov.overlays(win.case).values() if isinstance(o, ov.ClearanceMap)]
    assert [m.structure for m in maps] == [win.case.scene["Nerve"].uid]  # saved with the case
    assert panel.device_obj is not None and panel.device_obj.uid == device_uid
    assert np.allclose(panel.device_obj.transform, pose)
    # The reopened device is live again: moving it is evaluated once structures are prepared.
    panel.prepare()
    qtbot.waitUntil(lambda: panel.scene is not None and win.task is None, timeout=120_000)
    assert panel.last is not None and panel.last.device == "Pedicle screw 6.5x45"

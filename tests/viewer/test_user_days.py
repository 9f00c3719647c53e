"""A scripted day for each of our users, driving the real window with real clicks where a user
clicks: nothing may crash, and everything set survives save and reopen.

- surgeon: open a real CT, segment bone, place and fit a screw, save encrypted, reopen;
- engineer: open a real machined part, simulate a push on it, add a scan, register it and
  map its deviation, save, reopen;
- trainee: build a scenario from the demo's plan, attempt it, review it.
"""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from PyQt6.QtCore import Qt

pytestmark = [pytest.mark.gui, pytest.mark.slow]


@pytest.fixture
def fresh_window(qtbot):
    from viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1500, 950)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.simulate.end()
    win.rehearse.shutdown()
    win.jobs.shutdown(30)


def _idle(qtbot, win, timeout=180_000):
    qtbot.waitUntil(lambda: win.task is None, timeout=timeout)
    assert win.last_error is None or not win.last_error.isVisible(), win.last_error.text()


def _click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _reopen(qtbot, win, path, password=None):
    """Save to ``path`` (encrypted with ``password``), open another case, open ``path`` again."""
    win.save_to(path, password=password)
    _idle(qtbot, win)
    assert not win.has_unsaved_changes()
    win.new_case()
    assert win.case.name == "Untitled" and len(win.case.scene) == 0
    win.open_path(path, password=password)
    _idle(qtbot, win)
    return win.case


def test_surgeon_day(fresh_window, qtbot, shared_data, tmp_path):
    win = fresh_window
    win.open_path(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz")
    _idle(qtbot, win)
    assert win.imaging.slices_dock.isVisible()
    # Segment bone and make its surface.
    win.imaging.segment_action.trigger()
    seg = win.imaging.segment
    seg.preset.setCurrentText("bone")
    seg.triangles.setValue(20_000)
    n = len(win.case.scene)
    _click(qtbot, seg.create)
    qtbot.waitUntil(lambda: len(win.case.scene) == n + 1, timeout=120_000)
    _idle(qtbot, win)
    bone = list(win.case.scene)[-1]
    assert bone.kind == "surface" and bone.data.n_cells > 1000
    # Place a pedicle screw along a trajectory into the bone and fit it.
    place = win.place
    place.set_role(bone.name, "host", 1.0)
    place.family_combo.setCurrentIndex(place.family_combo.findData("pedicle_screw"))
    place.catalogue.select_size({"diameter": 5.5, "length": 40.0})
    pts = np.asarray(bone.data.points)
    centre = pts.mean(axis=0)
    nearest = pts[np.argmin(np.linalg.norm(pts - centre, axis=1))]
    place.set_trajectory(tuple(nearest + [0, 0, 30.0]), tuple(nearest))
    n = len(win.case.scene)
    _click(qtbot, place.add_button)  # the button that once received its 'checked' flag
    assert len(win.case.scene) == n + 1
    screw = place.device_obj
    assert screw.kind == "device"
    _click(qtbot, place.prepare_button)
    _idle(qtbot, win)
    assert place.scene is not None and place.last is not None
    _click(qtbot, place.fit_button)
    _idle(qtbot, win)
    fitted = screw.transform.copy()
    assert place.last is not None and "Verdict" in place.reasons.text()
    # A point markup on the bone, as a surgeon notes an entry point.
    from sim.markups.model import Markup

    win.case.markups.add(Markup("entry", "point", points=(tuple(nearest),)))
    # Save encrypted; reopen; everything is as it was.
    names = [o.name for o in win.case.scene]
    plan = {"roles": place._structure_roles(), "entry": [s.value() for s in place.entry],
            "target": [s.value() for s in place.target],
            "family": place.family_combo.currentData(), "size": place.catalogue.current_size()}
    case = _reopen(qtbot, win, tmp_path / "plan.twin", password="correct horse")
    assert b"Bone" not in (tmp_path / "plan.twin").read_bytes()
    assert [o.name for o in case.scene] == names
    np.testing.assert_allclose(case.scene[screw.name].transform, fitted, atol=1e-9)
    assert [m.name for m in case.markups] == ["entry"]
    assert place._structure_roles() == plan["roles"]
    assert plan["roles"][bone.uid]["role"] == "host"
    assert [s.value() for s in place.entry] == plan["entry"]
    assert [s.value() for s in place.target] == plan["target"]
    assert place.family_combo.currentData() == plan["family"]
    assert place.catalogue.current_size() == plan["size"]
    assert place.device_obj is not None and place.device_obj.name == screw.name


def test_engineer_day(fresh_window, qtbot, shared_data, tmp_path):
    from sim.geometry.rigid import apply_transform
    from tests.sim.idler_riser import sample_surface

    win = fresh_window
    win.open_path(shared_data / "factory" / "plate_holes.STL")
    _idle(qtbot, win)
    part = next(iter(win.case.scene))
    assert part.data.n_cells > 100
    # Analyse: push the part with a probe in the interactive simulation.
    sim = win.simulate
    sim.material_combo.setCurrentText("Custom…")
    sim.e_spin.setValue(10.0)
    sim.fix_mode.setCurrentText("Box")
    sim.fix_axis.setCurrentText("z min")
    sim.fix_depth.setValue(20)
    probe = sim.add_instrument("probe")
    sim.prepare(then_start=False)
    qtbot.waitUntil(lambda: sim.loop is not None, timeout=240_000)
    sim.step()
    qtbot.waitUntil(lambda: sim.loop.latest.step >= 1, timeout=30_000)
    assert sim.loop.error is None and probe in sim.loop.latest.poses
    sim.end()
    # A scan of the part arrives 1 mm off and slightly turned: add it, register, measure.
    pts, _normals = sample_surface(part.data, 30_000, seed=5)
    slip = np.eye(4)
    c, s_ = np.cos(np.radians(2.0)), np.sin(np.radians(2.0))
    slip[:2, :2] = [[c, -s_], [s_, c]]
    slip[:3, 3] = (0.8, -0.5, 0.3)
    scan_file = tmp_path / "scan.ply"
    pv.PolyData(apply_transform(slip, pts)).save(scan_file)
    win.add_path(scan_file)
    _idle(qtbot, win)
    scan = win.case.scene["scan"]
    insp = win.inspect
    insp.moving_combo.setCurrentIndex(insp.moving_combo.findData(scan.uid))
    insp.fixed_combo.setCurrentIndex(insp.fixed_combo.findData(part.uid))
    insp.method_combo.setCurrentIndex(0)  # the default: global registration, then ICP
    insp.register()
    _idle(qtbot, win)
    assert np.allclose(scan.transform @ slip, np.eye(4), atol=0.05)
    insp.tolerance.setValue(0.2)
    insp.measure()
    _idle(qtbot, win)
    assert insp.result is not None and insp.result.stats.within_pct > 95.0
    registered = scan.transform.copy()
    case = _reopen(qtbot, win, tmp_path / "inspection.twin")
    np.testing.assert_allclose(case.scene["scan"].transform, registered, atol=1e-9)
    assert {o.name for o in case.scene} >= {part.name, "scan"}


def test_trainee_day(fresh_window, qtbot, demo_case_dir, tmp_path):
    win = fresh_window
    win.open_path(demo_case_dir)
    _idle(qtbot, win)
    panel = win.rehearse
    panel.build()
    assert panel.scenario is not None and win.has_unsaved_changes()
    panel.start()
    qtbot.waitUntil(lambda: panel.loop is not None, timeout=180_000)
    for _ in range(len(panel.scenario.steps)):
        _click(qtbot, panel.next_button)
        qtbot.wait(300)
    qtbot.waitUntil(lambda: panel.loop is None, timeout=30_000)
    attempt = panel.attempts[0]
    assert attempt.scores is not None or attempt.metrics
    visible = {o.uid: o.visible for o in win.case.scene}
    assert win.has_unsaved_changes()  # the attempt is kept in the case
    review = panel.review()
    review.timeline.setValue(1)
    qtbot.wait(200)
    review.osats_spins["Respect for tissue"].setValue(3)
    review.save_rating()
    review.close()
    qtbot.waitUntil(lambda: panel.replay_display is None, timeout=10_000)
    assert {o.uid: o.visible for o in win.case.scene} == visible
    scenario = panel.scenario
    case = _reopen(qtbot, win, tmp_path / "training.twin")
    assert case.sections.get("rehearsal") is not None  # the scenario is saved in the case
    assert len(panel.attempts) == 1 and panel.attempts[0].osats == {"Respect for tissue": 3}
    assert panel.attempts[0].scores == attempt.scores
    assert panel.scenario is not None and \
        [s.title for s in panel.scenario.steps] == [s.title for s in scenario.steps]

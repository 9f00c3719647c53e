"""The Rehearse panel: build a scenario from the demo plan, run a guided attempt, review it."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def rehearse_window(qtbot, demo_case_dir):
    from sim.io import load
    from viewer.main_window import MainWindow

    win = MainWindow()
    win.resize(1200, 800)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.set_case(load(demo_case_dir))
    yield win
    win.rehearse.shutdown()
    if win.task is not None:
        win.task.cancel()
        win.task.wait()


def test_guided_attempt_review_and_report(rehearse_window, qtbot, tmp_path):
    win = rehearse_window
    panel = win.rehearse
    sc = panel.build()
    assert sc is not None and "rehearsal" in win.case.sections
    dialog = panel.edit()
    dialog.weight_spins["idle_s"].setValue(0.0)
    assert dialog.apply() is not None and panel.scenario.weights["idle_s"] == 0.0
    data = json.loads(dialog.editor.toPlainText())
    data["steps"] = []
    dialog.editor.setPlainText(json.dumps(data))
    assert dialog.apply() is None and "steps" in dialog.message.text()
    dialog.close()

    panel.start()
    qtbot.waitUntil(lambda: panel.loop is not None, timeout=120_000)
    assert "Retract the liver" in panel.step_label.text()
    # Only the step's objects are shown: the vertebra and the screw are hidden in step 1.
    vert = win.case.scene["Vertebra L1"]
    assert not any(a.GetVisibility() for a in win.view.renderer.adapters[vert.uid].actors)
    x, y0, z = panel.scenario.setup.instruments[0]["pose"]["position"]
    panel.post({"type": "pose", "instrument": "retractor",
                "pose": {"position": [x, y0 + 20, z], "direction": [0, 0, 1]}})
    qtbot.waitUntil(lambda: panel.session.tracker.current.path_mm > 19, timeout=20_000)
    panel.next_step()
    qtbot.waitUntil(lambda: "Place the Pedicle" in panel.step_label.text(), timeout=20_000)
    plan = panel.scenario.devices[0]
    panel.post({"type": "device", "device": plan.name, "pose": plan.planned_pose.tolist()})
    panel.next_step()
    qtbot.waitUntil(lambda: panel.loop is None, timeout=20_000)  # the last step ends it
    assert len(panel.attempts) == 1
    attempt = panel.attempts[0]
    assert [s["id"] for s in attempt.scores["steps"]] == ["retract", "place-1"]
    assert attempt.metrics["steps"][1]["entry_mm"] == pytest.approx(0.0, abs=1e-9)
    assert any(a.GetVisibility() for a in win.view.renderer.adapters[vert.uid].actors)

    review = panel.review()
    assert review.table.columnCount() == 2
    review.osats_spins["Respect for tissue"].setValue(4)
    review.save_rating()
    assert attempt.osats == {"Respect for tissue": 4}
    out = tmp_path / "report.html"
    panel.write_report(attempt, out)
    qtbot.waitUntil(lambda: win.task is None, timeout=120_000)
    text = out.read_text()
    assert "Respect for tissue" in text and text.count("data:image/png;base64,") >= 3
    review.grab().save(str(tmp_path / "review.png"))
    win.grab().save("/tmp/rh/window.png")
    review.grab().save("/tmp/rh/review.png")

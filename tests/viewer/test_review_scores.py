"""The Review dialog explains every score, re-scores old attempts on request, shows a trainee's
learning curve against the instructor's threshold and the cohort table (CSV), in the real
window on the demo case."""

from __future__ import annotations

import copy
import csv
import os
from pathlib import Path

from PyQt6.QtCore import Qt

from sim.progress import no_progress
from sim.rehearsal.attempt import ATTEMPTS_SECTION, Attempt, run_script, script_from_dict
from tests.sim.rehearsal.skill_levels import skill_script
from tests.viewer.test_rehearse_panel import rehearse_window  # noqa: F401


def _cells(table, col: int) -> list[str]:
    return [table.item(r, col).text() if table.item(r, col) else ""
            for r in range(table.rowCount())]


def _shot(widget, name: str, tmp_path: Path) -> Path:
    """Save what the user sees (also into $REVIEW_SCREENSHOT_DIR when set)."""
    out = tmp_path / name
    assert widget.grab().save(str(out))
    extra = os.environ.get("REVIEW_SCREENSHOT_DIR")
    if extra:
        widget.grab().save(str(Path(extra) / name))
    return out


def test_review_explains_rescores_and_tracks_learning(rehearse_window, qtbot,  # noqa: F811
                                                      tmp_path):
    win, panel = rehearse_window, rehearse_window.rehearse
    sc = panel.build()
    world = panel._world(no_progress)  # what Start attempt builds

    def run(level, trainee, created):
        a = run_script(world, script_from_dict(sc, skill_script(sc, level, world,
                                                                trainee=trainee)))
        a.created = created
        return a

    idle = run("idle", "A. Resident", "2025-03-02T09:00:00+00:00")
    expert = run("expert", "A. Resident", "2025-03-03T09:00:00+00:00")
    again = copy.deepcopy(expert)
    again.created = "2025-03-04T09:00:00+00:00"
    novice = run("novice", "B. Student", "2025-03-02T10:00:00+00:00")
    # An attempt from before completion gating, kept in the case: 91.7 for doing nothing.
    old = idle.to_dict()
    old.update(version=1, created="2025-03-01T09:00:00+00:00",
               scores={"score": 91.7, "passed": False, "within_time_limit": True,
                       "steps": [{k: v for k, v in s.items() if k not in ("explain",
                                                                           "completed")}
                                 for s in idle.scores["steps"]]})
    win.case.sections[ATTEMPTS_SECTION] = [old]
    panel.set_case(win.case)  # the case as it was opened
    assert [a.formula for a in panel.attempts] == [1]
    panel.attempts += [idle, expert, again, novice]
    panel.keep_attempts("Attempts")
    panel.world = world
    review = panel.review()
    qtbot.waitExposed(review)

    # The old attempt says which formula scored it and waits to be asked.
    scores = _cells(review.table, 0).index("Score")
    assert review.table.item(scores, 1).text() == "91.7 (formula 1)"
    review.select(0)
    assert "old scoring formula 1" in review.costs_label.text()
    assert review.explain_table.rowCount() == 0
    assert review.rescore_button.isEnabled() and "Re-score 1" in review.rescore_button.text()
    qtbot.mouseClick(review.rescore_button, Qt.MouseButton.LeftButton)
    assert "#1: Re-scored with scoring formula 2: 0.0 / 100, failed (was 91.7 with formula 1)" \
        in review.message.text()
    assert review.table.item(scores, 1).text() == "0.0"
    assert win.case.sections[ATTEMPTS_SECTION][0]["scores"]["formula"] == 2
    assert not review.rescore_button.isEnabled()
    review.select(0)
    assert "Re-scored with formula 2 (was 91.7 with formula 1)" in review.costs_label.text()

    # Every step of the novice's attempt: criteria and metrics, measured, band, points.
    review.select(4)
    text = review.costs_label.text()
    assert f"{novice.scores['score']:.1f} / 100, failed" in text
    assert "contact with the Aorta" in text and "damage to the Liver" in text
    head = [review.explain_table.horizontalHeaderItem(c).text() for c in range(7)]
    assert head == ["Step", "Criterion / metric", "Measured", "Points", "Lost", "Band", "Note"]
    rows = [dict(zip(head, (review.explain_table.item(r, c).text() for c in range(7)),
                     strict=True)) for r in range(review.explain_table.rowCount())]
    aorta = next(r for r in rows if r["Criterion / metric"] == "contact with the Aorta")
    assert aorta["Measured"] == "1 contact(s)" and aorta["Band"] == "-30 a contact"
    assert aorta["Points"] == "-30.0" and aorta["Lost"] == "-30.0"
    retract = next(r for r in rows if r["Criterion / metric"] == "retract by at least 15 mm")
    assert retract["Points"] == "+60.0" and "partial credit" in retract["Band"]
    assert retract["Measured"] == f"{novice.metrics['steps'][0]['peak_displacement_mm']:.1f} mm"
    totals = [r for r in rows if r["Criterion / metric"] == "Step score"]
    assert [t["Points"] for t in totals] == [f"{s['score']:.1f}"
                                             for s in novice.scores["steps"]]
    # The view shows the points without scrolling sideways.
    table = review.explain_table
    assert table.columnViewportPosition(4) + table.columnWidth(4) <= table.viewport().width()
    review.tabs.setCurrentIndex(0)
    shot = _shot(review, "review-score-explained.png", tmp_path)
    assert shot.stat().st_size > 20_000

    # Learning curve: A's attempts in time order, the threshold set from the expert's.
    review.tabs.setCurrentIndex(1)
    assert [review.trainee_combo.itemText(i) for i in range(review.trainee_combo.count())] == [
        "A. Resident", "B. Student"]
    review.trainee_combo.setCurrentIndex(0)
    assert "proficient at attempt 4" in review.curve_label.text()  # default: 80, twice
    review.runs_spin.setValue(3)  # three in a row: not yet
    review.apply_threshold()
    assert "not yet proficient" in review.curve_label.text()
    assert panel.scenario.proficiency == {"score": 80.0, "consecutive": 3}
    review.runs_spin.setValue(2)
    review.select(2)
    review.threshold_from_selected()  # the expert's level
    want = int(10 * expert.scores["score"]) / 10
    assert panel.scenario.proficiency == {"score": want, "consecutive": 2}
    assert win.case.sections["rehearsal"]["scoring"]["proficiency"]["score"] == want
    assert "proficient at attempt 4" in review.curve_label.text()
    assert f"at least {want:g} / 100" in review.curve_label.text()
    assert "Score +" in review.curve_label.text() and "(improving)" in review.curve_label.text()
    assert panel.world is world  # the threshold does not rebuild the simulation
    curve = review.curve()
    assert curve.series["score"] == [0.0, 0.0, expert.scores["score"], expert.scores["score"]]
    shot = _shot(review, "review-learning-curve.png", tmp_path)
    assert shot.stat().st_size > 20_000

    # Cohort: a row per trainee, exported as CSV.
    review.tabs.setCurrentIndex(2)
    assert _cells(review.cohort_table, 0) == ["A. Resident", "B. Student"]
    assert _cells(review.cohort_table, 7) == ["4", "–"]
    out = review.export_cohort(tmp_path / "cohort.csv")
    table = list(csv.DictReader(out.open()))
    assert [r["trainee"] for r in table] == ["A. Resident", "B. Student"]
    assert table[0]["attempts_to_proficiency"] == "4" and table[1]["proficient"] == "no"
    assert float(table[1]["last_score"]) == novice.scores["score"]
    _shot(review, "review-cohort.png", tmp_path)
    # The stored attempts read back as they are shown.
    assert [Attempt.from_dict(d).scores["score"]
            for d in win.case.sections[ATTEMPTS_SECTION]] == [
        a.scores["score"] for a in panel.attempts]
    review.close()

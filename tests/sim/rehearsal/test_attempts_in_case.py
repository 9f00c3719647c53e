"""Attempts are kept in the case: saved, reopened, undoable, a bad entry skipped."""

from __future__ import annotations

from sim.model import Case
from sim.model.case_io import load_case, save_case
from sim.rehearsal.attempt import ATTEMPTS_SECTION, Attempt, attempts_from_case, store_attempts


def _attempt(score: float) -> Attempt:
    return Attempt("demo", "sd", "md", 0.01, 3,
                   [{"type": "next", "step": 1, "time": 0.01}], trainee="A. Trainee",
                   scores={"score": score, "passed": False, "steps": []},
                   osats={"Respect for tissue": 4})


def test_attempts_round_trip_through_a_saved_case(tmp_path):
    case = Case(name="training")
    assert store_attempts(case, [_attempt(42.0), _attempt(77.5)], "Attempts")
    assert not case.history.is_clean
    again = load_case(save_case(case, tmp_path / "t.twin"))
    got = attempts_from_case(again)
    assert [a.scores["score"] for a in got] == [42.0, 77.5]
    assert got[1].osats == {"Respect for tissue": 4} and got[0].trainee == "A. Trainee"
    case.history.undo()
    assert attempts_from_case(case) == []


def test_a_damaged_attempt_is_skipped_not_fatal(caplog):
    case = Case(name="training")
    good = _attempt(50.0).to_dict()
    case.sections[ATTEMPTS_SECTION] = [{"format": "something else"}, good]
    got = attempts_from_case(case)
    assert len(got) == 1 and got[0].scores["score"] == 50.0
    assert "attempt 1 stored in the case is invalid" in caplog.text

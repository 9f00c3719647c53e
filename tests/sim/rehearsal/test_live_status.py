"""During an attempt the trainee sees the step's criteria met or not (by the same rules as the
final score), its limits and the time left; a failed step says why (issue #20)."""

from __future__ import annotations

from sim.rehearsal.attempt import attempt_from_session, run_events, script_from_dict
from sim.rehearsal.live_status import status_html, step_status, why_failed
from tests.sim.rehearsal.conftest import retraction_script


def _run(world, scenario, push_to_y):
    script = script_from_dict(scenario, retraction_script(scenario, push_to_y))
    seen = []
    session = run_events(world, script.steps, script.events,
                         on_step=lambda s: seen.append(step_status(s)))
    return session, seen


def test_criteria_turn_green_live_and_the_clock_runs_down(demo_world, demo_scenario):
    session, seen = _run(demo_world, demo_scenario, -48.0)
    first = [s for s in seen if s["step"] == 1]
    retraction = demo_scenario.steps[0].criteria[0].describe()
    assert first[0]["criteria"][0] == {"criterion": retraction, "passed": False,
                                       "measured": first[0]["criteria"][0]["measured"]}
    assert any(c["passed"] for s in first for c in s["criteria"]
               if c["criterion"] == retraction)  # met once pushed 20 mm
    limit = demo_scenario.steps[0].time_limit_s
    assert first[0]["time_limit_s"] == limit
    assert first[-1]["remaining_s"] < first[0]["remaining_s"] <= limit
    assert first[-1]["remaining_s"] == limit - first[-1]["time_s"]
    text = status_html(first[-1])
    assert "✔" in text and retraction in text and "left</span> of" in text
    second = [s for s in seen if s["step"] == 2]
    assert second and second[0]["title"].startswith("Place the")
    assert "entry within 2" in " ".join(c["criterion"] for c in second[0]["criteria"]) or \
        any("entry" in c["measured"] or "placed" in c["measured"] for c in second[0]["criteria"])
    attempt = attempt_from_session(session, "T")
    assert attempt.scores["passed"] and why_failed(attempt.scores) == []


def test_a_failed_step_says_why(demo_world, demo_scenario):
    x, y0, z = demo_scenario.setup.instruments[0]["pose"]["position"]
    session, _ = _run(demo_world, demo_scenario, y0 - 4.0)  # a timid 4 mm push
    attempt = attempt_from_session(session, "T")
    assert not attempt.scores["passed"]
    reasons = why_failed(attempt.scores)
    assert reasons and reasons[0].startswith("Step 1 '")
    assert "retract by at least 15 mm" in reasons[0] and "measured:" in reasons[0]
    assert "mm" in reasons[0].split("measured:")[1]


def test_over_time_shows_red_and_negative():
    status = {"criteria": [], "remaining_s": -5.0, "time_limit_s": 60.0,
              "attempt_remaining_s": 200.0, "attempt_limit_s": 300.0}
    text = status_html(status)
    assert "#c0392b" in text and "0:05</b> over by" in text and "3:20</b> left" in text

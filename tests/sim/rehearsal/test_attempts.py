"""Scripted attempts on the demo case: pass, touch the aorta, over-retract, replay, score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.rehearsal.attempt import (
    Attempt,
    read_attempt,
    replay,
    run_script,
    save_attempt,
    script_from_dict,
)
from sim.rehearsal.scoring import band_score, score_attempt
from tests.sim.rehearsal.conftest import retraction_script


def test_good_attempt_passes_every_step_with_high_scores(good_attempt):
    s = good_attempt.scores
    assert s["passed"] and all(step["passed"] for step in s["steps"])
    assert s["score"] >= 90 and all(step["score"] >= 90 for step in s["steps"])
    retract, place = good_attempt.metrics["steps"]
    assert 15.0 <= retract["peak_displacement_mm"] < 30.0
    assert retract["damage_time_s"] == 0.0 and retract["critical_contacts"] == 0
    assert retract["peak_force_n"] > 0.5  # the retractor really pushed on the liver
    assert retract["path_mm"] == pytest.approx(29.04, abs=0.5)  # start -> push, one movement
    assert retract["movements"] == 1 and retract["time_s"] == pytest.approx(3.5)
    assert place["entry_mm"] == pytest.approx(0.0, abs=1e-9)
    assert place["angle_deg"] == pytest.approx(0.0, abs=1e-6)
    # Steered 10 mm aside onto the trajectory, then driven 40 mm down it.
    assert place["path_mm"] == pytest.approx(50.0, abs=1e-6)
    # Key frames: the start and the end of each step, with state digests for replay checks.
    assert [k["label"] for k in good_attempt.keyframes] == ["start", "end of retract",
                                                             "end of place-1"]


def test_touching_the_aorta_fails_that_step(demo_world, demo_scenario):
    x, y0, _z = demo_scenario.setup.instruments[0]["pose"]["position"]
    # Under the liver, across to the aorta (x 11..33, y 7..29 mm) and against its front wall,
    # then back and on with the retraction.
    detour = [(1.0, [x, y0, -80.0]), (2.5, [22.0, -10.0, -80.0]), (3.5, [22.0, 9.0, -80.0]),
              (4.5, [22.0, -10.0, -80.0]), (5.5, [x, y0, -80.0]),
              (6.5, [x, y0, demo_scenario.setup.instruments[0]["pose"]["position"][2]])]
    attempt = run_script(demo_world, script_from_dict(
        demo_scenario, retraction_script(demo_scenario, -48.0, detour)))
    retract, place = attempt.scores["steps"]
    assert not retract["passed"] and not attempt.scores["passed"]
    failed = [c["criterion"] for c in retract["checks"] if not c["passed"]]
    assert "do not touch the Aorta" in failed and "no damage to the Aorta" in failed
    assert attempt.metrics["steps"][0]["contacts"] == {"Aorta": 1}
    assert retract["metric_scores"]["critical_contacts"] == 0.0
    assert place["passed"]  # only the step where it happened fails
    ev = [e for e in attempt.metrics["events"] if e["structure"] == "Aorta"]
    assert len(ev) == 1 and ev[0]["by"] == "retractor" and 2.5 < ev[0]["time"] <= 3.5


def test_over_retraction_registers_damage_time(demo_world, demo_scenario, good_attempt):
    attempt = run_script(demo_world, script_from_dict(
        demo_scenario, retraction_script(demo_scenario, -30.0)))
    retract = attempt.metrics["steps"][0]
    assert retract["peak_displacement_mm"] > 30.0
    assert retract["damage_time_s"] > 0.2 and retract["damage_volume_mm3"] > 0.0
    assert retract["peak_von_mises_kpa"] > 8.0 > good_attempt.metrics["steps"][0][
        "peak_von_mises_kpa"]
    step = attempt.scores["steps"][0]
    assert not step["passed"]
    assert {"no tissue above the damage threshold", "no damage to the Liver"} <= {
        c["criterion"] for c in step["checks"] if not c["passed"]}
    assert step["score"] < good_attempt.scores["steps"][0]["score"]
    assert any(e["kind"] == "damage" and e["structure"] == "Liver"
               for e in attempt.metrics["events"])


def test_replay_reproduces_the_recorded_metrics_exactly(demo_world, good_attempt, tmp_path):
    path = save_attempt(good_attempt, tmp_path / "attempt.json")
    loaded = read_attempt(path)
    first = replay(demo_world, loaded)
    assert first.matches
    assert json.loads(json.dumps(first.metrics)) == json.loads(json.dumps(good_attempt.metrics))
    assert first.scores == score_attempt(demo_world.scenario, loaded.metrics)
    second = replay(demo_world, loaded)
    assert second.scores == first.scores  # the same attempt, the same scores
    assert [k["state"] for k in second.session.keyframes] == [
        k["state"] for k in good_attempt.keyframes]
    # A tampered recording is detected: its metrics no longer match the replay.
    data = loaded.to_dict()
    data["metrics"]["steps"][0]["path_mm"] += 1.0
    assert not replay(demo_world, Attempt.from_dict(data)).matches


def test_attempt_file_is_compact(good_attempt, tmp_path):
    size = save_attempt(good_attempt, tmp_path / "a.json").stat().st_size
    per_second = size / good_attempt.metrics["total"]["time_s"]
    assert per_second < 20_000  # bytes per simulated second, with a pose event every step


def test_band_formula():
    assert band_score(1.0, 2.0, 10.0) == 100.0
    assert band_score(6.0, 2.0, 10.0) == 50.0
    assert band_score(12.0, 2.0, 10.0) == 0.0


def test_instrument_out_of_play_is_refused(demo_world, demo_scenario):
    from sim.errors import InputError

    session = demo_world.session()
    plan = demo_scenario.devices[0]
    with pytest.raises(InputError, match="not placed in step"):
        session.apply({"type": "device", "device": plan.name, "pose": plan.planned_pose})
    session.apply({"type": "next"})
    with pytest.raises(InputError, match="not in play"):
        session.apply({"type": "pose", "instrument": "retractor",
                       "pose": {"position": [0, 0, 0]}})


def test_replay_continued_forward_equals_a_run_from_the_start(demo_world, good_attempt):
    """The review timeline scrubs forward by continuing the last replay: same state exactly."""
    from sim.errors import InputError
    from sim.rehearsal.attempt import run_events

    events = good_attempt.events_by_step()
    mid, end = good_attempt.steps // 3, good_attempt.steps - 5
    session = run_events(demo_world, mid, events)
    assert session.step_index == mid
    run_events(demo_world, end, events, session=session)
    fresh = run_events(demo_world, end, events)
    assert session.state_digest() == fresh.state_digest()
    assert session.step_number == fresh.step_number == 1
    assert all(np.array_equal(session.device_poses[k], fresh.device_poses[k])
               for k in fresh.device_poses)
    snap = session.snapshot()
    assert set(snap.device_poses) == set(fresh.device_poses)  # devices drawn from snapshots
    with pytest.raises(InputError, match="forward"):
        run_events(demo_world, mid, events, session=session)

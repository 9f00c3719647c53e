"""The screw starts off its plan: pressing Advance alone fails the step, steering passes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.rehearsal.attempt import attempt_from_session, run_events, run_script, script_from_dict
from sim.rehearsal.live_status import step_status
from sim.rehearsal.metrics import device_accuracy
from sim.rehearsal.scenario import DevicePlan, Scenario
from tests.sim.rehearsal.conftest import retraction_script


def test_built_start_is_back_aside_and_tilted(demo_scenario, demo_case):
    plan = demo_scenario.devices[0]
    start, planned = np.asarray(plan.start_pose), plan.planned_pose
    d = start[:3, 3] - planned[:3, 3]
    # Measured in the plan's frame: 40 mm back along the axis, 10 mm aside, none up/down.
    assert -d @ planned[:3, 2] == pytest.approx(40.0, abs=1e-9)
    assert np.linalg.norm(d - (d @ planned[:3, 2]) * planned[:3, 2]) == pytest.approx(10.0,
                                                                                      abs=1e-9)
    cos = start[:3, 2] @ planned[:3, 2]
    assert math.degrees(math.acos(cos)) == pytest.approx(12.0, abs=1e-6)
    assert np.allclose(start[:3, :3].T @ start[:3, :3], np.eye(3), atol=1e-12)  # a rotation
    assert np.linalg.det(start[:3, :3]) == pytest.approx(1.0)
    assert plan.start_offsets() == pytest.approx((40.0, 10.0, 12.0))
    # Deterministic (built again: the same pose) and saved as it is.
    from sim.rehearsal.builder import build_scenario

    assert build_scenario(demo_case).devices[0].start_pose == plan.start_pose
    assert DevicePlan.from_dict(plan.to_dict(), "d").start_pose == plan.start_pose


def test_old_scenario_on_the_trajectory_still_loads(demo_scenario):
    data = demo_scenario.to_dict()
    plan = demo_scenario.devices[0]
    old = plan.planned_pose
    old[:3, 3] -= 40.0 * old[:3, 2]  # a scenario from before: held back only
    data["devices"][0]["start_pose"] = old.tolist()
    loaded = Scenario.from_dict(data).devices[0]
    assert np.allclose(loaded.start_pose, old) and loaded.start_offsets() == (40.0, 0.0, 0.0)
    del data["devices"][0]["start_pose"]
    assert Scenario.from_dict(data).devices[0].start_offsets() == (0.0, 0.0, 0.0)
    odd = np.eye(4)  # any other start pose is custom
    data["devices"][0]["start_pose"] = odd.tolist()
    assert Scenario.from_dict(data).devices[0].start_offsets() is None


def _advance_only(scenario, mm: float = 40.0) -> dict:
    """Retract well, then press Advance (1 mm along the device's own axis) ``mm`` times."""
    script = retraction_script(scenario, -48.0)
    plan = scenario.devices[0]
    acts = [a for a in script["actions"] if "device" not in a]
    start = np.asarray(plan.start_pose, float)
    t0 = next(a["t"] for a in acts if a.get("next"))
    pushed = start.copy()
    pushed[:3, 3] += mm * start[:3, 2]
    acts = acts[:-1] + [{"t": t0, "device": plan.name, "pose": start.tolist()},
                        {"t": t0 + 2.5, "device": plan.name, "pose": pushed.tolist()},
                        {"t": t0 + 3.0, "next": True}]
    return {"trainee": "Advance only", "actions": acts}


def test_pressing_advance_only_fails_the_screw_step(demo_world, demo_scenario):
    plan = demo_scenario.devices[0]
    attempt = run_script(demo_world, script_from_dict(demo_scenario,
                                                      _advance_only(demo_scenario)))
    retract, place = attempt.scores["steps"]
    assert retract["passed"] and not place["passed"] and not attempt.scores["passed"]
    check = next(c for c in place["checks"] if "on the planned trajectory" in c["criterion"])
    assert not check["passed"]
    assert check["criterion"] == (f"{plan.name} on the planned trajectory within 2 mm at the "
                                  "entry, 5 degrees")
    # Independent geometry: 40 mm along an axis tilted 12 degrees from 10 mm aside ends
    # 10 + 40 sin 12 = 18.32 mm aside and 40 (1 - cos 12) = 0.87 mm short.
    aside, short = 10 + 40 * math.sin(math.radians(12)), 40 * (1 - math.cos(math.radians(12)))
    entry = math.hypot(aside, short)
    assert f"entry {entry:.2f} mm, angle 12.00°" in check["measured"], check
    acc = attempt.metrics["steps"][1]["accuracy"][plan.name]
    assert acc["entry_mm"] == pytest.approx(entry, abs=1e-6)
    assert acc["angle_deg"] == pytest.approx(12.0, abs=1e-6)


def test_steering_onto_the_plan_passes(good_attempt, demo_scenario):
    plan = demo_scenario.devices[0]
    place = good_attempt.scores["steps"][1]
    assert place["passed"] and place["score"] >= 90
    acc = good_attempt.metrics["steps"][1]["accuracy"][plan.name]
    assert acc["entry_mm"] == pytest.approx(0.0, abs=1e-9)
    assert acc["angle_deg"] == pytest.approx(0.0, abs=1e-6)
    # Scoring of an on-plan end is as before: the accuracy of the planned pose itself.
    assert device_accuracy(plan, plan.planned_pose, 50.0) == pytest.approx(
        {"entry_mm": 0.0, "angle_deg": 0.0, "tip_mm": 0.0}, abs=1e-6)


def test_live_status_shows_the_screw_off_then_on_plan(demo_world, demo_scenario):
    """While steering, the step's on-plan check is live: off at the start (10 mm aside,
    12 degrees), met once the screw is on the plan - the same rule the final score uses."""
    script = script_from_dict(demo_scenario, retraction_script(demo_scenario, -48.0))
    seen = []
    session = run_events(demo_world, script.steps, script.events,
                         on_step=lambda s: seen.append(step_status(s)))
    on_plan = [next(c for c in s["criteria"] if "on the planned trajectory" in c["criterion"])
               for s in seen if s["step"] == 2]
    assert not on_plan[0]["passed"]
    # The anchor 40 mm back and 10 mm aside: hypot(40, 10) = 41.23 mm from the planned one.
    assert on_plan[0]["measured"].startswith(f"entry {math.hypot(40, 10):.2f} mm, angle 12.00°")
    assert on_plan[-1]["passed"] and on_plan[-1]["measured"].startswith("entry 0.00 mm")
    assert attempt_from_session(session, "T").scores["passed"]

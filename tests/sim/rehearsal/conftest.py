"""Rehearsal fixtures: the demo case's scenario and world, scripted attempts (built once)."""

from __future__ import annotations

import pytest

from sim.rehearsal.attempt import run_script, script_from_dict
from sim.rehearsal.builder import build_scenario
from sim.rehearsal.session import RehearsalWorld


def retraction_script(scenario, push_to_y: float, detour: list | None = None,
                      trainee: str = "Trainee") -> dict:
    """Push the retractor straight back to ``push_to_y`` (step 1), then steer the screw from
    its off-plan start onto the trajectory (turned and moved aside onto it, still held back)
    and drive it down to the plan (step 2). ``detour``: retractor keyframes before the push."""
    x, y0, z = scenario.setup.instruments[0]["pose"]["position"]
    plan = scenario.devices[0]

    def at(t, p):
        return {"t": t, "instrument": "retractor", "pose": {"position": p, "direction": [0, 0, 1]}}

    acts = [at(0.0, [x, y0, z])] + [at(t, p) for t, p in (detour or [])]
    t0 = detour[-1][0] if detour else 0.0
    acts += [at(t0 + 3.0, [x, push_to_y, z]), {"t": t0 + 3.5, "next": True},
             {"t": t0 + 3.5, "device": plan.name, "pose": plan.start_pose},
             {"t": t0 + 4.5, "device": plan.name, "pose": on_trajectory(plan)},
             {"t": t0 + 6.0, "device": plan.name, "pose": plan.planned_pose.tolist()},
             {"t": t0 + 6.5, "next": True}]
    return {"trainee": trainee, "actions": acts}


def on_trajectory(plan) -> list:
    """The plan's start pose steered onto the trajectory: aligned with it, as far back."""
    back = plan.start_offsets()[0]
    return plan.start_offset_pose(back).tolist()


@pytest.fixture(scope="module")
def demo_case(demo_case_dir):
    from sim.io import load

    return load(demo_case_dir)


@pytest.fixture(scope="module")
def demo_scenario(demo_case):
    return build_scenario(demo_case)


@pytest.fixture(scope="module")
def demo_world(demo_scenario, demo_case):
    return RehearsalWorld(demo_scenario, demo_case)


@pytest.fixture(scope="module")
def good_attempt(demo_world, demo_scenario):
    """Retract the liver by about 20 mm (threshold 15), then place the screw on plan."""
    return run_script(demo_world, script_from_dict(demo_scenario,
                                                   retraction_script(demo_scenario, -48.0)))

"""Rehearsal on a case built from TotalSegmentator's example label map (real anatomy)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.rehearsal.attempt import run_script, script_from_dict
from sim.rehearsal.builder import build_scenario
from sim.rehearsal.session import RehearsalWorld

ENTRY, TARGET = [22.0, -88.0, 130.3], [8.0, -128.0, 130.3]  # a left L1 pedicle screw plan
NAMES = {5: "Liver", 52: "Aorta", 31: "Vertebra L1", 79: "Spinal cord"}


@pytest.fixture(scope="module")
def spine_case(shared_data):
    from sim.devices import make, pose_on_trajectory
    from sim.imaging.surface import labelmap_to_surfaces
    from sim.io import load
    from sim.model import Case, ObjectKind, SceneObject

    seg = next(iter(load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz").scene)).data
    case = Case(name="TotalSegmentator example")
    for label, surf in labelmap_to_surfaces(seg, NAMES, smoothing_iterations=20).items():
        case.scene.add(SceneObject(NAMES[label], ObjectKind.SURFACE, surf))
    screw = make("pedicle_screw", diameter=5.5, length=40)
    obj = SceneObject(screw.label, ObjectKind.DEVICE, screw.mesh.copy(), metadata=screw.metadata())
    obj.transform = pose_on_trajectory(ENTRY, TARGET)  # as the Place panel aligns it
    case.scene.add(obj)
    return case


@pytest.fixture(scope="module")
def spine_world(spine_case):
    return RehearsalWorld(build_scenario(spine_case, edge_length=16.0), spine_case)


def _script(sc, dy: float, screw_pose) -> dict:
    x, y0, z = sc.setup.instruments[0]["pose"]["position"]
    plan = sc.devices[0]
    return {"actions": [
        {"t": 0.0, "instrument": "retractor", "pose": {"position": [x, y0, z], "direction": [0, 0, 1]}},
        {"t": 3.0, "instrument": "retractor", "pose": {"position": [x, y0 + dy, z], "direction": [0, 0, 1]}},
        {"t": 3.5, "next": True},
        {"t": 3.5, "device": plan.name, "pose": plan.start_pose},
        {"t": 6.0, "device": plan.name, "pose": screw_pose},
        {"t": 6.5, "next": True}]}


def test_builder_reads_the_plan_of_a_placed_screw(spine_world):
    sc = spine_world.scenario
    plan = sc.devices[0]
    assert np.allclose(plan.entry, ENTRY)
    axis = np.subtract(plan.target, plan.entry)
    want = np.subtract(TARGET, ENTRY)
    assert np.degrees(np.arccos(axis @ want / np.linalg.norm(axis) / np.linalg.norm(want))) < 1e-6
    assert {s.name for s in sc.structures} == {"Aorta", "Spinal cord", "Liver"}
    assert sc.body == "Liver" and [s.id for s in sc.steps] == ["retract", "place-1"]


def test_on_plan_attempt_passes_and_an_off_plan_screw_fails(spine_world):
    sc = spine_world.scenario
    plan = sc.devices[0]
    good = run_script(spine_world, script_from_dict(sc, _script(sc, 30.0, plan.planned_pose.tolist())))
    assert good.scores["passed"] and good.scores["score"] >= 90
    assert good.metrics["steps"][0]["peak_displacement_mm"] >= 15.0
    off = plan.planned_pose.copy()
    off[:3, 3] += 4.0 * off[:3, 0]  # 4 mm sideways
    bad = run_script(spine_world, script_from_dict(sc, _script(sc, 30.0, off.tolist())))
    place = bad.scores["steps"][1]
    assert not place["passed"] and bad.scores["steps"][0]["passed"]
    assert bad.metrics["steps"][1]["entry_mm"] == pytest.approx(4.0, abs=1e-6)
    assert place["metric_scores"]["entry_mm"] == pytest.approx(0.0)  # 4 mm is the bad end

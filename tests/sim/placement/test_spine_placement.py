"""A pedicle screw on L1 of a real TotalSegmentator label map: plan, fit, flag, size."""

import numpy as np
import pytest

from sim.devices import make, pose_on_trajectory
from sim.placement import RigidDevice, evaluate
from sim.placement.fit import fit_on_trajectory
from sim.placement.sizing import recommend_screw

from .conftest import ENTRY, TARGET


@pytest.fixture(scope="module")
def screw():
    return RigidDevice(make("pedicle_screw", diameter=5.5, length=40))


def test_surfaces_are_where_the_anatomy_is(spine_scene):
    lo = {s.name: s.field.bounds[0] for s in spine_scene.structures}
    hi = {s.name: s.field.bounds[1] for s in spine_scene.structures}
    mid = {k: (lo[k] + hi[k]) / 2 for k in lo}
    # LPS: +y is posterior. The cord lies behind the aorta; the aorta is on the left (+x) of the IVC.
    assert mid["spinal cord"][1] > mid["aorta"][1] + 30
    assert mid["aorta"][0] > mid["IVC"][0]
    # The cord runs through L1's canal: inside the vertebra's bounding box in x and y.
    assert np.all(lo["L1"][:2] < mid["spinal cord"][:2]) and np.all(mid["spinal cord"][:2] < hi["L1"][:2])


def test_fit_keeps_the_screw_in_bone_and_clear_of_cord_and_vessels(spine_scene, screw):
    # Start 3 mm too medial: inside the cord's margin and out of the pedicle.
    start = evaluate(spine_scene, screw, pose_on_trajectory(ENTRY + [-3, 0, 0], TARGET + [-3, 0, 0]))
    assert not start.safe
    assert start.result("spinal cord").clearance_mm < 2.0
    fit = fit_on_trajectory(spine_scene, screw, ENTRY + [-3, 0, 0], TARGET + [-3, 0, 0], seed=1)
    ev = fit.evaluation
    assert ev.safe, ev.violations
    bone = ev.result("L1")
    assert bone.purchase > 0.95 and bone.breach_mm <= 1.0
    for name in ("spinal cord", "aorta", "IVC"):
        r = ev.result(name)
        assert not r.collision and r.clearance_mm >= 2.0, (name, r.clearance_mm)
    assert ev.result("spinal cord").clearance_mm > start.result("spinal cord").clearance_mm + 1.0
    assert any("spinal cord: fixed" in r for r in fit.reasons), fit.reasons
    assert fit.reasons[-1] == "Verdict: safe."
    # The fitted pose really is what was reported (re-evaluated from scratch).
    again = evaluate(spine_scene, screw, fit.pose)
    assert again.result("spinal cord").clearance_mm == pytest.approx(
        ev.result("spinal cord").clearance_mm, abs=1e-12)


def test_a_screw_through_the_canal_is_flagged(spine_scene, screw):
    bad = evaluate(spine_scene, screw, pose_on_trajectory(ENTRY + [-6, 0, 0], TARGET + [-6, 0, 0]))
    cord = bad.result("spinal cord")
    assert cord.collision and cord.clearance_mm == 0.0
    assert cord.penetration_mm > 1.0 and cord.intersected_volume_mm3 > 10.0
    assert not bad.safe
    assert any(v.startswith("hits spinal cord") for v in bad.violations)
    assert any(v.startswith("leaves L1") for v in bad.violations)
    # The closest points of a hit are the deepest point and the surface point above it.
    assert np.linalg.norm(cord.device_point - cord.structure_point) == pytest.approx(
        cord.penetration_mm, abs=1e-6) or cord.penetration_mm > 0


def test_a_screw_driven_too_deep_leaves_the_bone(spine_scene):
    long_screw = RigidDevice(make("pedicle_screw", diameter=5.5, length=55))
    ev = evaluate(spine_scene, long_screw, pose_on_trajectory(ENTRY, TARGET, depth=15.0))
    assert ev.result("L1").breach_mm > 3.0
    assert any(v.startswith("leaves L1") for v in ev.violations)


def test_recommended_screw_is_the_largest_safe_one(spine_scene):
    rec = recommend_screw(spine_scene, ENTRY, TARGET, budget=150)
    assert rec.diameter is not None and rec.fit.evaluation.safe
    safe_at_corridor = [r for r in rec.table if r["safe"]]
    assert safe_at_corridor, "some size fits the fitted corridor"
    assert rec.diameter >= max(r["diameter_mm"] for r in safe_at_corridor)
    assert 4.5 <= rec.diameter <= 7.5 and 30 <= rec.length <= 55
    assert any("largest safe size" in r for r in rec.reasons)
    # The next size up was tried with its own fit and reported as not fitting.
    if rec.diameter < 7.5:
        assert any(f"{rec.diameter + 0.5:g} mm does not fit" in r for r in rec.reasons), rec.reasons

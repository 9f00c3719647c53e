"""Deviation statistics, tolerance bands, callouts, regions and sections."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.inspection.callouts import callouts_at, out_of_tolerance_regions
from sim.inspection.deviation import Tolerance, compute_deviation
from sim.inspection.sections import parse_plane, section, whiskers
from tests.sim.idler_riser import sample_surface

from .test_distance import brute_force_distance


def test_statistics_match_brute_force(idler_riser):
    pts, nrm = sample_surface(idler_riser, 400, seed=3)
    rng = np.random.default_rng(3)
    offsets = rng.normal(0.0, 0.15, len(pts))
    measured = pts + nrm * offsets[:, None]
    res = compute_deviation(measured, idler_riser, 0.2)
    from sim.inspection.distance import triangles_of

    v, f = triangles_of(idler_riser)
    unsigned = brute_force_distance(measured, v, f)
    np.testing.assert_allclose(np.abs(res.deviation), unsigned, atol=1e-9)
    # Offsets along the outward normal: the sign follows them (away from edges the
    # distance equals the offset itself).
    clear = np.abs(np.abs(res.deviation) - np.abs(offsets)) < 1e-9
    assert clear.mean() > 0.8
    assert (np.sign(res.deviation[clear]) == np.sign(offsets[clear])).all()
    d = res.deviation
    s = res.stats
    assert s.count == len(d) and s.unmatched == 0
    assert s.mean == pytest.approx(np.mean(d), abs=1e-12)
    assert s.std == pytest.approx(np.std(d), abs=1e-12)
    assert s.rms == pytest.approx(np.sqrt(np.mean(d ** 2)), abs=1e-12)
    assert (s.min, s.max) == (pytest.approx(d.min()), pytest.approx(d.max()))
    assert s.within_pct == pytest.approx(100 * np.mean(np.abs(d) <= 0.2))
    assert s.above_pct == pytest.approx(100 * np.mean(d > 0.2))
    assert s.below_pct == pytest.approx(100 * np.mean(d < -0.2))
    counts, edges = res.histogram(bins=20)
    assert counts.sum() == len(d) and len(edges) == 21


def _flat_spot(pts: np.ndarray, nrm: np.ndarray, radius: float) -> int:
    """A sample whose whole neighbourhood lies on one flat face (so the dent is whole)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(pts)
    for i in np.flatnonzero(nrm[:, 2] > 0.999)[::97]:
        near = tree.query_ball_point(pts[i], radius)
        if (nrm[near] @ nrm[i] > 0.999).all():
            return int(i)
    raise AssertionError("no flat spot on the part")


def test_injected_dent_is_flagged_exactly_there(idler_riser):
    pts, nrm = sample_surface(idler_riser, 300_000, seed=1)
    rng = np.random.default_rng(0)
    pts = pts + nrm * rng.normal(0, 0.02, (len(pts), 1))  # scanner noise, 20 um
    centre_idx = _flat_spot(pts, nrm, radius=3.5)
    centre, n0 = pts[centre_idx].copy(), nrm[centre_idx]
    r = np.linalg.norm(pts - centre, axis=1)
    depth = 0.5 * np.clip(1 - (r / 3.0) ** 2, 0, None)  # 0.5 mm deep, 3 mm radius
    pts -= nrm * depth[:, None]
    res = compute_deviation(pts, idler_riser, Tolerance.symmetric(0.2))
    flagged = np.flatnonzero(res.bands != 0)
    assert flagged.size > 0
    # Everything flagged is inside the dent, below tolerance, and the deepest flagged
    # point is at the dent's centre with its depth.
    assert (r[flagged] < 3.0).all()
    assert (res.bands[flagged] == -1).all()
    deep = (depth > 0.3) & (np.abs(pts @ n0 - centre @ n0) < 1.0)
    assert np.mean(res.bands[deep] == -1) > 0.99
    assert res.deviation.min() == pytest.approx(-0.5, abs=0.1)
    regions = out_of_tolerance_regions(res, link_distance=0.5)
    assert len(regions) == 1 and regions[0].status == "below"
    assert np.linalg.norm(regions[0].centroid - centre) < 0.5
    c_dent, c_far = callouts_at(res, [centre, pts[np.argmax(r)]])
    assert c_dent.status == "below" and c_dent.deviation == pytest.approx(-0.5, abs=0.1)
    assert c_far.status == "within"


def test_section_whiskers_follow_deviation():
    box = pv.Box(bounds=(0, 20, 0, 20, 0, 10)).triangulate().subdivide(3)
    rng = np.random.default_rng(5)
    top = np.column_stack([rng.uniform(1, 19, 2000), rng.uniform(1, 19, 2000),
                           np.full(2000, 10.0)])
    top[:, 2] += 0.3  # the measured top face is 0.3 mm high
    res = compute_deviation(top, box, 0.1)
    origin, normal = parse_plane("y=10", box.bounds)
    sec = section(res, box, origin, normal, thickness=1.0)
    assert len(sec.points) > 50 and len(sec.nominal_segments) >= 4
    np.testing.assert_allclose(sec.deviation, 0.3, atol=1e-9)
    tips = whiskers(sec, scale=10.0)
    np.testing.assert_allclose(np.linalg.norm(tips[:, 1] - tips[:, 0], axis=1), 3.0, atol=1e-9)
    with pytest.raises(InputError):
        parse_plane("q=3")


def test_bad_tolerance_and_empty_input():
    with pytest.raises(InputError):
        Tolerance(0.1, 0.2)
    with pytest.raises(InputError):
        compute_deviation(np.zeros((0, 3)), pv.Box().triangulate(), 0.1)

"""Vessel diameters along a path on SOFA's aneurysm surface, and stent sizing."""

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.placement.sizing import size_stent
from sim.placement.vessel import cross_section, vessel_profile

START, END = (-19.6, -16.0, -13.3), (-9.3, 2.5, -4.5)  # along the parent artery, before the sac

# Hand measurements: the parent artery runs along y near x = -19.6, z = -13. In a 0.8 mm
# slab of the surface at each y, the extreme vertices were read off and the calliper widths
# in x and z taken (e.g. at y = -11.6: x from -21.70 to -17.64, z from -15.42 to -10.92).
# The diameter is the mean of the two widths.
HAND = {-14.5: (3.96, 4.31), -11.6: (4.06, 4.51), -8.8: (3.89, 4.41)}


@pytest.fixture(scope="module")
def aneurysm(shared_data):
    from sim.io import load

    case = load(shared_data / "anatomy" / "sofa-aneurysm3D_1.off")
    return next(iter(case.scene)).data


@pytest.fixture(scope="module")
def profile(aneurysm):
    return vessel_profile(aneurysm, START, END, step=0.5)


def test_diameters_match_a_hand_measurement(profile):
    for y, widths in HAND.items():
        k = int(np.argmin(np.abs(profile.centers[:, 1] - y)))
        hand = float(np.mean(widths))
        assert profile.diameters[k] == pytest.approx(hand, rel=0.05), (y, profile.diameters[k], hand)
        assert profile.min_diameters[k] <= hand <= profile.max_diameters[k] + 0.1


def test_centre_line_stays_inside_and_follows_the_bend(profile, aneurysm):
    from sim.placement.field import SurfaceField

    sd, _ = SurfaceField(aneurysm).signed_distance(profile.centers)
    assert (sd < -1.0).all(), "the centre line keeps at least 1 mm from the wall"
    assert profile.length > np.linalg.norm(np.subtract(END, START)), "it bends, so it is longer"
    # The artery narrows from ~4.2 mm to ~3.1 mm along this path.
    assert profile.diameters[:5].mean() > profile.diameters[-5:].mean() + 0.6


def test_cross_section_of_a_cylinder_is_exact():
    cyl = pv.Cylinder(radius=2.0, height=30.0, resolution=400, direction=(0, 0, 1)).triangulate()
    d, dmin, dmax = cross_section(cyl, np.zeros(3), np.array([0.0, 0.0, 1.0]))
    assert d == pytest.approx(4.0, rel=1e-3)
    assert dmin == pytest.approx(4.0, rel=2e-3) and dmax == pytest.approx(4.0, rel=2e-3)


def test_stent_size_covers_path_with_landing_zones(profile):
    rec = size_stent(profile, landing_mm=5.0, oversize=0.1)
    widest = max(rec.landing_proximal_mm[1], rec.landing_distal_mm[1])
    assert rec.diameter >= widest * 1.1 and rec.diameter - widest * 1.1 < 1.0
    assert rec.length >= profile.length
    assert rec.landing_proximal_mm[1] > rec.landing_distal_mm[1], "proximal artery is wider"
    assert any("landing zone" in r for r in rec.reasons)
    with pytest.raises(InputError, match="shorter than"):
        size_stent(profile, landing_mm=profile.length)


def test_points_outside_the_vessel_are_rejected(aneurysm):
    with pytest.raises(InputError, match="not in the vessel"):
        vessel_profile(aneurysm, (60.0, 60.0, 60.0), END)

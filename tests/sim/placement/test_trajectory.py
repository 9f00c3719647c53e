"""Snapping onto a surface and trajectories from markups."""

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.markups.model import Markup
from sim.placement.field import SurfaceField
from sim.placement.trajectory import snap_to_surface, trajectory_from_markup


def test_snap_puts_the_anchor_on_the_surface_pointing_in():
    field = SurfaceField(pv.Sphere(radius=10.0, theta_resolution=80, phi_resolution=80))
    pose = snap_to_surface(field, (0.0, 0.0, 25.0))
    assert pose[:3, 3] == pytest.approx((0, 0, 10.0), abs=0.05)
    assert pose[:3, 2] == pytest.approx((0, 0, -1.0), abs=1e-3), "+z points into the sphere"
    assert np.allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3))
    # From inside, the anchor still lands on the surface and points inward.
    pose = snap_to_surface(field, (7.0, 0.0, 0.0))
    assert pose[:3, 3] == pytest.approx((10.0, 0, 0), abs=0.2)  # a facet of the sphere
    assert pose[:3, 2] == pytest.approx((-1.0, 0, 0), abs=0.06)  # that facet's normal


def test_trajectory_from_line_and_point_markups():
    line = Markup("screw path", "line", points=((1, 2, 3), (4, 5, 6)))
    entry, target = trajectory_from_markup(line)
    assert np.allclose(entry, (1, 2, 3)) and np.allclose(target, (4, 5, 6))
    pts = Markup("plan", "point", points=((0, 0, 0), (1, 1, 1), (0, 0, 9)))
    assert np.allclose(trajectory_from_markup(pts)[1], (0, 0, 9))
    with pytest.raises(InputError, match="two points"):
        trajectory_from_markup(Markup("one", "point", points=((0, 0, 0),)))

"""The clearance colour map on a critical surface against exact per-vertex distances."""

import numpy as np
import pyvista as pv

from sim.devices import make, pose_on_trajectory
from sim.placement import RigidDevice
from sim.placement.colormap import ARRAY, colored_surface
from sim.placement.field import SurfaceField


def test_clearance_map_matches_exact_distances():
    nerve = SurfaceField(pv.Cylinder(center=(0, 0, 0), direction=(1, 0, 0), radius=2.0,
                                     height=60.0, resolution=60).triangulate().subdivide(2))
    screw = RigidDevice(make("pedicle_screw", diameter=5.5, length=40), n_samples=1000)
    pose = pose_on_trajectory((0, 6.0, -20.0), (0, 6.0, 20.0))  # parallel, 6 mm off the nerve axis
    mesh = colored_surface(nerve, screw, pose, max_distance=15.0)
    d = np.asarray(mesh.point_data[ARRAY])
    world = SurfaceField(screw.device.placed(pose))
    exact, _ = world.signed_distance(nerve.vertices)
    ref = np.clip(exact, 0.0, 15.0)
    np.testing.assert_allclose(d, ref, atol=1e-9)
    # The nearest nerve point faces the screw: 6 mm - 2 mm nerve radius - the thread's radius
    # there (between the 1.93 mm core and the 2.75 mm crest).
    assert 6.0 - 2.0 - 2.75 - 0.01 <= d.min() <= 6.0 - 2.0 - 1.925 + 0.01
    assert d.max() == 15.0

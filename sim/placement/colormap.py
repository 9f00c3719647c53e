"""Distance colour maps: how far each point of a critical surface is from the device."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.placement.field import SurfaceField
from sim.placement.rigid_device import RigidDevice, check_pose

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

ARRAY = "clearance_mm"


def clearance_map(surface_field: SurfaceField, device: RigidDevice, pose: ArrayLike,
                  max_distance: float = 20.0) -> np.ndarray:
    """Exact distance (mm) from each surface vertex to the device surface at ``pose``;
    vertices inside the device read 0, those farther than ``max_distance`` read it."""
    return clearance_at(surface_field.vertices, device, pose, max_distance)


def clearance_at(points: ArrayLike, device: RigidDevice, pose: ArrayLike,
                 max_distance: float = 20.0) -> np.ndarray:
    """Exact distance (mm) from each world point to the device surface at ``pose``, clipped
    to 0 inside and to ``max_distance`` far away."""
    pose = check_pose(pose)
    rot, trans = pose[:3, :3], pose[:3, 3]
    v = np.asarray(points, dtype=float)
    out = np.full(len(v), float(max_distance))
    lo, hi = device.field.bounds
    local = (v - trans) @ rot
    near = np.all((local >= lo - max_distance) & (local <= hi + max_distance), axis=1)
    if near.any():
        sd, _ = device.field.signed_distance(local[near], max_distance)
        d = np.where(np.isnan(sd), max_distance, np.clip(sd, 0.0, max_distance))
        out[near] = d
    return out


def colored_surface(surface_field: SurfaceField, device: RigidDevice, pose: ArrayLike,
                    max_distance: float = 20.0) -> pv.PolyData:
    """The surface with a ``clearance_mm`` point array, ready to render with a colour map."""
    mesh = pv.PolyData.from_regular_faces(surface_field.vertices, surface_field.faces)
    mesh.point_data[ARRAY] = clearance_map(surface_field, device, pose, max_distance)
    return mesh

"""Trajectories from markups, and snapping a device onto a surface."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.devices.catalogue import frame_from_axis
from sim.errors import InputError
from sim.placement.field import SurfaceField

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from sim.markups import Markup


def trajectory_from_markup(markup: Markup) -> tuple[np.ndarray, np.ndarray]:
    """(entry, target) from a line markup, or the first and last of a point list."""
    pts = np.asarray(markup.points, dtype=float).reshape(-1, 3)
    if len(pts) < 2:
        raise InputError(f"Markup '{markup.name}' needs two points (entry, then target).")
    entry, target = pts[0], pts[-1]
    if np.linalg.norm(target - entry) < 1e-6:
        raise InputError(f"Markup '{markup.name}' has the same entry and target point.")
    return entry, target


def snap_to_surface(field: SurfaceField, point: ArrayLike) -> np.ndarray:
    """Pose with the anchor on the surface point nearest ``point`` and the insertion axis
    (+z) along the inward surface normal there: the device sits on the surface, pointing in."""
    p = np.asarray(point, dtype=float).reshape(1, 3)
    if not np.isfinite(p).all():
        raise InputError("The point to snap from must be finite.")
    q, t, feat = field.tree.closest(p)
    n = field.normals[t[0], feat[0]]
    norm = float(np.linalg.norm(n))
    if norm == 0.0:
        raise InputError("The surface has no normal at the snapped point.")
    return frame_from_axis(q[0], -n / norm)

"""Rigid transforms of scene objects: 4x4 matrices (LPS mm) kept beside the geometry.

An object's transform lives in ``obj.metadata["transform"]`` (a nested list, so it
saves as JSON and other code such as registration can set it directly); the
geometry itself stays untouched until the transform is *hardened* into it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyvista as pv
from scipy.spatial.transform import Rotation

from sim.errors import InputError

TRANSFORM_KEY = "transform"
RIGID_TOLERANCE = 1e-6


def as_matrix(value: Any) -> np.ndarray:
    """A 4x4 float matrix from a nested list, a flat 16-list or an array; InputError if not."""
    try:
        m = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError("A transform must be a 4x4 matrix of numbers.") from None
    if m.size == 16:
        m = m.reshape(4, 4)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise InputError("A transform must be a 4x4 matrix of finite numbers.")
    return m


def check_rigid(m: np.ndarray) -> np.ndarray:
    """Return ``m`` if it is a proper rigid transform (rotation + translation)."""
    m = as_matrix(m)
    r = m[:3, :3]
    tol = RIGID_TOLERANCE * 100
    if not np.allclose(m[3], (0, 0, 0, 1), atol=tol):
        raise InputError("A rigid transform's last row must be 0 0 0 1.")
    if not np.allclose(r.T @ r, np.eye(3), atol=tol) or np.linalg.det(r) < 0:
        raise InputError("The transform is not rigid (its 3x3 part is not a rotation).")
    return m


def is_identity(m: np.ndarray) -> bool:
    return bool(np.allclose(m, np.eye(4), atol=1e-12))


def to_list(m: np.ndarray) -> list[list[float]]:
    return [[float(x) for x in row] for row in np.asarray(m, dtype=float)]


def world_bounds(bounds: Sequence[float], m: np.ndarray) -> tuple[float, ...]:
    """Axis-aligned bounds of the box ``bounds`` (xmin, xmax, ...) moved by ``m``."""
    if is_identity(m):
        return tuple(float(b) for b in bounds)
    corners = np.array(np.meshgrid(bounds[0:2], bounds[2:4], bounds[4:6])).reshape(3, -1).T
    moved = corners @ m[:3, :3].T + m[:3, 3]
    lo, hi = moved.min(axis=0), moved.max(axis=0)
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2]))


def from_parts(translation: Any = (0, 0, 0), rotation_deg: Any = (0, 0, 0)) -> np.ndarray:
    """A transform from a translation (mm) and extrinsic x-y-z rotation angles (degrees)."""
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", np.asarray(rotation_deg, float), degrees=True).as_matrix()
    m[:3, 3] = np.asarray(translation, float)
    return m


def to_parts(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(translation mm, extrinsic x-y-z angles in degrees) of a rigid transform."""
    m = as_matrix(m)
    with warnings.catch_warnings():
        # At +-90 degrees about y scipy sets the last angle to 0 and warns; the angles it
        # returns still compose to exactly this rotation, which is all the panel needs.
        warnings.filterwarnings("ignore", message="Gimbal lock", category=UserWarning)
        angles = Rotation.from_matrix(m[:3, :3]).as_euler("xyz", degrees=True)
    return m[:3, 3].copy(), angles


def transformed_copy(data: pv.DataSet, m: np.ndarray) -> pv.DataSet:
    """The dataset moved by ``m``; images keep their voxels and gain origin/direction."""
    m = as_matrix(m)
    out = data.copy(deep=True)
    if isinstance(out, pv.ImageData):
        out.origin = tuple(m[:3, :3] @ np.asarray(out.origin) + m[:3, 3])
        out.direction_matrix = m[:3, :3] @ np.asarray(out.direction_matrix)
        return out
    pts = np.asarray(out.points, dtype=float)
    out.points = pts @ m[:3, :3].T + m[:3, 3]
    for name in list(out.point_data):  # normals turn with the object
        arr = out.point_data[name]
        if name.lower() == "normals" and arr.ndim == 2 and arr.shape[1] == 3:
            out.point_data[name] = arr @ m[:3, :3].T
    return out


def apply_geometry(target: pv.DataSet, source: pv.DataSet) -> None:
    """Copy ``source``'s geometry into ``target`` in place (renderers keep their actors)."""
    if isinstance(target, pv.ImageData):
        target.origin = source.origin
        target.direction_matrix = source.direction_matrix
    else:
        target.points = np.asarray(source.points).copy()
        for name in source.point_data:
            target.point_data[name] = source.point_data[name]
    target.Modified()


def harden(obj: Any, history: Any = None) -> bool:
    """Move ``obj``'s geometry by its transform and reset the transform to identity.

    The dataset is changed in place (views keep their actors); ``history`` (a
    :class:`~sim.model.undo.CaseHistory`) records it as one undoable step.
    Returns False when there was nothing to harden.
    """
    from contextlib import nullcontext

    from sim.model.undo import FunctionCommand

    m = obj.transform
    if is_identity(m):
        return False
    before = obj.data.copy(deep=True)
    after = transformed_copy(obj.data, m)

    def apply(geometry: pv.DataSet, transform: np.ndarray) -> None:
        apply_geometry(obj.data, geometry)
        obj.transform = transform
        obj.events.data.emit(obj.data, obj.data)  # geometry changed in place: tell the views

    with history.paused() if history is not None else nullcontext():
        apply(after, np.eye(4))
    if history is not None:
        history.push(FunctionCommand(f"Harden transform of '{obj.name}'",
                                     lambda: apply(before, m), lambda: apply(after, np.eye(4))))
    return True

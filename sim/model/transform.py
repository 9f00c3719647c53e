"""Rigid transforms of scene objects: 4x4 matrices (LPS mm) kept beside the geometry.

The matrix arithmetic itself lives in :mod:`sim.geometry.rigid`; this module only knows
how an object stores, moves and hardens its transform.

An object's transform is its typed field ``obj.transform`` (a read-only 4x4 array,
checked rigid on assignment, evented as ``obj.events.transform``); the geometry itself
stays untouched until the transform is *hardened* into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyvista as pv

from sim.geometry.rigid import as_matrix, is_identity


def world_bounds(bounds: Sequence[float], m: np.ndarray) -> tuple[float, ...]:
    """Axis-aligned bounds of the box ``bounds`` (xmin, xmax, ...) moved by ``m``."""
    if is_identity(m):
        return tuple(float(b) for b in bounds)
    corners = np.array(np.meshgrid(bounds[0:2], bounds[2:4], bounds[4:6])).reshape(3, -1).T
    moved = corners @ m[:3, :3].T + m[:3, 3]
    lo, hi = moved.min(axis=0), moved.max(axis=0)
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2]))


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

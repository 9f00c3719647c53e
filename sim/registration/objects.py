"""Scene objects as registration input: world geometry, and storing a result.

Registration works in world coordinates (each object's data moved by its own
transform). The result is stored as the moving object's transform, composed
with the one it had, so the case's undo history records it as one step and the
geometry stays untouched until the user hardens it.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.geometry import rigid
from sim.model import Case, ObjectKind, SceneObject
from sim.model import transform as tf

_GEOMETRY_KINDS = (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE, ObjectKind.POINTS)


def world_geometry(obj: SceneObject) -> pv.DataSet:
    """The object's data in world coordinates (its transform applied to a copy)."""
    if obj.kind not in _GEOMETRY_KINDS:
        raise InputError(f"'{obj.name}' is a {obj.kind}; registration needs a surface or points.")
    return tf.transformed_copy(obj.data, obj.transform) if obj.has_transform else obj.data


def case_geometry(case: Case, what: str) -> pv.DataSet:
    """All surfaces/points of a loaded file merged into one dataset (world coordinates)."""
    parts = [world_geometry(o) for o in case.scene if o.kind in _GEOMETRY_KINDS]
    if not parts:
        raise InputError(f"The {what} file holds no surface or point cloud.")
    if len(parts) == 1:
        return parts[0]
    merged = pv.merge([p if isinstance(p, pv.PolyData) else p.extract_surface() for p in parts])
    return merged


def apply_registration(obj: SceneObject, matrix: np.ndarray) -> np.ndarray:
    """Move ``obj`` by ``matrix`` (world -> world); returns its new transform."""
    new = rigid.check_rigid(np.asarray(matrix, float) @ obj.transform)
    obj.transform = new
    return new

"""4x4 homogeneous transforms: apply, compare, and store as JSON.

A transform maps the moving object's coordinates into the fixed object's frame
(millimetres): ``x_fixed = R @ (s * x_moving) + t`` with ``s == 1`` for rigid.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.io.json_file import read_json


def make_transform(rotation: np.ndarray, translation: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The 4x4 matrix of ``x -> R (s x) + t``."""
    m = np.eye(4)
    m[:3, :3] = np.asarray(rotation, float) * float(scale)
    m[:3, 3] = np.asarray(translation, float)
    return m


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Transform (n, 3) points by a 4x4 matrix."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    m = np.asarray(matrix, dtype=np.float64)
    return p @ m[:3, :3].T + m[:3, 3]


def rotation_about(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a (not necessarily unit) axis."""
    a = np.asarray(axis, float)
    n = np.linalg.norm(a)
    if n == 0.0:
        return np.eye(3)
    x, y, z = a / n
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1 - math.cos(angle_rad)) * (k @ k)


def random_rigid(rng: np.random.Generator, max_translation: float) -> np.ndarray:
    """A uniformly random rotation with a random translation up to ``max_translation`` mm."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    r = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
    return make_transform(r, rng.uniform(-max_translation, max_translation, 3))


def rotation_angle_deg(rotation: np.ndarray) -> float:
    """The angle of a rotation matrix in degrees (0..180)."""
    c = (np.trace(np.asarray(rotation)[:3, :3]) - 1.0) / 2.0
    return math.degrees(math.acos(min(max(c, -1.0), 1.0)))


def transform_error(estimate: np.ndarray, truth: np.ndarray,
                    at: np.ndarray | None = None) -> tuple[float, float]:
    """(rotation error in degrees, translation error in mm) between two rigid transforms.

    The translation error is measured at point ``at`` (default the origin) so that a
    rotation error does not masquerade as a translation error far from the part.
    """
    delta = np.asarray(estimate) @ np.linalg.inv(np.asarray(truth))
    p = np.zeros(3) if at is None else np.asarray(at, float)
    q = np.asarray(truth)[:3, :3] @ p + np.asarray(truth)[:3, 3]
    moved = delta[:3, :3] @ q + delta[:3, 3]
    return rotation_angle_deg(delta[:3, :3]), float(np.linalg.norm(moved - q))


def check_matrix(matrix: Any, what: str = "transform") -> np.ndarray:
    """A finite 4x4 affine matrix with last row 0 0 0 1, or InputError."""
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"The {what} is not a 4x4 matrix of numbers.") from None
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise InputError(f"The {what} must be a finite 4x4 matrix.")
    if not np.allclose(m[3], [0, 0, 0, 1]):
        raise InputError(f"The last row of the {what} must be 0 0 0 1.")
    if abs(np.linalg.det(m[:3, :3])) < 1e-12:
        raise InputError(f"The {what} is singular.")
    return m


def save_transform(path: str | Path, matrix: np.ndarray, **info: Any) -> Path:
    """Write ``{"matrix": 4x4, ...info}`` as JSON atomically (temp file + rename)."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"Folder '{path.parent}' does not exist.")
    doc = {"format": "twinsight-transform", "version": 1,
           "matrix": np.asarray(matrix, float).tolist(), **info}
    fd, tmp = tempfile.mkstemp(prefix=".transform-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2, default=float)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_transform(path: str | Path) -> np.ndarray:
    """Read a 4x4 matrix from a transform JSON file (ours, or a bare 4x4 list)."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such file")
    doc = read_json(path, "transform", max_bytes=1_000_000)
    matrix = doc.get("matrix") if isinstance(doc, dict) else doc
    try:
        return check_matrix(matrix)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None

"""Rigid (and similarity) transforms: the one place rotations are built, fitted and compared.

Everything rests on :class:`scipy.spatial.transform.Rotation`. A transform is a 4x4
matrix mapping moving coordinates into the fixed frame (LPS mm):
``x_fixed = R @ (s * x_moving) + t`` with ``s == 1`` for rigid. Quaternions are in
scalar-last order ``(x, y, z, w)``, which is also OpenIGTLink's and OpenXR's wire order.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from sim.errors import InputError

RIGID_TOLERANCE = 1e-6


# --- matrices -----------------------------------------------------------------------------

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


def check_rigid(m: Any) -> np.ndarray:
    """Return ``m`` if it is a proper rigid transform (rotation + translation)."""
    m = as_matrix(m)
    r = m[:3, :3]
    tol = RIGID_TOLERANCE * 100
    if not np.allclose(m[3], (0, 0, 0, 1), atol=tol):
        raise InputError("A rigid transform's last row must be 0 0 0 1.")
    if not np.allclose(r.T @ r, np.eye(3), atol=tol) or np.linalg.det(r) < 0:
        raise InputError("The transform is not rigid (its 3x3 part is not a rotation).")
    return m


def check_matrix(matrix: Any, what: str = "transform") -> np.ndarray:
    """A finite, invertible 4x4 affine matrix with last row 0 0 0 1, or InputError."""
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


def is_identity(m: np.ndarray) -> bool:
    return bool(np.allclose(m, np.eye(4), atol=1e-12))


def to_list(m: np.ndarray) -> list[list[float]]:
    return [[float(x) for x in row] for row in np.asarray(m, dtype=float)]


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


# --- rotations ----------------------------------------------------------------------------

def rotation_about(axis: Any, angle_rad: float) -> np.ndarray:
    """The 3x3 rotation by ``angle_rad`` about ``axis`` (any length; zero gives identity)."""
    a = np.asarray(axis, float)
    n = float(np.linalg.norm(a))
    if n == 0.0:
        return np.eye(3)
    return Rotation.from_rotvec(a / n * float(angle_rad)).as_matrix()


def rotation_deg(axis: Any, degrees: float) -> np.ndarray:
    """The 3x3 rotation by ``degrees`` about ``axis`` (right-hand rule)."""
    return rotation_about(axis, np.radians(degrees))


def rotvec_matrices(rotvecs: np.ndarray) -> np.ndarray:
    """Rotation matrices (h, 3, 3) of a batch of rotation vectors (h, 3) (angle = length)."""
    v = np.asarray(rotvecs, float).reshape(-1, 3)
    if len(v) == 0:
        return np.zeros((0, 3, 3))
    return Rotation.from_rotvec(v).as_matrix().reshape(-1, 3, 3)


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """The proper rotation closest (Frobenius) to a 3x3 matrix (files round their matrices)."""
    u, _, vt = np.linalg.svd(np.asarray(m, float)[:3, :3])
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    return u @ vt


def rotation_angle_deg(rotation: np.ndarray) -> float:
    """The angle of a rotation matrix in degrees (0..180)."""
    r = nearest_rotation(rotation)
    return float(np.degrees(Rotation.from_matrix(r).magnitude()))


def random_rigid(rng: np.random.Generator, max_translation: float) -> np.ndarray:
    """A uniformly random rotation with a random translation up to ``max_translation`` mm."""
    r = Rotation.random(random_state=rng).as_matrix()
    return make_transform(r, rng.uniform(-max_translation, max_translation, 3))


def from_parts(translation: Any = (0, 0, 0), rotation_deg: Any = (0, 0, 0)) -> np.ndarray:
    """A transform from a translation (mm) and extrinsic x-y-z rotation angles (degrees)."""
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", np.asarray(rotation_deg, float), degrees=True).as_matrix()
    m[:3, 3] = np.asarray(translation, float)
    return m


def to_parts(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """(translation mm, extrinsic x-y-z angles in degrees) of a rigid transform."""
    m = as_matrix(m)
    with warnings.catch_warnings():
        # At +-90 degrees about y scipy sets the last angle to 0 and warns; the angles it
        # returns still compose to exactly this rotation, which is all the panel needs.
        warnings.filterwarnings("ignore", message="Gimbal lock", category=UserWarning)
        angles = Rotation.from_matrix(m[:3, :3]).as_euler("xyz", degrees=True)
    return m[:3, 3].copy(), angles


# --- quaternions (x, y, z, w) ---------------------------------------------------------------

def quaternion_matrix(q: Any) -> np.ndarray:
    """Rotation matrix of quaternion ``(x, y, z, w)``, normalised first (trackers and the
    OpenIGTLink examples send quaternions that are not of unit length); ValueError if zero."""
    q = np.asarray(q, dtype=float).reshape(4)
    n = float(np.linalg.norm(q))
    if not np.isfinite(n) or n < 1e-6:
        raise ValueError("the quaternion is zero or not finite")
    return Rotation.from_quat(q / n).as_matrix()


def matrix_quaternion(r: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(x, y, z, w)`` with w >= 0 of a rotation matrix."""
    q = Rotation.from_matrix(nearest_rotation(r)).as_quat()
    return -q if q[3] < 0 else q


# --- errors and fits ----------------------------------------------------------------------

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


def fit_rigid(moving: np.ndarray, fixed: np.ndarray, scale: bool = False) -> tuple[np.ndarray, float]:
    """Least-squares (matrix, scale) taking paired points ``moving`` onto ``fixed``
    (Kabsch; Umeyama's scale with ``scale``). The caller rules out collinear points."""
    a = np.asarray(moving, float)
    b = np.asarray(fixed, float)
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - ca, b - cb
    with warnings.catch_warnings():  # scipy warns when a rotation is not unique; callers check
        warnings.simplefilter("ignore", UserWarning)
        rot, _ = Rotation.align_vectors(b0, a0)
    r = rot.as_matrix()
    c = float(np.einsum("ij,ij->", b0, a0 @ r.T) / (a0 ** 2).sum()) if scale else 1.0
    return make_transform(r, cb - c * r @ ca, c), c

"""Per-eye cameras: OpenXR view poses and asymmetric fields of view -> VTK cameras.

The headset space is OpenXR's (metres, +x right, +y up, -z forward); the scene is our
world (millimetres, patient LPS or a part's frame). :class:`ScenePlacement` maps one to
the other (scale, rotation, translation) and the controllers change it to grab, move and
scale the whole scene. The same code drives the headset and the side-by-side preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import vtkCamera

from sim.geometry.rigid import quaternion_matrix

# LPS (x left, y posterior, z superior) -> OpenXR (x right, y up, z towards the viewer):
# the patient stands upright facing the viewer, so their left is on the viewer's right.
LPS_TO_XR = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
MM_TO_M = 0.001
NEAR_M, FAR_M = 0.02, 50.0  # clipping planes in headset metres (independent of scene scale)


def quat_to_matrix(q) -> np.ndarray:
    """Rotation matrix of a quaternion given as (x, y, z, w) (OpenXR's order); identity if zero."""
    try:
        return quaternion_matrix(q)
    except ValueError:
        return np.eye(3)


def matrix_to_quat(m: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix."""
    m = np.asarray(m, float)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        w, x = 0.25 * s, (m[2, 1] - m[1, 2]) / s
        y, z = (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        w, x = (m[2, 1] - m[1, 2]) / s, 0.25 * s
        y, z = (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        w, x = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s
        y, z = 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        w, x = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s
        y, z = (m[1, 2] + m[2, 1]) / s, 0.25 * s
    return float(x), float(y), float(z), float(w)


@dataclass
class Pose:
    """A rigid pose in headset space: position (m) and orientation quaternion (x, y, z, w)."""

    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    @property
    def rotation(self) -> np.ndarray:
        return quat_to_matrix(self.orientation)

    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.position
        return m

    @classmethod
    def from_xr(cls, pose) -> Pose:
        """From an ``xr.Posef``."""
        o, p = pose.orientation, pose.position
        return cls(np.array([p.x, p.y, p.z], float), (o.x, o.y, o.z, o.w))


@dataclass
class Fov:
    """Asymmetric field of view in radians (left and down are negative, as in OpenXR)."""

    angle_left: float
    angle_right: float
    angle_up: float
    angle_down: float

    @classmethod
    def symmetric(cls, horizontal_deg: float, aspect: float) -> Fov:
        """A symmetric field of view; ``aspect`` is width / height."""
        th = np.tan(np.radians(horizontal_deg) / 2.0)
        tv = th / aspect
        return cls(-np.arctan(th), np.arctan(th), np.arctan(tv), -np.arctan(tv))

    @classmethod
    def from_xr(cls, fov) -> Fov:
        return cls(fov.angle_left, fov.angle_right, fov.angle_up, fov.angle_down)


@dataclass
class EyeView:
    """One located view: where the eye is and what it sees (headset space)."""

    pose: Pose
    fov: Fov


def projection_matrix(fov: Fov, near: float, far: float) -> np.ndarray:
    """OpenGL projection of an asymmetric frustum (as xr_linear.h builds it)."""
    left, right = np.tan(fov.angle_left), np.tan(fov.angle_right)
    up, down = np.tan(fov.angle_up), np.tan(fov.angle_down)
    w, h = right - left, up - down
    return np.array([
        [2.0 / w, 0.0, (right + left) / w, 0.0],
        [0.0, 2.0 / h, (up + down) / h, 0.0],
        [0.0, 0.0, -(far + near) / (far - near), -2.0 * far * near / (far - near)],
        [0.0, 0.0, -1.0, 0.0],
    ])


@dataclass
class ScenePlacement:
    """Where the scene sits in headset space: ``p_xr = scale * R @ p_mm + t``.

    ``scale`` is metres per scene millimetre (0.001 = life size).
    """

    scale: float = MM_TO_M
    rotation: np.ndarray = field(default_factory=lambda: LPS_TO_XR.copy())
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def to_xr(self, p_mm) -> np.ndarray:
        return self.scale * (np.asarray(p_mm, float) @ self.rotation.T) + self.translation

    def to_scene(self, p_xr) -> np.ndarray:
        return ((np.asarray(p_xr, float) - self.translation) @ self.rotation) / self.scale

    def direction_to_scene(self, d_xr) -> np.ndarray:
        return np.asarray(d_xr, float) @ self.rotation

    def matrix(self) -> np.ndarray:
        """4x4 scene (mm) -> headset (m)."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    def set_matrix(self, m: np.ndarray) -> None:
        """Set from a similarity transform (uniform scale, rotation, translation)."""
        m = np.asarray(m, float)
        s = float(np.cbrt(np.linalg.det(m[:3, :3])))
        u, _, vt = np.linalg.svd(m[:3, :3] / s)
        self.scale, self.rotation, self.translation = s, u @ vt, m[:3, 3].copy()

    def center_in_front(self, bounds, head: Pose, distance_m: float = 0.6,
                        drop_m: float = 0.15) -> None:
        """Put the centre of ``bounds`` (mm) ``distance_m`` ahead of and a little below the
        head, upright (the scene's rotation only turns about the vertical to face the viewer)."""
        center = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2,
                           (bounds[4] + bounds[5]) / 2])
        forward = head.rotation @ np.array([0.0, 0.0, -1.0])
        flat = np.array([forward[0], 0.0, forward[2]])
        if np.linalg.norm(flat) < 1e-6:
            flat = np.array([0.0, 0.0, -1.0])
        flat /= np.linalg.norm(flat)
        yaw = np.arctan2(-flat[0], -flat[2])  # rotation about +y that maps -z to ``flat``
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        self.rotation = turn @ LPS_TO_XR
        target = head.position + distance_m * flat - np.array([0.0, drop_m, 0.0])
        self.translation = np.zeros(3)
        self.translation = target - self.to_xr(center)


def apply_eye_camera(camera: vtkCamera, eye: EyeView, placement: ScenePlacement) -> None:
    """Point a VTK camera (in scene millimetres) along an eye's view, with its exact frustum."""
    rot = eye.pose.rotation
    position = placement.to_scene(eye.pose.position)
    forward = placement.direction_to_scene(rot @ np.array([0.0, 0.0, -1.0]))
    up = placement.direction_to_scene(rot @ np.array([0.0, 1.0, 0.0]))
    one_metre = 1.0 / placement.scale
    camera.SetPosition(*position)
    camera.SetFocalPoint(*(position + forward * one_metre))
    camera.SetViewUp(*up)
    # Near/far stay fixed in headset metres, so they scale with the scene.
    proj = projection_matrix(eye.fov, NEAR_M * one_metre, FAR_M * one_metre)
    m = vtkMatrix4x4()
    for i in range(4):
        for j in range(4):
            m.SetElement(i, j, proj[i, j])
    camera.SetExplicitProjectionTransformMatrix(m)
    camera.SetUseExplicitProjectionTransformMatrix(True)
    camera.SetClippingRange(NEAR_M * one_metre, FAR_M * one_metre)


def stereo_eyes(head: Pose, ipd_m: float = 0.063, fov: Fov | None = None) -> list[EyeView]:
    """Left and right eye views of a head pose (for the preview and for tests)."""
    fov = fov or Fov.symmetric(90.0, 0.9)
    rot = head.rotation
    eyes = []
    for sign in (-1.0, 1.0):
        pos = head.position + rot @ np.array([sign * ipd_m / 2.0, 0.0, 0.0])
        eyes.append(EyeView(Pose(pos, head.orientation), fov))
    return eyes

"""A device prepared for fast pose evaluation: its tree, vertices and interior samples.

Everything here is computed once in the anchor frame; a pose only moves points
(one matrix product) and refits the tree's boxes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.devices.catalogue import Device
from sim.errors import InputError
from sim.placement.field import SurfaceField

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

TARGET_SAMPLES = 6000


def check_pose(pose: ArrayLike) -> np.ndarray:
    """A 4x4 rigid transform (rotation + translation), or InputError."""
    m = np.asarray(pose, dtype=float)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise InputError("A pose must be a finite 4x4 matrix.")
    r = m[:3, :3]
    ortho = float(np.abs(r.T @ r - np.eye(3)).max())
    last = float(np.abs(m[3] - (0.0, 0.0, 0.0, 1.0)).max())
    if ortho > 1e-6 or last > 1e-12 or np.linalg.det(r) < 0:
        raise InputError("A pose must be rigid (a rotation and a translation, no scaling).")
    return m


class RigidDevice:
    """Device geometry arranged for pose queries (all arrays in the anchor frame)."""

    def __init__(self, device: Device, n_samples: int = TARGET_SAMPLES) -> None:
        self.device = device
        self.field = SurfaceField(device.mesh, padding=2.0)
        self.tree = self.field.tree
        self.vertices = self.field.vertices
        z0, z1 = device.embedded if device.embedded else (np.inf, -np.inf)
        self.embedded_vertices = (self.vertices[:, 2] >= z0) & (self.vertices[:, 2] <= z1)
        self._make_samples(n_samples, z0, z1)

    def _make_samples(self, n_samples: int, z0: float, z1: float) -> None:
        """Cell centres of a regular lattice inside the device: a volume quadrature."""
        lo, hi = self.field.bounds
        volume = float(abs(self.device.mesh.volume))
        if volume <= 0:
            raise InputError(f"The device '{self.device.label}' encloses no volume.")
        s = float(np.cbrt(volume / n_samples))
        samples = np.empty((0, 3))
        for _ in range(6):  # thin devices (stents) need a finer lattice to get enough samples
            axes = [np.arange(lo[k] + s / 2, hi[k], s) for k in range(3)]
            grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
            dims = np.array([len(a) for a in axes], dtype=np.int64)
            sd = self.field.signed_on_lattice(np.array([a[0] for a in axes]), s, dims)
            samples = grid[sd < 0]
            if len(samples) >= n_samples / 3:
                break
            s /= 1.6
        if len(samples) == 0:
            raise InputError(f"The device '{self.device.label}' is too thin to sample its volume.")
        self.samples = samples
        self.sample_volume = volume / len(samples)  # calibrated so the samples sum to the volume
        self.embedded_samples = (samples[:, 2] >= z0) & (samples[:, 2] <= z1)
        self.volume = volume

    def moved(self, pose: np.ndarray) -> MovedDevice:
        return MovedDevice(self, pose)


class MovedDevice:
    """A device at one pose: world-frame tree, vertices and samples (computed on demand)."""

    def __init__(self, rigid: RigidDevice, pose: np.ndarray) -> None:
        self.rigid = rigid
        self.pose = pose
        self.rot, self.trans = pose[:3, :3], pose[:3, 3]
        t = rigid.tree
        tri = (t.tri.reshape(-1, 3) @ self.rot.T + self.trans).reshape(t.tri.shape)
        self.tree = t.moved(np.ascontiguousarray(tri))
        self._vertices: np.ndarray | None = None
        self._samples: np.ndarray | None = None

    @property
    def vertices(self) -> np.ndarray:
        if self._vertices is None:
            self._vertices = self.rigid.vertices @ self.rot.T + self.trans
        return self._vertices

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._samples = np.ascontiguousarray(self.rigid.samples @ self.rot.T + self.trans)
        return self._samples

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.tree.lo[0], self.tree.hi[0]

    def to_local(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) - self.trans) @ self.rot

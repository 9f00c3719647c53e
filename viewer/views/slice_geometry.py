"""Where a slice view's plane lies in the world: the orthogonal index plane of a volume or an
oblique reformat through the crosshair (headless: numpy and pyvista, no Qt).

A :class:`SlicePlane` is the plane one slice view shows, given by the volume, the index axis
(sagittal i, coronal j, axial k), the index shown, the crosshair and the Tilt/Spin angles; it
gives the screen frame in radiological orientation, the mesh to draw, the point under the
mouse and the camera that frames the slice. :func:`first_plane_hit` finds where a ray of the
3D view meets such planes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyvista as pv

from sim.geometry.rigid import rotation_deg as rotation
from sim.imaging.reslice import reslice
from sim.imaging.volume import affine_of, is_rgb, rgb_array, voxel_array

TILT_LIMIT, SPIN_LIMIT = 85, 180  # degrees the plane turns either way (Tilt, Spin boxes)


def index_of(image: pv.ImageData, world) -> np.ndarray:
    """Continuous voxel index (i, j, k) of a world point."""
    return np.linalg.solve(affine_of(image), np.append(np.asarray(world, dtype=float), 1.0))[:3]


def slab(image: pv.ImageData, axis: int, index: int) -> pv.ImageData:
    """The one-voxel-thick plane ``index`` across ``axis`` (world geometry kept)."""
    voi = [0, image.dimensions[0] - 1, 0, image.dimensions[1] - 1, 0, image.dimensions[2] - 1]
    voi[2 * axis] = voi[2 * axis + 1] = int(index)
    return image.extract_subset(voi, rebase_coordinates=False)


def base_frame(image: pv.ImageData, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, towards the viewer) of the orthogonal view across ``axis``, unit world vectors.

    Radiological orientation in the patient (LPS) frame, whatever the voxel order:
    axial seen from the feet with anterior up, coronal from the front, sagittal from the
    patient's left; on axial and coronal views the patient's left is on screen right."""
    d = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
    normal = d[:, axis] / np.linalg.norm(d[:, axis])
    world_axis = int(np.argmax(np.abs(normal)))
    normal = normal * np.sign(normal[world_axis])  # +x, +y or +z-ish
    up = np.array([0.0, -1.0, 0.0]) if world_axis == 2 else np.array([0.0, 0.0, 1.0])
    up = up - normal * (up @ normal)
    up /= np.linalg.norm(up)
    side = 1.0 if world_axis == 0 else -1.0  # sagittal from +x (left), others from -z / -y
    towards = side * normal
    return np.cross(up, towards), up, towards


def first_plane_hit(image: pv.ImageData, planes, origin, direction) -> tuple[float, np.ndarray] | None:
    """Where the ray ``origin + t * direction`` (t > 0) first meets one of ``planes`` ((world
    point, unit normal) pairs) inside the volume: (t, world point), or None."""
    origin, direction = np.asarray(origin, dtype=float), np.asarray(direction, dtype=float)
    top = np.asarray(image.dimensions) - 0.5
    best = None
    for point, normal in planes:
        across = float(direction @ normal)
        if abs(across) < 1e-9:  # the ray runs along the plane
            continue
        t = float((point - origin) @ normal) / across
        hit = origin + t * direction
        ijk = index_of(image, hit)
        if t > 0 and (ijk >= -0.5).all() and (ijk <= top).all() and (best is None or t < best[0]):
            best = (t, hit)
    return best


@lru_cache(maxsize=64)
def _frame(direction: tuple, spacing: tuple, axis: int, tilt: float,
           spin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`SlicePlane.frame`, remembered: a scroll step asks for it a dozen times and each
    rotation costs a scipy call."""
    image = pv.ImageData(dimensions=(2, 2, 2), spacing=spacing)
    image.direction_matrix = np.reshape(direction, (3, 3))
    right, up, towards = base_frame(image, axis)
    turn = rotation(up, spin) @ rotation(right, tilt)
    return turn @ right, turn @ up, turn @ towards


@dataclass(frozen=True)
class SlicePlane:
    """The plane a slice view shows: index ``index`` across ``axis`` of ``image``, or, when
    turned by ``tilt`` degrees about the screen's horizontal axis then ``spin`` about its
    vertical axis, the oblique plane through ``cursor``."""

    image: pv.ImageData
    axis: int
    index: int
    cursor: np.ndarray
    tilt: float = 0
    spin: float = 0

    @property
    def oblique(self) -> bool:
        return bool(self.tilt or self.spin)

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, towards the viewer) of the plane, with the oblique rotation."""
        image = self.image
        right, up, towards = _frame(tuple(np.asarray(image.direction_matrix).ravel()),
                                    tuple(image.spacing), self.axis, float(self.tilt), float(self.spin))
        return right.copy(), up.copy(), towards.copy()

    def point_normal(self) -> tuple[np.ndarray, np.ndarray]:
        """(a world point on, unit normal of) the plane."""
        towards = self.frame()[2]
        if self.oblique:
            return self.cursor.copy(), towards
        ijk = index_of(self.image, self.cursor)
        ijk[self.axis] = self.index
        return (affine_of(self.image) @ np.append(ijk, 1.0))[:3], towards

    def mesh(self, crop: bool = False) -> tuple[pv.DataSet, str]:
        """The slice (an index slab, or an oblique reformat through the cursor) and the name
        of its scalars. An oblique reformat's samples outside the volume are set below any
        window (black on the black view), or with ``crop`` cut away (for the 3D view)."""
        if not self.oblique:
            return slab(self.image, self.axis, self.index), self.image.active_scalars_name
        right, up, _ = self.frame()
        if is_rgb(self.image):  # a colour picture: each of R, G, B resliced, black outside
            rgb = rgb_array(self.image)
            planes = [reslice(self.image, self.cursor, right, up, values=rgb[..., c])
                      for c in range(3)]
            plane = planes[0]
            outside = np.isnan(plane.point_data["values"])
            plane.point_data["values"] = np.stack(
                [np.nan_to_num(np.round(p.point_data["values"])) for p in planes],
                axis=1).clip(0, 255).astype(np.uint8)
        else:
            plane = reslice(self.image, self.cursor, right, up)
            values = plane.point_data["values"]
            outside = np.isnan(values)
            values[outside] = float(np.min(voxel_array(self.image))) - 1.0
        if crop:
            plane.point_data["inside"] = (~outside).astype(np.uint8)
            return plane.threshold(0.5, scalars="inside", all_scalars=True), "values"
        return plane, "values"

    def mask_part(self, mask: np.ndarray) -> np.ndarray:
        """The voxels of boolean ``mask`` (the volume's shape) on the plane, laid out as the
        points of :meth:`mesh` (uncropped)."""
        if self.oblique:
            right, up, _ = self.frame()
            return voxel_array(reslice(self.image, self.cursor, right, up,
                                       values=mask.view(np.uint8), order=0))
        sl = [slice(None)] * 3
        sl[self.axis] = slice(self.index, self.index + 1)
        return mask[tuple(sl)]

    def contains(self, world) -> bool:
        """Whether ``world`` lies within half a voxel of the plane."""
        if self.oblique:
            towards = self.frame()[2]
            return abs(float((np.asarray(world) - self.cursor) @ towards)) <= 0.5 * min(self.image.spacing)
        return abs(float(index_of(self.image, world)[self.axis]) - self.index) <= 0.5

    def snap(self, point) -> np.ndarray | None:
        """``point`` moved along the plane's normal onto the plane; None outside the image."""
        point = np.asarray(point, dtype=float)
        if self.oblique:
            towards = self.frame()[2]
            point = point - float((point - self.cursor) @ towards) * towards
            ijk = index_of(self.image, point)
        else:
            ijk = index_of(self.image, point)
            ijk[self.axis] = self.index
        dims = np.asarray(self.image.dimensions) - 1
        if (ijk < -0.5).any() or (ijk > dims + 0.5).any():
            return None  # outside the image
        return (affine_of(self.image) @ np.append(ijk, 1.0))[:3]

    def camera(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(focal point, position, view up, parallel scale) of a parallel camera looking along
        the plane's normal with the whole slice in a ``width`` x ``height`` pixel view."""
        image = self.image
        d = np.asarray(image.direction_matrix) * np.asarray(image.spacing) * np.asarray(image.dimensions)
        right, up, towards = self.frame()
        in_plane = [d[:, i] for i in range(3) if i != self.axis]
        vertical = sum(abs(float(v @ up)) for v in in_plane)
        horizontal = sum(abs(float(v @ right)) for v in in_plane)
        centre = np.asarray(image.center)
        position = centre + towards * 2 * float(np.linalg.norm(d, axis=0).max())
        # parallel scale is half the visible height in world units: fit both directions
        return centre, position, up, 0.52 * max(vertical, horizontal * height / width)

"""A slice drawn as one textured quad (``vtkImageActor``) instead of a mesh of 512 x 512 quads.

Software OpenGL (llvmpipe, which the headset-less machines and CI use) spends ~150 ms drawing a
quarter of a million Gouraud-shaded quads; a texture costs a few milliseconds. The actor's data
is re-pointed at the new slice on every scroll (no new actor, mapper or lookup table), and
window/level is the image property's, so changing the window re-renders nothing else.

The image actor ignores an image's direction matrix, so the slice is given to it in its own
index-aligned frame (origin 0, the image's spacing) and placed with a user matrix.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import vtkImageActor

from sim.imaging.volume import affine_of


def _placement(image: pv.ImageData, lift: np.ndarray | None) -> vtkMatrix4x4:
    m = affine_of(image).copy()
    m[:3, :3] = np.asarray(image.direction_matrix)  # spacing stays in the image itself
    if lift is not None:
        m[:3, 3] += lift
    out = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            out.SetElement(r, c, float(m[r, c]))
    return out


def _local(image: pv.ImageData, values: np.ndarray) -> vtkImageData:
    """``values`` (point order of ``image``) on an axis-aligned grid at the origin."""
    local = vtkImageData()
    local.SetExtent(image.GetExtent())  # a slab cut from a volume keeps its index offset
    local.SetSpacing(*image.spacing)
    arr = pv.convert_array(np.ascontiguousarray(values), name="values")
    local.GetPointData().SetScalars(arr)
    local._keep = values  # the VTK array shares this buffer
    return local


class ImageLayer:
    """One image actor in a renderer: a grey-level slice (window/level) or an RGBA overlay."""

    def __init__(self, plotter: pv.Plotter, name: str, rgba: bool = False, linear: bool = True) -> None:
        self.plotter, self.name, self.rgba = plotter, name, rgba
        self.actor = vtkImageActor()
        prop = self.actor.GetProperty()
        if linear:
            prop.SetInterpolationTypeToLinear()
        else:
            prop.SetInterpolationTypeToNearest()
        if rgba:
            self.actor.ForceTranslucentOn()
        self.actor.PickableOff()
        self.actor.VisibilityOff()
        self._added = False

    def show(self, image: pv.ImageData, values: np.ndarray, lift: np.ndarray | None = None) -> None:
        """Draw ``values`` (grey levels, or uint8 RGBA rows) on ``image``'s grid, moved by
        ``lift`` (world mm, towards the viewer so overlays sit above the slice)."""
        local = _local(image, values)
        self.actor.GetMapper().SetInputData(local)
        self.actor.SetDisplayExtent(local.GetExtent())  # which of x, y, z the slice is flat in
        self.actor.SetUserMatrix(_placement(image, lift))
        self.actor.VisibilityOn()
        if not self._added:
            self.plotter.add_actor(self.actor, name=self.name, pickable=False, render=False,
                                   reset_camera=False)
            self._added = True

    def hide(self) -> None:
        self.actor.VisibilityOff()

    def set_window(self, low: float, high: float) -> None:
        prop = self.actor.GetProperty()
        prop.SetColorWindow(max(float(high - low), 1e-6))
        prop.SetColorLevel(float(low + high) / 2.0)

    def remove(self) -> None:
        if self._added:
            self.plotter.remove_actor(self.actor, render=False)
            self._added = False


def rgba_mask(mask: np.ndarray, color, alpha: float) -> np.ndarray:
    """uint8 RGBA rows (one per point, VTK order) for a flat mask: ``color`` at ``alpha`` where
    set, fully transparent elsewhere."""
    flat = np.asarray(mask).ravel(order="F").astype(bool)
    out = np.zeros((flat.size, 4), dtype=np.uint8)
    out[flat, :3] = (np.asarray(color) * 255).astype(np.uint8)
    out[flat, 3] = int(alpha * 255)
    return out

"""What a slice view draws over the slice: the segmentation preview (translucent red), the
crosshair (yellow lines through the cursor) and the seed (a green ring, when on the plane)."""

from __future__ import annotations

import numpy as np
import pyvista as pv

CROSSHAIR_COLOR = (1.0, 0.85, 0.2)
PREVIEW_COLOR = (1.0, 0.25, 0.25)
SEED_COLOR = (0.2, 1.0, 0.35)


class SliceOverlays:
    """Overlay drawing mixed into :class:`~viewer.views.slice_view.SliceView`, which provides
    ``plotter``, ``image``, ``preview``, ``seed``, ``frame()``, ``plane()`` and
    ``slice_plane()``."""

    def _render_preview(self, plane: pv.DataSet) -> None:
        """The preview mask's voxels on ``plane`` (the slice mesh just drawn), if any."""
        self.plotter.remove_actor("preview", render=False)
        if self.preview is None:
            return
        part = self.slice_plane().mask_part(self.preview)
        if part.any():
            plane.point_data["preview"] = part.ravel(order="F").astype(np.uint8)
            shown = plane.threshold(0.5, scalars="preview")
            if shown.n_cells:
                self.plotter.add_mesh(shown, color=PREVIEW_COLOR, opacity=0.45, lighting=False,
                                      name="preview", pickable=False, render=False,
                                      reset_camera=False)

    def _render_crosshair(self) -> None:
        image = self.image
        right, up, towards = self.frame()
        centre = self.plane()[0] + towards * 0.01 * float(np.min(image.spacing))  # just above the slice
        half = float(np.linalg.norm(np.asarray(image.spacing) * np.asarray(image.dimensions)))
        lines = pv.Line(centre - half * right, centre + half * right).merge(
            pv.Line(centre - half * up, centre + half * up))
        self.plotter.add_mesh(lines, color=CROSSHAIR_COLOR, line_width=1,
                              name="crosshair", pickable=False, render=False, reset_camera=False)

    def _render_seed(self) -> None:
        """A green ring where the segmentation seed is, when it lies on this plane."""
        if self.seed is None or not self.slice_plane().contains(self.seed):
            self.plotter.remove_actor("seed", render=False)
            return
        towards = self.frame()[2]
        size = 0.035 * float(self.plotter.camera.parallel_scale)  # a few pixels, at any zoom
        ring = pv.Disc(center=self.seed + towards * 0.02 * float(np.min(self.image.spacing)),
                       inner=0.55 * size, outer=size, normal=towards, c_res=24)
        self.plotter.add_mesh(ring, color=SEED_COLOR, lighting=False, name="seed", pickable=False,
                              render=False, reset_camera=False)

"""What a slice view draws over the slice: the segmentation preview (translucent red), the
segments being edited (their colours), the crosshair (yellow lines through the cursor), the
seed (a green ring, when on the plane), the orientation letters at the edges and the slice
number in the top-left corner."""

from __future__ import annotations

import numpy as np
import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkTextActor

from viewer.views.slice_image import rgba_mask

CROSSHAIR_COLOR = (1.0, 0.85, 0.2)
PREVIEW_COLOR = (1.0, 0.25, 0.25)
SEED_COLOR = (0.2, 1.0, 0.35)
LETTER_COLOR = (1.0, 0.95, 0.55)
SEGMENT_ALPHA = 0.5
# LPS axis -> (letter for +, letter for -)
_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))
# edge -> (normalised viewport position, justification)
_EDGES = {"left": ((0.01, 0.5), "left"), "right": ((0.99, 0.5), "right"),
          "top": ((0.5, 0.985), "top"), "bottom": ((0.5, 0.015), "bottom")}


def direction_letter(v) -> str:
    """The patient direction a world (LPS) vector points to: L/R, P/A or S/I; an oblique
    direction gets a second letter for its next largest part (as scanners label them)."""
    v = np.asarray(v, dtype=float)
    v = v / (np.linalg.norm(v) or 1.0)
    order = np.argsort(-np.abs(v))
    out = "".join(_LETTERS[a][0 if v[a] > 0 else 1] for a in order[:2]
                  if a == order[0] or abs(v[a]) > 0.2)
    return out


def edge_letters(right, up) -> dict[str, str]:
    """The orientation letter at each edge of a view whose screen right and up are given."""
    right, up = np.asarray(right, dtype=float), np.asarray(up, dtype=float)
    return {"right": direction_letter(right), "left": direction_letter(-right),
            "top": direction_letter(up), "bottom": direction_letter(-up)}


class SliceOverlays:
    """Overlay drawing mixed into :class:`~viewer.views.slice_view.SliceView`, which provides
    ``plotter``, ``image``, ``preview``, ``seed``, ``frame()``, ``plane()`` and
    ``slice_plane()``."""

    def _lift(self, fraction: float) -> np.ndarray:
        """A small step towards the viewer, so overlays are drawn above the slice."""
        return self.frame()[2] * fraction * float(np.min(self.image.spacing))

    def _render_preview(self, plane: pv.DataSet) -> None:
        """The preview mask's voxels on ``plane`` (the slice just drawn), if any."""
        part = None if self.preview is None else self.slice_plane().mask_part(self.preview)
        if part is None or not part.any():
            self._preview_layer.hide()
            return
        self._preview_layer.show(plane, rgba_mask(part, PREVIEW_COLOR, 0.45), self._lift(0.005))

    def _render_segments(self, plane: pv.DataSet) -> None:
        """The label map being edited (``segments``: labels array, RGBA table per label)."""
        if self.segments is None:
            self._segments_layer.hide()
            return
        labels, table = self.segments
        if labels.shape != tuple(self.image.dimensions):  # drawn on another scan's grid
            self._segments_layer.hide()
            return
        part = self.slice_plane().mask_part(labels)
        if part is None or not part.any():
            self._segments_layer.hide()
            return
        rows = table[np.minimum(part.ravel(order="F"), len(table) - 1)]
        self._segments_layer.show(plane, rows, self._lift(0.008))

    def _render_crosshair(self) -> None:
        """Two lines through the cursor, moved in place (one actor for the view's life)."""
        image = self.image
        right, up, towards = self.frame()
        centre = self.plane()[0] + towards * 0.01 * float(np.min(image.spacing))  # just above the slice
        half = float(np.linalg.norm(np.asarray(image.spacing) * np.asarray(image.dimensions)))
        points = np.array([centre - half * right, centre + half * right,
                           centre - half * up, centre + half * up])
        if getattr(self, "_cross", None) is None:
            self._cross = pv.PolyData(points, lines=np.array([2, 0, 1, 2, 2, 3]))
            self.plotter.add_mesh(self._cross, color=CROSSHAIR_COLOR, line_width=1,
                                  name="crosshair", pickable=False, render=False, reset_camera=False)
        else:
            self._cross.points = points

    def _render_letters(self) -> None:
        """L/R/A/P/S/I at the four edges, from the plane's screen frame (radiological)."""
        right, up, _ = self.frame()
        letters = edge_letters(right, up)
        if not getattr(self, "_letter_actors", None):
            self._letter_actors = {}
            for edge, ((x, y), just) in _EDGES.items():
                actor = vtkTextActor()
                prop = actor.GetTextProperty()
                prop.SetFontSize(16)
                prop.BoldOn()
                prop.SetColor(*LETTER_COLOR)
                prop.SetJustification({"left": 0, "right": 2}.get(just, 1))
                prop.SetVerticalJustification({"top": 2, "bottom": 0}.get(just, 1))
                actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
                actor.SetPosition(x, y)
                actor.PickableOff()
                self._letter_actors[edge] = actor
                self.plotter.add_actor(actor, name=f"letter-{edge}", pickable=False,
                                       render=False, reset_camera=False)
        for edge, actor in self._letter_actors.items():
            actor.SetInput(letters[edge])

    def _render_number(self, text: str) -> None:
        """The slice number (or "oblique") in the top-left corner, drawn with the slice."""
        actor = getattr(self, "_number_actor", None)
        if actor is None:
            actor = self._number_actor = vtkTextActor()
            prop = actor.GetTextProperty()
            prop.SetFontSize(13)
            prop.SetColor(*LETTER_COLOR)
            prop.SetVerticalJustification(2)  # top
            actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            actor.SetPosition(0.01, 0.985)
            actor.PickableOff()
            self.plotter.add_actor(actor, name="slice-number", pickable=False, render=False,
                                   reset_camera=False)
        actor.SetInput(text)

    def orientation_letters(self) -> dict[str, str]:
        """The letter shown at each edge ("left", "right", "top", "bottom")."""
        return {e: a.GetInput() for e, a in getattr(self, "_letter_actors", {}).items()}

    def _render_seed(self) -> None:
        """A green ring where the segmentation seed is, when it lies on this plane."""
        if self.seed is None or not self.slice_plane().contains(self.seed):
            if getattr(self, "_seed_drawn", False):
                self.plotter.remove_actor("seed", render=False)
                self._seed_drawn = False
            return
        self._seed_drawn = True
        towards = self.frame()[2]
        size = 0.035 * float(self.plotter.camera.parallel_scale)  # a few pixels, at any zoom
        ring = pv.Disc(center=self.seed + towards * 0.02 * float(np.min(self.image.spacing)),
                       inner=0.55 * size, outer=size, normal=towards, c_res=24)
        self.plotter.add_mesh(ring, color=SEED_COLOR, lighting=False, name="seed", pickable=False,
                              render=False, reset_camera=False)

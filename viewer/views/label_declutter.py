"""Labels pinned to world points that never cover each other: before every render each
label is placed at its anchor's screen position and, if it would overlap a label already
placed, moved up just above it (labels nearer the camera are placed first, so they keep
their spot). Python only, no VTK object is made while rendering (see markup_layer's note on
VTK's label-placement mapper)."""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkTextActor

GAP_PX = 2


class LabelDeclutter:
    def __init__(self, renderer: vtkRenderer) -> None:
        self.renderer = renderer
        self.anchors: dict[vtkTextActor, np.ndarray] = {}
        renderer.AddObserver("StartEvent", self._place)

    def add(self, actor: vtkTextActor, anchor) -> None:
        self.anchors[actor] = np.asarray(anchor, float)

    def boxes(self) -> list[tuple[float, float, float, float]]:
        """(x, y, width, height) in display pixels of the labels shown, as last placed."""
        out = []
        for actor in self.anchors:
            if actor.GetVisibility() and self.renderer.HasViewProp(actor):
                x, y = actor.GetPositionCoordinate().GetValue()[:2]
                w, h = self._size(actor)
                out.append((x, y, w, h))
        return out

    def _size(self, actor: vtkTextActor) -> tuple[float, float]:
        bbox = [0.0, 0.0, 0.0, 0.0]
        actor.GetBoundingBox(self.renderer, bbox)
        return bbox[1] - bbox[0], bbox[3] - bbox[2]

    def _place(self, *_args) -> None:
        ren = self.renderer
        shown = []
        for actor, anchor in list(self.anchors.items()):
            if not ren.HasViewProp(actor):
                del self.anchors[actor]  # removed with its markup
                continue
            if not actor.GetVisibility():
                continue
            ren.SetWorldPoint(*anchor, 1.0)
            ren.WorldToDisplay()
            x, y, depth = ren.GetDisplayPoint()
            shown.append((depth, x, y, actor))
        placed: list[tuple[float, float, float, float]] = []
        for _depth, x, y, actor in sorted(shown, key=lambda s: s[0]):
            w, h = self._size(actor)
            for _ in range(len(placed) + 1):
                hit = next((b for b in placed if x < b[0] + b[2] and b[0] < x + w
                            and y < b[1] + b[3] and b[1] < y + h), None)
                if hit is None:
                    break
                y = hit[1] + hit[3] + GAP_PX
            placed.append((x, y, w, h))
            actor.SetDisplayPosition(int(round(x)), int(round(y)))

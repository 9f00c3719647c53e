"""What the live link changes on the scene objects the 3D view draws: moving tools, image
textures, and the asset coloured by the live field. The field's colour bar, the sensor
markers, the alarm banner and the tools' tips are live overlays of the workbench
(:mod:`sim.workbench.live`), drawn by the overlay layer in the window, offscreen and headset.

Everything here runs on the GUI thread (the Live panel's timer calls it).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.model import SceneObject
from sim.model.overlays import Legend
from sim.workbench.live import LIVE_CMAP, field_legend

FIELD_ARRAY = "live_field"


class LiveOverlay:
    def __init__(self, view) -> None:
        self.view = view
        self.bound: set[str] = set()
        self.textures: dict[str, object] = {}  # uid -> the frame its actor shows
        self.field = None

    @property
    def plotter(self):
        return self.view.plotter

    def actor(self, obj: SceneObject):
        adapter = self.view.renderer.adapters.get(obj.uid)
        return adapter.actors[0] if adapter is not None and adapter.actors else None

    def reset(self) -> None:
        self.bound.clear()
        self.textures.clear()
        self.field = None

    def bind(self, objs: list[SceneObject]) -> bool:
        """Let live objects' actors draw the model's own data; True if anything changed.

        The render adapters draw a copy made when the object was added; live tools
        and images change their data in place, so their mapper must read it directly.
        """
        changed = False
        for obj in objs:
            actor = self.actor(obj)
            if actor is None:
                continue
            if obj.uid not in self.bound:
                actor.GetMapper().SetInputData(obj.data)
                self.bound.add(obj.uid)
                changed = True
            tex = obj.texture
            if tex is not None and self.textures.get(obj.uid) is not tex:
                actor.SetTexture(pv.Texture(np.flipud(tex)))  # row 0 at t = 0
                actor.GetProperty().SetColor(1, 1, 1)
                self.textures[obj.uid] = tex  # the frame shown (view state, never saved)
                changed = True
        return changed

    def colour(self, asset: SceneObject | None, values: dict[str, float]) -> Legend | None:
        """Colour ``asset`` by the current field (or plainly when there is none); the field's
        colour bar, for the workbench's live overlays."""
        actor = self.actor(asset) if asset is not None else None
        if actor is None:
            return None
        mapper = actor.GetMapper()
        field = self.field.evaluate(values) if self.field is not None else None
        if field is None:
            mapper.ScalarVisibilityOff()
            return None
        asset.data.point_data[FIELD_ARRAY] = field
        lo, hi = self.field.colour_range(field)
        lut = pv.LookupTable(cmap=LIVE_CMAP)  # the colour bar's map too
        lut.scalar_range = (lo, hi)
        mapper.SetLookupTable(lut)
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray(FIELD_ARRAY)
        mapper.SetScalarRange(lo, hi)
        mapper.ScalarVisibilityOn()
        asset.data.Modified()
        return field_legend(self.field.legend.title, lo, hi)

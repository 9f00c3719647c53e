"""What the live link adds to the 3D view: moving tools, image textures, the sensor colour
field with its legend, sensor markers coloured by status, and an alarm banner.

Everything here runs on the GUI thread (the Live panel's timer calls it).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
import vtk

from sim.model import SceneObject
from sim.render.result_fields import style_scalar_bar

FIELD_ARRAY = "live_field"
MARKER_COLOURS = {"normal": (0.18, 0.75, 0.3), "high": (0.9, 0.15, 0.15),
                  "low": (0.2, 0.45, 0.95), "no data": (0.6, 0.6, 0.6)}


class LiveOverlay:
    def __init__(self, view) -> None:
        self.view = view
        self.bound: set[str] = set()
        self.textures: dict[str, object] = {}  # uid -> the frame its actor shows
        self.field = None
        self.scalar_bar: vtk.vtkScalarBarActor | None = None
        self.banner: vtk.vtkTextActor | None = None
        self.markers: dict[str, vtk.vtkActor] = {}

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
        for a in self.markers.values():
            self.plotter.remove_actor(a, render=False)
        self.markers.clear()
        for prop in (self.scalar_bar, self.banner):
            if prop is not None:
                prop.SetVisibility(False)

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
            tex = obj.metadata.get("texture")
            if tex is not None and self.textures.get(obj.uid) is not tex:
                actor.SetTexture(pv.Texture(np.flipud(tex)))  # row 0 at t = 0
                actor.GetProperty().SetColor(1, 1, 1)
                self.textures[obj.uid] = tex  # the frame shown (view state, never saved)
                changed = True
        return changed

    def colour(self, asset: SceneObject | None, values: dict[str, float]) -> None:
        """Colour ``asset`` by the current field (or plainly when there is none)."""
        actor = self.actor(asset) if asset is not None else None
        if actor is None:
            return
        mapper = actor.GetMapper()
        field = self.field.evaluate(values) if self.field is not None else None
        if field is None:
            mapper.ScalarVisibilityOff()
            if self.scalar_bar is not None:
                self.scalar_bar.SetVisibility(False)
            return
        asset.data.point_data[FIELD_ARRAY] = field
        lo, hi = self.field.colour_range(field)
        lut = mapper.GetLookupTable()
        lut.SetHueRange(0.667, 0.0)  # blue (cool) to red (hot)
        lut.Build()
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray(FIELD_ARRAY)
        mapper.SetScalarRange(lo, hi)
        mapper.ScalarVisibilityOn()
        if self.scalar_bar is None:
            self.scalar_bar = vtk.vtkScalarBarActor()
            style_scalar_bar(self.scalar_bar)  # horizontal, large labels (was unreadable)
            self.plotter.renderer.AddViewProp(self.scalar_bar)
        self.scalar_bar.SetLookupTable(lut)
        self.scalar_bar.SetTitle(self.field.legend.title)
        self.scalar_bar.SetVisibility(True)
        asset.data.Modified()

    def show_markers(self, asset: SceneObject | None, sensors, values: dict[str, float]) -> None:
        """A small sphere per sensor on the asset, coloured by its status."""
        if asset is None:
            return
        size = max(asset.data.length * 0.02, 0.5)
        pts = np.asarray(asset.data.points)
        for s in sensors:
            if s.object_name not in (None, asset.name):
                continue
            actor = self.markers.get(s.id)
            if actor is None:
                centre = (pts[s.region].mean(axis=0) if s.region and max(s.region) < len(pts)
                          else np.asarray(s.point if s.point is not None else pts[0]))
                actor = self.plotter.add_mesh(pv.Sphere(radius=size, center=centre),
                                              name=f"live-sensor-{s.id}", pickable=False,
                                              render=False, reset_camera=False)
                self.markers[s.id] = actor
            actor.GetProperty().SetColor(*MARKER_COLOURS[s.status(values.get(s.id))])

    def show_alarms(self, alarms) -> None:
        """A red banner over the view while unacknowledged alarms are active."""
        urgent = [a for a in alarms if a.condition_active and not a.acknowledged]
        if self.banner is None:
            if not urgent:
                return
            self.banner = vtk.vtkTextActor()
            prop = self.banner.GetTextProperty()
            prop.SetFontSize(16)
            prop.SetColor(1.0, 0.3, 0.3)
            prop.SetBold(True)
            self.banner.SetDisplayPosition(12, 60)
            self.plotter.renderer.AddViewProp(self.banner)
        if urgent:
            more = f"  (+{len(urgent) - 1} more)" if len(urgent) > 1 else ""
            self.banner.SetInput(f"ALARM: {urgent[0].message}{more}")
        self.banner.SetVisibility(bool(urgent))

"""The overlay layer: draws a case's overlays (:mod:`sim.model.overlays`) into a plotter.

One adapter per overlay kind, like the scene objects' adapters. The window, offscreen
screenshots and the headset each hold one layer, so an overlay set by a panel or a script is
seen everywhere, saved with the case and undone with it. A clearance map follows its device:
moving the device (a transform event) recomputes the exact distances. The layer also draws a
workbench's live overlays (:mod:`sim.model.live_overlays`: sensor markers, alarm banner,
tracked tools, the live colour bar), which follow their own events and are never saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import TwinsightError
from sim.model import overlays as ov
from sim.model.live_overlays import AlarmBanner, LiveOverlays, SensorMarkers, ToolGlyph
from sim.model.sections import section_events
from sim.render import live_overlays as live_adapters

log = logging.getLogger(__name__)

PREFIX = "overlay:"
LIVE = "live|"  # keys live overlays apart from the case's, whatever their ids


_RIGID: dict[tuple, Any] = {}  # the last few devices' distance fields, by geometry


def _rigid(device_obj: Any) -> Any:
    from sim.devices.placed import device_of_object
    from sim.placement.rigid_device import RigidDevice

    key = (device_obj.uid, id(device_obj.data), device_obj.data.GetMTime())
    if key not in _RIGID:
        while len(_RIGID) >= 4:
            _RIGID.pop(next(iter(_RIGID)))
        _RIGID[key] = RigidDevice(device_of_object(device_obj))
    return _RIGID[key]


def clearance_surface(case: Any, overlay: ov.ClearanceMap) -> pv.PolyData | None:
    """The structure's world surface with a ``clearance_mm`` array: the exact distance of each
    vertex to the device at its current pose (None if either object is gone)."""
    from sim.placement.colormap import ARRAY, clearance_at

    structure, device = case.scene.find(overlay.structure), case.scene.find(overlay.device)
    if structure is None or device is None:
        return None
    surface = structure.data.extract_surface(algorithm=None).triangulate()
    mesh = pv.PolyData(surface.points, surface.faces).transform(structure.transform,
                                                                 inplace=False)
    mesh.point_data[ARRAY] = clearance_at(mesh.points, _rigid(device), device.transform,
                                          overlay.max_distance)
    return mesh


def dashed(points: np.ndarray, dash_mm: float = 3.0) -> pv.PolyData:
    """A polyline cut into dashes of ``dash_mm`` with gaps of the same length."""
    segs = []
    for a, b in zip(points[:-1], points[1:], strict=True):
        length = float(np.linalg.norm(b - a))
        n = max(int(length / dash_mm), 1)
        ts = np.linspace(0.0, 1.0, n + 1)
        segs += [(a + (b - a) * ts[i], a + (b - a) * ts[i + 1]) for i in range(0, n, 2)]
    pts = np.array([p for s in segs for p in s])
    lines = np.hstack([[2, 2 * i, 2 * i + 1] for i in range(len(segs))])
    return pv.PolyData(pts, lines=lines)


class OverlayLayer:
    """Keeps a plotter's overlay actors in step with one case's ``overlays`` section."""

    def __init__(self, plotter: Any, request_render: Callable[[], None] = lambda: None) -> None:
        self.plotter = plotter
        self.request_render = request_render
        self.case: Any = None
        self.actors: dict[str, list] = {}
        self._drawn: dict[str, ov.Overlay] = {}
        self._watched: dict[str, Any] = {}  # device uid -> (object, listener)
        self.live: LiveOverlays | None = None

    def set_case(self, case: Any) -> None:
        if self.case is not None:
            section_events(self.case).changed.disconnect(self._section_changed)
            self._clear()
        self.case = case
        if case is not None:
            section_events(case).changed.connect(self._section_changed)
            self.sync()

    def set_live(self, live: LiveOverlays | None) -> None:
        """Draw ``live`` (a workbench's live overlays) too, following its events."""
        if live is self.live:
            return
        if self.live is not None:
            self.live.changed.disconnect(self._live_changed)
            self.live.settled.disconnect(self.request_render)
        self.live = live
        if live is not None:
            live.changed.connect(self._live_changed)
            live.settled.connect(self.request_render)
        self.sync()

    def close(self) -> None:
        self.set_live(None)
        self.set_case(None)

    def _live_changed(self, oid: str) -> None:
        """One live overlay changed: a tool that only moved keeps its actors; anything else
        is drawn again. The render follows once per batch (``settled``)."""
        key = LIVE + oid
        new = self.live.get(oid) if self.live is not None else None
        old = self._drawn.get(key)
        if new == old:
            return
        if live_adapters.only_moved(old, new):
            live_adapters.move_tool(self.actors.get(key, []), new)
            self._drawn[key] = new
            return
        self._remove(key)
        if new is not None:
            self._draw(new, key)

    def _section_changed(self, key: str) -> None:
        if key == ov.SECTION:
            self.sync()
            self.request_render()

    def _clear(self) -> None:
        for oid in list(self.actors):
            self._remove(oid)
        for obj, listener in self._watched.values():
            obj.events.transform.disconnect(listener)
        self._watched.clear()

    def _remove(self, oid: str) -> None:
        for actor in self.actors.pop(oid, []):
            self.plotter.remove_actor(actor, render=False)
        self._drawn.pop(oid, None)

    def sync(self) -> None:
        """Draw what the section holds now: new and changed overlays, and drop the rest."""
        wanted = ov.overlays(self.case) if self.case is not None else {}
        live = self.live.items() if self.live is not None else {}
        wanted = {**wanted, **{LIVE + k: v for k, v in live.items()}}
        for oid in [o for o in self._drawn if o not in wanted or wanted[o] != self._drawn[o]]:
            self._remove(oid)
        for oid, overlay in wanted.items():
            if oid not in self._drawn:
                self._draw(overlay, oid)
        self._watch_devices(wanted)

    def redraw(self, kind: str | None = None) -> None:
        for oid in [o for o, d in self._drawn.items() if kind is None or d.kind == kind]:
            self._remove(oid)
        self.sync()

    def _watch_devices(self, wanted: dict[str, ov.Overlay]) -> None:
        uids = {o.device for o in wanted.values() if isinstance(o, ov.ClearanceMap)}
        uids |= {o.structure for o in wanted.values() if isinstance(o, ov.ClearanceMap)}
        for uid in [u for u in self._watched if u not in uids]:
            obj, listener = self._watched.pop(uid)
            obj.events.transform.disconnect(listener)
        for uid in uids - set(self._watched):
            obj = self.case.scene.find(uid)
            if obj is not None:
                def moved(*_args) -> None:
                    self.redraw("clearance")
                    self.request_render()
                obj.events.transform.connect(moved)
                self._watched[uid] = (obj, moved)

    def _draw(self, overlay: Any, key: str) -> None:
        self._drawn[key] = overlay
        if not overlay.visible:
            self.actors[key] = []
            return
        try:
            self.actors[key] = self._actors_for(overlay, PREFIX + key)
        except TwinsightError as exc:  # e.g. an object that is no longer a device: say so, go on
            log.warning("Overlay '%s' cannot be drawn: %s", overlay.label or overlay.id, exc)
            self.actors[key] = []

    def _actors_for(self, o: Any, name: str) -> list:
        common = {"name": name, "pickable": False, "render": False, "reset_camera": False}
        if isinstance(o, ov.ClearanceMap):
            mesh = clearance_surface(self.case, o)
            if mesh is None:
                return []
            return [self.plotter.add_mesh(mesh, scalars="clearance_mm", cmap="RdYlGn",
                                          clim=(0.0, o.max_distance), show_scalar_bar=False,
                                          **common)]
        if isinstance(o, ov.SectionPlane):
            plane = pv.Plane(center=o.origin, direction=o.normal, i_size=o.size, j_size=o.size)
            return [self.plotter.add_mesh(plane, color=o.color, opacity=o.opacity, **common)]
        if isinstance(o, ov.PlanLine):
            pts = np.asarray(o.points, dtype=float)
            line = dashed(pts) if o.dashed else pv.lines_from_points(pts)
            return [self.plotter.add_mesh(line, color=o.color, line_width=o.width, **common)]
        if isinstance(o, ov.Legend):
            return self._legend(o, name)
        if isinstance(o, SensorMarkers):
            return live_adapters.sensor_actors(self.plotter, o, common)
        if isinstance(o, AlarmBanner):
            return live_adapters.banner_actor(self.plotter, o, name)
        if isinstance(o, ToolGlyph):
            return live_adapters.tool_actors(self.plotter, o, common)
        return []

    def _legend(self, o: ov.Legend, name: str) -> list:
        """A scalar bar (2D, so only where the plotter can hold 2D actors: not in the eyes)."""
        add_actor = getattr(self.plotter, "add_actor", None)
        if add_actor is None:
            return []
        from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor

        lut = pv.LookupTable(cmap=o.cmap)
        lut.scalar_range = o.range
        bar = vtkScalarBarActor()
        bar.SetLookupTable(lut)
        bar.SetTitle(f"{o.title} ({o.units})" if o.units else o.title)
        if o.placement == "bottom":  # a live field's bar: wide and readable (issue #20)
            from sim.render.result_fields import style_scalar_bar

            style_scalar_bar(bar)
        else:
            bar.SetNumberOfLabels(5)
            bar.SetOrientationToVertical()  # the right edge: clear of the scale bar below
            bar.SetPosition(0.88, 0.2)
            bar.SetWidth(0.08)
            bar.SetHeight(0.5)
            bar.GetTitleTextProperty().SetFontSize(14)
            bar.UnconstrainedFontSizeOn()
        add_actor(bar, name=name, pickable=False, render=False, reset_camera=False)
        return [bar]

"""Markups in the 3D view: glyphs, lines, planes, boxes, measurement labels and drag handles.

The layer only reflects ``case.markups``; dragging a handle calls ``markup.move_point``
on the model (one undo step per drag), and any model change redraws the markup.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyvista as pv
import vtk

from sim.markups import Markup, MarkupType
from sim.model import Case

HANDLE_FRACTION = 0.008  # handle radius as a fraction of the scene's diagonal
MIN_HANDLE_MM = 0.5


class _Drawn:
    """The actors and handles of one markup."""

    def __init__(self) -> None:
        self.actors: list = []
        self.handles: list[vtk.vtkSphereWidget] = []
        self.dragging = -1
        self.listener: Callable | None = None


def _world_label(anchor, text: str) -> vtk.vtkTextActor:
    """A 2D text overlay pinned to a world point, always on top of the anatomy.

    Not ``Plotter.add_point_labels``: its label-placement mapper creates and destroys a 2D
    mapper on every frame, inside VTK's garbage-collector lock, and that destruction calls
    pyvistaqt's Python make-current hook. A worker thread that holds the GIL while it
    creates any VTK object (a case save, a load) then deadlocks with the render.
    """
    actor = vtk.vtkTextActor()
    actor.SetInput(text)
    coord = actor.GetPositionCoordinate()
    coord.SetCoordinateSystemToWorld()
    coord.SetValue(*(float(v) for v in anchor))
    prop = actor.GetTextProperty()
    prop.SetFontSize(13)
    prop.SetColor(1.0, 1.0, 1.0)
    prop.SetBackgroundColor(0.1, 0.1, 0.1)
    prop.SetBackgroundOpacity(0.55)
    prop.SetFrame(False)
    actor.SetPickable(False)
    return actor


class MarkupLayer:
    def __init__(self, plotter: pv.Plotter) -> None:
        self.plotter = plotter
        self.case: Case | None = None
        self.drawn: dict[str, _Drawn] = {}
        self._batch = False

    # -- model wiring ---------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        if self.case is not None:
            self.case.markups.added.disconnect(self._added)
            self.case.markups.removed.disconnect(self._removed)
            for m in list(self.case.markups):
                self._removed(m)
        self.case = case
        case.markups.added.connect(self._added)
        case.markups.removed.connect(self._removed)
        # Build everything, then render once (each render costs a frame on software GL).
        iren = self.plotter.iren.interactor
        self._batch = True
        iren.EnableRenderOff()
        try:
            for m in case.markups:
                self._added(m)
        finally:
            iren.EnableRenderOn()
            self._batch = False
        self.plotter.render()

    def _added(self, m: Markup) -> None:
        d = self.drawn.setdefault(m.uid, _Drawn())

        def changed(*_args) -> None:
            self.redraw(m)

        d.listener = changed
        m.events.connect(changed)
        self.redraw(m)

    def _removed(self, m: Markup) -> None:
        d = self.drawn.pop(m.uid, None)
        if d is None:
            return
        if d.listener is not None:
            m.events.disconnect(d.listener)
        self._clear_actors(d)
        self._clear_handles(d)
        self.plotter.render()

    # -- drawing --------------------------------------------------------------------------
    def handle_radius(self) -> float:
        bounds = self.case.scene.bounds() if self.case is not None else None
        if not bounds:
            return 2.0
        diag = float(np.linalg.norm(np.subtract(bounds[1::2], bounds[::2])))
        return max(MIN_HANDLE_MM, HANDLE_FRACTION * diag)

    def _clear_actors(self, d: _Drawn) -> None:
        for a in d.actors:
            self.plotter.remove_actor(a, render=False)
        d.actors = []

    def _clear_handles(self, d: _Drawn) -> None:
        for w in d.handles:
            w.Off()
            w.SetInteractor(None)
        d.handles = []

    def redraw(self, m: Markup) -> None:
        d = self.drawn.get(m.uid)
        if d is None:
            return
        self._clear_actors(d)
        if m.visible and m.points:
            d.actors = self._build(m)
        self._sync_handles(m, d)
        if not self._batch:
            self.plotter.render()

    def _add(self, mesh, **kw):
        return self.plotter.add_mesh(mesh, pickable=False, render=False, reset_camera=False,
                                     lighting=False, **kw)

    def _build(self, m: Markup) -> list:
        pts = np.asarray(m.points, dtype=float)
        color = m.color
        actors = [self._add(pv.PolyData(pts), color=color, point_size=11,
                            render_points_as_spheres=True)]
        if m.type in (MarkupType.LINE, MarkupType.ANGLE) and len(pts) >= 2:
            actors.append(self._add(pv.lines_from_points(pts), color=color, line_width=3))
        elif m.type is MarkupType.PLANE:
            actors += self._plane(m)
        elif m.type is MarkupType.ROI:
            actors.append(self._add(self._box(m), color=color, style="wireframe", line_width=2))
        text = f"{m.name}: {m.measurement_text()}" if m.type is not MarkupType.POINT else m.name
        anchor = pts.mean(axis=0) if m.type is MarkupType.LINE else pts[-1]
        label = _world_label(anchor, text)
        self.plotter.renderer.AddViewProp(label)
        actors.append(label)
        return actors

    def _plane(self, m: Markup) -> list:
        c, ax = np.asarray(m.points[0]), m.axes
        w, h = m.size[0] / 2.0, m.size[1] / 2.0
        corners = [c + sx * w * ax[:, 0] + sy * h * ax[:, 1]
                   for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        quad = pv.PolyData(np.array(corners), faces=[4, 0, 1, 2, 3])
        normal = pv.lines_from_points(np.array([c, c + ax[:, 2] * max(w, h) * 0.3]))
        return [self._add(quad, color=m.color, opacity=0.3),
                self._add(normal, color=m.color, line_width=2)]

    def _box(self, m: Markup) -> pv.PolyData:
        sx, sy, sz = (s / 2.0 for s in m.size)
        box = pv.Box(bounds=(-sx, sx, -sy, sy, -sz, sz))
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = m.axes, m.points[0]
        return box.transform(pose, inplace=False)

    # -- drag handles ---------------------------------------------------------------------
    def _sync_handles(self, m: Markup, d: _Drawn) -> None:
        wanted = len(m.points) if (m.visible and not m.locked) else 0
        if len(d.handles) != wanted:
            self._clear_handles(d)
            for i in range(wanted):
                d.handles.append(self._handle(m, d, i))
        for i, w in enumerate(d.handles):
            if i != d.dragging:
                w.SetCenter(*m.points[i])

    def _handle(self, m: Markup, d: _Drawn, index: int) -> vtk.vtkSphereWidget:
        w = vtk.vtkSphereWidget()
        w.SetInteractor(self.plotter.iren.interactor)
        w.SetCurrentRenderer(self.plotter.renderer)  # not the orientation marker's viewport
        w.SetRepresentationToSurface()
        w.ScaleOff()
        w.SetRadius(self.handle_radius())
        w.SetCenter(*m.points[index])
        w.GetSphereProperty().SetColor(*m.color)
        w.GetSphereProperty().SetOpacity(0.6)
        w.GetSelectedSphereProperty().SetColor(1.0, 1.0, 0.3)
        w.SetPhiResolution(12)
        w.SetThetaResolution(16)

        def start(*_a) -> None:
            d.dragging = index

        def moved(*_a) -> None:
            if index < len(m.points):
                m.move_point(index, w.GetCenter())

        def end(*_a) -> None:
            d.dragging = -1

        w.AddObserver("StartInteractionEvent", start)
        w.AddObserver("InteractionEvent", moved)
        w.AddObserver("EndInteractionEvent", end)
        w.On()
        return w

    def handles(self, m: Markup) -> list[vtk.vtkSphereWidget]:
        d = self.drawn.get(m.uid)
        return list(d.handles) if d is not None else []

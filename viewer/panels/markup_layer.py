"""Markups in the 3D view: glyphs, lines, planes, boxes, measurement labels and drag handles.

The layer only reflects ``case.markups``; dragging a handle calls ``markup.move_point``
on the model (one undo step per drag), and any model change redraws the markup. Planes
and ROIs also get white resize handles (plane corners, ROI face centres) that set
``markup.size`` (an ROI's centre follows, its opposite face stays); each drag is one
undo step.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
import pyvista as pv
from vtkmodules.vtkInteractionWidgets import vtkSphereWidget
from vtkmodules.vtkRenderingCore import vtkTextActor

from sim.markups import Markup, MarkupType
from sim.model import Case
from viewer.views.label_declutter import LabelDeclutter

HANDLE_FRACTION = 0.008  # handle radius as a fraction of the scene's diagonal
MIN_HANDLE_MM = 0.5
RESIZE_COLOR = (0.95, 0.95, 0.95)
RESIZE_RADIUS = 0.8  # resize handles are a little smaller than the markup's own


class _Drawn:
    """The actors and handles of one markup."""

    def __init__(self) -> None:
        self.actors: list = []
        self.handles: list[vtkSphereWidget] = []
        self.dragging = -1
        self.size_handles: list[vtkSphereWidget] = []
        self.resizing = -1
        self.resize_start: tuple = ()  # (centre, size) when the resize drag began
        self.resize_step: AbstractContextManager | None = None  # the drag's undo macro
        self.listener: Callable | None = None


def _world_label(anchor, text: str) -> vtkTextActor:
    """A 2D text overlay pinned to a world point, always on top of the anatomy.

    Not ``Plotter.add_point_labels``: its label-placement mapper creates and destroys a 2D
    mapper on every frame, inside VTK's garbage-collector lock, and that destruction calls
    pyvistaqt's Python make-current hook. A worker thread that holds the GIL while it
    creates any VTK object (a case save, a load) then deadlocks with the render.
    """
    actor = vtkTextActor()
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


def _detach(widgets: list) -> None:
    """Switch VTK handle widgets off and detach them from the view's interactor."""
    for w in widgets:
        w.Off()
        w.SetInteractor(None)


class MarkupLayer:
    def __init__(self, plotter: pv.Plotter) -> None:
        self.plotter = plotter
        self.declutter = LabelDeclutter(plotter.renderer)  # labels never cover each other
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
        self.plotter.remove_actor(d.actors, render=False)
        d.actors = []

    def _clear_handles(self, d: _Drawn) -> None:
        self._clear_size_handles(d)
        _detach(d.handles)
        d.handles = []

    def _clear_size_handles(self, d: _Drawn) -> None:
        self._end_resize(d)
        _detach(d.size_handles)
        d.size_handles = []

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
        elif m.type in (MarkupType.CURVE, MarkupType.CLOSED_CURVE) and len(pts) >= 2:
            actors.append(self._add(pv.lines_from_points(m.path_points()), color=color,
                                    line_width=3))
        elif m.type is MarkupType.PLANE:
            actors += self._plane(m)
        elif m.type is MarkupType.ROI:
            actors.append(self._add(self._box(m), color=color, style="wireframe", line_width=2))
        text = f"{m.name}: {m.measurement_text()}" if m.type is not MarkupType.POINT else m.name
        anchor = pts.mean(axis=0) if m.type is MarkupType.LINE else pts[-1]
        label = _world_label(anchor, text)
        self.plotter.renderer.AddViewProp(label)
        self.declutter.add(label, anchor)
        actors.append(label)
        return actors

    def _plane(self, m: Markup) -> list:
        c, ax = np.asarray(m.points[0]), m.axes
        quad = pv.PolyData(m.resize_handles(), faces=[4, 0, 1, 2, 3])  # its four corners
        normal = pv.lines_from_points(np.array([c, c + ax[:, 2] * max(m.size[:2]) * 0.15]))
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
        corners = m.resize_handles() if wanted else np.zeros((0, 3))
        if len(d.size_handles) != len(corners):
            self._clear_size_handles(d)
            d.size_handles = [self._size_handle(m, d, i, c) for i, c in enumerate(corners)]
        for i, w in enumerate(d.size_handles):
            if i != d.resizing:
                w.SetCenter(*corners[i])

    def _sphere(self, center, color, radius: float) -> vtkSphereWidget:
        w = vtkSphereWidget()
        w.SetInteractor(self.plotter.iren.interactor)
        w.SetCurrentRenderer(self.plotter.renderer)  # not the orientation marker's viewport
        w.SetRepresentationToSurface()
        w.ScaleOff()
        w.SetRadius(radius)
        w.SetCenter(*center)
        w.GetSphereProperty().SetColor(*color)
        w.GetSphereProperty().SetOpacity(0.6)
        w.GetSelectedSphereProperty().SetColor(1.0, 1.0, 0.3)
        w.SetPhiResolution(12)
        w.SetThetaResolution(16)
        return w

    def _handle(self, m: Markup, d: _Drawn, index: int) -> vtkSphereWidget:
        w = self._sphere(m.points[index], m.color, self.handle_radius())

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

    def _size_handle(self, m: Markup, d: _Drawn, index: int, at) -> vtkSphereWidget:
        w = self._sphere(at, RESIZE_COLOR, RESIZE_RADIUS * self.handle_radius())
        w.GetSphereProperty().SetOpacity(0.9)

        def start(*_a) -> None:
            d.resizing, d.resize_start = index, (m.points[0], m.size)
            if self.case is not None:  # every change of the drag becomes one undo step
                d.resize_step = self.case.history.macro(f"Resize '{m.name}'")
                d.resize_step.__enter__()

        def moved(*_a) -> None:
            if d.resizing != index or not m.points:
                return
            centre, size = m.resized(index, w.GetCenter(), *d.resize_start)
            m.size = size
            if centre != m.points[0]:
                m.move_point(0, centre)

        w.AddObserver("StartInteractionEvent", start)
        w.AddObserver("InteractionEvent", moved)
        w.AddObserver("EndInteractionEvent", lambda *_a: self._end_resize(d, m))
        w.On()
        return w

    def _end_resize(self, d: _Drawn, m: Markup | None = None) -> None:
        step, d.resize_step = d.resize_step, None
        d.resizing = -1
        if step is not None:
            step.__exit__(None, None, None)
        if m is not None:
            self._sync_handles(m, d)  # the released handle snaps back onto the corner/face
            self.plotter.render()

    def handles(self, m: Markup) -> list[vtkSphereWidget]:
        d = self.drawn.get(m.uid)
        return list(d.handles) if d is not None else []

    def size_handles(self, m: Markup) -> list[vtkSphereWidget]:
        d = self.drawn.get(m.uid)
        return list(d.size_handles) if d is not None else []

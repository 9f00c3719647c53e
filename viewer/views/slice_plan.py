"""The plan drawn on a slice view: where surfaces and parts cut the plane (their contours in
their colours), devices' cross-section outlines (thicker), clearance violations (the part of a
device's outline closer to a critical structure than its margin, in red), and markups: control
points on the plane as filled dots, points near it as rings, lines and curves (trajectories)
projected onto the plane, with a cross where they pass through it.

Everything comes from the case (scene objects, markups, the Place panel's roles and margins in
``case.sections["placement"]``); nothing here owns state. Cutters are kept per object so a new
slice re-cuts with a prepared search structure, and objects whose bounds miss the plane are
skipped; the contours of the planes shown last are kept (up to :data:`CACHED_POINTS` a view).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import numpy as np
import pyvista as pv
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkDoubleArray
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPlane
from vtkmodules.vtkFiltersCore import vtkImplicitPolyDataDistance, vtkPolyDataPlaneCutter

from sim.model import Case, ObjectKind

VIOLATION_COLOR = (1.0, 0.1, 0.1)
NEAR_MM = 5.0  # markup points this close to the plane are drawn as rings
OUTLINE_KINDS = (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE)
CACHED_POINTS = 400_000  # contour points cached per view (~15 MB), the planes shown last


def _rows(color, n: int) -> np.ndarray:
    return np.tile((np.asarray(color, dtype=float) * 255).astype(np.uint8), (n, 1))


# A markup dot or ring: the quads of pyvista's Disc (20 around), made with numpy in the plane's
# frame; pv.Disc rotates a new disc source through VTK filters, ~1 ms each on every slice.
_RING = np.exp(2j * np.pi * np.arange(20) / 20)
_RING_QUADS = np.column_stack([np.full(20, 4), 2 * np.arange(20), 2 * np.arange(20) + 1,
                               2 * np.roll(np.arange(20), -1) + 1,
                               2 * np.roll(np.arange(20), -1)]).ravel()


def _disc(center: np.ndarray, inner: float, outer: float, right: np.ndarray,
          up: np.ndarray) -> pv.PolyData:
    """An annulus (inner 0: a filled disc) round ``center`` in the plane of ``right``, ``up``."""
    ring = np.outer(_RING.real, right) + np.outer(_RING.imag, up)
    points = np.empty((40, 3))
    points[0::2] = center + inner * ring
    points[1::2] = center + outer * ring
    return pv.PolyData(points, faces=_RING_QUADS)


def _segments(ends: np.ndarray) -> pv.PolyData:
    """Line segments between consecutive pairs of points (a cross: four points)."""
    n = len(ends) // 2
    return pv.PolyData(ends, lines=np.column_stack([np.full(n, 2), 2 * np.arange(n),
                                                    2 * np.arange(n) + 1]).ravel())


def _cells(arrays: list[tuple[np.ndarray, np.ndarray]], shifts: list[int]) -> vtkCellArray:
    """One cell array of the (offsets, connectivity) pairs, point ids moved by ``shifts``."""
    offsets, conn, base = [np.zeros(1, dtype=np.int64)], [], 0
    for (off, ids), shift in zip(arrays, shifts, strict=True):
        offsets.append(off[1:] + base)
        conn.append(ids + shift)
        base += len(ids)
    out = vtkCellArray()
    out.SetData(numpy_support.numpy_to_vtkIdTypeArray(np.concatenate(offsets), deep=True),
                numpy_support.numpy_to_vtkIdTypeArray(
                    np.concatenate(conn).astype(np.int64), deep=True))
    return out


def _merged(parts: list[pv.PolyData]) -> pv.PolyData:
    """``parts`` (each with an "rgb" point array) as one mesh: points, rgb and vertex, line and
    polygon cells joined with numpy (pyvista's merge goes through an unstructured grid)."""
    if len(parts) == 1:
        return parts[0]
    if any(p.GetNumberOfStrips() for p in parts):
        return parts[0].merge(parts[1:])
    shifts = np.cumsum([0] + [p.n_points for p in parts[:-1]]).tolist()
    out = pv.PolyData()  # (given points, pyvista would add a vertex cell for each)
    out.points = np.concatenate([np.asarray(p.points) for p in parts])
    for name in ("Verts", "Lines", "Polys"):
        held = [(p, shift) for p, shift in zip(parts, shifts, strict=True)
                if getattr(p, f"GetNumberOf{name}")()]
        if held:
            arrays = [(numpy_support.vtk_to_numpy(c.GetOffsetsArray()).astype(np.int64),
                       numpy_support.vtk_to_numpy(c.GetConnectivityArray()))
                      for c in (getattr(p, f"Get{name}")() for p, _ in held)]
            getattr(out, f"Set{name}")(_cells(arrays, [shift for _, shift in held]))
    out.point_data["rgb"] = np.concatenate([np.asarray(p.point_data["rgb"]) for p in parts])
    return out


class _Cut:
    """A prepared plane cutter for one object's mesh (in world coordinates). A new one is made
    when the mesh or its transform changes, which also retires the contours cached for it."""

    def __init__(self, mesh: pv.PolyData) -> None:
        self.mesh = mesh
        self.plane = vtkPlane()
        self.cutter = vtkPolyDataPlaneCutter()
        self.cutter.SetInputData(mesh)
        self.cutter.SetPlane(self.plane)
        self.bounds = np.asarray(mesh.bounds).reshape(3, 2)
        self.corners = np.array(np.meshgrid(*self.bounds)).reshape(3, -1).T
        self._distance: vtkImplicitPolyDataDistance | None = None
        self.cuts_made = 0  # how many times the mesh was cut (the contour cache's misses)

    def crosses(self, point: np.ndarray, normal: np.ndarray) -> bool:
        side = (self.corners - point) @ normal
        return bool(side.min() <= 0 <= side.max())

    def cut(self, point: np.ndarray, normal: np.ndarray) -> pv.PolyData:
        """The contour where the plane (point, unit normal) cuts the mesh."""
        self.plane.SetOrigin(*point)
        self.plane.SetNormal(*normal)
        self.cutter.Modified()
        self.cutter.Update()
        self.cuts_made += 1
        return pv.wrap(self.cutter.GetOutput()).copy()

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (mm, negative inside) of world points to the mesh."""
        if self._distance is None:
            self._distance = vtkImplicitPolyDataDistance()
            self._distance.SetInput(self.mesh)
        if len(points) == 0:
            return np.zeros(0)
        out = vtkDoubleArray()
        self._distance.FunctionValue(pv.convert_array(np.ascontiguousarray(points, dtype=float)), out)
        return pv.convert_array(out).copy()


class PlanOnSlice:
    """Draws a case's plan into one slice view (see the module docstring)."""

    def __init__(self, view) -> None:
        self.view = view
        self._cuts: dict[str, tuple[tuple, _Cut]] = {}
        self.violation_points = np.zeros((0, 3))  # device outline points breaking a margin
        self.markup_points: list[tuple[object, int, np.ndarray]] = []  # on the plane: (markup, i, p)
        self._held: dict[str, tuple[pv.PolyData, object]] = {}  # actor name -> (its data, actor)
        # Contours of the planes shown last, per (cutter, plane): scrolling back and forth, or
        # returning to a plane, re-uses them instead of cutting the mesh again.
        self._contours: OrderedDict[tuple, pv.PolyData] = OrderedDict()
        self._contour_points = 0

    def forget(self) -> None:
        """The view's actors were cleared: make new ones next time."""
        self._held.clear()

    # -- geometry of the case -------------------------------------------------------------
    def _cut_for(self, obj) -> _Cut | None:
        data = obj.data
        if not isinstance(data, pv.PolyData) or data.n_cells == 0:
            return None
        m = obj.transform
        key = (id(data), data.n_points, tuple(np.round(m.ravel(), 9)))
        held = self._cuts.get(obj.uid)
        if held is None or held[0] != key:
            if held is not None:
                self._drop_contours(held[1])
            mesh = data if np.allclose(m, np.eye(4)) else data.transform(m, inplace=False)
            held = (key, _Cut(mesh))
            self._cuts[obj.uid] = held
        return held[1]

    @staticmethod
    def _critical(case: Case) -> dict[str, float]:
        """uid -> margin (mm) of the structures the Place panel calls critical."""
        structures = (case.sections.get("placement") or {}).get("structures") or {}
        return {uid: float(e.get("margin_mm", 2.0)) for uid, e in structures.items()
                if isinstance(e, dict) and e.get("role") == "critical"}

    def update(self, case: Case | None) -> None:
        """Redraw the plan for the view's current plane."""
        view = self.view
        names = ("plan-contours", "plan-devices", "plan-violations", "plan-markups",
                 "plan-markup-lines")
        if case is None or view.image is None:
            for n in names:
                self._show(n, [])
            self.markup_points, self.violation_points = [], np.zeros((0, 3))
            return
        point, normal = view.plane()
        towards = view.frame()[2]
        lift = towards * 0.02 * float(np.min(view.image.spacing))
        contours, devices = [], []
        live = set()
        for obj in case.scene:
            if obj.kind not in OUTLINE_KINDS or not obj.visible:
                continue
            cut = self._cut_for(obj)
            if cut is None:
                continue
            live.add(obj.uid)
            if not cut.crosses(point, normal):
                continue
            lines = self._contour(cut, point, normal)
            if lines.n_points == 0:
                continue
            lines.points = np.asarray(lines.points) + lift
            lines.point_data["rgb"] = _rows(obj.color, lines.n_points)
            (devices if obj.kind == ObjectKind.DEVICE else contours).append((obj, lines))
        for uid in set(self._cuts) - live - {o.uid for o in case.scene}:
            self._drop_contours(self._cuts.pop(uid)[1])
        self._show("plan-contours", [c for _, c in contours], line_width=2)
        self._show("plan-devices", [c for _, c in devices], line_width=3)
        self._violations(case, devices, lift)
        self._markups(case, point, normal, lift)

    def _contour(self, cut: _Cut, point: np.ndarray, normal: np.ndarray) -> pv.PolyData:
        """``cut``'s contour on the plane, from the cache when it was cut before (a copy)."""
        key = (id(cut), *np.round(normal, 6), round(float(np.asarray(point) @ normal), 4))
        held = self._contours.get(key)
        if held is None or held[0] is not cut:
            held = self._contours[key] = (cut, cut.cut(point, normal))
            self._contour_points += held[1].n_points + 1
            while self._contour_points > CACHED_POINTS and len(self._contours) > 1:
                _, (_, old) = self._contours.popitem(last=False)
                self._contour_points -= old.n_points + 1
        else:
            self._contours.move_to_end(key)
        return held[1].copy()

    def _drop_contours(self, cut: _Cut) -> None:
        """Forget the contours of a retired cutter (its object changed or left the scene)."""
        for key in [k for k, (c, _) in self._contours.items() if c is cut]:
            self._contour_points -= self._contours.pop(key)[1].n_points + 1

    def _violations(self, case: Case, devices: list, lift: np.ndarray) -> None:
        """Device outline points closer to a critical structure than its margin."""
        critical = self._critical(case)
        bad = []
        for _obj, lines in devices:
            pts = np.asarray(lines.points) - lift
            for uid, margin in critical.items():
                target = case.scene.find(uid)
                cut = self._cut_for(target) if target is not None else None
                if cut is None:
                    continue
                near = cut.distance(pts) < margin
                bad.append(pts[near])
        self.violation_points = np.vstack(bad) if bad else np.zeros((0, 3))
        parts = []
        if len(self.violation_points):
            cloud = pv.PolyData(self.violation_points + 1.5 * lift)
            cloud.point_data["rgb"] = _rows(VIOLATION_COLOR, cloud.n_points)
            parts.append(cloud)
        self._show("plan-violations", parts, point_size=7, render_points_as_spheres=True)

    def _markups(self, case: Case, point: np.ndarray, normal: np.ndarray, lift: np.ndarray) -> None:
        view, plotter = self.view, self.view.plotter
        half = 0.5 * float(np.min(view.image.spacing)) if not view.oblique else 0.5 * float(
            np.min(view.image.spacing))
        if not view.oblique:  # an index plane: half the spacing along its own axis
            half = 0.5 * float(view.image.spacing[view.axis])
        size = 0.025 * float(plotter.camera.parallel_scale)
        right, up, _ = view.frame()
        discs, lines, rgb_d, rgb_l = [], [], [], []
        self.markup_points = []
        for m in case.markups:
            if not m.visible or not m.points:
                continue
            pts = np.asarray(m.points, dtype=float)
            d = (pts - point) @ normal
            for i, (p, di) in enumerate(zip(pts, d, strict=True)):
                if abs(di) > NEAR_MM:
                    continue
                on = abs(di) <= half
                flat = p - di * normal
                disc = _disc(flat + 2 * lift, 0.0 if on else 0.6 * size,
                             size if on else 0.8 * size, right, up)
                discs.append(disc)
                rgb_d.append(_rows(m.color, disc.n_points))
                if on:
                    self.markup_points.append((m, i, flat))
            if len(pts) > 1 and m.type in ("line", "curve", "closed_curve", "angle"):
                path = m.path_points()
                flat = path - np.outer((path - point) @ normal, normal) + lift
                seg = pv.lines_from_points(flat)
                lines.append(seg)
                rgb_l.append(_rows(m.color, seg.n_points))
                dd = (path - point) @ normal
                for a in range(len(path) - 1):  # where the path passes through the plane
                    if dd[a] * dd[a + 1] < 0:
                        t = dd[a] / (dd[a] - dd[a + 1])
                        hit = path[a] + t * (path[a + 1] - path[a]) + 2 * lift
                        cross = _segments(np.array([hit - size * right, hit + size * right,
                                                    hit - size * up, hit + size * up]))
                        lines.append(cross)
                        rgb_l.append(_rows(m.color, cross.n_points))
        for name, parts, rgb, kw in (("plan-markups", discs, rgb_d, {}),
                                     ("plan-markup-lines", lines, rgb_l, {"line_width": 2})):
            for p, c in zip(parts, rgb, strict=True):
                p.point_data["rgb"] = c
            self._show(name, parts, **kw)

    def _show(self, name: str, parts: list, **kw) -> None:
        """Show ``parts`` (meshes with an "rgb" point array) as actor ``name``: the actor is
        made once and its data replaced in place afterwards (no new mapper per slice)."""
        held = self._held.get(name)
        if not parts:
            if held is not None:
                held[1].SetVisibility(False)
            return
        merged = _merged(parts)
        if held is None:
            mesh = pv.PolyData()
            mesh.copy_from(merged)
            actor = self.view.plotter.add_mesh(mesh, scalars="rgb", rgb=True, lighting=False,
                                               name=name, pickable=False, render=False,
                                               reset_camera=False, **kw)
            self._held[name] = (mesh, actor)
        else:
            held[0].copy_from(merged)
            held[1].SetVisibility(True)

    def markup_near(self, world, tolerance_mm: float):
        """(markup, point index) of the markup point on this plane nearest ``world`` within
        ``tolerance_mm``, or None."""
        best = None
        for m, i, p in self.markup_points:
            d = float(np.linalg.norm(p - np.asarray(world)))
            if d <= tolerance_mm and (best is None or d < best[0]) and not m.locked:
                best = (d, m, i)
        return None if best is None else (best[1], best[2])


class PlanFollower:
    """Mixed into :class:`~viewer.views.slice_view.SliceViewer` (which provides ``case`` and
    ``views``): redraws the plan on every slice view when the case's objects, markups or
    placement roles change, once per burst of events (a point drag emits one per mouse move)."""

    _plan_timer = None
    _plan_watched: list

    def _follow_plan(self, old, new) -> None:
        from PyQt6.QtCore import QTimer

        from sim.model.sections import section_events

        if self._plan_timer is None:
            self._plan_timer = QTimer(self)
            self._plan_timer.setSingleShot(True)
            self._plan_timer.setInterval(0)
            self._plan_timer.timeout.connect(self.redraw_plan)
            self._plan_watched = []
        for signal, slot in self._plan_watched:
            with contextlib.suppress(TypeError, ValueError, RuntimeError):
                signal.disconnect(slot)
        self._plan_watched = []
        if new is None:
            return

        def watch(signal, slot) -> None:
            signal.connect(slot)
            self._plan_watched.append((signal, slot))

        def item_added(item) -> None:
            watch(item.events, self._plan_changed)
            self._plan_changed()

        for container in (new.scene, new.markups):
            watch(container.added, item_added)
            watch(container.removed, self._plan_changed)
            for item in container:
                watch(item.events, self._plan_changed)
        watch(section_events(new).changed, self._plan_changed)

    def _plan_changed(self, *_args) -> None:
        if self._plan_timer is not None:
            self._plan_timer.start()

    def redraw_plan(self) -> None:
        for v in self.views:
            v.plan.update(self.case)
            v.request_render()

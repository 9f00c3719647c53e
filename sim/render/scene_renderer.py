"""A case rendered into a PyVista plotter: actors, camera views, markers, clipping."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonDataModel import vtkPlane
from vtkmodules.vtkFiltersHybrid import vtkPolyDataSilhouette
from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor, vtkLegendScaleActor
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkProp

from sim.model import Case, SceneObject
from sim.render.adapters import ObjectAdapter, adapter_for, vtk_matrix
from sim.render.offscreen import offscreen_plotter
from sim.render.overlays import OverlayLayer

# Standard anatomical views in LPS: (direction from focal point to camera, view-up).
STANDARD_VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "A": ((0, -1, 0), (0, 0, 1)),  # anterior: camera in front of the patient
    "P": ((0, 1, 0), (0, 0, 1)),
    "L": ((1, 0, 0), (0, 0, 1)),
    "R": ((-1, 0, 0), (0, 0, 1)),
    "S": ((0, 0, 1), (0, -1, 0)),  # superior: looking down, anterior at the top
    "I": ((0, 0, -1), (0, -1, 0)),
}
HOME_VIEW = ((0.45, -1.0, 0.55), (0, 0, 1))  # anterior-left-superior oblique
HIGHLIGHT = "#ffd23f"  # selection outline
BACKGROUND = ("#1d2330", "#3b4558")  # bottom, top: a calm gradient behind anatomy


def _orientation_cube() -> vtkAnnotatedCubeActor:
    cube = vtkAnnotatedCubeActor()
    for face, text in zip(("XPlus", "XMinus", "YPlus", "YMinus", "ZPlus", "ZMinus"), "LRPASI",
                          strict=True):
        getattr(cube, f"Set{face}FaceText")(text)
    cube.SetFaceTextScale(0.55)
    cube.GetCubeProperty().SetColor(0.55, 0.6, 0.7)
    for getter in ("GetXPlusFaceProperty", "GetXMinusFaceProperty"):
        getattr(cube, getter)().SetColor(0.95, 0.35, 0.35)
    for getter in ("GetYPlusFaceProperty", "GetYMinusFaceProperty"):
        getattr(cube, getter)().SetColor(0.35, 0.9, 0.45)
    for getter in ("GetZPlusFaceProperty", "GetZMinusFaceProperty"):
        getattr(cube, getter)().SetColor(0.4, 0.6, 1.0)
    return cube


def _scale_bar() -> vtkLegendScaleActor:
    """A ruler along the bottom edge labelled in world millimetres."""
    bar = vtkLegendScaleActor()
    bar.SetLabelModeToDistance()
    bar.LeftAxisVisibilityOff()
    bar.RightAxisVisibilityOff()
    bar.TopAxisVisibilityOff()
    bar.LegendVisibilityOff()
    bar.GetBottomAxis().SetTitle("mm")
    bar.SetBottomBorderOffset(40)
    return bar


class SceneRenderer:
    """Keeps a plotter's actors in step with a case's scene."""

    def __init__(self, plotter: pv.Plotter, case: Case | None = None) -> None:
        self.plotter = plotter
        self.case: Case | None = None
        self.adapters: dict[str, ObjectAdapter] = {}
        self._data_slots: dict[str, tuple] = {}  # uid -> (object, its geometry listener)
        self._clip_plane: vtkPlane | None = None
        self._orientation_widget = None
        self._highlight = None
        self._selected: SceneObject | None = None  # whose outline is shown
        self._batch_depth, self._render_pending = 0, False
        plotter.set_background(BACKGROUND[0], top=BACKGROUND[1])
        self._scale_bar = _scale_bar()
        plotter.add_actor(self._scale_bar, name="scale-bar", pickable=False, render=False,
                          reset_camera=False)
        self.overlays = OverlayLayer(plotter, self.request_render)
        if case is not None:
            self.set_case(case)

    def request_render(self) -> None:
        self.plotter.render()  # inside batched() this only marks a render as pending

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Renders of this plotter asked for inside the block are drawn once, at its end:
        opening a case otherwise drew the whole scene three times per object, and every view
        and panel that shares the plotter drew it again (0.3-0.4 s each on software GL).
        Direct ``plotter.render()`` calls are deferred too: an instance attribute shadows
        the method for the block's duration."""
        if not self._batch_depth:
            self.plotter.render = self._defer_render
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if not self._batch_depth:
                del self.plotter.render
                if self._render_pending:
                    self._render_pending = False
                    self.plotter.render()

    def _defer_render(self, *_args, **_kwargs) -> None:
        self._render_pending = True

    # -- model -> actors ---------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        with self.batched():
            self._set_case(case)

    def _set_case(self, case: Case) -> None:
        if self.case is not None:
            self.case.scene.added.disconnect(self._on_added)
            self.case.scene.removed.disconnect(self._on_removed)
            self.case.scene.selection_changed.disconnect(self._on_selection)
            self._on_selection(None)
            for adapter in list(self.adapters.values()):
                adapter.remove()
            self.adapters.clear()
        self.case = case
        case.scene.added.connect(self._on_added)
        case.scene.removed.connect(self._on_removed)
        case.scene.selection_changed.connect(self._on_selection)
        for obj in case.scene:
            self._on_added(obj, render=False)
        self.overlays.set_case(case)
        self._set_orientation_marker(case.anatomical)
        if case.anatomical:
            self.look_from(*HOME_VIEW)  # the surgeon's view: from the front, a little above
        else:
            self.reset_camera()

    def _on_added(self, obj: SceneObject, render: bool = True) -> None:
        self._build(obj)

        def rebuild(*_args) -> None:
            # Geometry replaced or changed in place (a hardened transform): the actors draw
            # copies made from the old data (normals, slices), so build them again.
            old = self.adapters.pop(obj.uid, None)
            if old is not None:
                old.remove()
                self._build(obj)

        obj.events.data.connect(rebuild)
        self._data_slots[obj.uid] = (obj, rebuild)
        if render:
            self.request_render()

    def _build(self, obj: SceneObject) -> None:
        adapter = adapter_for(obj, self.plotter, self.request_render)
        if self._clip_plane is not None:
            self._apply_clip(adapter)
        self.adapters[obj.uid] = adapter

    def _on_removed(self, obj: SceneObject) -> None:
        slot = self._data_slots.pop(obj.uid, None)
        if slot is not None:
            slot[0].events.data.disconnect(slot[1])
        adapter = self.adapters.pop(obj.uid, None)
        if adapter is not None:
            adapter.remove()

    def _on_selection(self, obj: SceneObject | None) -> None:
        """Outline the selected object's silhouette (surfaces) or bounding box (volumes).

        The outline is the selected object's view like its own actors: it follows the
        object's transform (a moved or placed device), its geometry and its visibility."""
        old = self._selected
        if old is not None:
            old.events.transform.disconnect(self._place_highlight)
            old.events.data.disconnect(self._build_highlight)
            old.events.visible.disconnect(self._build_highlight)
        self._selected = obj
        if obj is not None:
            obj.events.transform.connect(self._place_highlight)
            obj.events.data.connect(self._build_highlight)
            obj.events.visible.connect(self._build_highlight)
        self._build_highlight()

    @property
    def highlight_actor(self) -> vtkActor | None:
        """The selection outline's actor (None when nothing shown is selected)."""
        return self._highlight

    def _build_highlight(self, *_args) -> None:
        if self._highlight is not None:
            self.plotter.remove_actor(self._highlight, render=False)
            self._highlight = None
        obj = self._selected
        if obj is not None and obj.visible:
            if isinstance(obj.data, pv.PolyData):
                actor = vtkActor()
                silhouette = vtkPolyDataSilhouette()
                silhouette.SetInputData(obj.data)
                silhouette.SetCamera(self.plotter.renderer.GetActiveCamera())
                silhouette.SetProp3D(actor)  # edges as seen through the object's transform
                silhouette.SetEnableFeatureAngle(False)
                mapper = vtkPolyDataMapper()
                mapper.SetInputConnection(silhouette.GetOutputPort())
                mapper.ScalarVisibilityOff()
                actor.SetMapper(mapper)
                prop = actor.GetProperty()
                prop.SetColor(pv.Color(HIGHLIGHT).float_rgb)
                prop.SetLineWidth(3.0)
                prop.LightingOff()
                self.plotter.add_actor(actor, name="selection-outline", pickable=False,
                                       render=False, reset_camera=False)
                self._highlight = actor
            else:
                self._highlight = self.plotter.add_mesh(
                    obj.data.outline(), color=HIGHLIGHT, line_width=2.0, pickable=False,
                    name="selection-outline", render=False, reset_camera=False)
            self._highlight.SetPickable(False)
            self._place_highlight()
        self.request_render()

    def _place_highlight(self, *_args) -> None:
        if self._highlight is not None and self._selected is not None:
            self._highlight.SetUserMatrix(vtk_matrix(self._selected.transform))
            self.request_render()

    def object_for_actor(self, actor: vtkProp) -> SceneObject | None:
        for adapter in self.adapters.values():
            if any(a is actor for a in adapter.actors):
                return adapter.obj
        return None

    # -- decorations ---------------------------------------------------------------------
    def _set_orientation_marker(self, anatomical: bool) -> None:
        """L/R/A/P/S/I cube for patient cases, x/y/z axes for parts."""
        if self._orientation_widget is not None:
            self._orientation_widget.EnabledOff()
        marker = _orientation_cube() if anatomical else pv.create_axes_marker()
        self._orientation_widget = self.plotter.add_orientation_widget(
            marker, viewport=(0.86, 0.78, 1.0, 1.0))

    # -- camera --------------------------------------------------------------------------
    def reset_camera(self) -> None:
        bounds = self.case.scene.bounds() if self.case is not None else None
        if bounds is not None:
            self.plotter.reset_camera(render=False, bounds=bounds)
        else:
            self.plotter.reset_camera(render=False)
        self.request_render()

    def set_view(self, view: str) -> None:
        """Look at the scene from an anatomical direction: A, P, L, R, S or I."""
        direction, up = STANDARD_VIEWS[view.upper()]
        self.look_from(direction, up)

    def look_from(self, direction: Sequence[float], up: Sequence[float]) -> None:
        """Place the camera on ``direction`` (world) from the scene centre, then fit the scene."""
        cam = self.plotter.camera
        bounds = (self.case.scene.bounds() if self.case is not None else None) or (-1, 1) * 3
        center = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2,
                           (bounds[4] + bounds[5]) / 2])
        direction = np.asarray(direction, float) / np.linalg.norm(direction)
        cam.focal_point = center
        cam.position = center + direction * 1000.0
        cam.up = up
        self.reset_camera()

    def set_parallel_projection(self, parallel: bool) -> None:
        self.plotter.camera.parallel_projection = bool(parallel)
        self.request_render()

    # -- clipping ------------------------------------------------------------------------
    def set_clip_plane(self, origin: Sequence[float], normal: Sequence[float]) -> None:
        """Clip every object by a plane (keeping the side the normal points to)."""
        if self._clip_plane is None:
            self._clip_plane = vtkPlane()
            for adapter in self.adapters.values():
                self._apply_clip(adapter)
        self._clip_plane.SetOrigin(*map(float, origin))
        self._clip_plane.SetNormal(*map(float, normal))
        self.request_render()

    def clear_clip_plane(self) -> None:
        if self._clip_plane is None:
            return
        for adapter in self.adapters.values():
            for a in adapter.actors:
                a.GetMapper().RemoveClippingPlane(self._clip_plane)
        self._clip_plane = None
        self.request_render()

    def _apply_clip(self, adapter: ObjectAdapter) -> None:
        for a in adapter.actors:
            a.GetMapper().AddClippingPlane(self._clip_plane)


def render_case_image(case: Case, out: str | Path | None = None, size: tuple[int, int] = (1280, 800),
                      view: str | None = None) -> np.ndarray:
    """Render a case offscreen; save a PNG to ``out`` if given and return the RGB image."""
    plotter = offscreen_plotter(size)
    try:
        renderer = SceneRenderer(plotter, case)
        if view:
            renderer.set_view(view)
        elif case.anatomical:
            renderer.set_view("A")
        img = plotter.screenshot(str(out) if out else None, return_img=True)
    finally:
        plotter.close()
    return img

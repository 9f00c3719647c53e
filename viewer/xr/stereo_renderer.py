"""The scene drawn twice, side by side: left eye in the left half, right eye in the right.

Both halves share the same actors (built by the desktop's per-kind adapters from the same
scene objects), so a deformed mesh, a moved device or a live instrument pose changes what
both eyes and the desktop view show. One window holds both eyes; the headset session copies
each half into that eye's swapchain image, and the preview simply shows the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyvista as pv
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkUnsignedCharArray

from sim.model import Case, SceneObject
from sim.model.live_overlays import LiveOverlays
from sim.render.adapters import ObjectAdapter, adapter_for
from sim.render.overlays import OverlayLayer
from viewer.views.teardown import close_plotter
from viewer.xr.eye_camera import EyeView, ScenePlacement, apply_eye_camera

XR_BACKGROUND = (0.11, 0.13, 0.17)


def read_pixels(ren_win) -> np.ndarray:
    """The render window's current back-buffer pixels as RGB, top row first."""
    w, h = ren_win.GetSize()
    arr = vtkUnsignedCharArray()
    ren_win.GetPixelData(0, 0, w - 1, h - 1, 0, arr, 0)
    img = numpy_support.vtk_to_numpy(arr).reshape(h, w, 3)
    return img[::-1].copy()


def _refresh_points(adapter: ObjectAdapter) -> bool:
    """Copy moved points into the actors' (normal-carrying) copy of a surface; False if the
    copy no longer matches point for point (then the caller rebuilds the actors)."""
    source = adapter.obj.data
    if not isinstance(source, pv.PolyData):
        return False
    for actor in adapter.actors:
        shown = actor.GetMapper().GetInput()
        if shown is None or shown.GetNumberOfPoints() != source.n_points:
            return False
        shown = pv.wrap(shown)
        shown.points = np.asarray(source.points)
        if "Normals" in shown.point_data:
            fresh = source.compute_normals(cell_normals=False, split_vertices=False,
                                           consistent_normals=False)
            shown.point_data["Normals"] = fresh.point_data["Normals"]
        shown.Modified()
    return True


class _MirroringPlotter:
    """What an adapter needs from a plotter, adding each actor to both eye renderers."""

    def __init__(self, plotter: pv.Plotter) -> None:
        self._plotter = plotter

    def add_mesh(self, *args, **kwargs):
        self._plotter.subplot(0, 0)
        actor = self._plotter.add_mesh(*args, **kwargs)
        self._plotter.renderers[1].add_actor(actor, name=kwargs.get("name"), render=False,
                                             reset_camera=False)
        return actor

    def add_eye_prop(self, prop) -> None:
        """A 2D prop (an alarm banner) in both eyes, at the same place in each: head-locked."""
        for renderer in self._plotter.renderers:
            renderer.AddViewProp(prop)

    def remove_actor(self, actor, render: bool = False) -> None:
        for renderer in self._plotter.renderers:
            renderer.remove_actor(actor, render=False, reset_camera=False)


class StereoRenderer:
    """Keeps a two-eye plotter in step with a case's scene and renders given eye views."""

    def __init__(self, eye_size: tuple[int, int], off_screen: bool = True,
                 plotter_factory: Callable[..., pv.Plotter] | None = None) -> None:
        self.eye_size = (int(eye_size[0]), int(eye_size[1]))
        factory = plotter_factory or pv.Plotter
        self.plotter = factory(shape=(1, 2), border=False, off_screen=off_screen,
                               window_size=[2 * self.eye_size[0], self.eye_size[1]])
        for renderer in self.plotter.renderers:
            renderer.set_background(XR_BACKGROUND)
        self._shim = _MirroringPlotter(self.plotter)
        self.overlays = OverlayLayer(self._shim)
        self.case: Case | None = None
        self.adapters: dict[str, ObjectAdapter] = {}
        self.extra_actors: list = []
        self.placement = ScenePlacement()
        self._seen: dict[str, tuple[int, int]] = {}

    # -- model -> actors -----------------------------------------------------------------------
    def set_case(self, case: Case | None) -> None:
        if self.case is not None:
            self.case.scene.added.disconnect(self._on_added)
            self.case.scene.removed.disconnect(self._on_removed)
            for adapter in list(self.adapters.values()):
                adapter.remove()
            self.adapters.clear()
        self.case = case
        if case is not None:
            case.scene.added.connect(self._on_added)
            case.scene.removed.connect(self._on_removed)
            for obj in case.scene:
                self._on_added(obj)
        self.overlays.set_case(case)  # clearance maps, planes, plan lines: as on the desktop

    def set_live(self, live: LiveOverlays | None) -> None:
        """Show a workbench's live overlays (sensor markers, alarm banner, tool tips)."""
        self.overlays.set_live(live)

    def _on_added(self, obj: SceneObject) -> None:
        self.adapters[obj.uid] = adapter_for(obj, self._shim, lambda: None)
        self._seen[obj.uid] = (id(obj.data), obj.data.GetMTime())

    def _on_removed(self, obj: SceneObject) -> None:
        adapter = self.adapters.pop(obj.uid, None)
        self._seen.pop(obj.uid, None)
        if adapter is not None:
            adapter.remove()

    def sync_model(self) -> None:
        """Bring actors up to date with the model before a frame.

        Rigid transforms are kept by the adapters themselves (actor matrices); geometry
        edited in place (a deforming FE surface calls ``Modified()`` on its points) is pushed
        into the actor's own copy, and geometry replaced outright rebuilds that object's actors.
        """
        if self.case is None:
            return
        for obj in self.case.scene:
            adapter = self.adapters.get(obj.uid)
            if adapter is None:
                continue
            key = (id(obj.data), obj.data.GetMTime())
            if key != self._seen.get(obj.uid):
                if key[0] != self._seen.get(obj.uid, (None,))[0] or not _refresh_points(adapter):
                    self._on_removed(obj)
                    self._on_added(obj)
                self._seen[obj.uid] = (id(obj.data), obj.data.GetMTime())

    def object_for_actor(self, actor) -> SceneObject | None:
        for adapter in self.adapters.values():
            if any(a is actor for a in adapter.actors):
                return adapter.obj
        return None

    def add_overlay_actor(self, actor) -> None:
        """An actor in headset furniture (controller rays, text panel), shown to both eyes."""
        for renderer in self.plotter.renderers:
            renderer.AddActor(actor)
        self.extra_actors.append(actor)

    def remove_overlay_actor(self, actor) -> None:
        for renderer in self.plotter.renderers:
            renderer.RemoveActor(actor)
        if actor in self.extra_actors:
            self.extra_actors.remove(actor)

    # -- cameras and rendering -------------------------------------------------------------------
    def set_eyes(self, eyes: Sequence[EyeView]) -> None:
        for renderer, eye in zip(self.plotter.renderers, eyes, strict=False):
            apply_eye_camera(renderer.GetActiveCamera(), eye, self.placement)

    def render(self, eyes: Sequence[EyeView] | None = None) -> None:
        self.sync_model()
        if eyes is not None:
            self.set_eyes(eyes)
        # Straight to VTK: pyvista's render() is a no-op until a plotter has been "shown".
        self.plotter.ren_win.Render()

    @property
    def render_window(self):
        return self.plotter.ren_win

    def eye_images(self) -> tuple[np.ndarray, np.ndarray]:
        """The last rendered left and right images (RGB, top row first)."""
        img = read_pixels(self.plotter.ren_win)
        w = img.shape[1] // 2
        return img[:, :w].copy(), img[:, w:2 * w].copy()

    def close(self) -> None:
        self.set_live(None)
        self.set_case(None)
        close_plotter(self.plotter)

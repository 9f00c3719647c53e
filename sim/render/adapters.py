"""One small adapter per object kind: builds the actors and keeps them in sync with the model.

Every adapter shows its object's rigid transform (``obj.transform``) as the actors'
user matrix, so the GUI, offscreen screenshots and the headset all draw moved objects
where they are, without touching the geometry until the transform is hardened.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonMath import vtkMatrix4x4

from sim.imaging.timeseries import frame_events
from sim.imaging.volume import is_rgb
from sim.model import ObjectKind, SceneObject
from sim.render import result_fields

# CT soft-tissue window for the orthogonal slices of a volume (level, width in HU).
DEFAULT_WINDOW = (40.0, 400.0)
PICKABLE_OPACITY = 0.5


def vtk_matrix(m: np.ndarray) -> vtkMatrix4x4:
    out = vtkMatrix4x4()
    out.DeepCopy([float(x) for x in np.asarray(m, dtype=float).reshape(16)])
    return out


class ObjectAdapter(ABC):
    """Base adapter: owns the actors of one scene object."""

    def __init__(self, obj: SceneObject, plotter: pv.Plotter, request_render: Callable[[], None]):
        self.obj = obj
        self.plotter = plotter
        self.request_render = request_render
        self.actors: list = self._build()
        self._sync_visibility(obj.visible)
        self._sync_opacity(obj.opacity)
        self._sync_transform()
        obj.events.visible.connect(self._sync_visibility)
        obj.events.color.connect(self._sync_color)
        obj.events.opacity.connect(self._sync_opacity)
        obj.events.transform.connect(self._sync_transform)
        obj.events.display.connect(self._sync_display)

    @abstractmethod
    def _build(self) -> list:
        """Create this object's actors in the plotter and return them."""

    def _sync_visibility(self, visible: bool) -> None:
        for a in self.actors:
            a.SetVisibility(bool(visible))
        self.request_render()

    def _sync_color(self, color) -> None:
        for a in self.actors:
            a.GetProperty().SetColor(*color)
        self.request_render()

    def _sync_opacity(self, opacity: float) -> None:
        for a in self.actors:
            a.GetProperty().SetOpacity(float(opacity))
            # A see-through object (e.g. the skin) must not block clicks on what is inside it.
            a.SetPickable(opacity >= PICKABLE_OPACITY)
        self.request_render()

    def _sync_transform(self, *_args) -> None:
        m = vtk_matrix(self.obj.transform)
        for a in self.actors:
            a.SetUserMatrix(m)
        self.request_render()

    def _sync_display(self, *_args) -> None:
        """The display settings changed: draw the object anew (fields, ranges, windows)."""
        self._drop_actors()
        self.actors = self._build()
        self._sync_visibility(self.obj.visible)
        self._sync_opacity(self.obj.opacity)
        self._sync_transform()

    def _drop_actors(self) -> None:
        for a in self.actors:
            self.plotter.remove_actor(a, render=False)

    def remove(self) -> None:
        self.obj.events.transform.disconnect(self._sync_transform)
        self.obj.events.display.disconnect(self._sync_display)
        self.obj.events.visible.disconnect(self._sync_visibility)
        self.obj.events.color.disconnect(self._sync_color)
        self.obj.events.opacity.disconnect(self._sync_opacity)
        for a in self.actors:
            self.plotter.remove_actor(a, render=False)
        self.actors = []
        self.request_render()


class SurfaceAdapter(ObjectAdapter):
    """Surfaces, devices and parts: one shaded mesh actor, coloured by a field with its
    legend when ``display.scalars`` names one (see :mod:`sim.render.result_fields`)."""

    _legend: str | None = None
    _look: tuple = ()

    def _build(self) -> list:
        o = self.obj
        self._look = _look(o)
        colored = result_fields.shown(o.data, o.display)
        if colored is not None:
            self._legend = colored.title  # one legend per field shown
            actor = self.plotter.add_mesh(
                colored.mesh, scalars=colored.scalars, cmap=colored.cmap, clim=colored.clim,
                opacity=o.opacity, smooth_shading=False, name=o.uid, pickable=True,
                render=False, reset_camera=False,
                scalar_bar_args=result_fields.legend_args(self._legend))
            return [actor]
        metallic = o.kind in (ObjectKind.DEVICE, ObjectKind.PART)
        actor = self.plotter.add_mesh(
            o.data, color=o.color, opacity=o.opacity, smooth_shading=True,
            split_sharp_edges=metallic,  # machined edges stay crisp; anatomy stays smooth
            specular=0.6 if metallic else 0.25, specular_power=30 if metallic else 15,
            name=o.uid, pickable=True, render=False, reset_camera=False)
        return [actor]

    def _sync_display(self, *_args) -> None:
        if _look(self.obj) != self._look:  # another field, range or warp: redraw
            super()._sync_display()

    def _drop_actors(self) -> None:
        super()._drop_actors()
        if self._legend is not None and self._legend in self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar(self._legend, render=False)
        self._legend = None

    def remove(self) -> None:
        if self._legend is not None and self._legend in self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar(self._legend, render=False)
        super().remove()


def _look(o: SceneObject) -> tuple:
    d = o.display
    return (d.scalars, d.warp_factor, d.clim, d.cmap, o.name)


def _cmap(cmap: str | tuple[str, ...]) -> str | list[str]:
    return cmap if isinstance(cmap, str) else list(cmap)  # a list of colours, as pyvista takes


class PointsAdapter(ObjectAdapter):
    """Point clouds: round points; coloured by ``display.scalars`` (with its clim, cmap,
    n_colors) when the cloud carries that array, e.g. a deviation map."""

    def _build(self) -> list:
        o = self.obj
        d = o.display
        name = d.scalars
        style = dict(point_size=d.point_size,
                     render_points_as_spheres=True, opacity=o.opacity, name=o.uid,
                     pickable=True, render=False, reset_camera=False)
        if name and name in o.data.point_data:
            actor = self.plotter.add_mesh(
                o.data, scalars=name, cmap=_cmap(d.cmap or "coolwarm"),
                clim=d.clim, n_colors=d.n_colors,
                show_scalar_bar=False, **style)
        else:
            actor = self.plotter.add_mesh(o.data, color=o.color, **style)
        return [actor]


class VolumeAdapter(ObjectAdapter):
    """Scalar volumes: three orthogonal slices through the centre, in a CT window."""

    def _build(self) -> list:
        o = self.obj
        image: pv.ImageData = o.data
        level, width = o.display.window or DEFAULT_WINDOW
        slices = image.slice_orthogonal()
        actor = self.plotter.add_mesh(
            slices, scalars=image.active_scalars_name, cmap="gray", rgb=is_rgb(image),
            clim=(level - width / 2, level + width / 2), show_scalar_bar=False,
            lighting=False, opacity=o.opacity, name=o.uid, pickable=True, render=False,
            reset_camera=False)
        frame_events.changed.connect(self._on_frame)  # a 4D volume steps through time
        return [actor]

    def _on_frame(self, image: pv.ImageData) -> None:
        """Show the time point now active (the slices hold every frame's array)."""
        if image is not self.obj.data:
            return
        name = image.active_scalars_name
        for a in self.actors:
            data = pv.wrap(a.GetMapper().GetInputDataObject(0, 0))
            for block in data if isinstance(data, pv.MultiBlock) else [data]:
                if block is not None and name in block.point_data:
                    block.point_data.active_scalars_name = name
            a.GetMapper().Modified()
        self.request_render()

    def remove(self) -> None:
        frame_events.changed.disconnect(self._on_frame)
        super().remove()

    def _sync_color(self, color) -> None:  # volumes are shown in grey levels
        self.request_render()


ADAPTERS: dict[ObjectKind, type[ObjectAdapter]] = {
    ObjectKind.SURFACE: SurfaceAdapter,
    ObjectKind.DEVICE: SurfaceAdapter,
    ObjectKind.PART: SurfaceAdapter,
    ObjectKind.POINTS: PointsAdapter,
    ObjectKind.VOLUME: VolumeAdapter,
    ObjectKind.LABELMAP: VolumeAdapter,
}


def adapter_for(obj: SceneObject, plotter: pv.Plotter,
                request_render: Callable[[], None]) -> ObjectAdapter:
    return ADAPTERS[obj.kind](obj, plotter, request_render)

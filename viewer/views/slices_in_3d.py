"""The slice viewer's side of the main 3D view: the slice planes drawn there ("Slices in 3D"),
where a ray of the 3D view meets them (the seed picked in 3D), the seed as a sphere and the
ray-cast volume rendering with the CT transfer-function presets."""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
from vtkmodules.vtkRenderingCore import vtkColorTransferFunction, vtkVolume, vtkVolumeProperty
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

from sim.imaging.display import VOLUME_PRESETS
from sim.imaging.volume import is_rgb
from viewer.views.slice_geometry import first_plane_hit
from viewer.views.slice_image import ImageLayer
from viewer.views.slice_overlays import SEED_COLOR

MIN_3D_INTERVAL_S = 0.25  # the 3D view follows scrolling at up to 4 frames a second,
RENDER_SHARE_3D = 0.2  # and spends at most this share of the time rendering while it does


class SlicesIn3D:
    """3D-view drawing mixed into :class:`~viewer.views.slice_view.SliceViewer`, which provides
    ``obj``, ``seed``, ``views``, ``clim()`` and the ``slices3d``, ``render_box`` and
    ``render_preset`` controls."""

    main_plotter = None  # the 3D view's plotter, for slices in 3D and volume rendering
    _volume_actor = None

    @property
    def _shown_3d(self) -> dict:
        """What the 3D view shows of the slices: "on", and per plane the key it was drawn for."""
        if "_shown_3d_d" not in self.__dict__:
            self.__dict__["_shown_3d_d"] = {}
        return self.__dict__["_shown_3d_d"]

    @property
    def _layers_3d(self) -> dict:
        if "_layers_3d_d" not in self.__dict__:
            self.__dict__["_layers_3d_d"] = {}
        return self.__dict__["_layers_3d_d"]

    def _show_seed_3d(self) -> None:
        """The seed as a green sphere in the 3D view (or none)."""
        if self.main_plotter is None:
            return
        if self.seed is None or self.obj is None:
            self.main_plotter.remove_actor("segment-seed", render=False)
        else:
            image = self.obj.data
            r = 0.02 * float(np.max(np.asarray(image.spacing) * np.asarray(image.dimensions)))
            self.main_plotter.add_mesh(pv.Sphere(radius=r, center=self.seed), color=SEED_COLOR,
                                       name="segment-seed", pickable=False, render=False,
                                       reset_camera=False)
        self.main_plotter.render()

    def attach_3d(self, plotter, adapters: dict) -> None:
        """Draw into the main 3D view; ``adapters`` maps object uid -> render adapter."""
        self.main_plotter = plotter
        self.adapters = adapters
        window = getattr(plotter, "render_window", None)
        if window is not None:  # how long a 3D frame takes sets how often it follows scrolling
            window.AddObserver("StartEvent", self._frame_started)
            window.AddObserver("EndEvent", self._frame_ended)

    def _frame_started(self, *_args) -> None:
        self.__dict__["_frame_t0"] = time.perf_counter()

    def _frame_ended(self, *_args) -> None:
        t0 = self.__dict__.get("_frame_t0")
        if t0 is not None:
            self.__dict__["_frame_s"] = time.perf_counter() - t0

    def interval_3d(self) -> float:
        """Seconds between the 3D view's frames while slices scroll: 1/4 s, or longer when a
        frame takes more than :data:`RENDER_SHARE_3D` of that (software OpenGL draws a whole
        anatomy in 0.1-0.3 s, which would leave the slices behind the wheel)."""
        return max(MIN_3D_INTERVAL_S, self.__dict__.get("_frame_s", 0.0) / RENDER_SHARE_3D)

    def planes_3d(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(world point, unit normal) of each slice plane the 3D view shows of the volume:
        the slice views' planes with "Slices in 3D", else the volume's own three orthogonal
        slices through its centre (when the volume is visible)."""
        if self.obj is None:
            return []
        if self.slices3d.isChecked() and self.views:
            return [v.plane() for v in self.views]
        if not self.obj.visible:
            return []
        centre = np.asarray(self.obj.data.center, dtype=float)
        return [(centre, normal) for normal in np.eye(3)]  # as pyvista's slice_orthogonal

    def ray_hit(self, origin, direction) -> tuple[float, np.ndarray] | None:
        """Where the ray ``origin + t * direction`` (t > 0) first meets a slice plane shown in
        the 3D view inside the volume: (t, world point), or None."""
        if self.obj is None:
            return None
        return first_plane_hit(self.obj.data, self.planes_3d(), origin, direction)

    def _default_slices(self, visible: bool) -> None:
        adapter = self.adapters.get(self.obj.uid) if self.obj is not None else None
        for actor in getattr(adapter, "actors", []):
            actor.SetVisibility(bool(visible and self.obj.visible))

    def _clear_3d(self) -> None:
        if self.main_plotter is None:
            return
        for i in range(3):
            self.main_plotter.remove_actor(f"slice3d-{i}", render=False)
        for layer in self._layers_3d.values():
            layer.remove()
        self._layers_3d.clear()
        self._shown_3d.clear()
        if self._volume_actor is not None:
            self.main_plotter.remove_actor(self._volume_actor, render=False)
            self._volume_actor = None
        if self.obj is not None:
            self._default_slices(True)
        self.main_plotter.render()

    def _update_3d(self, *_args) -> None:
        """Slices in 3D follow the slice views: only a plane that changed is redrawn (a
        textured quad for an index plane, the cropped reformat for an oblique one), and the 3D
        view renders only when something in it changed."""
        if self.main_plotter is None or self.obj is None or not self.views:
            return
        plotter = self.main_plotter
        on = self.slices3d.isChecked()
        changed = on != self._shown_3d.get("on")
        if changed:
            self._default_slices(not on)
            self._shown_3d["on"] = on
        clim = self.clim()
        for i, v in enumerate(self.views):
            name = f"slice3d-{i}"
            layer = self._layers_3d.get(name)
            if not on:
                if layer is not None:
                    layer.remove()
                    del self._layers_3d[name]
                    changed = True
                elif name in plotter.actors:
                    plotter.remove_actor(name, render=False)
                    changed = True
                self._shown_3d.pop(name, None)
                continue
            key = (v._shown_key() if v.image is not None else None, clim)
            if self._shown_3d.get(name) == key:
                continue
            self._shown_3d[name] = key
            changed = True
            if not v.oblique:  # a textured quad, named like the oblique mesh it replaces
                if layer is None:
                    plotter.remove_actor(name, render=False)
                    layer = self._layers_3d[name] = ImageLayer(plotter, name)
                plane, scalars = v.current_plane()  # the slab the view drew
                layer.show(plane, np.asarray(plane.point_data[scalars]))
                layer.set_window(*clim)
                continue
            if layer is not None:
                layer.remove()
                del self._layers_3d[name]
            mesh, scalars = v.plane_mesh(crop=True)
            plotter.add_mesh(mesh, scalars=scalars, cmap="gray", clim=clim, show_scalar_bar=False,
                             rgb=is_rgb(self.obj.data),
                             lighting=False, name=name, pickable=False, render=False,
                             reset_camera=False)
        if changed:
            self.render_3d_soon()

    def render_3d_soon(self) -> None:
        """Render the 3D view once the current burst of slice changes has been drawn, and at
        most every :meth:`interval_3d` while scrolling: a 3D view of a whole anatomy renders
        slower than a slice, and the slices must keep up with the wheel."""
        from PyQt6.QtCore import QTimer

        timer = self.__dict__.get("_timer_3d")
        if timer is None:
            timer = self.__dict__["_timer_3d"] = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(self._render_3d_now)
        if not timer.isActive():
            since = time.monotonic() - self.__dict__.get("_last_3d", 0.0)
            timer.start(int(1000 * max(0.0, self.interval_3d() - since)))

    def _render_3d_now(self) -> None:
        if self.main_plotter is not None:
            self.main_plotter.interactor.update()  # its paint renders
        self.__dict__["_last_3d"] = time.monotonic()

    def _update_volume_rendering(self, *_args) -> None:
        if self.main_plotter is None:
            return
        if self._volume_actor is not None:
            self.main_plotter.remove_actor(self._volume_actor, render=False)
            self._volume_actor = None
        if self.render_box.isChecked() and self.obj is not None and not is_rgb(self.obj.data):
            self._volume_actor = volume_actor(self.obj.data, self.render_preset.currentText())
            self.main_plotter.add_actor(self._volume_actor, name="volume-rendering",
                                        pickable=False, render=False, reset_camera=False)
        self.main_plotter.render()


def volume_actor(image: pv.ImageData, preset: str) -> vtkVolume:
    """A ray-cast volume of ``image`` with one of the CT transfer-function presets."""
    p = VOLUME_PRESETS[preset]
    color = vtkColorTransferFunction()
    for value, r, g, b in p.colors:
        color.AddRGBPoint(value, r, g, b)
    opacity = vtkPiecewiseFunction()
    for value, a in p.opacity:
        opacity.AddPoint(value, a)
    prop = vtkVolumeProperty()
    prop.SetColor(color)
    prop.SetScalarOpacity(opacity)
    prop.SetInterpolationTypeToLinear()
    prop.ShadeOn()
    prop.SetAmbient(0.3)
    prop.SetDiffuse(0.7)
    prop.SetSpecular(0.2)
    mapper = vtkSmartVolumeMapper()
    mapper.SetInputData(image)
    volume = vtkVolume()
    volume.SetMapper(mapper)
    volume.SetProperty(prop)
    return volume

"""The slice viewer's side of the main 3D view: the slice planes drawn there ("Slices in 3D"),
where a ray of the 3D view meets them (the seed picked in 3D), the seed as a sphere and the
ray-cast volume rendering with the CT transfer-function presets."""

from __future__ import annotations

import numpy as np
import pyvista as pv
import vtk

from sim.imaging.display import VOLUME_PRESETS
from sim.imaging.volume import is_rgb
from viewer.views.slice_geometry import first_plane_hit
from viewer.views.slice_overlays import SEED_COLOR


class SlicesIn3D:
    """3D-view drawing mixed into :class:`~viewer.views.slice_view.SliceViewer`, which provides
    ``obj``, ``seed``, ``views``, ``clim()`` and the ``slices3d``, ``render_box`` and
    ``render_preset`` controls."""

    main_plotter = None  # the 3D view's plotter, for slices in 3D and volume rendering
    _volume_actor = None

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
        if self._volume_actor is not None:
            self.main_plotter.remove_actor(self._volume_actor, render=False)
            self._volume_actor = None
        if self.obj is not None:
            self._default_slices(True)
        self.main_plotter.render()

    def _update_3d(self, *_args) -> None:
        if self.main_plotter is None or self.obj is None or not self.views:
            return
        on = self.slices3d.isChecked()
        self._default_slices(not on)
        for i, v in enumerate(self.views):
            name = f"slice3d-{i}"
            if on:
                mesh, scalars = v.plane_mesh(crop=True)
                self.main_plotter.add_mesh(
                    mesh, scalars=scalars, cmap="gray", clim=self.clim(), rgb=is_rgb(self.obj.data), show_scalar_bar=False, lighting=False, name=name, pickable=False,
                    render=False, reset_camera=False)
            else:
                self.main_plotter.remove_actor(name, render=False)
        self.main_plotter.render()

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


def volume_actor(image: pv.ImageData, preset: str) -> vtk.vtkVolume:
    """A ray-cast volume of ``image`` with one of the CT transfer-function presets."""
    p = VOLUME_PRESETS[preset]
    color = vtk.vtkColorTransferFunction()
    for value, r, g, b in p.colors:
        color.AddRGBPoint(value, r, g, b)
    opacity = vtk.vtkPiecewiseFunction()
    for value, a in p.opacity:
        opacity.AddPoint(value, a)
    prop = vtk.vtkVolumeProperty()
    prop.SetColor(color)
    prop.SetScalarOpacity(opacity)
    prop.SetInterpolationTypeToLinear()
    prop.ShadeOn()
    prop.SetAmbient(0.3)
    prop.SetDiffuse(0.7)
    prop.SetSpecular(0.2)
    mapper = vtk.vtkSmartVolumeMapper()
    mapper.SetInputData(image)
    volume = vtk.vtkVolume()
    volume.SetMapper(mapper)
    volume.SetProperty(prop)
    return volume

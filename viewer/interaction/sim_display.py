"""Shows a running simulation in the 3D view at display rate, from the loop's latest snapshot.

A QTimer (the display clock) reads :attr:`SimulationLoop.latest`; when it is newer than what is
on screen it moves the embedded visual surface, the instruments and the grab marker, recolours
the field, and renders once. The solver thread is never waited on, so pan/zoom stay smooth.
Frame and latency figures (event posted -> frame showing its effect) are kept for the status
bar and the benchmark.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from sim.interaction.fields import field_info
from sim.interaction.loop import SimulationLoop
from sim.interaction.normals import SurfaceNormals, triangles

TISSUE_RGB = (0.78, 0.42, 0.36)
TOOL_RGB = (0.85, 0.86, 0.9)
DEVICE_RGB = (0.72, 0.74, 0.78)
DAMAGE_RGB = "magenta"
# Share of the time the display may spend rendering (software GL renders take 20-60 ms and
# both cores): half normally, a third while the solver runs below SIM_FLOOR steps/s, so on a
# slow or busy machine the frame rate gives way before the simulation does.
RENDER_SHARE = 0.5
RENDER_SHARE_SIM_SHORT = 1.0 / 3.0
SIM_FLOOR = 30.0


class SimulationDisplay(QObject):
    """Actors of one simulation in a pyvista plotter, refreshed by a timer."""

    frame_shown = pyqtSignal(object)  # the Snapshot just rendered

    def __init__(self, plotter, loop: SimulationLoop, fps: float = 60.0, parent=None) -> None:
        super().__init__(parent)
        self.plotter = plotter
        self.loop = loop
        session = loop.session
        self.embedded = session.visual is not None
        base = session.visual if self.embedded else session.mesh.surface()
        self.surface = pv.PolyData(np.asarray(base.points, dtype=float).copy(), base.faces.copy())
        self.surface.point_data["field"] = np.zeros(self.surface.n_points)
        self._normals = SurfaceNormals(triangles(self.surface), self.surface.n_points)
        self._normals.apply(self.surface, np.asarray(self.surface.points))
        self.field: str | None = None
        self.damage: float | None = None
        self.actor = None
        self._add_surface_actor()
        self.tools = {}
        for name, tool in session.instruments.items():
            self.add_tool(name, tool)
        self.devices = {}  # rigid devices posed by events (snapshot.device_poses)
        self.grab_marker = pv.Sphere(radius=max(session.grab_radius * 0.25, 0.5))
        self._grab_local = np.asarray(self.grab_marker.points).copy()
        self.grab_actor = plotter.add_mesh(self.grab_marker, color="yellow", name="sim-grab",
                                           pickable=False, render=False, reset_camera=False)
        self.grab_actor.SetVisibility(False)
        self.shown_step = -1
        self.shown_event = 0
        self._next_render = 0.0
        self.frames = 0
        self.fps = 0.0
        self.latencies: deque[float] = deque(maxlen=200)  # event posted -> frame on screen
        self.ages: deque[float] = deque(maxlen=200)  # snapshot made -> frame on screen
        self._frame_times: deque[float] = deque(maxlen=60)
        self.timer = QTimer(self)
        self.timer.setInterval(max(1, int(1000 / fps)))
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- actors ----------------------------------------------------------------------------------
    def _add_surface_actor(self) -> None:
        if self.actor is not None:
            self.plotter.remove_actor(self.actor, render=False)
        if self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar()
        # Our own vertex normals (smooth_shading=True would render a copy that never moves).
        common = dict(name="sim-surface", smooth_shading=False, pickable=True, render=False,
                      reset_camera=False, specular=0.25)
        if self.field is None:
            self.actor = self.plotter.add_mesh(self.surface, color=TISSUE_RGB, scalars=None,
                                               **common)
        else:
            info = field_info(self.field)
            top = self.damage if self.damage is not None else info.damage
            self.actor = self.plotter.add_mesh(
                self.surface, scalars="field", cmap="viridis", clim=[0.0, top],
                above_color=DAMAGE_RGB, show_scalar_bar=True,
                scalar_bar_args={"title": f"{info.label} ({info.unit}); magenta > {top:g}",
                                 "n_labels": 5, "fmt": "%.3g", "vertical": True,
                                 "position_x": 0.86, "position_y": 0.2},
                **common)
        self.surface = self.actor.mapper.dataset  # update exactly what is drawn

    def add_tool(self, name: str, tool) -> None:
        local = tool.local_mesh()
        mesh = local.copy()
        mesh.points = tool.to_world(np.asarray(local.points))
        actor = self.plotter.add_mesh(mesh, color=TOOL_RGB, specular=0.6, name=f"sim-tool-{name}",
                                      pickable=False, render=False, reset_camera=False)
        self.tools[name] = (local, mesh, actor, dict(tool.params))

    def add_device(self, name: str, local: pv.PolyData, color=DEVICE_RGB) -> None:
        """Draw a rigid device (its surface in its anchor frame) at its snapshot pose."""
        mesh = local.copy()
        pose = self.loop.latest.device_poses.get(name)
        if pose is not None:
            mesh.points = np.asarray(local.points) @ pose[:3, :3].T + pose[:3, 3]
        actor = self.plotter.add_mesh(mesh, color=color, specular=0.6, name=f"sim-device-{name}",
                                      pickable=False, render=False, reset_camera=False)
        self.devices[name] = (local, mesh, actor)

    def set_field(self, name: str | None, damage: float | None = None) -> None:
        """Colour by ``name`` (von_mises, max_principal_strain, displacement) or plain."""
        self.field, self.damage = name, damage
        self.loop.set_field(name)
        self._add_surface_actor()
        self.shown_step = -1

    def is_surface_actor(self, actor) -> bool:
        return actor is self.actor

    # -- the display clock -----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        snap = self.loop.latest
        if not force and snap.step == self.shown_step and snap.applied_event == self.shown_event:
            return False
        start = time.perf_counter()
        # Software rendering can take longer than a frame: render only a share of the time,
        # so the solver thread keeps CPU to step on (the display rate adapts, the sim rate
        # holds; see RENDER_SHARE).
        if not force and start < self._next_render:
            return False
        pts = snap.visual_points if self.embedded else snap.positions[:self.surface.n_points]
        if pts is not None:
            self._normals.apply(self.surface, pts)
        if self.field is not None and snap.field_values is not None \
                and snap.field_name == self.field:
            values = snap.field_values if self.embedded else snap.field_values[
                :self.surface.n_points]
            self.surface.point_data["field"] = values
        for name, (local, mesh, actor, params) in list(self.tools.items()):
            if snap.params.get(name, params) != params:  # e.g. the grasper opened or closed
                tool = self.loop.session.instruments[name]
                self.plotter.remove_actor(actor, render=False)
                self.add_tool(name, tool)
                local, mesh, actor, params = self.tools[name]
            pose = snap.poses.get(name)
            if pose is not None:
                mesh.points = np.asarray(local.points) @ pose[:3, :3].T + pose[:3, 3]
        for name, (local, mesh, _actor) in self.devices.items():
            pose = snap.device_poses.get(name)
            if pose is not None:
                mesh.points = np.asarray(local.points) @ pose[:3, :3].T + pose[:3, 3]
        if snap.grab_target is not None:
            self.grab_marker.points = self._grab_local + snap.grab_target
            self.grab_actor.SetVisibility(True)
        else:
            self.grab_actor.SetVisibility(False)
        self.plotter.render()
        now = time.perf_counter()
        loop = self.loop
        short = loop.running and 0 < loop.steps_per_second < SIM_FLOOR
        share = RENDER_SHARE_SIM_SHORT if short else RENDER_SHARE
        self._next_render = now + (now - start) * (1.0 - share) / share
        self.ages.append(now - snap.created)
        if snap.posted_at is not None and snap.applied_event != self.shown_event:
            self.latencies.append(now - snap.posted_at)
        self.shown_step, self.shown_event = snap.step, snap.applied_event
        self.frames += 1
        self._frame_times.append(now)
        if len(self._frame_times) > 1:
            span = self._frame_times[-1] - self._frame_times[0]
            self.fps = (len(self._frame_times) - 1) / span if span > 0 else 0.0
        self.frame_shown.emit(snap)
        return True

    def close(self) -> None:
        self.timer.stop()
        for _local, _mesh, actor, _p in self.tools.values():
            self.plotter.remove_actor(actor, render=False)
        self.tools.clear()
        for _local, _mesh, actor in self.devices.values():
            self.plotter.remove_actor(actor, render=False)
        self.devices.clear()
        for actor in (self.actor, self.grab_actor):
            if actor is not None:
                self.plotter.remove_actor(actor, render=False)
        if self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar()
        self.actor = None
        self.plotter.render()

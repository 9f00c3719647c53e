"""Export a replayed interaction as a PNG sequence or an MP4 video (offscreen, no Qt).

The replay is the deterministic one of :func:`~sim.interaction.recording.run_timeline`;
every ``every``-th step the deformed visual surface (coloured by a field if asked) and the
instruments are rendered offscreen and written out.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyvista as pv

from sim.errors import InputError, TwinsightError
from sim.interaction.fields import field_info
from sim.interaction.normals import SurfaceNormals, triangles
from sim.interaction.recording import run_timeline
from sim.interaction.script import Timeline
from sim.interaction.session import InteractionSession
from sim.mesh.tetmesh import TetMesh
from sim.progress import Progress, no_progress
from sim.render.offscreen import offscreen_plotter


class FrameRenderer:
    """An offscreen view of a session: surface, instruments, optional colour map."""

    def __init__(self, session: InteractionSession, size: tuple[int, int] = (800, 600),
                 field: str | None = None) -> None:
        self.session = session
        self.field = field
        self.plotter = offscreen_plotter(size)
        self.plotter.set_background("#1d2330", top="#3b4558")
        base = session.visual if session.visual is not None else session.mesh.surface()
        self.surface = base.copy()
        self._embedded = session.visual is not None
        self._normals = SurfaceNormals(triangles(self.surface), self.surface.n_points)
        self._normals.apply(self.surface, np.asarray(self.surface.points))
        kwargs = dict(color=(0.8, 0.45, 0.4))
        if field:
            info = field_info(field)
            self.surface.point_data[field] = np.zeros(self.surface.n_points)
            kwargs = dict(scalars=field, cmap="viridis", clim=[0.0, info.damage],
                          above_color="magenta",
                          scalar_bar_args={"title": f"{info.label} ({info.unit})"})
        actor = self.plotter.add_mesh(self.surface, **kwargs)
        self.surface = actor.mapper.dataset  # update exactly what is drawn
        self.tools = {}
        for name, tool in session.instruments.items():
            mesh = tool.mesh()
            self.tools[name] = (tool.local_mesh(), mesh)
            self.plotter.add_mesh(mesh, color=(0.85, 0.85, 0.9), specular=0.6)
        # Frame the body (not the long instrument shafts), from the front-left-above.
        self.plotter.view_vector((0.45, -1.0, 0.55), viewup=(0.0, 0.0, 1.0))
        self.plotter.reset_camera(bounds=self.surface.bounds)

    def render(self, path: str | Path | None = None) -> np.ndarray:
        s = self.session
        pts = s.visual_points() if self._embedded else s.sim.x[:self.surface.n_points]
        self._normals.apply(self.surface, pts)
        if self.field:
            nodal = s.fields.evaluate(self.field, s.sim.x, s.sim.X, s.sim.R)
            values = s.embedding.map(nodal) if self._embedded else nodal[:self.surface.n_points]
            self.surface.point_data[self.field] = values
        for name, (local, mesh) in self.tools.items():
            mesh.points = s.instruments[name].to_world(np.asarray(local.points))
        self.plotter.render()
        return self.plotter.screenshot(None if path is None else str(path), return_img=True)

    def close(self) -> None:
        self.plotter.close()


def export_replay(timeline: Timeline, mesh: TetMesh, out: str | Path,
                  visual: pv.PolyData | None = None, every: int = 2, fps: float = 30.0,
                  field: str | None = None, size: tuple[int, int] = (800, 600),
                  progress: Progress = no_progress, keep: dict | None = None) -> dict:
    """Replay ``timeline`` and write frames: ``out`` ending in .mp4 is a video, else a folder
    of ``frame_00000.png`` ... Returns a report (frames, path, final state digest)."""
    out = Path(out)
    video = out.suffix.lower() == ".mp4"
    if every < 1:
        raise InputError("Export every n-th step with n >= 1.")
    if video:
        if not out.parent.exists():
            raise InputError(f"Folder '{out.parent}' does not exist.")
        try:
            import imageio_ffmpeg
        except ImportError:
            raise TwinsightError("MP4 export needs the imageio-ffmpeg package; export a PNG "
                                 "sequence instead or install it.") from None
    else:
        out.mkdir(parents=True, exist_ok=True)
    state: dict = {"frames": 0, "renderer": None, "writer": None}

    def on_step(session: InteractionSession) -> None:
        if session.step_index % every:
            return
        if state["renderer"] is None:
            state["renderer"] = FrameRenderer(session, size, field)
        png = None if video else out / f"frame_{state['frames']:05d}.png"
        img = state["renderer"].render(png)
        state["drawn"] = np.asarray(state["renderer"].surface.points).copy()  # what is drawn
        if video:
            if state["writer"] is None:
                h, w = img.shape[:2]
                state["tmp"] = out.with_name(f".{out.stem}.{os.getpid()}.tmp.mp4")
                state["writer"] = imageio_ffmpeg.write_frames(
                    str(state["tmp"]), (w, h), fps=fps, macro_block_size=8,
                    output_params=["-pix_fmt", "yuv420p"])
                state["writer"].send(None)
            state["writer"].send(np.ascontiguousarray(img[:, :, :3]))
        state["frames"] += 1

    try:
        session = run_timeline(timeline, mesh, visual, progress, on_step=on_step)
    finally:
        if state["renderer"] is not None:
            state["renderer"].close()
        if state["writer"] is not None:
            state["writer"].close()
    if keep is not None:
        keep["session"] = session
    if video and state["frames"]:
        os.replace(state["tmp"], out)
    moved = 0.0
    if state.get("drawn") is not None:
        base = visual if visual is not None else mesh.with_order(1).surface()
        moved = float(np.linalg.norm(state["drawn"] - np.asarray(base.points), axis=1).max())
    return {"frames": state["frames"], "path": str(out), "final_state": session.state_digest(),
            "drawn_moved_mm": moved}

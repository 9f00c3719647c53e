"""The interactive simulation the workbench runs: a session, its loop, and what it deforms.

One runs at a time, whoever started it (the Simulate panel, a rehearsal attempt, a script):
every view that shows simulated tissue (the desktop display, the headset) asks the workbench
for :attr:`Workbench.simulation` instead of asking the panel that started it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv

from sim.interaction.loop import SimulationLoop
from sim.interaction.session import InteractionSession, SessionSetup
from sim.model import SceneObject
from sim.progress import Progress, no_progress


class RunningSimulation:
    """A running (or paused) interactive simulation of one body of the case.

    ``owner`` says who started it ("simulate", "rehearsal", "script"); ``world`` holds the
    rehearsal world for an attempt.
    """

    def __init__(self, session: InteractionSession, body: SceneObject | None, owner: str,
                 rate_hz: float | None = None, world: Any = None) -> None:
        self.session = session
        self.body = body
        self.owner = owner
        self.world = world
        self.loop = SimulationLoop(session, rate_hz)
        self._surface: pv.PolyData | None = None
        self._surface_step = -1

    @property
    def embedded(self) -> bool:
        return self.session.visual is not None

    def post(self, event: dict[str, Any]) -> int:
        return self.loop.post(event)

    def start(self) -> None:
        self.loop.start()

    def pause(self) -> None:
        self.loop.pause()

    def stop(self, timeout: float = 5.0) -> bool:
        return self.loop.stop(timeout)

    def surface(self) -> pv.PolyData:
        """The deforming surface (fine visual surface when embedded), updated to the latest
        state of the loop by :meth:`refresh_surface`; one object, so renderers can keep it."""
        if self._surface is None:
            base = self.session.visual if self.embedded else self.session.mesh.surface()
            self._surface = pv.PolyData(np.asarray(base.points, dtype=float).copy(),
                                        base.faces.copy())
        return self._surface

    def refresh_surface(self) -> bool:
        """Move the surface to the loop's latest snapshot; False if it was already there."""
        surface = self.surface()
        snap = self.loop.latest
        if snap.step == self._surface_step:
            return False
        pts = snap.visual_points if self.embedded else snap.positions[:surface.n_points]
        if pts is None:
            return False
        surface.points = np.asarray(pts, dtype=float)
        surface.Modified()
        self._surface_step = snap.step
        return True


class BodyMeshes:
    """Tetrahedral bodies made for interactive simulation, kept while the case is open (the
    same body with the same meshing is not meshed twice)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple] = {}

    def clear(self) -> None:
        self._cache.clear()

    def session(self, body: SceneObject, setup: SessionSetup | None = None,
                edge_mm: float | None = None, mesher: str = "engine",
                progress: Progress = no_progress) -> InteractionSession:
        from sim.interaction.body_setup import prepare_body

        key = (body.uid, edge_mm, mesher, id(body.data), body.data.GetMTime(),
               tuple(np.round(body.transform.ravel(), 9)))
        if key not in self._cache:
            mesh, visual, _report = prepare_body(body, edge_mm, progress, mesher=mesher)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != body.uid}
            self._cache[key] = (mesh, visual)
        mesh, visual = self._cache[key]
        progress(0.9, "Preparing the solver")
        return InteractionSession(mesh, setup, visual)

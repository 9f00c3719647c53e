"""The application model: one evented object that owns the case and everything that runs.

napari's ``ViewerModel`` is the pattern. The window, its panels, the headset, the CLI and
scripts all drive the same :class:`Workbench`; none of them owns running state, and no view
reaches into another view: each subscribes to the events here.

- ``case`` — the open case (scene, markups, sections, overlays, undo history);
- ``jobs`` — every background job (progress, cancel, errors; several at once);
- ``simulation`` — the interactive simulation running now, whoever started it (the Simulate
  panel, a rehearsal attempt, a script); the headset shows whichever it is;
- ``placement`` — the device being placed against prepared structures;
- ``link`` — the live link session (OpenIGTLink/MQTT), and ``live_overlays``, what it shows
  over the scene now (sensor markers, alarm banner, tool tips; never saved, see
  :class:`sim.model.live_overlays.LiveOverlays`);
- ``results`` — the latest inspection and registration results, by kind.
"""

from __future__ import annotations

import logging
from typing import Any

from psygnal import Signal

from sim.errors import InputError
from sim.interaction.session import InteractionSession, SessionSetup
from sim.jobs import JobManager
from sim.model import Case, SceneObject
from sim.model.live_overlays import LiveOverlay, LiveOverlays
from sim.progress import Progress, no_progress
from sim.workbench.placement import PlacementRun, prepare_structures
from sim.workbench.simulation import BodyMeshes, RunningSimulation

log = logging.getLogger(__name__)


class Workbench:
    """The case, the jobs and the running things, with an event for each change."""

    case_changed = Signal(object)  # the new Case
    simulation_changed = Signal(object)  # RunningSimulation or None
    placement_changed = Signal(object)  # PlacementRun or None
    link_changed = Signal(object)  # the live session or None
    result_changed = Signal(str, object)  # kind ("inspection", "registration" ...), result

    def __init__(self, jobs: JobManager | None = None, case: Case | None = None) -> None:
        self.jobs = jobs if jobs is not None else JobManager()
        self.case: Case | None = None
        self.simulation: RunningSimulation | None = None
        self.placement: PlacementRun | None = None
        self.link: Any = None
        self.live_overlays = LiveOverlays()
        self.results: dict[str, Any] = {}
        self.bodies = BodyMeshes()
        if case is not None:
            self.set_case(case)

    # -- the case ------------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        """Make ``case`` the open case: what ran on the old one stops (its bodies and devices
        belong to that case), then every view hears ``case_changed``."""
        self.stop_simulation()
        self.set_placement(None)
        self.bodies.clear()
        self.live_overlays.clear()  # markers and tips of the old case's asset and tools
        for kind in list(self.results):
            self.set_result(kind, None)
        self.case = case
        self.case_changed.emit(case)

    def _case(self) -> Case:
        if self.case is None:
            raise InputError("Open a case first.")
        return self.case

    # -- the interactive simulation ----------------------------------------------------------
    def prepare_simulation(self, body: SceneObject, setup: SessionSetup | None = None, *,
                           edge_mm: float | None = None, mesher: str = "engine",
                           progress: Progress = no_progress) -> InteractionSession:
        """A simulation session of one body of the case (its tet mesh is made once and kept
        while the case is open). Safe to call on a worker thread."""
        if body not in list(self._case().scene):
            raise InputError(f"'{body.name}' is not in the open case.")
        return self.bodies.session(body, setup, edge_mm, mesher, progress)

    def run_simulation(self, session: InteractionSession, body: SceneObject | None = None, *,
                       owner: str = "script", rate_hz: float | None = None,
                       world: Any = None, start: bool = True) -> RunningSimulation:
        """Run ``session`` as the workbench's simulation (one at a time: a running one is
        stopped first)."""
        self.stop_simulation()
        running = RunningSimulation(session, body, owner, rate_hz, world)
        self.simulation = running
        self.simulation_changed.emit(running)
        if start:
            running.start()
        return running

    def start_simulation(self, body: SceneObject, setup: SessionSetup | None = None, *,
                         edge_mm: float | None = None, mesher: str = "engine",
                         rate_hz: float | None = None,
                         progress: Progress = no_progress) -> RunningSimulation:
        """Prepare and run a simulation of ``body`` (a script's one call)."""
        session = self.prepare_simulation(body, setup, edge_mm=edge_mm, mesher=mesher,
                                          progress=progress)
        return self.run_simulation(session, body, owner="script", rate_hz=rate_hz)

    def stop_simulation(self, timeout: float = 5.0) -> RunningSimulation | None:
        """Stop the running simulation (if any); returns it, stopped, for a last look."""
        running, self.simulation = self.simulation, None
        if running is not None:
            if not running.stop(timeout):
                log.warning("The simulation loop did not stop within %.0f s.", timeout)
            self.simulation_changed.emit(None)
        return running

    # -- placement -----------------------------------------------------------------------------
    def start_placement(self, device: SceneObject,
                        structures: list[tuple[SceneObject, str, float | None]], *,
                        around: Any = None, reach: float = 60.0,
                        progress: Progress = no_progress) -> PlacementRun:
        """Prepare ``(object, role, margin_mm)`` structures and place ``device`` against them.
        Safe to call on a worker thread; the placement is announced when it is set."""
        case = self._case()
        if not structures:
            raise InputError("Give at least one structure a role first.")
        scene = prepare_structures(structures, around, reach, progress)
        run = PlacementRun(case, scene, {o.name: o for o, _r, _m in structures}, device)
        self.set_placement(run)
        return run

    def set_placement(self, run: PlacementRun | None) -> None:
        if run is not self.placement:
            self.placement = run
            self.placement_changed.emit(run)

    # -- live link and results ------------------------------------------------------------------
    def set_link(self, session: Any) -> None:
        """The live session now running (None when it stopped)."""
        if session is not self.link:
            self.link = session
            if session is None:
                self.live_overlays.clear()
            self.link_changed.emit(session)

    def show_live(self, overlays: list[LiveOverlay]) -> bool:
        """What the live link shows over the scene now (see :mod:`sim.workbench.live`):
        these live overlays replace the link's previous ones; False if nothing changed."""
        from sim.workbench.live import PREFIX

        return self.live_overlays.replace(PREFIX, overlays)

    def set_result(self, kind: str, result: Any) -> None:
        """The latest result of one kind (None: cleared), e.g. an inspection or registration."""
        if result is None:
            if self.results.pop(kind, None) is None:
                return
        else:
            self.results[kind] = result
        self.result_changed.emit(kind, result)

    # -- the end -------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop the simulation and every job; True if everything ended in time."""
        self.stop_simulation()
        return self.jobs.shutdown(timeout)

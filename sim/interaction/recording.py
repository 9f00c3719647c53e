"""Record and replay interaction sessions.

A recording is the session's setup, the digest of the mesh it ran on, every applied event
with its step index, simulated time and wall-clock time, the step count and a digest of the
final state. Replay applies the same events at the same step indices on the same mesh and
reproduces the final state exactly (checked against the stored digest).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyvista as pv

from sim.errors import InputError
from sim.interaction.script import RECORDING_FORMAT, Timeline
from sim.interaction.session import InteractionSession, mesh_digest
from sim.mesh.tetmesh import TetMesh
from sim.model.atomic import write_text_atomic
from sim.progress import Progress, no_progress


def recording_dict(session: InteractionSession, body: str | None = None,
                   edge_length: float | None = None) -> dict[str, Any]:
    return {"format": RECORDING_FORMAT, "version": 1, "setup": session.setup.to_dict(),
            "body": body, "edge_length": edge_length, "mesh_digest": session.digest,
            "steps": session.step_index, "events": list(session.events),
            "final_state": session.state_digest(), "summary": session.summary()}


def save_recording(session: InteractionSession, path: str | Path, **extra: Any) -> Path:
    """Write the session's recording as JSON (atomically)."""
    path = Path(path)
    data = recording_dict(session, **extra)
    return write_text_atomic(path, json.dumps(data, indent=1))


def run_timeline(timeline: Timeline, mesh: TetMesh, visual: pv.PolyData | None = None,
                 progress: Progress = no_progress,
                 on_step: Callable[[InteractionSession], None] | None = None,
                 check_mesh: bool = True) -> InteractionSession:
    """Run a script or replay a recording from the rest state; returns the finished session."""
    if check_mesh and timeline.expected_digest and timeline.expected_digest != mesh_digest(
            mesh.with_order(1)):
        raise InputError("The recording was made on a different mesh (its digest does not "
                         "match); replay it on the same body and edge length.")
    session = InteractionSession(mesh, timeline.setup, visual)
    n = timeline.steps
    every = max(1, n // 100)
    for s in range(n):
        for ev in timeline.at(s):
            session.apply(ev)
        session.step()
        if on_step is not None:
            on_step(session)
        if s % every == 0:
            progress(s / max(n, 1), f"Step {s} of {n}")
    for ev in timeline.at(n):
        session.apply(ev)
    progress(1.0, f"Ran {n} steps")
    return session

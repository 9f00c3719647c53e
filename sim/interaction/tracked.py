"""Drive a simulated instrument from a tracked tool of the live link (OpenIGTLink).

:class:`sim.twin.tracking.TrackedTool` emits ``moved(world_T_tip, sender_time)`` on the link's
reader thread whenever a pose arrives; each one is posted to the simulation loop as a pose
event (so it is applied between steps and recorded like a mouse move).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.interaction.loop import SimulationLoop
from sim.twin.tracking import TrackedTool


def follow_tracked_tool(loop: SimulationLoop, tool: TrackedTool, instrument: str,
                        tip_T_instrument: np.ndarray | None = None) -> Callable[[], None]:
    """Make ``instrument`` follow ``tool``; returns a function that stops following.

    ``tip_T_instrument`` places the simulated shape relative to the tracked tip (identity:
    the instrument's working end is the tracked tip, shaft along its +z)."""
    if instrument not in loop.session.instruments:
        from sim.errors import InputError

        raise InputError(f"No instrument named {instrument!r} to follow '{tool.device}' with.")
    offset = np.eye(4) if tip_T_instrument is None else np.asarray(tip_T_instrument, dtype=float)

    def on_moved(world, _sender_time: float) -> None:
        pose = np.asarray(world, dtype=float) @ offset
        loop.post({"type": "pose", "instrument": instrument, "pose": pose.tolist()})

    tool.moved.connect(on_moved)
    return lambda: tool.moved.disconnect(on_moved)

"""Trigger-drag on tissue in the headset: the interactive-deformation grab of an FE simulator.

:class:`XRInteraction` talks to a :class:`DeformationGrab`; :class:`SimulatorGrab` is the one
for a :class:`sim.fem.interactive.CorotationalSimulator` whose nodes are the points of a
surface in the scene (node ``i`` is point ``i``, as :meth:`TetMesh.surface` builds it). The
grabbed node follows the hand's ray point; whoever runs the simulation calls :meth:`step`.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

import numpy as np

from sim.model import SceneObject

RATE_WINDOW_S = 3.0


class DeformationGrab(Protocol):
    def begin(self, obj: SceneObject, point_mm: np.ndarray) -> bool:
        """Start dragging ``obj`` at ``point_mm`` (scene mm); False if it is not deformable."""

    def move(self, target_mm: np.ndarray) -> None:
        """Where the grabbed point should go now (scene mm)."""

    def end(self) -> None:
        """Let go: the tissue relaxes."""


class SimulatorGrab:
    """Grabs the boundary node nearest to the hand's ray hit and drives it to the hand."""

    def __init__(self, obj: SceneObject, simulator) -> None:
        self.obj = obj
        self.simulator = simulator
        self.node: int | None = None
        nodes = getattr(simulator.body.mesh, "boundary_nodes", None)
        self.candidates = np.asarray(nodes if nodes is not None else np.arange(len(simulator.x)))
        self.steps = 0
        self._times: deque[float] = deque()

    def rate(self) -> float | None:
        """Simulation steps per second over the last few seconds (None when idle)."""
        if len(self._times) < 2 or time.monotonic() - self._times[-1] > RATE_WINDOW_S:
            return None
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)

    def _to_local(self, p: np.ndarray) -> np.ndarray:
        """Scene mm -> the object's own frame (its rigid transform undone)."""
        m = self.obj.transform
        if not self.obj.has_transform:
            return np.asarray(p, float)
        return np.linalg.solve(m[:3, :3], np.asarray(p, float) - m[:3, 3])

    def begin(self, obj: SceneObject, point_mm: np.ndarray) -> bool:
        if obj is not self.obj:
            return False
        p = self._to_local(point_mm)
        x = self.simulator.x[self.candidates]
        self.node = int(self.candidates[np.argmin(np.linalg.norm(x - p, axis=1))])
        self.simulator.grab(self.node, self.simulator.x[self.node].copy())
        return True

    def move(self, target_mm: np.ndarray) -> None:
        if self.node is not None:
            self.simulator.grab(self.node, self._to_local(target_mm))

    def end(self) -> None:
        if self.node is not None:
            self.simulator.grab(self.node, None)
            self.node = None

    def step(self) -> None:
        """One simulation step; the surface's points follow in place (both views see it)."""
        self.simulator.step()
        self.steps += 1
        now = time.monotonic()
        self._times.append(now)
        while self._times and now - self._times[0] > RATE_WINDOW_S:
            self._times.popleft()
        data = self.obj.data
        data.points = np.asarray(self.simulator.x)
        data.Modified()

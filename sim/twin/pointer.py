"""Landmarks touched with a tracked pointer: the tip averaged while it is held still.

A :class:`TipAverager` listens to a :class:`~sim.twin.tracking.TrackedTool`'s poses (on the
link's reader thread) for a short window and returns the mean tip position in the patient
frame; a pointer that moves more than ``max_spread_mm`` meanwhile, or no poses at all,
is an :class:`~sim.errors.InputError`, never a bad landmark.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from sim.errors import InputError


class TipAverager:
    def __init__(self, tool, window_s: float = 0.5, max_spread_mm: float = 1.0,
                 min_samples: int = 3) -> None:
        if window_s <= 0 or max_spread_mm <= 0 or min_samples < 1:
            raise InputError("The pointer window, spread and sample count must be positive.")
        self.tool = tool
        self.window_s = window_s
        self.max_spread_mm = max_spread_mm
        self.min_samples = min_samples
        self.done = threading.Event()
        self._tips: list[np.ndarray] = []
        self._t0: float | None = None
        self._lock = threading.Lock()
        self._listening = False

    def start(self) -> TipAverager:
        self.tool.moved.connect(self._on_moved)
        self._listening = True
        return self

    def stop(self) -> None:
        if self._listening:
            self._listening = False
            self.tool.moved.disconnect(self._on_moved)

    def _on_moved(self, world, _sender_time: float) -> None:
        now = time.monotonic()
        with self._lock:
            if self.done.is_set():
                return
            if self._t0 is None:
                self._t0 = now
            self._tips.append(np.asarray(world, dtype=float)[:3, 3].copy())
            if now - self._t0 >= self.window_s and len(self._tips) >= self.min_samples:
                self.done.set()

    @property
    def samples(self) -> int:
        return len(self._tips)

    def result(self) -> tuple[np.ndarray, float]:
        """(mean tip position in mm, largest distance of a sample from it)."""
        self.stop()
        with self._lock:
            tips = np.array(self._tips).reshape(-1, 3)
        if len(tips) < self.min_samples:
            raise InputError(f"Only {len(tips)} pose(s) of '{self.tool.device}' arrived; is the "
                             "pointer visible to the tracker?")
        mean = tips.mean(axis=0)
        spread = float(np.linalg.norm(tips - mean, axis=1).max())
        if spread > self.max_spread_mm:
            raise InputError(f"The pointer moved {spread:.1f} mm while collecting; hold it "
                             "still on the landmark and collect again.")
        return mean, spread

    def wait(self, timeout: float) -> tuple[np.ndarray, float]:
        """Block until the window is full (headless use), then ``result()``."""
        self.done.wait(timeout)
        return self.result()

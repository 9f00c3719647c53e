"""A tracked pointer: landmarks touched with its tip, and its tip found by pivoting.

A :class:`PoseWindow` listens to a :class:`~sim.twin.tracking.TrackedTool`'s poses (on the
link's reader thread) for a time window. :class:`TipAverager` turns one into a landmark:
the mean tip position in the patient frame; a pointer that moves more than
``max_spread_mm`` meanwhile, or no poses at all, is an :class:`~sim.errors.InputError`,
never a bad landmark. :func:`pivot_calibration` finds the tip offset in the tool's frame
from poses of the tool pivoting about its tip in a divot (the algebraic least-squares
method used by PLUS and 3D Slicer's pivot calibration).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from sim.errors import InputError


class PoseWindow:
    """The tool's world poses (patient_T_tip) over ``window_s`` seconds from the first one."""

    def __init__(self, tool, window_s: float, min_samples: int = 3) -> None:
        if window_s <= 0 or min_samples < 1:
            raise InputError("The pointer window and sample count must be positive.")
        self.tool = tool
        self.window_s = window_s
        self.min_samples = min_samples
        self.done = threading.Event()
        self._poses: list[np.ndarray] = []
        self._t0: float | None = None
        self._lock = threading.Lock()
        self._listening = False

    def start(self) -> PoseWindow:
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
            self._poses.append(np.array(world, dtype=float))
            if now - self._t0 >= self.window_s and len(self._poses) >= self.min_samples:
                self.done.set()

    @property
    def samples(self) -> int:
        return len(self._poses)

    def poses(self) -> np.ndarray:
        """The (n, 4, 4) poses received; stops listening. InputError if too few arrived."""
        self.stop()
        with self._lock:
            poses = np.array(self._poses).reshape(-1, 4, 4)
        if len(poses) < self.min_samples:
            raise InputError(f"Only {len(poses)} pose(s) of '{self.tool.device}' arrived; is the "
                             "pointer visible to the tracker?")
        return poses


class TipAverager(PoseWindow):
    def __init__(self, tool, window_s: float = 0.5, max_spread_mm: float = 1.0,
                 min_samples: int = 3) -> None:
        super().__init__(tool, window_s, min_samples)
        if max_spread_mm <= 0:
            raise InputError("The allowed pointer spread must be positive.")
        self.max_spread_mm = max_spread_mm

    def result(self) -> tuple[np.ndarray, float]:
        """(mean tip position in mm, largest distance of a sample from it)."""
        tips = self.poses()[:, :3, 3]
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


@dataclass(frozen=True)
class PivotResult:
    tip_offset: np.ndarray  # the tip in the tool's frame (mm)
    pivot: np.ndarray  # the divot in the frame the poses were given in (mm)
    rms: float  # how far the posed tips stray from the pivot (mm)
    angle_deg: float  # the largest tilt between two poses: small means poorly conditioned

    def calibration(self) -> np.ndarray:
        """tool_T_tip: the tip frame is the tool's frame moved to the tip."""
        m = np.eye(4)
        m[:3, 3] = self.tip_offset
        return m


def pivot_calibration(poses: np.ndarray, min_angle_deg: float = 15.0) -> PivotResult:
    """Tip offset t and pivot p from poses (R_i, q_i) of a tool pivoting about its tip:
    R_i t + q_i = p for every i, solved in the least-squares sense."""
    m = np.asarray(poses, dtype=float)
    if m.ndim != 3 or m.shape[1:] != (4, 4) or len(m) < 4 or not np.isfinite(m).all():
        raise InputError("Pivot calibration needs at least four finite 4x4 tool poses.")
    r, q = m[:, :3, :3], m[:, :3, 3]
    a = np.concatenate([r, np.broadcast_to(-np.eye(3), r.shape)], axis=2).reshape(-1, 6)
    x = np.linalg.lstsq(a, -q.reshape(-1), rcond=None)[0]
    tip, pivot = x[:3], x[3:]
    # How far the shaft (tool origin -> tip) tilted: spinning about the shaft alone leaves
    # the tip's distance along it undetermined.
    length = float(np.linalg.norm(tip))
    if length > 1.0:
        shafts = r @ (tip / length)
        cos = shafts @ shafts[0]
    else:  # the tip near the tool's origin: any rotation will do
        cos = (np.einsum("ij,nij->n", r[0], r) - 1.0) / 2.0
    angle = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).max())
    if angle < min_angle_deg:
        raise InputError(f"The tool tilted only {angle:.0f} degrees; pivot it about its tip "
                         f"by at least {min_angle_deg:.0f} degrees each way.")
    residual = np.linalg.norm(r @ tip + q - pivot, axis=1)
    return PivotResult(tip, pivot, float(np.sqrt(np.mean(residual ** 2))), angle)

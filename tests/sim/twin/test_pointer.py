"""A tracked pointer's tip averaged over a window, as a landmark (headless)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sim.errors import InputError
from sim.twin.pointer import TipAverager
from sim.twin.tracking import TrackedTool, make_tool_object


def _stream(tool: TrackedTool, at, jitter: float, stop: threading.Event) -> threading.Thread:
    def run():
        rng = np.random.default_rng(3)
        while not stop.is_set():
            m = np.eye(4)
            m[:3, 3] = np.asarray(at) + rng.normal(0, jitter, 3)
            tool.place(m, time.time())  # as the link's reader thread does
            time.sleep(0.005)

    th = threading.Thread(target=run)
    th.start()
    return th


@pytest.mark.parametrize("jitter, ok", [(0.05, True), (3.0, False)])
def test_tip_is_averaged_while_held_still(jitter, ok):
    tool = TrackedTool("Pointer", make_tool_object("Pointer"))
    stop = threading.Event()
    th = _stream(tool, (10.0, -5.0, 30.0), jitter, stop)
    try:
        avg = TipAverager(tool, window_s=0.3, max_spread_mm=1.0).start()
        if ok:
            tip, spread = avg.wait(5)
            np.testing.assert_allclose(tip, (10, -5, 30), atol=0.05)
            assert spread < 0.5 and avg.samples >= 10
        else:
            with pytest.raises(InputError, match="moved"):
                avg.wait(5)
    finally:
        stop.set()
        th.join()
    n = avg.samples
    tool.place(np.eye(4), 0.0)
    assert avg.samples == n  # it stopped listening


def test_no_poses_is_a_clear_error():
    tool = TrackedTool("Pointer", make_tool_object("Pointer"))
    t0 = time.monotonic()
    with pytest.raises(InputError, match="visible to the tracker"):
        TipAverager(tool, window_s=0.2).start().wait(0.3)
    assert time.monotonic() - t0 < 2


def pivot_poses(offset, pivot, n: int = 60, tilt_deg: float = 30.0, noise: float = 0.0,
                seed: int = 0) -> np.ndarray:
    """Poses of a tool pivoting about its tip: tool origin = pivot - R @ offset."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    poses = np.tile(np.eye(4), (n, 1, 1))
    for k in range(n):
        axis = np.array([np.cos(k), np.sin(k), 0.0])
        r = Rotation.from_rotvec(np.radians(tilt_deg) * (k % 7) / 6 * axis).as_matrix()
        r = r @ Rotation.from_rotvec([0, 0, 0.3 * k]).as_matrix()  # spun about the shaft too
        poses[k, :3, :3] = r
        poses[k, :3, 3] = np.asarray(pivot) - r @ np.asarray(offset) + rng.normal(0, noise, 3)
    return poses


def test_pivot_calibration_finds_the_tip():
    from sim.twin.pointer import pivot_calibration

    offset, pivot = np.array([1.5, -2.0, 160.0]), np.array([40.0, 10.0, -25.0])
    exact = pivot_calibration(pivot_poses(offset, pivot))
    np.testing.assert_allclose(exact.tip_offset, offset, atol=1e-6)
    np.testing.assert_allclose(exact.pivot, pivot, atol=1e-6)
    assert exact.rms < 1e-6 and exact.angle_deg > 29
    noisy = pivot_calibration(pivot_poses(offset, pivot, noise=0.1, seed=1))
    assert np.linalg.norm(noisy.tip_offset - offset) < 0.3 and 0.05 < noisy.rms < 0.3
    with pytest.raises(InputError, match="tilted only"):
        pivot_calibration(pivot_poses(offset, pivot, tilt_deg=5.0))
    with pytest.raises(InputError, match="four"):
        pivot_calibration(np.eye(4)[None])


def test_link_settings_round_trip_and_bad_input():
    from sim.model import Case
    from sim.twin.instruments import InstrumentLink

    reg = np.eye(4)
    reg[:3, 3] = (10.0, 20.0, 30.0)
    tip = np.eye(4)
    tip[:3, 3] = (0.0, 0.0, 150.0)
    first = InstrumentLink(Case())
    first.set_registration(reg)
    first.set_calibration("Pointer", tip)
    doc = first.settings()
    second = InstrumentLink(Case())
    second.apply_settings(doc)
    tool = second.add_tool("Pointer")  # calibrated when it appears
    np.testing.assert_allclose(tool.tool_T_tip, tip)
    tool.update(np.eye(4), 0.0)
    np.testing.assert_allclose(tool.tip, (10, 20, 180))
    for bad in ("nonsense", {"patient_T_tracker": [[1, 2], [3, "x"]]},
                {"patient_T_tracker": np.diag([2.0, 1, 1, 1]).tolist()},
                {"tool_T_tip": {"Pointer": "abc"}}, {"tool_T_tip": [1, 2]}):
        with pytest.raises(InputError):
            InstrumentLink(Case()).apply_settings(bad)

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

"""Cancellable child processes: Cancel stops the child and everything it started within 1 s."""

from __future__ import annotations

import sys
import time

import pytest

from sim.child_process import ChildTimeout, GmshLog, run_child, tetwild_log
from sim.errors import Cancelled
from tests.sim.cancel_helpers import CancellableRun, pid_gone, wait_for_child

# A child that reports progress, starts a grandchild (which ignores SIGTERM), and sleeps.
SLEEPER = """
import subprocess, sys, time
g = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    " # twinsight-test-grandchild"])
print("@progress 0.25 warming up", flush=True)
print(f"grandchild {g.pid}", flush=True)
time.sleep(600)
"""


def _sleeper_cmd() -> list[str]:
    return [sys.executable, "-c", SLEEPER + "# twinsight-test-child"]


def test_cancel_kills_child_and_grandchild_within_a_second():
    run = CancellableRun(lambda progress: run_child(_sleeper_cmd(), progress, "Sleeping"))
    run.start()
    child = wait_for_child("twinsight-test-child", run)
    grandchild = wait_for_child("twinsight-test-grandchild", run)
    # wait for the child's own progress line to come through
    end = time.monotonic() + 10
    while time.monotonic() < end and not any(f == 0.25 for _, f, _ in run.calls):
        time.sleep(0.05)
    assert any(f == 0.25 and m.startswith("warming up") for _, f, m in run.calls), run.calls[-3:]
    t_cancel = run.cancel()
    run.thread.join(5.0)
    assert not run.thread.is_alive()
    assert isinstance(run.error, Cancelled)
    assert run.ended_at - t_cancel < 1.0
    assert all(pid_gone(p) for p in child)  # reaped, not a zombie
    assert all(pid_gone(p, allow_zombie=True) for p in grandchild)  # SIGTERM ignored: SIGKILLed


def test_time_limit_kills_the_child():
    t0 = time.monotonic()
    with pytest.raises(ChildTimeout):
        run_child([sys.executable, "-c", "import time; time.sleep(600)"],
                  lambda f, m: None, "Sleeping", timeout=0.5)
    assert time.monotonic() - t0 < 2.0


def test_normal_run_returns_output_and_code():
    seen = []
    out = run_child([sys.executable, "-c", "import sys, time; print('@progress 0.5 half', "
                     "flush=True); time.sleep(0.4); print('x' * 200000); "
                     "sys.stderr.write('boom\\n'); sys.exit(3)"],
                    lambda f, m: seen.append((f, m)), "Working")
    assert out.returncode == 3 and out.stderr.strip() == "boom"
    assert "x" * 200000 in out.stdout  # big output does not block the child (pipes drained)
    assert any(f == 0.5 and m.startswith("half") for f, m in seen)
    assert all(m.endswith(" s") for _, m in seen)  # elapsed time is shown


def test_gmsh_and_tetwild_logs_give_percentages():
    log = GmshLog(0.0, 1.0)
    assert log("@window 0.2 0.6 Tessellating")[0] == pytest.approx(0.2)
    assert log("Info    : Meshing 2D...")[0] == pytest.approx(0.2 + 0.4 * 0.1)
    assert log("Info    : [ 50%] Meshing surface 3 (Plane)")[0] == pytest.approx(0.2 + 0.4 * 0.3)
    assert log("Info    : Done meshing 2D") is None
    assert tetwild_log("//////////////// pass 40 ////////////////")[0] == pytest.approx(0.575)
    assert tetwild_log("#v = 12") is None

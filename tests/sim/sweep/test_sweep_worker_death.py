"""Samples that kill or hang their Dask worker (real LocalCluster processes, real deaths by
SIGKILL and os._exit from inside the sample): the sweep ends, every sample is recorded, the
poisonous ones as failed with the reason, the others with their values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim.sweep.runner import WORKER_DEATHS, run_sweep
from sim.sweep.sampling import make_design
from sim.sweep.spec import read_sweep
from sim.sweep.store import read_results

from .conftest import write

REPO = Path(__file__).resolve().parents[3]
MODEL = '''
import os, signal, time

def run(x: float = 0.0, hang: float = 2.0) -> dict:
    if x > hang:
        time.sleep(3600)  # a solver stuck for good
    if x > 11 / 12:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash in native code, the OOM killer
    if x > 10 / 12:
        os._exit(1)
    return {"y": x * x}
'''


def _sweep(tmp_path: Path, hang: float = 2.0) -> Path:
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "poison_model.py").write_text(MODEL)
    # LHS over [0, 1]: exactly two of the 12 samples lie above 10/12 (one per stratum); with
    # seed 8 both are in the same batch of 4 (ids 5 and 7, batch-mates 4 and 6)
    return write(tmp_path / "poison.yaml", {
        "name": "poison", "base": {"python": "poison_model:run", "inputs": {"x": 0.0, "hang": hang}},
        "parameters": [{"path": "x", "dist": "uniform", "low": 0, "high": 1}],
        "sampler": {"method": "lhs", "n": 12, "seed": 8}, "qoi": ["y"]})


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "pkg"), str(REPO)])}


def test_sample_killing_its_worker_fails_alone_and_the_sweep_ends(tmp_path):
    spec_path = _sweep(tmp_path)
    xs = {s.id: s.values["x"] for s in make_design(read_sweep(spec_path)).samples}
    poison = sorted(k for k, x in xs.items() if x > 10 / 12)
    assert poison == [5, 7]  # one batch: the batch dies, then its samples run one per task
    out = tmp_path / "out.parquet"
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "viewer.launcher", "sweep", str(spec_path), "--workers", "2",
           "--batch", "4", "-o", str(out), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=_env(tmp_path))
    took = time.monotonic() - t0
    print(f"\n12 samples, 2 poisonous, {2 * WORKER_DEATHS + WORKER_DEATHS} worker deaths: "
          f"{took:.1f} s")
    assert proc.returncode == 1, proc.stderr  # finished, but not every sample has a result
    assert "2 of 12 samples failed" in proc.stderr
    # No traceback from Twinsight. (A Dask worker process that is shut down while its nanny
    # restarts it may print distributed's own "ConnectionPool is closed" traceback.)
    assert not any(f'File "{REPO / part}' in proc.stderr for part in ("sim", "viewer")), \
        proc.stderr
    data = json.loads(proc.stdout)
    assert data["samples"] == {"expected": 12, "recorded": 12, "ok": 10, "failed": 2}
    assert data["run"]["run"] == 12 and data["run"]["failed"] == 2
    df = read_results(out).set_index("sample")
    assert sorted(df.index) == list(range(12))
    bad, good = df.loc[poison], df.drop(index=poison)
    assert bad["error"].str.contains(f"worker running this sample died {WORKER_DEATHS} times").all()
    assert bad["q.y"].isna().all() and np.allclose(bad["p.x"], [xs[k] for k in poison])
    assert good["error"].isna().all()
    assert np.allclose(good["q.y"], [xs[k] ** 2 for k in good.index])  # batch-mates 4, 6 too
    # resume: every sample is recorded, a rerun has nothing to do (and still reports them)
    again = run_sweep(read_sweep(spec_path), out)
    assert again.run == 0 and again.skipped == 12


@pytest.mark.timeout(240)
def test_watchdog_ends_a_sample_that_hangs(tmp_path, monkeypatch):
    spec = read_sweep(_sweep(tmp_path, hang=10 / 12))  # the two poisonous samples hang first
    xs = {s.id: s.values["x"] for s in make_design(spec).samples}
    hang = sorted(k for k, x in xs.items() if x > 10 / 12)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))  # spawned workers get this sys.path
    seen = []
    run = run_sweep(spec, tmp_path / "out.parquet", workers=2, batch=1, stall_s=8.0,
                    progress=lambda f, m: seen.append(m))
    df = read_results(tmp_path / "out.parquet").set_index("sample")
    print(f"\n{len(hang)} of 12 samples hang: {run.wall_time_s:.1f} s; errors {set(df['error'])}")
    assert sorted(df.index) == list(range(12)) and run.failed == len(hang)
    assert df.loc[hang, "error"].str.startswith("Stalled: no result within 8 s, twice").all()
    good = df.drop(index=hang)
    assert good["error"].isna().all() and np.allclose(good["q.y"], [xs[k] ** 2 for k in good.index])
    assert seen[-1] == f"12/12 samples, {len(hang)} failed"

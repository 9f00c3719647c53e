"""``twinsight sweep`` end to end: through a `dask scheduler` and two `dask worker` processes
started on 127.0.0.1, reports, --json, and bad input as exit code 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_process import run_cli

from .conftest import ishigami_sweep, spin_sweep

DASK = Path(sys.executable).with_name("dask")


def run(*args, timeout=300):
    return run_cli(*args, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def dask_cluster(tmp_path):
    if not DASK.exists():
        pytest.skip("the dask command is not installed next to this Python")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("scheduler", "w1", "w2")]  # noqa: SIM115
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=logs[0], stderr=subprocess.STDOUT, env=env)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    for k in (1, 2):
        procs.append(subprocess.Popen([str(DASK), "worker", address, "--nworkers", "1",
                                       "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                                       "--name", f"w{k}"],
                                      stdout=logs[k], stderr=subprocess.STDOUT, env=env))
    yield address
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    for f in logs:
        f.close()


def test_sweep_through_a_running_scheduler(tmp_path, dask_cluster):
    spec = spin_sweep(tmp_path, 12, 0.05)
    out = run("sweep", spec, "--scheduler", dask_cluster, "--batch", "1",
              "-o", tmp_path / "r.parquet", "--json", "--report", tmp_path / "r.html")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["run"]["workers"] == 2 and data["run"]["run"] == 12
    assert data["samples"] == {"expected": 12, "recorded": 12, "ok": 12, "failed": 0}
    from sim.sweep.store import read_results

    df = read_results(tmp_path / "r.parquet")
    assert len(set(df["worker"])) == 2  # both remote workers computed
    assert "Sweep report" in (tmp_path / "r.html").read_text()
    assert oct((tmp_path / "r.parquet").stat().st_mode & 0o777) == "0o700"


def test_cli_local_cluster_text_pdf_and_resume(tmp_path):
    spec = ishigami_sweep(tmp_path, 256, "sobol")
    out = run("sweep", spec, "--workers", "1", "--report", tmp_path / "r.pdf")
    assert out.returncode == 0, out.stderr
    assert "256 of 256 samples succeeded" in out.stdout and "Spearman y" in out.stdout
    assert "P(y > 10)" in out.stdout
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert "INFO" not in out.stderr and "Traceback" not in out.stderr
    again = run("sweep", spec, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["run"]["skipped"] == 256


@pytest.mark.parametrize("args, message", [
    (["missing.yaml"], "missing.yaml"),
    (["SPEC", "-o", "out.csv"], ".parquet"),
    (["SPEC", "--report", "r.docx"], ".pdf or .html"),
    (["SPEC", "--no-run", "-o", "none.parquet"], "no results"),
    (["SPEC", "--stall-timeout", "0"], "--stall-timeout must be a positive"),
])
def test_bad_input_exit_2(tmp_path, args, message, capsys):
    from sim.cli import main

    spec = ishigami_sweep(tmp_path, 8)
    args = [str(spec) if a == "SPEC" else (str(tmp_path / a) if a.endswith(("yaml", "csv", "parquet", "docx")) else a)
            for a in args]
    assert main(["sweep", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_changed_sweep_refuses_old_results(tmp_path, capsys):
    from sim.cli import main

    spec = ishigami_sweep(tmp_path, 8)
    assert main(["sweep", str(spec), "--workers", "1"]) == 0
    ishigami_sweep(tmp_path, 8, seed=99)
    assert main(["sweep", str(spec), "--workers", "1"]) == 2
    assert "different sweep" in capsys.readouterr().err

"""Benchmark (#24): sweep throughput on Dask. 40 CPU-bound FE solves (P2 cantilever, ~3k
nodes) on a LocalCluster of one worker process, then of two (target: >= 1.8x the throughput),
and the scheduling overhead per sample of trivial samples (target: < 50 ms), one sample per
task and batched. Workers are warmed up first (numba compiles the kernels once per process).

Prints figures; never fails on wall clock (the machine is shared). Run:
    pytest tests/benchmarks/test_sweep_dask.py -s
"""

from __future__ import annotations

import json
import os

import pytest

from sim.sweep.runner import run_sweep
from sim.sweep.spec import parse_sweep

pytestmark = pytest.mark.benchmark

BEAM = {"name": "beam", "mesh": {"generator": "box", "size": [100, 10, 10], "divisions": [24, 3, 3]},
        "order": 2, "material": {"youngs_modulus": 210000, "poisson_ratio": 0.3, "density": 7.85e-9},
        "constraints": [{"name": "clamp", "type": "fixed", "select": {"side": "xmin"}}],
        "loads": [{"name": "tip", "type": "surface_force", "select": {"side": "xmax"},
                   "force": [0, 0, -100]}]}


def _fem_spec(tmp_path, n, seed):
    (tmp_path / "beam.yaml").write_text(json.dumps(BEAM))
    return parse_sweep({"base": {"fem": "beam.yaml"},
                        "parameters": [{"path": "material.youngs_modulus", "dist": "normal",
                                        "mean": 2.1e5, "std": 1e4}],
                        "sampler": {"method": "mc", "n": n, "seed": seed},
                        "qoi": ["max_von_mises_mpa"]}, tmp_path)


def _cluster(n):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return cluster, Client(cluster)


def test_two_workers_throughput_on_40_fe_solves(tmp_path):
    rates = {}
    for n in (1, 2):
        cluster, client = _cluster(n)
        try:
            run_sweep(_fem_spec(tmp_path, 2 * n, 99), tmp_path / f"warm{n}.parquet", client=client)
            run = run_sweep(_fem_spec(tmp_path, 40, 1), tmp_path / f"run{n}.parquet", client=client)
        finally:
            client.close()
            cluster.close()
        assert run.run == 40 and run.failed == 0
        rates[n] = run.run / run.wall_time_s
        print(f"\n{n} worker(s): 40 FE solves in {run.wall_time_s:.1f} s = {rates[n]:.2f} solves/s; "
              f"mean solve {run.compute_time_s / 40:.2f} s; load average {os.getloadavg()[0]:.1f}")
    print(f"speed-up 2 vs 1 worker: {rates[2] / rates[1]:.2f}x (target >= 1.8x; "
          f"{os.cpu_count()} CPUs on this machine)")


@pytest.mark.parametrize("batch", [1, None])
def test_scheduling_overhead_per_sample(tmp_path, batch):
    spec = parse_sweep({"base": {"python": "sim.sweep.functions:spin", "inputs": {"seconds": 0.0}},
                        "parameters": [{"path": "x", "dist": "uniform", "low": 0, "high": 1}],
                        "sampler": {"method": "mc", "n": 2000, "seed": 1}, "qoi": ["y"]}, tmp_path)
    cluster, client = _cluster(2)
    try:
        run_sweep(spec, tmp_path / "warm.parquet", client=client, batch=batch)
        (tmp_path / "warm.parquet").rename(tmp_path / "warm-done.parquet")
        run = run_sweep(spec, tmp_path / "run.parquet", client=client, batch=batch)
    finally:
        client.close()
        cluster.close()
    assert run.run == 2000 and run.failed == 0
    print(f"\nbatch {batch or 'auto'}: 2000 trivial samples on 2 workers in {run.wall_time_s:.2f} s "
          f"= {run.wall_time_s / 2000 * 1e3:.2f} ms wall per sample; overhead "
          f"{run.overhead_ms_per_sample:.2f} ms worker-time per sample (target < 50 ms); "
          f"load average {os.getloadavg()[0]:.1f}")

"""Sweeps on a real Dask LocalCluster (two worker processes): FE samples, failures recorded,
resume after an interruption, a worker killed mid-sweep, Sobol indices of Ishigami."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from sim.errors import Cancelled
from sim.sweep.analysis import analyse
from sim.sweep.functions import ishigami_indices
from sim.sweep.runner import run_sweep
from sim.sweep.spec import read_sweep
from sim.sweep.store import read_results

from .conftest import BEAM, ishigami_sweep, spin_sweep, write


def _fem_sweep(tmp_path, n=6, extra_params=()):
    write(tmp_path / "beam.yaml", BEAM)
    return write(tmp_path / "sweep.yaml", {
        "name": "beam", "base": {"fem": "beam.yaml"},
        "parameters": [{"path": "material.youngs_modulus", "dist": "lognormal", "median": 2.1e5,
                        "sigma": 0.1},
                       {"path": "loads[0].force[2]", "dist": "normal", "mean": -100, "std": 10},
                       *extra_params],
        "sampler": {"method": "lhs", "n": n, "seed": 4},
        "qoi": ["max_von_mises_mpa", {"name": "tip_uz", "path": "probes.tip.displacement_mm[2]"}],
        "failure": [{"qoi": "max_von_mises_mpa", "above": 60}]})


def test_fem_sweep_on_local_cluster(tmp_path, dask_client):
    spec = read_sweep(_fem_sweep(tmp_path, extra_params=[
        {"path": "material.poisson_ratio", "dist": "discrete", "values": [0.3, 0.7]}]))
    run = run_sweep(spec, tmp_path / "out.parquet", client=dask_client)
    df = read_results(tmp_path / "out.parquet")
    assert run.run == 6 and len(df) == 6 and sorted(df["sample"]) == list(range(6))
    assert len(set(df["worker"])) == 2  # both worker processes took samples
    bad = df[df["p.material.poisson_ratio"] == 0.7]
    good = df[df["p.material.poisson_ratio"] == 0.3]
    assert len(bad) and len(good)  # LHS strata put samples on both values
    # an impossible Poisson ratio is recorded with its reason; the others ran
    assert bad["error"].str.contains("oisson").all() and bad["q.tip_uz"].isna().all()
    assert good["error"].isna().all()
    # linear elasticity: the tip deflection is proportional to F / E (same mesh, same nu)
    k = good["q.tip_uz"] * good["p.material.youngs_modulus"] / good["p.loads[0].force[2]"]
    assert np.ptp(k) < 1e-9 * abs(k.mean())
    # and near Timoshenko's tip deflection of the 100 x 10 x 10 steel cantilever
    E, F, L, inertia, G, A = 2.1e5, -100.0, 100.0, 10.0**4 / 12, 2.1e5 / 2.6, 100.0
    timo = F * L**3 / (3 * E * inertia) + F * L / (5 / 6 * G * A)
    assert abs(k.mean() * F / E / timo - 1) < 0.03
    a = analyse(spec, df)
    assert a["samples"] == {"expected": 6, "recorded": 6, "ok": len(good), "failed": len(bad)}
    assert a["failure"][0]["n"] == len(good)


def test_resume_after_interruption_skips_done_samples(tmp_path, dask_client):
    spec = read_sweep(spin_sweep(tmp_path, 24, 0.05))
    out = tmp_path / "out.parquet"
    seen = []

    def stop_midway(fraction, message):
        seen.append(fraction)
        if fraction > 0.3:
            raise Cancelled("sweep")

    with pytest.raises(Cancelled):
        run_sweep(spec, out, batch=1, client=dask_client, progress=stop_midway, flush_seconds=0.0)
    first = read_results(out)
    assert 0 < len(first) < 24
    run = run_sweep(spec, out, batch=1, client=dask_client)
    assert run.skipped == len(first) and run.run == 24 - len(first)
    df = read_results(out)
    assert sorted(df["sample"]) == list(range(24)) and df["error"].isna().all()
    assert np.allclose(df["q.y"], df["p.x"] ** 2)
    again = run_sweep(spec, out, batch=1, client=dask_client)
    assert again.run == 0 and again.skipped == 24


def test_killed_worker_loses_no_sample(tmp_path, dask_client):
    spec = read_sweep(spin_sweep(tmp_path, 30, 0.15))
    pids = dask_client.run(os.getpid)
    victim = next(iter(pids.values()))
    killed = []

    def kill_one(fraction, message):
        if fraction > 0.15 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    run = run_sweep(spec, tmp_path / "out.parquet", batch=1, client=dask_client, progress=kill_one)
    assert killed
    df = read_results(tmp_path / "out.parquet")
    assert run.failed == 0 and sorted(df["sample"]) == list(range(30))
    assert df["error"].isna().all() and np.allclose(df["q.y"], df["p.x"] ** 2)
    assert not any(w.endswith(f":{victim}") for w in df["worker"][df["sample"] > 25])
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarted it for the next tests


def test_sobol_indices_of_ishigami_match_analytic(tmp_path, dask_client):
    spec = read_sweep(ishigami_sweep(tmp_path, 4096, "saltelli", seed=5))
    run = run_sweep(spec, tmp_path / "out.parquet", batch=512, client=dask_client)
    assert run.run == 4096 * 5 and run.failed == 0
    a = analyse(spec, read_results(tmp_path / "out.parquet"))
    (entry,) = a["sensitivity"]
    ref = ishigami_indices()
    print(f"\nS1 {np.round(entry['S1'], 4)} vs {np.round(ref['S1'], 4)}; "
          f"ST {np.round(entry['ST'], 4)} vs {np.round(ref['ST'], 4)}")
    assert np.abs(np.subtract(entry["S1"], ref["S1"])).max() < 0.02
    assert np.abs(np.subtract(entry["ST"], ref["ST"])).max() < 0.02


def test_morris_screening_ranks_ishigami_inputs(tmp_path, dask_client):
    spec = read_sweep(ishigami_sweep(tmp_path, 200, "morris", seed=2))
    run_sweep(spec, tmp_path / "out.parquet", client=dask_client)
    (entry,) = analyse(spec, read_results(tmp_path / "out.parquet"))["sensitivity"]
    mu = entry["mu_star"]
    # Ishigami: x3 acts only through its interaction with x1, the weakest main effect
    assert entry["method"] == "morris" and mu[2] < mu[0] and mu[2] < mu[1]

"""Sweep fixtures: a real Dask LocalCluster (two worker processes), and small FE specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BEAM = {"name": "beam", "mesh": {"generator": "box", "size": [100, 10, 10], "divisions": [10, 1, 1]},
        "order": 2, "material": {"youngs_modulus": 210000, "poisson_ratio": 0.3, "density": 7.85e-9},
        "constraints": [{"name": "clamp", "type": "fixed", "select": {"side": "xmin"}}],
        "loads": [{"name": "tip", "type": "surface_force", "select": {"side": "xmax"},
                   "force": [0, 0, -100]}],
        "probes": {"tip": [100, 5, 5]}}
PI = 3.141592653589793


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1))  # JSON is YAML
    return path


def ishigami_sweep(folder: Path, n: int = 64, method: str = "mc", seed: int = 3) -> Path:
    return write(folder / "ishigami.yaml", {
        "name": "ishigami",
        "base": {"python": "sim.sweep.functions:ishigami", "inputs": {"x1": 0, "x2": 0, "x3": 0}},
        "parameters": [{"path": f"x{k}", "dist": "uniform", "low": -PI, "high": PI} for k in (1, 2, 3)],
        "sampler": {"method": method, "n": n, "seed": seed}, "qoi": ["y"],
        "failure": [{"qoi": "y", "above": 10}]})


def spin_sweep(folder: Path, n: int, seconds: float) -> Path:
    return write(folder / "spin.yaml", {
        "name": "spin", "base": {"python": "sim.sweep.functions:spin",
                                 "inputs": {"x": 0.0, "seconds": seconds}},
        "parameters": [{"path": "x", "dist": "uniform", "low": 0, "high": 1}],
        "sampler": {"method": "mc", "n": n, "seed": 1}, "qoi": ["y"]})


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()

"""Benchmarks of the engineering twin (issue #17). Figures are printed, never asserted on time.

* per-sample update (identification + hot-spot stresses + damage increment + health test)
  for 16 gauges and 4 load channels, fed one sample at a time (as the live link does) and in
  blocks of 1000 (replay); target >= 20,000 samples/s;
* physics stress map refresh (von Mises at every node by superposition) on a ~50k-node P2
  model; target >= 30 Hz;
* influence precompute for 8 channels on a ~50k-tet P2 model; target < 30 s.

Run: .venv/bin/python -m pytest tests/benchmarks/test_asset_twin.py -s -q

On a machine shared with other jobs the wall-clock figures swing with the load; the rates per
second of the process's CPU time are printed beside them (and the load average).
"""

from __future__ import annotations

import os
import time

import numpy as np

from sim.asset.config import config_from_dict, demo_asset_config
from sim.asset.model import build_model
from sim.asset.runtime import AssetTwin
from sim.asset.truth import TruthSimulator


def _sixteen_gauge_model():
    cfg = demo_asset_config(element_size=4)
    raw = dict(cfg.raw)
    raw["sensors"] = [s for s in raw["sensors"] if s["id"] not in ("d_top", "lc_pump")]
    raw["sensors"].append({"id": "g_extra", "type": "strain", "point": [0, 12, 30],
                           "direction": [0, 0, 1], "noise": 1.0})
    model = build_model(config_from_dict(raw, cfg.folder, cfg.name))
    assert len(model.sensors) == 16 and len(model.channels) == 4
    return model


def test_per_sample_update_rate():
    model = _sixteen_gauge_model()
    t, _, y = TruthSimulator(model, seed=0).history(2000, 10)  # 20,000 samples
    for block in (1000, 1):
        twin = AssetTwin(model, dt=0.1)
        n = len(t) if block > 1 else 5000
        # The compiled kernels (one-sample step, block path) are compiled, or loaded from
        # numba's cache, before timing: a fresh checkout has no cache yet.
        AssetTwin(model, dt=0.1).process(t[:block], y[:block])
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, n, block):
            twin.process(t[i:i + block], y[i:i + block])
        rate = n / (time.perf_counter() - t0)
        cpu_rate = n / max(time.process_time() - c0, 1e-9)
        print(f"\nper-sample update, blocks of {block}: {rate:,.0f} samples/s "
              f"({cpu_rate:,.0f} per CPU second; 16 gauges, 4 channels, "
              f"{len(model.hot_names)} hot spots; target 20,000; load {os.getloadavg()[0]:.1f})")
        assert twin.counters.samples == n


def _bracket(element_size: float, channels: int):
    cfg = demo_asset_config(element_size=element_size)
    raw = dict(cfg.raw)
    base = list(raw["channels"])
    extra = []
    for k in range(channels - len(base)):
        z0 = 14 + 8 * k
        extra.append({"name": f"extra{k}", "type": "surface_force",
                      "select": {"surface": {"normal": [1, 0, 0], "angle": 10},
                                 "box": [5.9, 6.1, None, None, z0, z0 + 6]},
                      "direction": [1, 0, 0], "typical": 50})
    raw["channels"] = base + extra
    return config_from_dict(raw, cfg.folder, cfg.name)


def test_stress_map_refresh_and_influence_precompute():
    from sim.fem.linsolve import solver_path

    cfg = _bracket(1.4, 8)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    model = build_model(cfg)
    build, cpu = time.perf_counter() - t0, time.process_time() - c0
    tets = len(model.cells)
    print(f"\ninfluence precompute, {len(model.channels)} channels, {tets:,} P2 tets, "
          f"{len(model.points):,} nodes, {len(model.regions)} region sensitivities: "
          f"{build:.1f} s ({cpu:.1f} s of CPU time; target < 30 s; load {load:.1f}); "
          f"{solver_path()}")
    twin = AssetTwin(model, dt=0.1)
    rng = np.random.default_rng(0)
    qs = rng.normal(size=(60, len(model.channels))) * model.typical
    twin.stress_field(qs[0])
    t0 = time.perf_counter()
    for q in qs:
        vm = twin.stress_field(q)
    hz = len(qs) / (time.perf_counter() - t0)
    print(f"physics stress map: {hz:.0f} refreshes/s on {len(vm):,} nodes (target 30)")
    assert np.isfinite(vm).all()

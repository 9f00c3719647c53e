"""Benchmark: deformable (FE) registration of SOFA's liver (issue #18).

Prints (never fails on wall clock):
- preparation of a ~10k-tetrahedron liver (sparse-grid body, load basis, embedding) and one
  update from 500 points (target: <= 5 s on 2 cores);
- the same update with each material model (linear, co-rotational, neo-Hookean): time, TRE;
- warm-started live increments as stylus points stream in (target: <= 1 s);
- the target registration error table against coverage (10-50 % of the surface, anterior
  patch) and noise (0.5-3 mm), rigid ICP alone vs deformable, 150 targets >= 8 mm deep.

Run:  .venv/bin/python -m pytest tests/benchmarks/test_deformable_registration.py -s -q
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim.registration.deformable import DeformableModel, DeformableSettings
from sim.registration.live_update import LiveDeformable
from tests.sim.registration.liver_truth import (
    anterior_patch,
    interior_targets,
    liver_truth,
    sample_patch,
)

pytestmark = pytest.mark.benchmark

COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5)
NOISES = (0.5, 1.0, 2.0, 3.0)


@pytest.fixture(scope="module")
def setup(shared_data):
    truth = liver_truth(shared_data)
    t0 = time.perf_counter()
    model = DeformableModel(truth.surface, target_tets=10_000, name="liver")
    prep = time.perf_counter() - t0
    targets = interior_targets(truth.surface, 150, 8.0, np.random.default_rng(7))
    return truth, model, prep, targets


def test_update_10k_tets_from_500_points(setup):
    truth, model, prep, targets = setup
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 500, 1.0,
                       np.random.default_rng(1))
    t0 = time.perf_counter()
    res = model.register(pts, DeformableSettings(noise_mm=1.0))
    fit = time.perf_counter() - t0
    tre = np.linalg.norm(res.move(targets) - truth.move(targets), axis=1).mean()
    print(f"\n{model.mesh.n_elements} tetrahedra, {model.reduced.m} load patterns: preparation "
          f"{prep:.2f} s (once per organ), update from 500 points {fit:.2f} s "
          f"({res.state.iterations} iterations), total {prep + fit:.2f} s; TRE {tre:.2f} mm")


def test_material_models_10k_tets_from_500_points(setup):
    truth, model, _, targets = setup
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 500, 1.0,
                       np.random.default_rng(1))
    true = truth.move(targets)
    print("\nmaterial model | update from 500 points | mean TRE | largest strain")
    for mm in ("linear", "corotational", "neo-hookean"):
        t0 = time.perf_counter()
        res = model.register(pts, DeformableSettings(noise_mm=1.0, material_model=mm))
        fit = time.perf_counter() - t0
        tre = np.linalg.norm(res.move(targets) - true, axis=1).mean()
        extra = f" {res.summary().get('neo_hookean', '')} {res.warning}" if mm == "neo-hookean" \
            else ""
        print(f"{mm} | {fit:.1f} s | {tre:.2f} mm | {100 * res.max_strain:.1f} %{extra}")


def test_live_increments(setup):
    truth, model, _, _ = setup
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 500, 1.0,
                       np.random.default_rng(2))
    pts = pts[np.argsort(pts[:, 0])]
    live = LiveDeformable(model)
    times = []
    for n in range(100, 501, 50):
        t0 = time.perf_counter()
        live.step(pts[:n])
        times.append(time.perf_counter() - t0)
    print(f"\nlive increments (100 -> 500 points, +50 each): first {times[0]:.2f} s, then "
          f"median {np.median(times[1:]):.2f} s, max {max(times[1:]):.2f} s")


def test_error_table(setup):
    truth, model, _, targets = setup
    true = truth.move(targets)
    rows = []
    for cov in COVERAGES:
        patch = anterior_patch(truth.deformed, cov)
        for noise in NOISES:
            rng = np.random.default_rng(int(100 * cov + 10 * noise))
            pts = sample_patch(truth.deformed, patch, 500, noise, rng)
            res = model.register(pts, DeformableSettings(noise_mm=noise))
            rigid = np.linalg.norm(res.move_rigid_only(targets) - true, axis=1).mean()
            tre = np.linalg.norm(res.move(targets) - true, axis=1).mean()
            rows.append((cov, noise, rigid, tre))
    print("\nmean TRE (mm) at 150 internal targets, 500 points, rigid ICP -> deformable")
    print("coverage | " + " | ".join(f"noise {n:g} mm" for n in NOISES))
    for cov in COVERAGES:
        cells = [f"{r:5.2f} -> {t:4.2f}" for c, _n, r, t in rows if c == cov]
        print(f"{100 * cov:6.0f} % | " + " | ".join(cells))

"""Benchmark: interactive co-rotational steps of a beam falling under gravity (SOFA's benchmark
scene), each converged to a relative residual of 1e-3. Reports steps/s, CG iterations, residual
and memory for 5k, 10k, 20k and 50k tetrahedra.

Targets (issue #5): 10k tets >= 60 steps/s, 50k tets >= 10 steps/s. On the 50k beam the
rest-matrix preconditioner needs ~6 CG iterations a step and its triangular solves (12M
nonzeros) dominate; a background thread refactors it for the current rotations every 10 steps
(sim.fem.interactive._Refactorer), which brings CG to ~2.5 iterations. The timed window starts
after the warm-up in which the first refactor (ordering + factorisation) lands.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim.fem.body import Body
from sim.fem.interactive import CorotationalSimulator
from sim.fem.materials import Material
from sim.mesh.generators import box
from tests.benchmarks.fem_bench_util import machine_busy, rss_mb

pytestmark = pytest.mark.slow
# divisions of a 100 x 20 x 20 mm beam -> tets, warm-up and timed steps, and (target, quiet
# floor, busy floor) in steps/s. The target is reported as met or not; the assertions are
# floors (wall clock on a quiet machine, CPU time on a busy one): this VM's speed varies by
# about 25 % from hour to hour, and a regression floor must not fail on that alone.
CASES = {
    "5k": ((21, 6, 7), 10, 60, None),
    "10k": ((25, 8, 8), 10, 60, (60.0, 50.0, 10.0)),
    "20k": ((35, 10, 10), 4, 20, None),
    "50k": ((60, 12, 12), 30, 30, (10.0, 8.0, 2.0)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_interactive_corotational_steps(name, capsys):
    div, warmup, steps, required = CASES[name]
    before = rss_mb()
    mesh = box((100.0, 20.0, 20.0), div)
    body = Body(mesh, Material("soft tissue", 0.05, 0.45, density=1.0e-9, law="corotational"))
    t0 = time.perf_counter()
    sim = CorotationalSimulator(body, np.flatnonzero(mesh.points[:, 0] < 1e-9), dt=1 / 60,
                                rayleigh_mass=2.0, tolerance=1e-3)
    setup = time.perf_counter() - t0
    for _ in range(warmup):  # compile the kernels, start the swing, first refactor
        sim.step()
    wall, cpu = time.perf_counter(), time.process_time()
    reports = [sim.step() for _ in range(steps)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate_wall, rate_cpu = steps / wall, steps / cpu
    iters = np.array([r.iterations for r in reports])
    residual = max(r.relative_residual for r in reports)
    busy, load = machine_busy()
    sag = -sim.displacement[:, 2].min()
    with capsys.disabled():
        print(f"\n[fem interactive {name}] {mesh.n_elements} tets, {3 * mesh.n_nodes} dofs: "
              f"{rate_wall:.1f} steps/s wall, {rate_cpu:.1f} steps/s cpu, CG iterations "
              f"{iters.mean():.1f} (max {iters.max()}), max residual {residual:.1e}, setup "
              f"{setup:.2f} s, memory +{rss_mb() - before:.0f} MB, sag {sag:.1f} mm, preconditioner "
              f"refactors {sim._refactor.refactors if sim._refactor else 'off'} "
              f"(load average {load:.1f})")
    assert residual <= 1e-3 and all(r.inverted == 0 for r in reports)
    assert sag > 10.0  # it really moves: large rotations, not a trivial rest state
    if required is not None:
        target, quiet_floor, busy_floor = required
        with capsys.disabled():
            print(f"  target {target:.0f} steps/s wall-clock: "
                  f"{'met' if rate_wall >= target else 'NOT met'}")
        # On a quiet machine the wall clock is the figure; on a busy one (other test runs on
        # both cores) CPU time is the fairer measure of this code, against a lower floor.
        assert (rate_wall >= quiet_floor) if not busy else (rate_cpu >= busy_floor)

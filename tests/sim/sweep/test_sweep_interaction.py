"""Sweeps whose base is an interaction script on a case, on a real Dask LocalCluster: a probe
pushed a fixed depth into a gel block (sparse-grid body) while the Young's modulus varies 2x."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.sweep.analysis import analyse
from sim.sweep.evaluate import evaluate_sample, payload_of
from sim.sweep.runner import run_sweep
from sim.sweep.sampling import make_design
from sim.sweep.spec import read_sweep
from sim.sweep.store import read_results

from .conftest import write

GEL = {"name": "gel", "youngs_modulus": 0.015, "poisson_ratio": 0.45, "density": 1e-9}
E_LOW, E_HIGH = 0.01, 0.02  # MPa: the two-fold spread of soft tissue stiffness
DAMAGE_KPA = 8.0


def _script() -> dict:
    return {"setup": {"material": GEL, "fixed": {"side": "zmin"}, "dt": 0.05, "damping": 20.0,
                      "instruments": [{"name": "probe", "type": "probe", "radius": 4.0,
                                       "tip": "round"}]},
            "body": "block", "edge_length": 3.0, "duration": 2.0,
            "actions": [
                {"t": 0.0, "instrument": "probe",
                 "pose": {"position": [15, 15, 17], "direction": [0, 0, 1]}},
                # 1 mm into the 15 mm high block here; the sweep sets 3 mm through the path
                {"t": 1.0, "instrument": "probe",
                 "pose": {"position": [15, 15, 14], "direction": [0, 0, 1]}}]}


def _sweep(folder, params=None, seed=5) -> object:
    pv.Box(bounds=(0, 30, 0, 30, 0, 15)).triangulate().save(folder / "block.stl")
    write(folder / "push.json", _script())
    return write(folder / "sweep.yaml", {
        "name": "push",
        "base": {"interaction": "push.json", "case": "block.stl", "mesher": "sparse",
                 "damage_kpa": DAMAGE_KPA},
        "parameters": params if params is not None else [
            {"path": "setup.material.youngs_modulus", "dist": "uniform", "low": E_LOW,
             "high": E_HIGH},
            {"name": "depth_z", "path": "actions[1].pose.position[2]", "dist": "discrete",
             "values": [12.0]}],
        "sampler": {"method": "lhs", "n": 4, "seed": seed},
        "qoi": [{"name": "force", "path": "peak_force_n.probe"}, "max_displacement_mm",
                "max_von_mises_kpa", "max_principal_strain_pct", "damage_time_s"],
        "failure": [{"qoi": "max_von_mises_kpa", "above": DAMAGE_KPA}]})


def test_probe_force_scales_with_youngs_modulus_on_local_cluster(tmp_path, dask_client):
    spec = read_sweep(_sweep(tmp_path))
    run = run_sweep(spec, tmp_path / "out.parquet", client=dask_client)
    df = read_results(tmp_path / "out.parquet").sort_values("p.setup.material.youngs_modulus")
    assert run.run == 4 and df["error"].isna().all(), df["error"].tolist()
    print(f"\n{run.run} samples in {run.wall_time_s:.1f} s wall, "
          f"per sample on a worker (s): {df['wall_time_s'].round(1).tolist()}")
    E = df["p.setup.material.youngs_modulus"].to_numpy()
    force = df["q.force"].to_numpy()
    assert E.max() / E.min() > 1.4  # LHS spreads the samples over the two-fold range
    # Fixed indentation, linear material: the reaction force is proportional to E.
    assert force.min() > 0.05
    assert abs((force[-1] / force[0]) / (E[-1] / E[0]) - 1) < 0.03
    k = force / E
    assert np.ptp(k) < 0.03 * k.mean()
    # The depth set through actions[1].pose.position[2] took effect: 3 mm, whatever E is.
    u = df["q.max_displacement_mm"].to_numpy()
    assert np.all(np.abs(u - 3.0) < 0.15) and np.ptp(u) < 0.01 * u.mean()
    # Same strain field, stress proportional to E; strain independent of E.
    vm = df["q.max_von_mises_kpa"].to_numpy()
    assert np.ptp(vm / E) < 0.03 * (vm / E).mean()
    strain = df["q.max_principal_strain_pct"].to_numpy()
    assert strain.min() > 1.0 and np.ptp(strain) < 0.03 * strain.mean()
    # Damage: reached exactly by the samples whose peak stress passes the threshold, and
    # sooner in stiffer tissue (the probe moves at the same speed): after contact (the tip
    # meets the block at t = 0.4 s), within the 2 s script.
    damaged = vm >= DAMAGE_KPA
    assert damaged.any() and not damaged.all()
    t = df["q.damage_time_s"].to_numpy()
    assert np.isnan(t[~damaged]).all() and ((t[damaged] > 0.4) & (t[damaged] < 2.0)).all()
    assert np.all(np.diff(t[damaged]) <= 0)
    for e, f, d, v, st, td in zip(E, force, u, vm, strain, t, strict=True):
        print(f"E {e:.4f} MPa  force {f:.4f} N  u {d:.3f} mm  vM {v:.2f} kPa  "
              f"strain {st:.2f} %  damage at {td:.2f} s")

    # The analysis counts the failures (peak stress over the threshold) like any sweep's.
    fail = analyse(spec, df)["failure"][0]
    assert fail["n"] == 4 and fail["failures"] == int(damaged.sum())

    # Resumable: a rerun finds every sample done. Same seed, same samples (those that ran);
    # another seed, others.
    again = run_sweep(spec, tmp_path / "out.parquet", client=dask_client)
    assert again.run == 0 and again.skipped == 4
    ran = read_results(tmp_path / "out.parquet").sort_values("sample")
    name = "setup.material.youngs_modulus"
    same = [s.values[name] for s in make_design(read_sweep(_sweep(tmp_path))).samples]
    assert ran[f"p.{name}"].tolist() == same
    other = [s.values[name] for s in make_design(read_sweep(_sweep(tmp_path, seed=6))).samples]
    assert other != same


@pytest.mark.parametrize("path, reason", [
    ("setup.material.shear", "names 'shear', which the base spec does not have"),
    ("actions[5].pose.position[1]", r"has no item \[5\]"),
    ("setup.frictoin", "names 'frictoin'"),
])
def test_a_bad_path_into_the_script_is_one_sentence(tmp_path, path, reason):
    sweep = _sweep(tmp_path, [{"path": path, "dist": "uniform", "low": 0, "high": 1}])
    with pytest.raises(InputError, match=reason) as err:
        read_sweep(sweep)
    msg = str(err.value)
    assert path in msg and msg.count(". ") == 0 and "\n" not in msg


def test_the_base_needs_an_existing_case(tmp_path):
    sweep = _sweep(tmp_path)
    (tmp_path / "block.stl").unlink()
    with pytest.raises(InputError, match="case .*block.stl.* does not exist"):
        read_sweep(sweep)


def test_a_failing_sample_is_recorded_with_its_reason(tmp_path):
    spec = read_sweep(_sweep(tmp_path))
    rec = evaluate_sample(payload_of(spec), (0, "base", None, {},
                                             {"setup.material.youngs_modulus": -0.01,
                                              "depth_z": 12.0}))
    assert rec["error"] and "oung" in rec["error"] and "q.force" not in rec

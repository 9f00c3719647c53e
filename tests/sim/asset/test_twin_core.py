"""The engineering twin against the simulated asset's truth (issue #17's numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.asset.calibrate import calibrate
from sim.asset.health import HealthMonitor
from sim.asset.identify import LoadIdentifier, suggest_sensors
from sim.asset.influence import Params, observation_row
from sim.asset.model import build_model
from sim.asset.truth import TruthSimulator, true_loads


def _one_percent_noise(model):
    """Each sensor's noise: 1 % of its full-scale reading over the operating cycles."""
    t = np.arange(0, 600, 0.2)
    full = np.abs(model.predict(true_loads(t, model.channels))).max(axis=0)
    for s, f in zip(model.sensors, full, strict=True):
        s.noise = 0.01 * float(f)
    return model


def test_loads_within_2_percent_and_intervals_cover_95(bracket):
    cfg, fe, _ = bracket
    model = _one_percent_noise(build_model(cfg, fe=fe))
    ident = LoadIdentifier(model)
    t, q, y = TruthSimulator(model, seed=11).history(7200, 5)  # 36,000 samples
    qh, sd = ident.identify(y)
    # RMS error of each load relative to its peak over the operating cycles
    rel = np.sqrt(((qh - q) ** 2).mean(axis=0)) / np.abs(q).max(axis=0)
    assert (rel < 0.02).all(), rel
    coverage = (np.abs(qh - q) <= 1.959964 * sd).mean(axis=0)
    print(f"\nload RMS error / peak {np.round(rel, 4)}, 95 % coverage {np.round(coverage, 4)}")
    assert ((coverage >= 0.93) & (coverage <= 0.97)).all(), coverage


def test_virtual_sensor_within_5_percent_of_fe_truth(bracket):
    cfg, fe, model = bracket
    point, direction = [0.0, 20.0, 38.0], [0.0, 0.0, 1.0]  # outer face, no gauge there
    assert all(np.linalg.norm(np.subtract(s.point, point)) > 5 for s in model.sensors
               if s.point is not None)
    t, q, y = TruthSimulator(model, seed=5).history(120, 2)
    qh, _ = LoadIdentifier(model).identify(y)
    virtual = qh @ model.virtual_row("strain", point, direction)
    # the truth: the FE model solved with the true loads, gauge read at the point
    U, _ = fe.solve(Params(), fe.F @ q.T)
    dofs, w = observation_row(fe.mesh, "strain", point, direction)
    truth = w @ U[dofs]
    scale = np.abs(truth).max()
    print(f"\nvirtual gauge max error {np.abs(virtual - truth).max() / scale:.4f} of peak")
    assert np.abs(virtual - truth).max() < 0.05 * scale


def test_modulus_and_support_errors_recovered_within_2_percent(bracket):
    cfg, fe, model = bracket
    true = build_model(cfg, Params(0.8, {"foot bolts": 1.2}), fe=fe)
    _, _, y = TruthSimulator(true, seed=4).history(300, 2)
    res = calibrate(model, y, fe=fe, max_samples=300)
    got = dict(zip(res.names, res.values, strict=True))
    print(f"\ncalibrated {got} (true 0.8, 1.2), residual {res.rms_before:.3g} -> "
          f"{res.rms_after:.3g}")
    assert got["modulus"] == pytest.approx(0.8, rel=0.02)
    assert got["support:foot bolts"] == pytest.approx(1.2, rel=0.02)
    assert res.rms_after < 1.3 < res.rms_before
    sd = dict(zip(res.names, res.sd, strict=True))
    assert abs(got["modulus"] - 0.8) < 4 * sd["modulus"] + 0.002


def test_drifting_gauge_named_within_60_s(bracket):
    _, _, model = bracket
    sim = TruthSimulator(model, drift_at=200.0, seed=7, drift_rate=0.2)
    t, q, y = sim.history(400, 10)
    ident = LoadIdentifier(model)
    qh, _ = ident.identify(y)
    new, _, _ = HealthMonitor(model, ident, 0.1).update(t, y, qh)
    assert new, "no finding"
    first = new[0]
    print(f"\ndrifting gauge named {first.t - 200.0:.1f} s after the drift began")
    assert (first.kind, first.name) == ("sensor", sim.drift_sensor)
    assert 200.0 <= first.t <= 260.0


def test_stiffness_loss_detected_within_120_s_and_located(bracket, cracked):
    _, _, model = bracket
    sim = TruthSimulator(model, cracked, crack_at=300.0, seed=8)
    t, q, y = sim.history(500, 10)
    ident = LoadIdentifier(model)
    qh, _ = ident.identify(y)
    new, _, _ = HealthMonitor(model, ident, 0.1).update(t, y, qh)
    assert new, "no finding"
    print(f"\nstiffness loss found {new[0].t - 300.0:.1f} s after the crack, in "
          f"'{new[0].name}', amplitude {new[0].amplitude:+.2f}")
    assert (new[0].kind, new[0].name) == ("structure", "bend")
    assert 300.0 <= new[0].t <= 420.0
    assert new[0].amplitude < 0  # a loss, not a gain


def test_fewer_than_one_false_alarm_per_day_healthy(bracket):
    _, _, model = bracket
    t, q, y = TruthSimulator(model, seed=9).history(86400.0, 1.0)  # 24 h simulated
    ident = LoadIdentifier(model)
    qh, _ = ident.identify(y)
    mon = HealthMonitor(model, ident, 1.0)
    found = []
    for i in range(0, len(t), 20000):
        new, _, _ = mon.update(t[i:i + 20000], y[i:i + 20000], qh[i:i + 20000])
        found += new
    assert len(found) < 1, [(f.name, f.t) for f in found]


def test_observability_warns_and_suggestions_raise_information(bracket):
    _, _, model = bracket
    ident = LoadIdentifier(model)
    assert ident.observability().warnings == []
    for s in model.sensor_ids:  # only the load cell left: three loads unobservable
        if s != "lc_pump":
            ident.exclude(s)
    obs = ident.observability()
    assert obs.rank == 1 and obs.warnings and "cannot identify 3" in obs.warnings[0]
    sugg = suggest_sensors(model, 3)
    assert len(sugg) == 3
    assert sugg[0]["log_det_after"] < sugg[1]["log_det_after"] < sugg[2]["log_det_after"]


def test_gauge_gain_and_offset_recovered(bracket):
    cfg, fe, model = bracket
    true = build_model(cfg, fe=fe)
    k = true.sensor_ids.index("g_base_top")
    true.sensors[k].gain, true.sensors[k].offset = 1.08, 25.0
    _, _, y = TruthSimulator(true, seed=12).history(300, 2)
    res = calibrate(model, y, ["modulus", "gain:g_base_top", "offset:g_base_top"], fe=fe,
                    max_samples=300)
    got = dict(zip(res.names, res.values, strict=True))
    assert got["modulus"] == pytest.approx(1.0, abs=0.01)
    assert got["gain:g_base_top"] == pytest.approx(1.08, rel=0.02)
    assert got["offset:g_base_top"] == pytest.approx(25.0, abs=1.5)
    assert res.sensor_corrections()["g_base_top"][0] == got["gain:g_base_top"]


def test_stress_influence_equals_the_fem_results_module(bracket):
    from sim.fem.results import compute_fields

    _, fe, model = bracket
    U = model.U.astype(float)
    ours = fe.nodal_stress(U, Params())
    for c in range(U.shape[1]):
        ref = compute_fields(fe.body, U[:, c]).stress
        voigt = np.stack([ref[:, i, j] for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2),
                                                      (0, 2))], axis=1)
        np.testing.assert_allclose(ours[:, :, c], voigt, rtol=1e-6,
                                   atol=1e-6 * np.abs(voigt).max())


def test_channel_scale_recovered(bracket):
    """The gauges see 15 % more pump weight than the load cell measures (e.g. a lever arm
    the model lacks): the channel scale is found."""
    cfg, fe, model = bracket
    true = build_model(cfg, fe=fe)
    c = true.channels.index("pump_weight")
    fe_rows = [i for i, s in enumerate(true.sensors) if s.kind != "load_cell"]
    true.H[fe_rows, c] *= 1.15
    _, _, y = TruthSimulator(true, seed=13).history(300, 2)
    res = calibrate(model, y, ["modulus", "channel:pump_weight"], fe=fe, max_samples=300)
    got = dict(zip(res.names, res.values, strict=True))
    assert got["channel:pump_weight"] == pytest.approx(1.15, rel=0.02)
    assert got["modulus"] == pytest.approx(1.0, abs=0.02)
    fixed = res.apply_to(build_model(cfg, res.params(), fe=fe))
    np.testing.assert_allclose(fixed.H, true.H, rtol=0.03, atol=0.03 * np.abs(true.H).max())


def test_region_sensitivities_equal_finite_differences(bracket):
    """dH/d(stiffness scale of a region), from the adjoint solve, equals central differences
    of H from two models built with that region's stiffness changed."""
    cfg, fe, model = bracket
    fe_rows = [i for i, s in enumerate(model.sensors) if s.kind != "load_cell"]
    for r, region in enumerate(model.regions[:2]):
        hi = build_model(cfg, Params(regions={region: 1.01}), fe=fe).H
        lo = build_model(cfg, Params(regions={region: 0.99}), fe=fe).H
        fd = (hi - lo) / 0.02
        np.testing.assert_allclose(model.dH[r][fe_rows], fd[fe_rows], rtol=0,
                                   atol=2e-3 * np.abs(fd).max())
        assert np.abs(model.dH[r]).max() > 0.01 * np.abs(model.H[fe_rows]).max()


def test_stiffness_and_refactorised_solves(bracket):
    """The compiled assembly equals the FE engine's (scipy sum of the element matrices plus
    the support springs); a solve with every stiffness doubled (the kept factor, refactorised)
    halves the displacements."""
    _, fe, model = bracket
    K = fe.stiffness(Params())
    ref = fe.body.linear_stiffness() + sum(fe.springs.values())
    assert abs(K - ref).max() <= 1e-12 * abs(ref).max()
    U1, _ = fe.solve(Params())
    U2, _ = fe.solve(Params(modulus=2.0, supports={n: 2.0 for n in fe.springs}))
    np.testing.assert_allclose(U2, 0.5 * U1, rtol=1e-9, atol=1e-12 * np.abs(U1).max())
    np.testing.assert_allclose(U1, model.U, rtol=1e-5, atol=1e-6 * np.abs(U1).max())

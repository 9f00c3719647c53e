"""Sweep specs: path addressing, distributions, seeded designs, and bad specs in one sentence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.errors import InputError
from sim.sweep.paths import get_path, parse_path, set_path
from sim.sweep.sampling import make_design, transform
from sim.sweep.spec import Parameter, parse_sweep, read_sweep

from .conftest import BEAM, ishigami_sweep, write


def test_paths_address_nested_keys_and_list_items():
    assert parse_path("loads[0].force[1]") == ["loads", 0, "force", 1]
    assert parse_path("clearance.spinal cord") == ["clearance", "spinal cord"]
    data = {"material": {"youngs_modulus": 1.0}, "loads": [{"force": [0, 1, 2]}]}
    set_path(data, "loads[0].force[1]", -5.0)
    set_path(data, "material.youngs_modulus", 7.0)
    assert data == {"material": {"youngs_modulus": 7.0}, "loads": [{"force": [0, -5.0, 2]}]}
    assert get_path(data, "loads[0].force[-1]") == 2
    for bad in ("loads[3].force", "material.youngs", "loads.force", "material[0]"):
        with pytest.raises(InputError, match="path"):
            set_path(data, bad, 1.0)
    with pytest.raises(InputError):
        parse_path("loads[x]")


def test_distributions_are_inverse_cdfs():
    u = np.array([0.025, 0.5, 0.975])
    normal = transform(Parameter("e", "normal", {"mean": 10.0, "std": 2.0}), u)
    assert np.allclose(normal, stats.norm(10, 2).ppf(u))
    logn = transform(Parameter("e", "lognormal", {"median": 100.0, "sigma": 0.3}), u)
    assert np.allclose(logn, stats.lognorm(s=0.3, scale=100.0).ppf(u))
    assert transform(Parameter("u", "uniform", {"low": -1.0, "high": 3.0}), u) == [-0.9, 1.0, 2.9]
    disc = transform(Parameter("d", "discrete", {"values": ["a", "b", "c", "d"]}),
                     np.array([0.0, 0.26, 0.74, 0.999999, 1.0]))
    assert disc == ["a", "b", "c", "d", "d"]


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol", "saltelli", "morris"])
def test_same_seed_same_samples(tmp_path, method):
    a = make_design(read_sweep(ishigami_sweep(tmp_path, 16, method, seed=11)))
    b = make_design(read_sweep(ishigami_sweep(tmp_path, 16, method, seed=11)))
    c = make_design(read_sweep(ishigami_sweep(tmp_path, 16, method, seed=12)))
    assert a.values == b.values and np.array_equal(a.unit, b.unit)
    assert a.values != c.values
    rows = {"saltelli": 16 * 5, "morris": 16 * 4}.get(method, 16)
    assert len(a.samples) == rows and [s.id for s in a.samples] == list(range(rows))


def test_latin_hypercube_is_stratified(tmp_path):
    d = make_design(read_sweep(ishigami_sweep(tmp_path, 50, "lhs")))
    for k in range(3):  # exactly one point in each of the 50 strata of every dimension
        assert sorted((d.unit[:, k] * 50).astype(int).tolist()) == list(range(50))


def test_cohort_members_share_the_parameter_samples(tmp_path):
    write(tmp_path / "beam.yaml", BEAM)
    spec = parse_sweep({"base": {"fem": "beam.yaml"},
                        "parameters": [{"path": "material.youngs_modulus", "dist": "normal",
                                        "mean": 2e5, "std": 1e4}],
                        "cohort": {"members": [{"name": "soft", "set": {"material.poisson_ratio": 0.45}},
                                               {"name": "stiff", "set": {"order": 1}}]},
                        "sampler": {"method": "lhs", "n": 5, "seed": 2}, "qoi": ["max_von_mises_mpa"]},
                       tmp_path)
    d = make_design(spec)
    assert [s.member.name for s in d.samples] == ["soft"] * 5 + ["stiff"] * 5
    assert [s.values for s in d.samples[:5]] == [s.values for s in d.samples[5:]]


@pytest.mark.parametrize("change, message", [
    ({"parameters": [{"path": "material.stiffness", "dist": "normal", "mean": 1, "std": 1}]},
     "does not have"),
    ({"parameters": [{"path": "material.youngs_modulus", "dist": "gamma"}]}, "distribution"),
    ({"parameters": [{"path": "material.youngs_modulus", "dist": "normal", "mean": 1, "std": -1}]},
     "positive"),
    ({"parameters": [{"path": "material.youngs_modulus", "dist": "uniform", "low": 2, "high": 1}]},
     "empty"),
    ({"sampler": {"method": "grid"}}, "sampler"),
    ({"qoi": []}, "qoi"),
    ({"failure": [{"qoi": "nothing", "above": 1}]}, "failure criterion"),
    ({"base": {"fem": "missing.yaml"}}, "missing.yaml"),
    ({"bogus": 1}, "Unknown"),
])
def test_bad_specs_are_one_sentence(tmp_path, change, message):
    write(tmp_path / "beam.yaml", BEAM)
    data = {"base": {"fem": "beam.yaml"}, "qoi": ["max_von_mises_mpa"], **change}
    with pytest.raises(InputError, match=message):
        parse_sweep(data, tmp_path)

"""Deformable (FE) registration on SOFA's liver against a ground truth made by the FE engine.

The truth (tests/sim/registration/liver_truth.py) is a neo-Hookean liver on another mesh,
sagging under gravity turned to a new direction and lifted by a retractor, held at its
ligaments; the registration knows none of it (linear-elastic load basis on its own mesh,
pulled by the data points). Targets are 150 random points >= 8 mm inside the liver.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.registration.deformable import DeformableModel, DeformableSettings
from tests.sim.registration.liver_truth import (
    anterior_patch,
    interior_targets,
    liver_truth,
    sample_patch,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truth(shared_data):
    return liver_truth(shared_data)


@pytest.fixture(scope="module")
def model(truth):
    return DeformableModel(truth.surface, target_tets=10_000, name="liver")


@pytest.fixture(scope="module")
def targets(truth):
    return interior_targets(truth.surface, 150, 8.0, np.random.default_rng(7))


def _tre(moved, true):
    return float(np.linalg.norm(moved - true, axis=1).mean())


def test_deformable_fit_brings_internal_targets_within_3mm_where_rigid_leaves_6(
        truth, model, targets):
    rng = np.random.default_rng(11)
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 500, 1.0, rng)
    res = model.register(pts, DeformableSettings(noise_mm=1.0))
    true = truth.move(targets)
    rigid_tre, tre = _tre(res.move_rigid_only(targets), true), _tre(res.move(targets), true)
    assert rigid_tre >= 6.0
    assert tre <= 3.0, (rigid_tre, tre)
    assert res.elastic and res.state.converged
    # The updated surface passes through the data to the noise level.
    assert 0.7 < res.summary()["residual_rms_mm"] < 1.2
    # Constraint map: where the data are, the surface is pinned down better than far away.
    std = res.surface_uncertainty()
    d = np.linalg.norm(model.vertices[:, None] - res.state.T[:3, :3].dot(pts.T).T[None]
                       - res.state.T[:3, 3], axis=2).min(axis=1)
    assert np.median(std[d < 5]) < 0.5 * np.median(std[d > 60])


def test_undeformed_noisy_data_leave_targets_in_place(truth, model, targets):
    rng = np.random.default_rng(5)
    pts = sample_patch(truth.surface, anterior_patch(truth.surface, 0.3), 500, 1.0, rng)
    res = model.register(pts, DeformableSettings(noise_mm=1.0))
    moved = np.linalg.norm(res.move(targets) - targets, axis=1)
    assert moved.mean() < 0.5
    assert res.summary()["max_deformation_mm"] < 0.1  # the evidence says: no deformation


def test_outliers_are_down_weighted(truth, model, targets):
    rng = np.random.default_rng(3)
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 450, 1.0, rng)
    centre = np.asarray(truth.deformed.center)
    dirs = rng.normal(size=(50, 3))
    far = centre + dirs / np.linalg.norm(dirs, axis=1)[:, None] * rng.uniform(130, 180, (50, 1))
    res = model.register(np.vstack([pts, far]), DeformableSettings(noise_mm=1.0))
    assert res.outliers[450:].all() and res.outliers[:450].mean() < 0.05
    assert _tre(res.move(targets), truth.move(targets)) <= 3.5


def test_data_needing_too_much_strain_are_reported_not_followed(truth, model):
    rng = np.random.default_rng(4)
    blown = truth.surface.scale(1.25, inplace=False)
    blown.translate(np.asarray(truth.surface.center) - np.asarray(blown.center), inplace=True)
    pts = sample_patch(blown, anterior_patch(blown, 0.4), 400, 1.0, rng)
    res = model.register(pts, DeformableSettings(noise_mm=1.0, max_strain=0.05))
    assert not res.elastic
    assert res.max_strain <= 0.05 + 1e-9
    assert "cannot be explained elastically" in res.message


def test_bad_input_is_refused_in_one_sentence(truth, model):
    with pytest.raises(InputError, match="at least 10"):
        model.register(np.asarray(truth.surface.points)[:5])
    line = np.outer(np.linspace(0, 50, 40), [1.0, 0.5, 0.2]) + np.asarray(truth.surface.center)
    with pytest.raises(InputError, match="one line"):
        model.register(line)
    with pytest.raises(InputError, match="NaN"):
        model.register(np.full((20, 3), np.nan))
    holed = truth.surface.remove_cells(np.arange(30), inplace=False)
    with pytest.raises(InputError, match="not closed"):
        DeformableModel(holed, name="holed liver")
    with pytest.raises(InputError, match="noise"):
        model.register(np.asarray(truth.surface.points)[::50], DeformableSettings(noise_mm=-1))


def test_neo_hookean_update_keeps_targets_within_3mm(truth, model, targets):
    """The truth is itself a neo-Hookean liver: solving the fit's loads to neo-Hookean
    equilibrium must keep the error within the bound, with the springs holding the free body
    carrying only a few % of the load."""
    rng = np.random.default_rng(11)
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 500, 1.0, rng)
    res = model.register(pts, DeformableSettings(noise_mm=1.0, material_model="neo-hookean"))
    assert res.material_model == "neo-hookean" and not res.warning
    assert res.summary()["neo_hookean"]["support_reaction"] < 0.05
    tre = _tre(res.move(targets), truth.move(targets))
    print(f"\nneo-Hookean update: mean TRE {tre:.2f} mm, {res.wall_time_s:.1f} s")
    assert tre <= 3.0
    assert res.elastic and 0.7 < res.summary()["residual_rms_mm"] < 1.2


def test_neo_hookean_leaves_undeformed_noisy_data_in_place(truth, model, targets):
    rng = np.random.default_rng(5)
    pts = sample_patch(truth.surface, anterior_patch(truth.surface, 0.3), 500, 1.0, rng)
    res = model.register(pts, DeformableSettings(noise_mm=1.0, material_model="neo-hookean"))
    assert res.material_model == "neo-hookean" and not res.warning
    assert np.linalg.norm(res.move(targets) - targets, axis=1).mean() < 0.5

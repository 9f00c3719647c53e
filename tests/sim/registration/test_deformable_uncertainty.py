"""The uncertainty map of the deformable registration predicts where the update is wrong.

Truth: the neo-Hookean liver of liver_truth.py (another mesh, another material law, loads of
another kind than the fit's basis). Data: a noisy anterior patch (30 % of the surface). The
surface is cut into 40 regions (nearest of 40 farthest-point-sampled vertices); per region the
predicted uncertainty (mean posterior standard deviation along the normal,
DeformableResult.surface_uncertainty) is compared with the true error (mean distance of the
updated surface's vertices to the true deformed surface): their Spearman rank correlation
must exceed 0.5, and regions far from the data must be both less certain and worse.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from sim.inspection.distance import MeshDistance
from sim.registration.deformable import DeformableModel, DeformableSettings
from sim.registration.load_basis import farthest_points
from tests.sim.registration.liver_truth import anterior_patch, liver_truth, sample_patch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def case(shared_data):
    truth = liver_truth(shared_data)
    model = DeformableModel(truth.surface, target_tets=10_000, name="liver")
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 500, 1.0,
                       np.random.default_rng(11))
    return truth, model, pts, model.register(pts, DeformableSettings(noise_mm=1.0))


def _regions(vertices: np.ndarray, count: int) -> np.ndarray:
    centres = vertices[farthest_points(vertices, count)]
    return np.linalg.norm(vertices[:, None] - centres[None], axis=2).argmin(axis=1)


def test_predicted_uncertainty_ranks_regions_by_their_true_error(case):
    truth, model, pts, res = case
    std = res.surface_uncertainty()
    updated = np.asarray(res.deformed_surface().points)
    error = np.abs(MeshDistance.from_mesh(truth.deformed).signed_distance(updated))
    region = _regions(model.vertices, 40)
    ids = np.unique(region)
    pred = np.array([std[region == k].mean() for k in ids])
    true = np.array([error[region == k].mean() for k in ids])
    rho = spearmanr(pred, true).statistic
    print(f"\nSpearman rank correlation, predicted vs true error over {len(ids)} regions: "
          f"{rho:.2f}; predicted {pred.min():.2f}-{pred.max():.2f} mm, "
          f"true {true.min():.2f}-{true.max():.2f} mm")
    assert rho > 0.5, (rho, pred, true)
    # Regions far from the data: higher predicted uncertainty and higher true error.
    d = np.linalg.norm(updated[:, None] - pts[None], axis=2).min(axis=1)
    dist = np.array([d[region == k].mean() for k in ids])
    near, far = dist <= np.quantile(dist, 1 / 3), dist >= np.quantile(dist, 2 / 3)
    assert pred[far].mean() > 2.0 * pred[near].mean()
    assert true[far].mean() > 1.5 * true[near].mean()

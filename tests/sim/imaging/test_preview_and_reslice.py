"""The Segment panel's live preview (the whole recipe, exact on small scans, block-coarsened
on large ones) and oblique reformats, on the real TotalSegmentator CT and analytic images."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.geometry.rigid import rotation_deg as rotation
from sim.imaging.pipeline import Recipe, make_mask, preview_mask
from sim.imaging.reslice import reslice
from sim.imaging.segment import threshold
from sim.imaging.volume import affine_of, make_image, voxel_array
from sim.io import load


@pytest.fixture(scope="module")
def ct(shared_data):
    return list(load(shared_data / "ct" / "totalseg" / "example_ct.nii.gz").scene)[0].data


def _vertebra_seed(ct) -> tuple[float, float, float]:
    """A bone voxel of the spine: the dense voxel nearest the middle of the central axial slice."""
    hu = voxel_array(ct)
    k = hu.shape[2] // 2
    cand = np.argwhere(hu[:, :, k] > 400)
    best = cand[np.argmin(((cand - np.array(hu.shape[:2]) / 2) ** 2).sum(1))]
    return tuple((affine_of(ct) @ np.array([best[0], best[1], k, 1.0]))[:3])


def _dice(a, b) -> float:
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_preview_is_the_exact_recipe_on_a_small_scan(ct):
    seed = _vertebra_seed(ct)
    for recipe in (Recipe("bone"), Recipe("bone", largest=True), Recipe("bone", seed=seed),
                   Recipe("lung"), Recipe("bone", close_mm=3, fill_holes=True)):
        mask, stats = preview_mask(ct, recipe)
        assert stats["factor"] == 1
        np.testing.assert_array_equal(mask, make_mask(ct, recipe))
    grown, _ = preview_mask(ct, Recipe("bone", seed=seed))
    everything, _ = preview_mask(ct, Recipe("bone"))
    assert 0 < grown.sum() < everything.sum()  # the seed keeps only the skeleton it touches


def test_coarse_preview_follows_the_exact_result(ct):
    """Forced onto 2x2x2 blocks, the preview still shows what 'Create surface' will make."""
    seed = _vertebra_seed(ct)
    for recipe in (Recipe("bone"), Recipe("bone", largest=True), Recipe("bone", seed=seed),
                   Recipe("skin")):
        mask, stats = preview_mask(ct, recipe, max_voxels=200_000)
        exact = make_mask(ct, recipe)
        assert stats["factor"] == 2 and mask.shape == exact.shape
        assert _dice(mask, exact) > 0.9, recipe
        assert not (mask & ~threshold(ct, *recipe.range())).any()  # sharp: within the threshold
    # a seed on a voxel outside the range grows nothing, even if its block holds bone
    hu = voxel_array(ct)
    soft = np.argwhere((hu > 0) & (hu < 100))[0]
    seed = tuple((affine_of(ct) @ np.append(soft, 1.0))[:3])
    mask, _ = preview_mask(ct, Recipe("bone", seed=seed), max_voxels=200_000)
    assert not mask.any()


def test_oblique_reslice_of_a_linear_image_is_exact():
    """Trilinear sampling reproduces a linear function exactly, so every sample of any
    oblique plane must equal the function at that sample's world point."""
    direction = rotation([1, 2, 3], 25)
    image = make_image(np.zeros((40, 50, 30), np.float32), (0.8, 0.9, 2.0), (-10, 20, 5), direction)
    g = np.array([0.5, -1.2, 2.0])
    image.point_data["values"] = (image.points @ g + 7).astype(np.float32)
    u = rotation([0, 0, 1], 30) @ np.array([1.0, 0, 0])
    v = rotation(u, 40) @ np.cross([0, 0, 1.0], u)
    plane = reslice(image, image.center, u, v)
    values, points = plane.point_data["values"], plane.points
    inside = ~np.isnan(values)
    assert inside.sum() > 1000
    np.testing.assert_allclose(values[inside], points[inside] @ g + 7, atol=1e-3)
    np.testing.assert_allclose((points - image.center) @ np.cross(u, v), 0, atol=1e-9)
    # nearest-neighbour masks: every sample is the voxel nearest its point
    mask = np.zeros(image.dimensions, np.uint8)
    mask[10:30, 5:25, 10:20] = 1
    cut = reslice(image, image.center, u, v, values=mask, order=0)
    ijk = np.rint(np.linalg.solve(affine_of(image), np.c_[cut.points, np.ones(cut.n_points)].T)[:3])
    ok = ((ijk >= 0) & (ijk < np.array(image.dimensions)[:, None])).all(axis=0)
    i, j, k = ijk[:, ok].astype(int)
    np.testing.assert_array_equal(cut.point_data["values"][ok], mask[i, j, k])
    assert cut.point_data["values"].sum() > 0
    with pytest.raises(InputError):
        reslice(image, image.center, u, u)


def test_axis_aligned_reslice_equals_the_voxel_plane(ct):
    hu = voxel_array(ct)
    k = 40
    centre = (affine_of(ct) @ np.array([*(np.array(hu.shape[:2]) // 2), k, 1.0]))[:3]
    d = np.asarray(ct.direction_matrix)
    plane = reslice(ct, centre, d[:, 0], d[:, 1], spacing=float(ct.spacing[0]),
                    half_size=float(ct.spacing[0]) * 20)
    vals = voxel_array(plane)[:, :, 0]
    i0, j0 = np.array(hu.shape[:2]) // 2 - 20
    np.testing.assert_allclose(vals, hu[i0:i0 + 41, j0:j0 + 41, k], atol=1e-3)

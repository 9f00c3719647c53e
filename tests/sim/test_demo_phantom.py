"""The demo phantom: deterministic, in LPS, with surfaces where its voxels are."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from sim.demo.parts import make_bracket, make_pedicle_screw
from sim.demo.phantom import HU, LABELS, make_phantom
from sim.imaging.surface import labelmap_to_surfaces


@pytest.fixture(scope="module")
def phantom():
    return make_phantom()


def _label_points(ph, label):
    arr = np.asarray(ph.labels.point_data["label"])
    return np.asarray(ph.labels.points)[arr == label]


def test_phantom_is_deterministic(phantom):
    again = make_phantom()
    assert np.array_equal(phantom.ct.point_data["HU"], again.ct.point_data["HU"])


def test_anatomy_sits_in_lps(phantom):
    liver = _label_points(phantom, 2).mean(axis=0)
    vertebra = _label_points(phantom, 5).mean(axis=0)
    aorta = _label_points(phantom, 4).mean(axis=0)
    assert liver[0] < -20, "the liver is on the patient's right (negative L)"
    assert vertebra[1] > liver[1] + 30, "the spine is posterior (positive P) of the liver"
    assert aorta[1] < vertebra[1] and aorta[0] > 0, "the aorta is anterior-left of the spine"


def test_hounsfield_values(phantom):
    hu = np.asarray(phantom.ct.point_data["HU"])
    lab = np.asarray(phantom.labels.point_data["label"])
    assert abs(np.median(hu[lab == 0]) - HU["air"]) < 5
    assert abs(np.median(hu[lab == 2]) - HU["liver"]) < 5
    assert np.median(hu[lab == 5]) > 200  # bone
    assert np.median(hu[lab == 3]) > 150  # contrast-filled vessels


def test_surfaces_lie_on_the_label_boundaries(phantom):
    surfaces = labelmap_to_surfaces(phantom.labels, {k: v[0] for k, v in LABELS.items()})
    assert set(surfaces) == set(LABELS)
    for label in (2, 5):
        surf = surfaces[label]
        assert surf.is_manifold, f"{LABELS[label][0]} surface should be closed"
        inside = cKDTree(_label_points(phantom, label))
        dist, _ = inside.query(np.asarray(surf.points))
        # Every surface point is within ~one voxel (1.25 mm) of a voxel of its structure.
        assert np.percentile(dist, 99) < 1.6
        voxel_volume = np.prod(phantom.labels.spacing) * len(_label_points(phantom, label))
        assert surf.volume == pytest.approx(voxel_volume, rel=0.06)


def test_screw_and_bracket_geometry():
    screw = make_pedicle_screw(diameter=6.5, length=45.0, entry=(18, 88, 0), target=(11, 62, 0))
    axis = np.array([11 - 18, 62 - 88, 0.0])
    axis /= np.linalg.norm(axis)
    proj = (np.asarray(screw.points) - np.array([18, 88, 0])) @ axis
    assert proj.max() == pytest.approx(45.0, abs=0.5), "the tip is 45 mm from the entry point"
    radial = np.linalg.norm(np.cross(np.asarray(screw.points) - [18, 88, 0], axis), axis=1)
    assert radial[proj > 5].max() == pytest.approx(3.25, abs=0.05), "major diameter 6.5 mm"
    bracket = make_bracket(width=40, leg=50, thickness=6)
    assert bracket.is_manifold
    assert bracket.volume == pytest.approx((50 * 6 + 44 * 6) * 40, rel=1e-6)

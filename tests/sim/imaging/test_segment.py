"""Segmentation: presets, region growing, components, morphology, and surfaces that sit on their voxels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv
from scipy.spatial import cKDTree

from sim.cli import main
from sim.imaging import segment as seg
from sim.imaging.pipeline import Recipe, run
from sim.imaging.surface import labelmap_to_surfaces, mask_to_surface
from sim.imaging.volume import affine_of, make_image, voxel_array
from sim.io import load
from sim.io.mesh_check import check_mesh

LIVER = 5  # TotalSegmentator v2 class id


@pytest.fixture(scope="module")
def ct(shared_data):
    return list(load(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz").scene)[0].data


@pytest.fixture(scope="module")
def labels(shared_data):
    return list(load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz").scene)[0].data


def _world(image, ijk: np.ndarray) -> np.ndarray:
    aff = affine_of(image)
    return ijk @ aff[:3, :3].T + aff[:3, 3]


def test_bone_preset_is_the_hu_threshold(ct):
    mask = seg.segment_preset(ct, "bone")
    hu = voxel_array(ct)
    assert mask.sum() == np.count_nonzero((hu >= 250) & (hu <= 3071)) > 1000


def test_region_growing_from_a_seed_stays_connected(ct, labels):
    lab = voxel_array(labels)
    liver = np.argwhere(lab == LIVER)
    seed_ijk = liver[len(liver) // 2]
    seed = _world(ct, seed_ijk.astype(float))
    grown = seg.region_grow(ct, seed, low=0, high=200)
    assert grown[tuple(seed_ijk)]
    n, _ = seg.components(grown)[1], None
    assert n == 1
    hu = voxel_array(ct)[grown]
    assert hu.min() >= 0 and hu.max() <= 200
    # most of the grown region is liver (it leaks into touching soft tissue, as thresholds do)
    assert np.mean(lab[grown] == LIVER) > 0.2
    with pytest.raises(Exception, match="outside the image"):
        seg.region_grow(ct, (1e5, 0, 0))


def test_components_morphology_and_holes():
    image = make_image(np.zeros((40, 40, 40), np.int16), (1, 1, 1), (0, 0, 0))
    x, y, z = np.meshgrid(*[np.arange(40)] * 3, indexing="ij")
    ball = (x - 20) ** 2 + (y - 20) ** 2 + (z - 20) ** 2 <= 100
    hollow = ball & ((x - 20) ** 2 + (y - 20) ** 2 + (z - 20) ** 2 > 16)
    speck = (x == 2) & (y == 2) & (z == 2)
    mask = hollow | speck
    assert seg.components(mask)[1] == 2
    assert not seg.keep_largest(mask)[2, 2, 2]
    assert seg.pick_component(mask, (2, 2, 2)).sum() == 1
    assert not seg.opening(image, mask, 1.5)[2, 2, 2]  # the speck goes
    np.testing.assert_array_equal(seg.fill_holes(hollow), ball)
    split = ball & (x != 20)  # a one-voxel slit through the ball
    assert seg.components(split)[1] == 2
    assert seg.components(seg.closing(image, split, 1.5))[1] == 1


def test_liver_surface_sits_on_its_voxels(labels):
    surfaces = labelmap_to_surfaces(labels, {LIVER: "liver"})
    surf = surfaces[LIVER]
    report = check_mesh(surf)
    assert report.watertight and report.components >= 1
    lab = voxel_array(labels)
    inside = _world(labels, np.argwhere(lab == LIVER).astype(float))
    # the crop cuts the liver: voxels just beyond the grid count as outside (the surface closes there)
    padded = np.pad(lab, 1, constant_values=0)
    outside = _world(labels, np.argwhere(padded != LIVER).astype(float) - 1.0)
    d_in, _ = cKDTree(inside).query(np.asarray(surf.points))
    d_out, _ = cKDTree(outside).query(np.asarray(surf.points))
    voxel = float(max(labels.spacing))
    # every surface point lies between a liver voxel and a non-liver voxel, within a voxel of each
    assert np.percentile(d_in, 99) < voxel and np.percentile(d_out, 99) < voxel
    voxel_volume = np.prod(labels.spacing) * len(inside)
    assert report.volume_mm3 == pytest.approx(voxel_volume, rel=0.08)


def test_surface_follows_an_oblique_grid():
    angle = 0.5
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    image = make_image(np.zeros((30, 30, 30), np.int16), (1.0, 1.5, 2.0), (5, -7, 11), rot)
    mask = np.zeros((30, 30, 30), bool)
    mask[10:20, 10:20, 10:20] = True
    surf = mask_to_surface(image, mask, smoothing_iterations=0, target_triangles=None)
    centre = _world(image, np.array([14.5, 14.5, 14.5]))
    np.testing.assert_allclose(np.asarray(surf.points).mean(axis=0), centre, atol=0.05)


def test_labels_from_the_dicom_segmentation_fall_on_bone_in_the_dicom_ct(shared_data):
    """World-frame check across two files: vertebra labels (NIfTI) land on high HU (DICOM)."""
    ct = list(load(shared_data / "ct" / "totalseg" / "example_ct_dicom").scene)[0].data
    labels = list(load(shared_data / "ct" / "totalseg" / "example_seg_dicom.nii.gz").scene)[0].data
    lab = voxel_array(labels)
    vertebrae = [v for v in range(26, 51) if (lab == v).any()]
    assert vertebrae, "the example should contain vertebrae"
    pts = _world(labels, np.argwhere(np.isin(lab, vertebrae)).astype(float))
    sampled = pv.PolyData(pts).sample(ct)
    hu = np.asarray(sampled.point_data[ct.active_scalars_name])
    assert np.median(hu) > 150  # bone, not soft tissue: both files agree where the spine is


def test_pipeline_recipe_and_stats(ct):
    result = run(ct, Recipe(preset="bone", close_mm=3.0, largest=True, target_triangles=5000))
    assert result.stats["triangles"] <= 5001
    assert seg.components(result.mask)[1] == 1
    with pytest.raises(Exception, match="empty"):
        run(ct, Recipe(preset=None, low=5000, high=6000))


def test_cli_segment_preset_and_labels(shared_data, tmp_path, capsys):
    out = tmp_path / "bone.vtp"
    assert main(["segment", str(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz"),
                 "--preset", "bone", "-o", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["stats"]["voxels"] > 1000 and out.exists()
    assert pv.read(out).n_cells == info["stats"]["triangles"]
    folder = tmp_path / "labels"
    assert main(["segment", str(shared_data / "ct" / "totalseg" / "example_seg.nii.gz"),
                 "--labels", "-o", str(folder), "--triangles", "2000", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    table = json.loads((folder / "labels.json").read_text())
    assert len(table) == len(info["surfaces"]) > 30
    assert (folder / table[str(LIVER)]["file"]).exists()
    with pytest.raises(SystemExit) as exc:  # argparse refuses an unknown preset: bad input
        main(["segment", str(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz"),
              "--preset", "nonsense", "-o", str(out)])
    assert exc.value.code == 2
    assert main(["segment", str(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz"),
                 "--low", "5000", "--high", "6000", "-o", str(out)]) == 2

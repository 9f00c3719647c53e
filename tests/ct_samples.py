"""The real TotalSegmentator CT resampled to a clinical size, for the imaging benchmarks."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sim.imaging.volume import make_image, voxel_array
from sim.io import load


def resampled_ct(shared_data, shape: tuple[int, int, int]):
    """The example CT linearly resampled to ``shape`` voxels (int16 HU), same extent and frame."""
    src = list(load(shared_data / "ct" / "totalseg" / "example_ct.nii.gz").scene)[0].data
    hu = voxel_array(src).astype(np.float32)
    zoom = np.array(shape) / np.array(hu.shape)
    big = ndimage.zoom(hu, zoom, order=1).astype(np.int16)
    return make_image(big, np.asarray(src.spacing) / zoom, src.origin,
                      np.asarray(src.direction_matrix))

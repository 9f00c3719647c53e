"""Binary masks and label maps to smooth, decimated surface models (world mm)."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.progress import Progress, no_progress


def _as_array(image: pv.ImageData, scalars: str | None = None) -> np.ndarray:
    """Point scalars of ``image`` as an [x, y, z] array (VTK stores x fastest)."""
    arr = image.point_data[scalars] if scalars else image.active_scalars
    if arr is None:
        raise InputError("The image has no scalar values to segment.")
    return np.asarray(arr).reshape(image.dimensions, order="F")


def mask_to_surface(image: pv.ImageData, mask: np.ndarray, *, smoothing_iterations: int = 20,
                    pass_band: float = 0.1, target_triangles: int | None = 40_000) -> pv.PolyData:
    """Extract the boundary of ``mask`` (an [x, y, z] bool array on ``image``'s grid).

    Flying edges at the 0.5 iso-level of the 0/1 mask puts the surface half-way
    between inside and outside voxel centres; windowed-sinc smoothing removes the
    staircase while preserving volume; quadric decimation bounds the size.
    """
    if mask.shape != tuple(image.dimensions):
        raise InputError("The mask does not match the image grid.")
    idx = np.argwhere(mask)
    if idx.size == 0:
        return pv.PolyData()
    lo = np.maximum(idx.min(axis=0) - 2, 0)
    hi = np.minimum(idx.max(axis=0) + 3, np.array(mask.shape))
    # One voxel of zero padding closes structures that touch the edge of the image.
    sub = np.pad(mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32), 1)
    lo = lo - 1
    # Crop the grid to the mask's bounding box (origin moves with it, direction kept).
    crop = pv.ImageData(dimensions=sub.shape, spacing=image.spacing,
                        origin=image.origin, direction_matrix=image.direction_matrix)
    crop.origin = np.asarray(image.origin) + np.asarray(image.direction_matrix) @ (lo * np.asarray(image.spacing))
    crop.point_data["mask"] = sub.ravel(order="F")
    surf = crop.contour([0.5], scalars="mask", method="flying_edges")
    if surf.n_cells == 0:
        return pv.PolyData()
    surf = surf.triangulate().clean()
    # Smooth before decimating: decimating the staircase first leaves slivers that
    # smoothing then turns into spikes.
    if smoothing_iterations:
        surf = surf.smooth_taubin(n_iter=smoothing_iterations, pass_band=pass_band,
                                  normalize_coordinates=True)
    if target_triangles and surf.n_cells > target_triangles:
        surf = surf.decimate_pro(1.0 - target_triangles / surf.n_cells, preserve_topology=True)
    surf = surf.compute_normals(auto_orient_normals=False, consistent_normals=True,
                                split_vertices=False)
    for name in list(surf.point_data):
        if name != "Normals":
            del surf.point_data[name]
    return surf


def labelmap_to_surfaces(labels: pv.ImageData, names: dict[int, str] | None = None, *,
                         progress: Progress = no_progress, **kwargs) -> dict[int, pv.PolyData]:
    """One surface per label value present (0 is background), keyed by label."""
    arr = _as_array(labels)
    values = [int(v) for v in np.unique(arr) if v != 0]
    if names is not None:
        values = [v for v in values if v in names]
    out: dict[int, pv.PolyData] = {}
    for i, value in enumerate(values):
        label_name = (names or {}).get(value, f"label {value}")
        progress(i / max(len(values), 1), f"Surface for {label_name}")
        surf = mask_to_surface(labels, arr == value, **kwargs)
        if surf.n_cells:
            out[value] = surf
    progress(1.0, "Surfaces ready")
    return out

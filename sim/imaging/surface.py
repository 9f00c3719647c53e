"""Binary masks and label maps to smooth, decimated surface models (world mm)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv
from vtkmodules.vtkFiltersCore import vtkQuadricClustering

from sim.errors import InputError
from sim.imaging.presets import PASS_BAND, SMOOTHING_ITERATIONS, TARGET_TRIANGLES
from sim.progress import Progress, no_progress


def _as_array(image: pv.ImageData, scalars: str | None = None) -> np.ndarray:
    """Point scalars of ``image`` as an [x, y, z] array (VTK stores x fastest)."""
    arr = image.point_data[scalars] if scalars else image.active_scalars
    if arr is None:
        raise InputError("The image has no scalar values to segment.")
    return np.asarray(arr).reshape(image.dimensions, order="F")


def decimate_to(surf: pv.PolyData, target_triangles: int) -> pv.PolyData:
    """Reduce ``surf`` to about ``target_triangles`` triangles, fast enough for CT-sized meshes.

    Quadric error decimation (fast-simplification) keeps shape best but its cost grows
    with the input; very large inputs are first brought to a few times the target by
    vertex clustering (cheap, O(n)), which is harmless once the mesh has been smoothed.
    """
    if surf.n_cells <= target_triangles:
        return surf
    if surf.n_cells > 4 * target_triangles:
        # bin size h so that a surface of this area gives ~3x the target: n ~ 2*area/h^2
        h = float(np.sqrt(2.0 * surf.area / (3.0 * target_triangles)))
        extent = np.ptp(np.asarray(surf.points), axis=0)
        clustering = vtkQuadricClustering()
        clustering.SetInputData(surf)
        clustering.SetNumberOfDivisions(*[max(int(np.ceil(e / h)), 1) for e in extent])
        clustering.AutoAdjustNumberOfDivisionsOff()
        clustering.Update()
        surf = pv.wrap(clustering.GetOutput())
        if surf.n_cells <= target_triangles:
            return surf
    try:
        import fast_simplification
    except ImportError:  # slower, but always there
        return surf.decimate_pro(1.0 - target_triangles / surf.n_cells, preserve_topology=True)
    points, faces = fast_simplification.simplify(
        np.asarray(surf.points, dtype=np.float32),
        surf.faces.reshape(-1, 4)[:, 1:].astype(np.int32), target_count=int(target_triangles))
    return pv.PolyData.from_regular_faces(points, faces)


def _coarsening(mask: np.ndarray, spacing: np.ndarray, target: int | None) -> np.ndarray:
    """Per-axis block size: 2 along the finer axes when the full-resolution surface would be
    many times the target size anyway (each halving cuts the triangle count ~4x, and the
    decimated result cannot hold the finer detail)."""
    factor = np.ones(3, dtype=int)
    if not target:
        return factor
    boundary = int(np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
                   + np.count_nonzero(mask[:, :, 1:] != mask[:, :, :-1]))
    estimate = 2 * boundary  # flying edges makes about two triangles per boundary voxel face
    if estimate > 12 * target:
        fine = spacing < 0.75 * spacing.max() if np.ptp(spacing) > 0 else np.ones(3, dtype=bool)
        factor[fine] = 2
    return factor


def _block_mean(mask: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Mean of the 0/1 mask over factor-sized blocks (a partial-volume field, float32)."""
    if (factor == 1).all():
        return mask.astype(np.float32)
    shape = [int(np.ceil(n / f)) * f for n, f in zip(mask.shape, factor, strict=True)]
    padded = np.zeros(shape, dtype=np.float32)
    padded[: mask.shape[0], : mask.shape[1], : mask.shape[2]] = mask
    fx, fy, fz = (int(f) for f in factor)
    return padded.reshape(shape[0] // fx, fx, shape[1] // fy, fy, shape[2] // fz, fz).mean(axis=(1, 3, 5))



def mask_to_surface(image: pv.ImageData, mask: np.ndarray, *,
                    smoothing_iterations: int = SMOOTHING_ITERATIONS,
                    pass_band: float = PASS_BAND, target_triangles: int | None = TARGET_TRIANGLES,
                    progress: Progress = no_progress) -> pv.PolyData:
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
    sub = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    factor = _coarsening(sub, np.asarray(image.spacing), target_triangles)
    field = _block_mean(sub, factor)
    # One voxel of zero padding closes structures that touch the edge of the image.
    field = np.pad(field, 1)
    spacing = np.asarray(image.spacing) * factor
    # Crop the grid to the mask's bounding box (origin moves with it, direction kept); a
    # block's mean sits at the centre of the voxels it averages.
    first = lo + (factor - 1) / 2.0 - factor
    crop = pv.ImageData(dimensions=field.shape, spacing=spacing,
                        origin=image.origin, direction_matrix=image.direction_matrix)
    crop.origin = np.asarray(image.origin) + np.asarray(image.direction_matrix) @ (first * np.asarray(image.spacing))
    crop.point_data["mask"] = field.ravel(order="F")
    progress(0.1, "Extracting the surface")
    surf = crop.contour([0.5], scalars="mask", method="flying_edges", compute_normals=False,
                        compute_scalars=False)
    if surf.n_cells == 0:
        return pv.PolyData()
    if not surf.is_all_triangles:
        surf = surf.triangulate()
    # Smooth before decimating: decimating the staircase first leaves slivers that
    # smoothing then turns into spikes.
    if smoothing_iterations:
        progress(0.4, "Smoothing (windowed sinc)")
        surf = surf.smooth_taubin(n_iter=smoothing_iterations, pass_band=pass_band,
                                  normalize_coordinates=True)
    if target_triangles and surf.n_cells > target_triangles:
        progress(0.7, "Decimating")
        surf = decimate_to(surf, target_triangles)
    surf = surf.compute_normals(auto_orient_normals=False, consistent_normals=True,
                                split_vertices=False)
    for name in list(surf.point_data):
        if name != "Normals":
            del surf.point_data[name]
    progress(1.0, "Surface ready")
    return surf


def crop_grid(image: pv.ImageData, box: tuple[slice, slice, slice]) -> pv.ImageData:
    """An empty grid covering the voxels ``box`` of ``image`` (same spacing and direction)."""
    start = np.array([sl.start for sl in box], dtype=float)
    dims = [sl.stop - sl.start for sl in box]
    grid = pv.ImageData(dimensions=dims, spacing=image.spacing, direction_matrix=image.direction_matrix)
    grid.origin = np.asarray(image.origin) + np.asarray(image.direction_matrix) @ (start * np.asarray(image.spacing))
    return grid


def labelmap_to_surfaces(labels: pv.ImageData, names: dict[int, str] | None = None, *,
                         progress: Progress = no_progress,
                         **kwargs: Any) -> dict[int, pv.PolyData]:
    """One surface per label value present (0 is background), keyed by label."""
    from scipy import ndimage

    arr = _as_array(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        arr = np.round(arr).astype(np.int64)
    values = [int(v) for v in np.unique(arr) if v != 0]
    if names is not None:
        values = [v for v in values if v in names]
    # Bounding boxes of every label in one pass, so each surface only touches its own voxels.
    boxes = ndimage.find_objects(np.where(arr > 0, arr, 0)) if values and min(values) > 0 else []
    out: dict[int, pv.PolyData] = {}
    for i, value in enumerate(values):
        label_name = (names or {}).get(value, f"label {value}")
        progress(i / max(len(values), 1), f"Surface for {label_name}")
        box = boxes[value - 1] if value - 1 < len(boxes) and boxes[value - 1] is not None else None
        if box is None:
            surf = mask_to_surface(labels, arr == value, **kwargs)
        else:
            surf = mask_to_surface(crop_grid(labels, box), arr[box] == value, **kwargs)
        if surf.n_cells:
            out[value] = surf
    progress(1.0, "Surfaces ready")
    return out

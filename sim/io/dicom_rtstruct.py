"""RT Structure Sets (RTSTRUCT) to label maps and surfaces.

Each ROI's closed planar contours are filled on an image grid: the scan's grid when the
caller gives it (the series the structures were drawn on), else a grid made from the
contours themselves (their planes are its slices, ``spacing`` mm in-plane, voxel centres
half a voxel inside the contours' extent). Contours of one ROI on one plane combine by
the even-odd rule, so an inner contour cuts a hole. POINT ROIs (isocentres, markers) are
returned as points. Label values are the ROI Numbers; names and colours come from the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import FileFormatError, InputError
from sim.imaging.lut import default_color
from sim.imaging.volume import MAX_VOXELS, affine_of, make_image
from sim.progress import Progress, no_progress

RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
MAX_POINTS = 20_000_000


@dataclass
class Roi:
    number: int
    name: str
    color: tuple[float, float, float]
    contours: list[np.ndarray] = field(default_factory=list)  # (n, 3) closed planar, LPS mm
    points: list[np.ndarray] = field(default_factory=list)  # POINT contours


@dataclass
class StructureSet:
    rois: dict[int, Roi]
    frame_of_reference: str
    notes: list[str] = field(default_factory=list)


def read_rtstruct(path: str | Path) -> StructureSet:
    """The ROIs of an RTSTRUCT file with their contours in patient coordinates (LPS mm)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from sim.io.dicom_scan import quiet_pydicom

    quiet_pydicom()
    path = Path(path)
    try:
        ds = pydicom.dcmread(path, force=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, TypeError, KeyError) as exc:
        raise FileFormatError(path, f"it is not a DICOM file ({exc})") from None
    sop = str(ds.get("SOPClassUID", "") or "")
    if sop != RTSTRUCT_CLASS and str(ds.get("Modality", "")) != "RTSTRUCT":
        raise FileFormatError(path, "it is not an RT Structure Set")
    rois: dict[int, Roi] = {}
    for item in ds.get("StructureSetROISequence", []):
        try:
            n = int(item.ROINumber)
        except (AttributeError, TypeError, ValueError):
            continue
        rois[n] = Roi(n, str(item.get("ROIName", "") or f"ROI {n}"), default_color(n))
    total = 0
    notes = []
    for item in ds.get("ROIContourSequence", []):
        try:
            roi = rois[int(item.ReferencedROINumber)]
        except (AttributeError, TypeError, ValueError, KeyError):
            continue
        color = item.get("ROIDisplayColor")
        if color is not None and len(color) == 3:
            roi.color = tuple(min(max(float(c) / 255.0, 0.0), 1.0) for c in color)  # type: ignore[assignment]
        for contour in item.get("ContourSequence", []):
            try:
                pts = np.asarray([float(v) for v in contour.ContourData], dtype=float).reshape(-1, 3)
            except (AttributeError, TypeError, ValueError):
                notes.append(f"a contour of '{roi.name}' has unreadable points and was skipped")
                continue
            total += len(pts)
            if total > MAX_POINTS:
                raise FileFormatError(path, f"it holds more than {MAX_POINTS} contour points")
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR"))
            if kind == "POINT":
                roi.points.append(pts)
            elif kind == "CLOSED_PLANAR" and len(pts) >= 3:
                roi.contours.append(pts)
            elif len(pts) >= 3:
                notes.append(f"'{roi.name}' has {kind} contours, which enclose nothing: skipped")
    if not any(r.contours or r.points for r in rois.values()):
        raise FileFormatError(path, "it holds no contours")
    ref = ds.get("ReferencedFrameOfReferenceSequence")
    frame = str(ref[0].get("FrameOfReferenceUID", "")) if ref else ""
    return StructureSet(rois, frame, notes)


def contour_grid(structures: StructureSet, spacing: float = 1.0) -> pv.ImageData:
    """An axis-aligned grid covering every closed contour: their planes as its slices."""
    pts = [c for r in structures.rois.values() for c in r.contours]
    if not pts:
        raise InputError("The structure set has no closed contours to fill.")
    allp = np.concatenate(pts)
    normals = [np.cross(c[1] - c[0], c[2] - c[0]) for c in pts]
    if any(abs(n[2]) < 0.999 * np.linalg.norm(n) for n in normals if np.linalg.norm(n) > 1e-9):
        raise InputError("The contours are not axial: give the series they were drawn on "
                         "(--reference) to place them.")
    planes = np.unique(np.round([c[0, 2] for c in pts], 3))
    dz = float(np.median(np.diff(planes))) if len(planes) > 1 else spacing
    lo, hi = allp[:, :2].min(axis=0), allp[:, :2].max(axis=0)
    n_xy = np.maximum(np.ceil((hi - lo) / spacing).astype(int), 1)
    nz = int(round((planes[-1] - planes[0]) / dz)) + 1
    if int(np.prod(n_xy)) * nz > MAX_VOXELS // 8:
        raise InputError(f"A {spacing} mm grid over these contours is too large; use a coarser "
                         "spacing.")
    origin = [lo[0] + spacing / 2, lo[1] + spacing / 2, planes[0]]
    return pv.ImageData(dimensions=(int(n_xy[0]), int(n_xy[1]), nz), spacing=(spacing, spacing, dz),
                        origin=origin)


def _fill(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Voxel centres (i, j) inside ``polygon`` (continuous voxel indices)."""
    from matplotlib.path import Path as MplPath

    lo = np.maximum(np.floor(polygon.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 1, np.array(shape))
    out = np.zeros(shape, dtype=bool)
    if (hi <= lo).any():
        return out
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    inside = MplPath(polygon).contains_points(np.column_stack([ii.ravel(), jj.ravel()]))
    out[lo[0]:hi[0], lo[1]:hi[1]] = inside.reshape(ii.shape)
    return out


def to_labelmap(structures: StructureSet, grid: pv.ImageData | None = None,
                spacing: float = 1.0, progress: Progress = no_progress
                ) -> tuple[pv.ImageData, dict[int, dict[str, Any]]]:
    """Fill every ROI on ``grid`` (default :func:`contour_grid`): (label map, label info).
    Later ROIs win where ROIs overlap (a label map holds one label per voxel)."""
    grid = grid if grid is not None else contour_grid(structures, spacing)
    dims = tuple(int(n) for n in grid.dimensions)
    inv = np.linalg.inv(affine_of(grid))
    dtype = np.int16 if max(structures.rois, default=0) < 32768 else np.int32
    labels = np.zeros(dims, dtype=dtype)
    info: dict[int, dict[str, Any]] = {}
    skipped = 0
    rois = [r for r in structures.rois.values() if r.contours]
    for n, roi in enumerate(rois):
        progress(n / max(len(rois), 1), f"Filling {roi.name}")
        mask = np.zeros(dims, dtype=bool)
        for contour in roi.contours:
            idx = (inv[:3, :3] @ contour.T + inv[:3, 3:4]).T
            k = int(round(float(np.median(idx[:, 2]))))
            if not 0 <= k < dims[2] or np.ptp(idx[:, 2]) > 0.5:
                skipped += 1  # off the grid, or not in one of its slices
                continue
            mask[:, :, k] ^= _fill(idx[:, :2], dims[:2])
        if mask.any():
            labels[mask] = roi.number
            info[roi.number] = {"name": roi.name, "color": list(roi.color)}
    if skipped:
        structures.notes.append(f"{skipped} contour(s) lie outside the grid's slices and were "
                                "not filled")
    progress(1.0, "Label map ready")
    return make_image(labels, grid.spacing, grid.origin, np.asarray(grid.direction_matrix)), info


def to_surfaces(structures: StructureSet, grid: pv.ImageData | None = None,
                spacing: float = 1.0, progress: Progress = no_progress,
                **kwargs: Any) -> tuple[pv.ImageData, dict[int, dict[str, Any]], dict[int, pv.PolyData]]:
    """(label map, label info, surface per label): contours -> label map -> surfaces."""
    from sim.imaging.surface import labelmap_to_surfaces
    from sim.progress import sub_progress

    image, info = to_labelmap(structures, grid, spacing, sub_progress(progress, 0.0, 0.5))
    surfaces = labelmap_to_surfaces(image, {k: v["name"] for k, v in info.items()},
                                    progress=sub_progress(progress, 0.5, 1.0), **kwargs)
    return image, info, surfaces


def rtstruct_case(path: str | Path, grid: pv.ImageData | None = None, spacing: float = 1.0,
                  progress: Progress = no_progress) -> Any:
    """A case holding the structure set as a label map plus one surface per structure."""
    from sim.model import Case, ObjectKind, SceneObject

    structures = read_rtstruct(path)
    image, info, surfaces = to_surfaces(structures, grid, spacing, progress)
    stem = Path(path).stem
    case = Case(name=stem, source=str(path))
    case.scene.add(SceneObject(f"{stem} structures", ObjectKind.LABELMAP, image, label_table=info,
                               metadata={"source_format": "RTSTRUCT",
                                         "notes": list(structures.notes)}))
    for value, surf in surfaces.items():
        case.scene.add(SceneObject(info[value]["name"], ObjectKind.SURFACE, surf,
                                   color=tuple(info[value]["color"]), metadata={"label": value}))
    return case

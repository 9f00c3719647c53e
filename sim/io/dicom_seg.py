"""Label maps as DICOM Segmentation objects (highdicom) and back.

Export: a label map on the grid of a DICOM series becomes a BINARY SEG referencing that
series (each frame references its source image), one segment per label with its name and
colour (CIELab, as the standard stores it); the label value is kept as the segment's
Tracking ID ("label 5") so a re-import gives the same values. Import: any SEG that forms a
regular volume becomes a label map (values from the Tracking IDs this module writes, else
the segment numbers), optionally resampled onto a given grid.

Also writes a label map as NRRD in 3D Slicer's segmentation style (names and colours kept).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from sim import __version__
from sim.errors import FileFormatError, InputError
from sim.imaging.lut import default_color
from sim.imaging.volume import affine_of, make_image, voxel_array
from sim.progress import Progress, no_progress

TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyID", "StudyDate",
         "StudyTime", "ReferringPhysicianName", "AccessionNumber")
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
TRACKING = re.compile(r"label (\d+)")
GRID_TOLERANCE_MM = 1e-3


def _source_datasets(source: Path, labels: pv.ImageData) -> list[Any]:
    """The single-frame images of the series under ``source`` on the label map's grid,
    ordered along the slice normal as the volume's k axis is."""
    import pydicom

    from sim.io.dicom_scan import quiet_pydicom, scan_folder

    quiet_pydicom()
    folder = source if source.is_dir() else source.parent
    candidates = []
    for series in scan_folder(folder):
        if len({f.path for f in series.frames}) != len(series.frames):
            continue  # multi-frame: not supported as a SEG source here
        if (series.columns, series.rows, len(series.frames)) == tuple(labels.dimensions):
            candidates.append(series)
    if not candidates:
        raise InputError(f"No single-frame DICOM series in '{folder}' has the label map's size "
                         f"{'x'.join(map(str, labels.dimensions))}: export the SEG against the "
                         "series the label map was made on.")
    direction = np.asarray(labels.direction_matrix)
    for series in candidates:
        datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in series.files]
        try:
            ori = np.array(datasets[0].ImageOrientationPatient, dtype=float)
            normal = np.cross(ori[:3], ori[3:])
            datasets.sort(key=lambda d: float(np.array(d.ImagePositionPatient, dtype=float) @ normal))
            first = np.array(datasets[0].ImagePositionPatient, dtype=float)
            row, col = (float(v) for v in datasets[0].PixelSpacing)
        except (AttributeError, ValueError, TypeError, IndexError):
            continue
        grid = np.column_stack([ori[:3], ori[3:], normal])
        if (np.allclose(grid, direction, atol=1e-4)
                and np.allclose(first, labels.origin, atol=GRID_TOLERANCE_MM)
                and np.allclose([col, row], labels.spacing[:2], rtol=1e-4)):
            for d in datasets:  # anonymisers sometimes empty these; the file meta keeps them
                for keyword in TYPE2:  # copied into the SEG, where they must be present
                    if keyword not in d:
                        setattr(d, keyword, None)
                if not d.get("SOPInstanceUID"):
                    d.SOPInstanceUID = d.file_meta.MediaStorageSOPInstanceUID
                if not d.get("SOPClassUID"):
                    d.SOPClassUID = d.file_meta.MediaStorageSOPClassUID
            return datasets
    raise InputError(f"The label map is not on the grid of the DICOM series in '{folder}' "
                     "(origin, orientation or spacing differ): export it against the series "
                     "it was segmented from.")


def _description(number: int, value: int, name: str, color: Any) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    rgb = [min(max(float(c), 0.0), 1.0) * 255 for c in (color or default_color(value))[:3]]
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=str(name)[:64] or f"label {value}",
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            # thresholds, region growing and morphology (sim.imaging.segment)
            name="Twinsight", version=__version__, family=codes.cid7162.HistogramAnalysis),
        tracking_id=f"label {value}", tracking_uid=hd.UID(),
        display_color=hd.color.CIELabColor.from_rgb(*rgb))


def _segmentation(datasets: list[Any], masks: np.ndarray, segments: list[Any],
                  description: str) -> Any:
    import highdicom as hd

    return hd.seg.Segmentation(
        source_images=datasets, pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments, series_instance_uid=hd.UID(), series_number=900,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Twinsight",
        manufacturer_model_name="Twinsight", software_versions=__version__,
        device_serial_number="1", series_description=description[:64],
        content_label="SEGMENTATION", content_description=description[:64])


def export_seg(labels: pv.ImageData, names: dict[int, dict[str, Any]], source: str | Path,
               out: str | Path, description: str = "Twinsight segmentation",
               progress: Progress = no_progress) -> dict[str, Any]:
    """Write ``labels`` (on the grid of the series at ``source``) as a DICOM SEG at ``out``."""

    from sim.model.atomic import write_file_atomic

    progress(0.0, "Reading the source series")
    datasets = _source_datasets(Path(source), labels)
    arr = voxel_array(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        arr = np.round(arr).astype(np.int64)
    values = [int(v) for v in np.unique(arr) if v > 0]
    if not values:
        raise InputError("The label map is empty: there is no segment to export.")
    if int(arr.min()) < 0:
        raise InputError("The label map has negative values; labels must be 0 (background) "
                         "or positive.")
    progress(0.2, "Building the segmentation")
    frames = np.transpose(arr, (2, 1, 0))  # [slice, row, column] like the source images
    masks = np.stack([frames == v for v in values], axis=-1).astype(np.uint8)
    segments = [_description(i, v, (names.get(v) or {}).get("name", f"label {v}"),
                             (names.get(v) or {}).get("color"))
                for i, v in enumerate(values, 1)]
    try:
        seg = _segmentation(datasets, masks, segments, description)
    except (ValueError, AttributeError, TypeError) as exc:  # highdicom checks the sources
        raise InputError(f"The series in '{source}' cannot be the source of a SEG: "
                         f"{str(exc).rstrip('.')}.") from None
    progress(0.8, "Writing the SEG")
    out = Path(out)
    write_file_atomic(out, lambda fh: seg.save_as(fh, enforce_file_format=True))
    progress(1.0, "SEG written")
    return {"output": str(out), "segments": [{"number": i, "label": v,
                                              "name": s.SegmentLabel}
                                             for i, (v, s) in enumerate(zip(values, segments,
                                                                            strict=True), 1)],
            "frames": int(seg.NumberOfFrames), "series_uid": str(seg.SeriesInstanceUID),
            "referenced_series": str(datasets[0].SeriesInstanceUID)}


def _rgb_of(desc: Any) -> tuple[float, float, float] | None:
    lab = desc.get("RecommendedDisplayCIELabValue")
    if lab is None:
        return None
    import highdicom as hd

    try:
        rgb = hd.color.CIELabColor.from_dicom_value(lab).to_rgb()
    except Exception:  # an odd colour does not stop the import
        return None
    return tuple(round(float(c) / 255.0, 4) for c in rgb)  # type: ignore[return-value]


def _axis_map(inv: np.ndarray, src_shape: tuple, dims: tuple) -> np.ndarray | None:
    """``image`` on ``grid`` by axis permutation, flips and an integer shift when the two
    grids share their voxel centres (the usual case: a SEG of the scan's own series)."""
    m = inv[:3, :3]
    perm = np.abs(np.rint(m))
    shift = inv[:3, 3]
    if not (np.allclose(m, np.rint(m), atol=1e-4) and (perm.sum(axis=0) == 1).all()
            and (perm.sum(axis=1) == 1).all() and np.allclose(shift, np.rint(shift), atol=1e-3)):
        return None
    return np.rint(inv[:3, :]).astype(int)


def resample_nearest(image: pv.ImageData, grid: pv.ImageData) -> np.ndarray:
    """``image``'s values on ``grid`` (nearest voxel; 0 outside): exact where grids coincide."""
    src = voxel_array(image)
    inv = np.linalg.inv(affine_of(image)) @ affine_of(grid)
    exact = _axis_map(inv, src.shape, tuple(grid.dimensions))
    if exact is not None:  # src index = exact[:, :3] @ grid index + exact[:, 3], per axis
        out = np.zeros(grid.dimensions, dtype=src.dtype)
        axes = [int(np.flatnonzero(exact[:, g])[0]) for g in range(3)]  # src axis of grid g
        index = []
        valid = []
        for g in range(3):
            a = axes[g]
            idx = exact[a, g] * np.arange(grid.dimensions[g]) + exact[a, 3]
            ok = (idx >= 0) & (idx < src.shape[a])
            index.append(idx[ok])
            valid.append(np.flatnonzero(ok))
        if all(len(v) for v in valid):
            moved = np.transpose(src, axes)  # src axes in grid order
            block = moved[np.ix_(*index)]
            out[np.ix_(*valid)] = block
        return out
    out = np.zeros(grid.dimensions, dtype=src.dtype)
    ii, jj = np.meshgrid(np.arange(grid.dimensions[0]), np.arange(grid.dimensions[1]),
                         indexing="ij")
    for k in range(grid.dimensions[2]):  # slice by slice: bounded memory
        idx = np.rint(inv[:3, :3] @ np.stack([ii.ravel(), jj.ravel(),
                                              np.full(ii.size, k)]) + inv[:3, 3:4]).astype(int)
        ok = np.all((idx >= 0) & (idx < np.array(src.shape)[:, None]), axis=0)
        plane = np.zeros(ii.size, dtype=src.dtype)
        plane[ok] = src[idx[0, ok], idx[1, ok], idx[2, ok]]
        out[:, :, k] = plane.reshape(ii.shape)
    return out


def import_seg(path: str | Path, onto: pv.ImageData | None = None,
               progress: Progress = no_progress) -> tuple[pv.ImageData, dict[int, dict]]:
    """A DICOM SEG as (label map, {value: {"name", "color"}}), on ``onto``'s grid if given."""
    import highdicom as hd

    path = Path(path)
    progress(0.0, f"Reading {path.name}")
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # highdicom raises many kinds for files that are not a SEG
        raise FileFormatError(path, f"it is not a DICOM Segmentation ({exc})") from None
    numbers = list(seg.segment_numbers)
    labels: dict[int, dict] = {}
    value_of = np.zeros(max(numbers) + 1, dtype=np.int64)
    for n in numbers:
        desc = seg.get_segment_description(n)
        m = TRACKING.fullmatch(str(desc.get("TrackingID", "") or ""))
        value = int(m[1]) if m else n
        value_of[n] = value
        labels[value] = {"name": str(desc.SegmentLabel),
                         "color": list(_rgb_of(desc) or default_color(value))}
    progress(0.3, "Decoding segments")
    try:
        volume = seg.get_volume(combine_segments=True, skip_overlap_checks=True)
    except (ValueError, RuntimeError) as exc:
        raise FileFormatError(path, f"its frames do not form a regular volume ({exc})") from None
    dtype = np.uint16 if value_of.max() > 32767 else np.int16
    arr = value_of.astype(dtype)[np.asarray(volume.array)]  # segment number -> label value
    affine = np.asarray(volume.affine, dtype=float)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    image = make_image(arr, spacing, affine[:3, 3], affine[:3, :3] / spacing)
    if onto is not None:
        progress(0.7, "Placing on the scan's grid")
        image = make_image(resample_nearest(image, onto), onto.spacing, onto.origin,
                           np.asarray(onto.direction_matrix))
    progress(1.0, "SEG imported")
    return image, labels


def write_label_nrrd(image: pv.ImageData, labels: dict[int, dict], out: str | Path) -> Path:
    """A label map as gzip NRRD (LPS) with 3D Slicer's segment names and colours."""
    from sim.model.atomic import write_file_atomic

    arr = voxel_array(image)
    kind = {"int16": "short", "uint16": "ushort", "uint8": "uchar", "int32": "int"}.get(
        arr.dtype.name)
    if kind is None:
        arr, kind = arr.astype(np.int32), "int"
    m = np.asarray(image.direction_matrix) * np.asarray(image.spacing)
    vec = " ".join("(" + ",".join(f"{v:.10g}" for v in m[:, i]) + ")" for i in range(3))
    lines = ["NRRD0004", f"type: {kind}", "dimension: 3", "space: left-posterior-superior",
             f"sizes: {' '.join(str(n) for n in arr.shape)}", f"space directions: {vec}",
             "kinds: domain domain domain", "endian: little", "encoding: gzip",
             "space origin: (" + ",".join(f"{v:.10g}" for v in image.origin) + ")"]
    for i, (value, info) in enumerate(sorted(labels.items())):
        name = re.sub(r"[\r\n]", " ", str(info.get("name", f"label {value}")))
        rgb = " ".join(f"{c:.4g}" for c in info["color"][:3])
        lines += [f"Segment{i}_Name:={name}", f"Segment{i}_LabelValue:={value}",
                  f"Segment{i}_Color:={rgb}"]
    header = ("\n".join(lines) + "\n\n").encode()
    raw = arr.ravel(order="F").astype(arr.dtype.newbyteorder("<")).tobytes()
    body = gzip.compress(raw, compresslevel=6)
    return write_file_atomic(Path(out), lambda fh: (fh.write(header), fh.write(body)))


def seg_case(path: str | Path, onto: pv.ImageData | None = None,
             progress: Progress = no_progress) -> Any:
    """A case holding a DICOM SEG as a label map (with its names and colours)."""
    from sim.model import Case, ObjectKind, SceneObject

    image, labels = import_seg(path, onto, progress)
    stem = Path(path).stem
    case = Case(name=stem, source=str(path))
    case.scene.add(SceneObject(f"{stem} segments", ObjectKind.LABELMAP, image,
                               label_table=labels, metadata={"source_format": "DICOM SEG"}))
    return case


def is_seg(path: str | Path) -> bool:
    """Whether ``path`` is a DICOM Segmentation (by its SOP class)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        sop = str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", ""))
    except Exception:  # not DICOM
        return False
    return sop == SEG_CLASS

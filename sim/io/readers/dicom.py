"""DICOM: a folder (or one file of a series) opens as a CT/MR volume in LPS mm."""

from __future__ import annotations

from pathlib import Path

from sim.errors import FileFormatError, InputError
from sim.io.dicom_scan import Series, frames_of, read_header, scan_folder, why_not_image
from sim.io.dicom_volume import load_series
from sim.io.images import image_loaded
from sim.io.registry import Loaded, ReadOptions, reader
from sim.progress import Progress, sub_progress

CT_WINDOW = (40.0, 400.0)


def series_loaded(series: Series, progress: Progress, notes: list[str] | None = None) -> Loaded:
    try:
        loaded = load_series(series, progress)
    except FileFormatError:
        raise
    except InputError as exc:
        raise FileFormatError(series.frames[0].path.parent, str(exc).rstrip(".")) from None
    name = series.description or f"{series.modality or 'DICOM'} series {series.number or series.id}"
    if series.volume:
        name = f"{name} ({series.volume})"
    result = image_loaded(series.frames[0].path, name, loaded.image, list(notes or []) + loaded.notes,
                          is_labels=series.modality in ("SEG", "RTSTRUCT"))
    obj = result.objects[0]
    obj.name = name
    obj.metadata.update({"source_format": "DICOM", "modality": series.modality,
                         "series_uid": series.uid, "files": len(series.files)})
    if loaded.window or series.modality == "CT":
        obj.metadata["window"] = list(loaded.window or CT_WINDOW)
    return result


@reader(name="DICOM folder", folders=True)
def read_dicom_folder(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    found = scan_folder(path, sub_progress(progress, 0.0, 0.3))
    if not found:
        raise FileFormatError(path, "the folder holds no DICOM images (nor a Twinsight case)")
    notes = []
    volumes = [s for s in found if s.uid == found[0].uid and s.volume]
    if len(volumes) > 1:
        notes.append(f"the series holds {len(volumes)} volumes; loaded {found[0].volume} "
                     "(open one of its files for another; see 'twinsight dicom list')")
    if len(found) > len(volumes) and len(found) > 1:
        notes.append(f"loaded the largest of {len(found)} series; see 'twinsight dicom list'")
    return series_loaded(found[0], sub_progress(progress, 0.3, 1.0), notes)


@reader(".dcm", ".dicom", ".ima", name="DICOM file")
def read_dicom_file(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    """The whole series this file belongs to (found beside it in its folder)."""
    ds = read_header(path)
    if ds is not None:
        frames_of(path, ds)  # this file's own lie is its error, not a silent skip
    found = scan_folder(path.parent, sub_progress(progress, 0.0, 0.3), recursive=False)
    for series in found:
        if any(f.path == path for f in series.frames):
            return series_loaded(series, sub_progress(progress, 0.3, 1.0))
    raise FileFormatError(path, why_not_image(path))

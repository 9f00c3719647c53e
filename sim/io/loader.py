"""Open any supported file or folder as a :class:`~sim.model.Case`.

``load(path, progress)`` is the one entry point. It finds the reader for the
file in :mod:`sim.io.registry`, runs it, and wraps what it read in a case.
Mesh formats without units are read as millimetres unless ``units`` says
otherwise. Every failure becomes a :class:`~sim.errors.FileFormatError` naming
the file and the reason.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import Cancelled, FileFormatError, TwinsightError
from sim.io import pointcloud as _pointcloud  # noqa: F401 - registers the scan readers
from sim.io.registry import ReadOptions, full_suffix, reader_for, supported_suffixes
from sim.io.units import mm_per
from sim.model import Case
from sim.model.case_io import SUFFIX as CASE_SUFFIX
from sim.model.case_io import is_case, load_case
from sim.progress import Progress, no_progress, sub_progress

SUPPORTED_SUFFIXES = sorted({*supported_suffixes(), CASE_SUFFIX})


def load(path: str | Path, progress: Progress = no_progress, *, units: str | None = None,
         chord_tolerance: float | None = None, password: str | None = None,
         series: str | None = None) -> Case:
    """Read a case folder, a DICOM folder, a mesh, a CAD part or an image into a new case.
    ``series`` picks a DICOM series/volume/time series by its 'twinsight dicom list' handle."""
    path = Path(path)
    mm_per(units)  # an unknown unit is bad input before any reading starts
    if not path.exists():
        raise FileFormatError(path, "no such file or folder")
    if not path.is_dir() and not path.is_file():  # a FIFO or a device would block or never end
        raise FileFormatError(path, "it is neither a regular file nor a folder")
    if path.suffix.lower() == CASE_SUFFIX or is_case(path):  # folder, .twin, encrypted
        try:
            return load_case(path, progress, password=password)
        except (TwinsightError, Cancelled):
            raise
        except MemoryError:
            raise FileFormatError(path, "it needs more memory than this machine has") from None
        except RecursionError:
            raise FileFormatError(path, "it is nested too deeply to be read") from None
    found = reader_for(path)
    if found is None:
        if path.is_dir():
            raise FileFormatError(path, "the folder is neither a Twinsight case nor a DICOM series")
        suffix = full_suffix(path)
        raise FileFormatError(path, f"'{suffix or path.name}' is not a supported format "
                                    f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if path.is_file() and path.stat().st_size == 0:
        raise FileFormatError(path, "the file is empty")
    if series and "DICOM" not in found.name:
        raise FileFormatError(path, f"it is not DICOM, so it has no series '{series}' to choose")
    options = ReadOptions(units=units, series=series) if chord_tolerance is None else ReadOptions(
        units=units, chord_tolerance=chord_tolerance, series=series)
    progress(0.0, f"Reading {path.name}")
    try:
        loaded = found.read(path, options, sub_progress(progress, 0.0, 0.95))
    except (TwinsightError, Cancelled):
        raise
    except MemoryError:
        raise FileFormatError(path, "it needs more memory than this machine has") from None
    except Exception as exc:  # a reader bug on odd input must still read as one sentence
        from sim.io.vtk_safe import clean_message

        raise FileFormatError(path, f"it could not be read as {found.name} "
                                    f"({type(exc).__name__}: {clean_message(exc)})") from None
    if not loaded.objects:
        raise FileFormatError(path, "it contains nothing to show")
    name = path.name[: -len(full_suffix(path))] if path.is_file() and full_suffix(path) else path.name
    case = Case(name=name or path.name, anatomical=loaded.anatomical, source=str(path))
    if loaded.notes:
        case.description = "; ".join(loaded.notes)
    for obj in loaded.objects:
        case.scene.add(obj)
    progress(1.0, f"Read {path.name}")
    return case

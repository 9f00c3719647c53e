"""DICOM: a folder (or one file of a series) opens as a CT/MR volume in LPS mm."""

from __future__ import annotations

from pathlib import Path

from sim.errors import FileFormatError, InputError
from sim.imaging.timeseries import TIMES_KEY, set_frame
from sim.io.dicom_scan import Series, frames_of, read_header, scan_folder, why_not_image
from sim.io.dicom_series import Choice, choices, find_choice, load_choice
from sim.io.images import image_loaded
from sim.io.registry import Loaded, ReadOptions, reader
from sim.progress import Progress, sub_progress

CT_WINDOW = (40.0, 400.0)


def series_loaded(series: Series, progress: Progress, notes: list[str] | None = None) -> Loaded:
    """One volume of a scan as a scene object."""
    return choice_loaded(Choice(series.id, [series]), progress, notes)


def choice_loaded(choice: Choice, progress: Progress, notes: list[str] | None = None,
                  show: int = 0) -> Loaded:
    """A volume, or a time series as one 4D volume showing time point ``show``."""
    series = choice.first
    try:
        loaded, times = load_choice(choice, progress)
    except FileFormatError:
        raise
    except InputError as exc:
        raise FileFormatError(series.frames[0].path.parent, str(exc).rstrip(".")) from None
    name = choice.name()
    notes = list(notes or [])
    if choice.time_series:
        set_frame(loaded.image, show)
        notes.append(f"a time series of {len(choice.volumes)} time points ("
                     f"{series.volume.rsplit(' ', 1)[0]}), opened as one 4D volume: the slice "
                     "views step through it")
    result = image_loaded(series.frames[0].path, name, loaded.image, notes + loaded.notes,
                          is_labels=series.modality in ("SEG", "RTSTRUCT"))
    obj = result.objects[0]
    obj.name = name
    obj.metadata.update({"source_format": "DICOM", "modality": series.modality,
                         "series_uid": series.uid, "files": len({p for v in choice.volumes
                                                                for p in v.files})})
    if choice.time_series:
        obj.metadata[TIMES_KEY] = times
    if loaded.window or series.modality == "CT":
        obj.display = obj.display.replace(window=tuple(loaded.window or CT_WINDOW))
    return result


def _notes(found: list[Series], choice: Choice, picked: bool) -> list[str]:
    notes = []
    every = choices(found)
    siblings = [c for c in every if c.first.uid == choice.first.uid and c.first.volume]
    if len(siblings) > 1:
        notes.append(f"the series holds {len(siblings)} volumes or time series; loaded "
                     f"{choice.first.volume if not choice.time_series else 'the time series'} "
                     "(see 'twinsight dicom list' and open another with --series ID)")
    if len(every) > max(len(siblings), 1):
        which = "" if picked else ", the largest"
        notes.append(f"loaded series {choice.id}{which} of {len(every)} series; see "
                     "'twinsight dicom list'")
    return notes


@reader(name="DICOM folder", folders=True)
def read_dicom_folder(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    found = scan_folder(path, sub_progress(progress, 0.0, 0.3))
    if not found:
        raise FileFormatError(path, "the folder holds no DICOM images (nor a Twinsight case)")
    choice = (find_choice(found, options.series, f"The folder '{path.name}'") if options.series
              else choices(found)[0])
    return choice_loaded(choice, sub_progress(progress, 0.3, 1.0), _notes(found, choice, bool(options.series)))


def file_choices(path: Path, progress: Progress) -> tuple[list[Series], list[Choice]]:
    """The scan of a file's own folder and the choices that hold the file (a time series
    it is a time point of, or its volume)."""
    ds = read_header(path)
    if ds is not None:
        frames_of(path, ds)  # this file's own lie is its error, not a silent skip
    found = scan_folder(path.parent, progress, recursive=False)
    mine = [c for c in choices(found) if any(f.path == path for v in c.volumes for f in v.frames)]
    return found, mine


@reader(".dcm", ".dicom", ".ima", name="DICOM file")
def read_dicom_file(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    """The series this file belongs to (found beside it in its folder): a time series as
    one 4D volume showing the file's time point; ``options.series`` picks another."""
    found, mine = file_choices(path, sub_progress(progress, 0.0, 0.3))
    if options.series:
        choice = find_choice(found, options.series, f"The folder of '{path.name}'")
    elif mine:
        choice = mine[0]
    else:
        raise FileFormatError(path, why_not_image(path))
    show = next((t for t, v in enumerate(choice.volumes)
                 if any(f.path == path for f in v.frames)), 0)
    return choice_loaded(choice, sub_progress(progress, 0.3, 1.0), show=show)

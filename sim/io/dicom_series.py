"""What a user can open from a DICOM scan: each series or volume, and each time series as
one 4D volume (with each of its time points also on its own).

``twinsight dicom list`` shows these choices with their handles ("2" a volume or a whole
time series, "3.4" time point 4 of time series 3); the loader opens the one named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.imaging.timeseries import make_time_series
from sim.imaging.volume import MAX_VOXELS, voxel_array
from sim.io.dicom_scan import Series, time_source
from sim.io.dicom_volume import LoadedSeries, load_series
from sim.progress import Progress, no_progress, sub_progress

TIME_NAMES = ("trigger time", "temporal offset", "acquisition time")


@dataclass
class Choice:
    """One thing to open: a volume, or all the time points of a time series."""

    id: str
    volumes: list[Series]

    @property
    def time_series(self) -> bool:
        return len(self.volumes) > 1

    @property
    def first(self) -> Series:
        return self.volumes[0]

    def times(self) -> list[float] | None:
        """Seconds from the first time point, if the files date them."""
        source = time_source(self.volumes) if self.time_series else None
        if source is None:
            return None
        t = [v.time(source) for v in self.volumes]
        return [round(float(x - t[0]), 6) for x in t]

    def summary(self) -> dict[str, Any]:
        out = self.first.summary()
        out["id"] = self.id
        if self.time_series:
            out["volume"] = f"time series of {len(self.volumes)}"
            out["time_points"] = len(self.volumes)
            out["times_s"] = self.times()
            out["files"] = len({p for v in self.volumes for p in v.files})
            out["frames"] = sum(len(v.frames) for v in self.volumes)
            out["volumes"] = [{"id": v.id, "volume": v.volume} for v in self.volumes]
        return out

    def name(self) -> str:
        s = self.first
        base = s.description or f"{s.modality or 'DICOM'} series {s.number or s.id}"
        if self.time_series:
            return f"{base} (4D, {len(self.volumes)} time points)"
        return f"{base} ({s.volume})" if s.volume else base


def choices(found: list[Series]) -> list[Choice]:
    """The time series (one choice each) and the other volumes, in scan order."""
    out: list[Choice] = []
    groups: dict[tuple, Choice] = {}
    for s in found:
        if s.time_group is None:
            out.append(Choice(s.id, [s]))
        elif s.time_group in groups:
            groups[s.time_group].volumes.append(s)
        else:
            groups[s.time_group] = Choice(s.group_id, [s])
            out.append(groups[s.time_group])
    return out


def find_choice(found: list[Series], wanted: str, where: str) -> Choice:
    """The choice called ``wanted`` ("2", or "3.4" for one time point of a time series)."""
    wanted = str(wanted).strip()
    for c in choices(found):
        if c.id == wanted:
            return c
        for v in c.volumes:
            if c.time_series and v.id == wanted:
                return Choice(v.id, [v])
    ids = ", ".join(c.id + (f" (time points {c.volumes[0].id}-{c.volumes[-1].id})"
                           if c.time_series else "") for c in choices(found))
    raise InputError(f"{where} has no series '{wanted}' (it has: {ids or 'none'}); "
                     "see 'twinsight dicom list'.")


def load_choice(choice: Choice, progress: Progress = no_progress) -> tuple[LoadedSeries, list | None]:
    """The volume of ``choice`` (a 4D volume for a time series) and its times (s) or None."""
    if not choice.time_series:
        return load_series(choice.first, progress), None
    vols = choice.volumes
    voxels = sum(len(v.frames) for v in vols) * vols[0].rows * vols[0].columns
    if voxels > MAX_VOXELS:
        raise InputError(f"Series {choice.id} holds {voxels:,} voxels over {len(vols)} time "
                         "points, more than can be loaded.")
    loaded: list[LoadedSeries] = []
    cache: dict = {}  # a multi-frame file holding every time point is decoded once
    for t, v in enumerate(vols):
        loaded.append(load_series(v, sub_progress(progress, t / len(vols), (t + 1) / len(vols)),
                                  cache))
        progress((t + 1) / len(vols), f"Loaded time point {t + 1} of {len(vols)}")
    first = loaded[0].image
    for t, item in enumerate(loaded[1:], 2):
        im = item.image
        if (tuple(im.dimensions) != tuple(first.dimensions)
                or not np.allclose(im.spacing, first.spacing, rtol=1e-4)
                or not np.allclose(im.origin, first.origin, atol=1e-3 * min(first.spacing))
                or not np.allclose(im.direction_matrix, first.direction_matrix, atol=1e-4)):
            raise InputError(f"Time point {t} of series {choice.id} lies on a different grid "
                             "than the first; open the time points one by one.")
    arrays = [voxel_array(x.image) for x in loaded]
    dtype = np.result_type(*arrays)
    image = make_time_series([a.astype(dtype, copy=False) for a in arrays], first.spacing,
                             first.origin, np.asarray(first.direction_matrix))
    notes = list(dict.fromkeys(n for x in loaded for n in x.notes))
    return LoadedSeries(image, notes, loaded[0].window), choice.times()

"""Which reader opens which file: a registry keyed by file suffix.

A reader module in :mod:`sim.io.readers` declares itself with :func:`reader`; the
package imports every module it holds, so a new format is one new file there::

    @reader(".xyz", ".pts", name="point cloud")
    def read_points(path: Path, options: ReadOptions, progress: Progress) -> Loaded: ...

Readers raise :class:`~sim.errors.FileFormatError` for bad files and return a
:class:`Loaded` (objects in mm, plus notes on what was converted).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim.model import SceneObject
from sim.progress import Progress


@dataclass(frozen=True)
class ReadOptions:
    """What the user said about a file that the file itself may not say.

    ``units`` applies to unit-less formats (STL, OBJ, PLY, OFF, VTK, MSH); formats
    that state their units (3MF, STEP, IGES, glTF) are always converted from theirs.
    ``chord_tolerance`` (mm) bounds how far a CAD tessellation may stray from the surface.
    ``series`` picks one series, volume or time series of a DICOM scan (its handle in
    ``twinsight dicom list``).
    """

    units: str | None = None
    chord_tolerance: float = 0.05
    series: str | None = None  # DICOM: which series/volume to open ("2", "3.4"; see dicom list)


@dataclass
class Loaded:
    """What a reader produced: scene objects in mm, and whether they are patient anatomy."""

    objects: list[SceneObject]
    anatomical: bool = False
    notes: list[str] = field(default_factory=list)


ReadFn = Callable[[Path, ReadOptions, Progress], Loaded]


@dataclass(frozen=True)
class Reader:
    name: str
    suffixes: tuple[str, ...]
    read: ReadFn
    folders: bool = False  # True when the reader opens a folder (e.g. a DICOM series)


_READERS: list[Reader] = []
_discovered = False


def reader(*suffixes: str, name: str, folders: bool = False) -> Callable[[ReadFn], ReadFn]:
    """Register ``fn`` as the reader of files ending in ``suffixes`` (lower case, with dot)."""

    def wrap(fn: ReadFn) -> ReadFn:
        register_reader(Reader(name, tuple(s.lower() for s in suffixes), fn, folders))
        return fn

    return wrap


def register_reader(r: Reader) -> None:
    global _READERS
    _READERS = [x for x in _READERS if x.read is not r.read and x.name != r.name] + [r]


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    import sim.io.readers as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


def readers() -> list[Reader]:
    _discover()
    return list(_READERS)


def full_suffix(path: Path) -> str:
    """``.nii.gz`` / ``.seg.nrrd``-aware suffix: the longest registered one that matches."""
    name = path.name.lower()
    best = ""
    for r in readers():
        for s in r.suffixes:
            if name.endswith(s) and len(s) > len(best):
                best = s
    return best or path.suffix.lower()


def reader_for(path: Path) -> Reader | None:
    if path.is_dir():
        return next((r for r in readers() if r.folders), None)
    suffix = full_suffix(path)
    found = next((r for r in readers() if suffix in r.suffixes), None)
    if found is None and is_dicom_file(path):  # scanners often write files with no suffix
        found = next((r for r in readers() if ".dcm" in r.suffixes), None)
    return found


def is_dicom_file(path: Path) -> bool:
    """True for a DICOM Part 10 file (the 'DICM' marker after its 128-byte preamble)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def supported_suffixes() -> list[str]:
    return sorted({s for r in readers() for s in r.suffixes})

"""Save and open cases: a ``.twin`` archive (optionally encrypted) or an unpacked folder.

Both forms hold ``manifest.json`` (schema, app version, dates, SHA-256 of every
file) and one VTK XML file per object (``.vtp`` surfaces, ``.vtu`` meshes, ``.vti``
images). Saving is atomic (see :mod:`sim.model.atomic`); opening reads, migrates,
validates and checks everything before the case is built, so a bad file is refused
whole and never half-loaded.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pyvista as pv
from vtkmodules.vtkIOXML import (
    vtkXMLImageDataReader,
    vtkXMLImageDataWriter,
    vtkXMLPolyDataReader,
    vtkXMLPolyDataWriter,
    vtkXMLRectilinearGridReader,
    vtkXMLRectilinearGridWriter,
    vtkXMLStructuredGridReader,
    vtkXMLStructuredGridWriter,
    vtkXMLUnstructuredGridReader,
    vtkXMLUnstructuredGridWriter,
)

from sim import __version__
from sim.errors import FileFormatError, InputError
from sim.geometry import rigid
from sim.markups.model import Markup
from sim.model import bundle
from sim.model.migrations import MigrationError, migrate
from sim.model.object_fields import field_json
from sim.model.scene import Case, SceneObject
from sim.model.schema import ARRAY_KEY, FORMAT, MANIFEST, SCHEMA_VERSION, Manifest
from sim.model.section_docs import opened_sections, section_version
from sim.progress import Progress, no_progress

__all__ = ["FORMAT", "MANIFEST", "SCHEMA_VERSION", "is_case", "is_case_folder", "load_case",
           "load_case_folder", "read_manifest", "save_case", "save_case_folder", "validate_case"]

SUFFIX = ".twin"
# dataset class -> (file extension, VTK XML writer, VTK XML reader)
_FORMATS: list[tuple[type, str, type, type]] = [
    (pv.ImageData, ".vti", vtkXMLImageDataWriter, vtkXMLImageDataReader),
    (pv.PolyData, ".vtp", vtkXMLPolyDataWriter, vtkXMLPolyDataReader),
    (pv.UnstructuredGrid, ".vtu", vtkXMLUnstructuredGridWriter,
     vtkXMLUnstructuredGridReader),
    (pv.StructuredGrid, ".vts", vtkXMLStructuredGridWriter, vtkXMLStructuredGridReader),
    (pv.RectilinearGrid, ".vtr", vtkXMLRectilinearGridWriter,
     vtkXMLRectilinearGridReader),
]


def is_case_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def is_case(path: str | Path) -> bool:
    """True for a case folder, a ``.twin`` archive or an encrypted case."""
    return bundle.sniff(path) is not None


# -- datasets <-> bytes ----------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dataset_bytes(data: pv.DataSet) -> tuple[str, bytes]:
    """(extension, VTK XML bytes) of a dataset: binary, zlib-compressed, lossless."""
    for cls, ext, writer_cls, _ in _FORMATS:
        if isinstance(data, cls):
            writer = writer_cls()
            writer.SetInputData(data)
            writer.SetWriteToOutputString(True)
            writer.SetDataModeToAppended()
            writer.EncodeAppendedDataOff()
            writer.SetCompressorTypeToZLib()
            writer.SetCompressionLevel(1)  # fast; CT data gains little from harder settings
            if not writer.Write():
                raise InputError(f"The {ext[1:].upper()} data could not be serialised.")
            return ext, bytes(writer.GetOutputString())
    raise InputError(f"Objects holding {type(data).__name__} cannot be saved in a case.")


def dataset_from_bytes(ext: str, blob: bytes, where: Path, name: str) -> pv.DataSet:
    """A case file's dataset, read by VTK with its messages captured and checked with numpy
    (ids, counts, coordinates) before any VTK algorithm may touch it: a file that VTK
    parses but would crash on later (a point id out of range) is refused here."""
    from sim.io.vtk_safe import clean_message, dataset_problem, vtk_messages, xml_counts_problem

    reader_cls = next((r for _, e, _, r in _FORMATS if e == ext), None)
    if reader_cls is None:
        raise FileFormatError(where, f"its file '{name}' has an unknown type '{ext}'")
    if blob.lstrip()[:5] not in (b"<?xml", b"<VTKF"):
        raise FileFormatError(where, f"its file '{name}' is not {ext[1:].upper()} data")
    problem = xml_counts_problem(blob)
    if problem:
        raise FileFormatError(where, f"its file '{name}' is invalid ({problem})")
    reader = reader_cls()
    reader.ReadFromInputStringOn()
    reader.SetInputString(blob)
    try:
        with vtk_messages() as errors:  # VTK reports bad data on its log, not by raising
            reader.Update()
    except MemoryError:
        raise FileFormatError(where, f"its file '{name}' needs more memory than this "
                                     f"machine has") from None
    except Exception as exc:
        raise FileFormatError(where, f"its file '{name}' is not valid {ext[1:].upper()} data "
                                     f"({clean_message(exc)})") from None
    out = reader.GetOutputDataObject(0)
    if errors or out is None:
        raise FileFormatError(where, f"its file '{name}' is not valid {ext[1:].upper()} data")
    problem = dataset_problem(out)
    if problem:
        raise FileFormatError(where, f"its file '{name}' is invalid ({problem})")
    return pv.wrap(out)


# -- saving ------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _npy(value: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=False)
    return buf.getvalue()


def _store_arrays(value: Any, prefix: str, add) -> Any:
    """``value`` with every numpy array replaced by a reference to a stored ``.npy`` file."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise InputError(f"metadata '{prefix}' holds Python objects, not numbers")
        return {ARRAY_KEY: add(f"{prefix}.npy", _npy(value))}
    if isinstance(value, dict):
        return {k: _store_arrays(v, f"{prefix}.{_safe_key(k)}", add) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_store_arrays(v, f"{prefix}.{i}", add) for i, v in enumerate(value)]
    return value


def _safe_key(key: Any) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in str(key))[:40] or "_"


class BlobCache:
    """Serialised datasets kept between saves, so a save rewrites only what changed.

    Keyed by object uid; an entry is valid while the dataset is the same object with the
    same VTK modification time (every edit that views can see bumps it: pyvista arrays
    call ``Modified()`` when written, and renderers rely on the same signal).
    Thread-safe for one writer and one reader (single dict operations).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple, str, bytes]] = {}
        self.hits = 0

    @staticmethod
    def token(data: pv.DataSet) -> tuple:
        return (id(data), int(data.GetMTime()), int(data.n_points), int(data.n_cells))

    def get(self, uid: str, token: tuple) -> tuple[str, bytes] | None:
        entry = self._entries.get(uid)
        if entry is None or entry[0] != token:
            return None
        self.hits += 1
        return entry[1], entry[2]

    def put(self, uid: str, token: tuple, ext: str, blob: bytes) -> None:
        self._entries[uid] = (token, ext, blob)

    def keep_only(self, uids: set[str]) -> None:
        for uid in set(self._entries) - uids:
            self._entries.pop(uid, None)


@dataclass
class ObjectSnapshot:
    uid: str
    name: str
    kind: str
    color: tuple[float, float, float]
    opacity: float
    visible: bool
    metadata: dict[str, Any]
    data: pv.DataSet | None  # None when ``blob`` holds its bytes already
    blob: tuple[str, bytes] | None = None
    token: tuple | None = None  # where to file the bytes in the BlobCache
    transform: list[list[float]] | None = None  # None: identity
    display: dict[str, Any] = field(default_factory=dict)  # settings that are not defaults
    typed: dict[str, Any] = field(default_factory=dict)  # label_table, trajectory ... (JSON)
    texture: np.ndarray | None = None  # read-only, so shared rather than copied


@dataclass
class CaseSnapshot:
    """What a save writes, taken in one go on the thread that owns the case (cheap: data
    that did not change since the last save is not copied), so the slow part (serialising,
    compressing, encrypting, writing) can run in the background while the user edits on."""

    uid: str
    name: str
    anatomical: bool
    description: str
    created: datetime | None
    objects: list[ObjectSnapshot]
    markups: list[dict[str, Any]]
    sections: dict[str, Any]


def snapshot_case(case: Case, blobs: BlobCache | None = None,
                  copy_data: bool = True) -> CaseSnapshot:
    """A consistent copy of ``case`` for saving (see :class:`CaseSnapshot`).

    ``copy_data=False`` shares the datasets (for a save that runs where nothing edits).
    """
    objects = []
    for obj in case.scene:
        token = BlobCache.token(obj.data) if blobs is not None else None
        blob = blobs.get(obj.uid, token) if blobs is not None else None
        data = None if blob is not None else (obj.data.copy(deep=True) if copy_data
                                              else obj.data)
        objects.append(ObjectSnapshot(obj.uid, obj.name, str(obj.kind),
                                      tuple(float(c) for c in obj.color), float(obj.opacity),
                                      bool(obj.visible), copy.deepcopy(obj.metadata), data,
                                      blob, token,
                                      rigid.to_list(obj.transform) if obj.has_transform else None,
                                      obj.display.to_json(), _typed_json(obj), obj.texture))
    if blobs is not None:
        blobs.keep_only({o.uid for o in objects})
    markups = [{"uid": m.uid, "name": m.name, "type": str(m.type),
                "points": [list(p) for p in m.points], "labels": list(m.labels),
                "color": list(m.color), "visible": m.visible, "locked": m.locked,
                "size": list(m.size), "orientation": list(m.orientation),
                "description": m.description} for m in case.markups]
    return CaseSnapshot(case.uid, case.name, case.anatomical, case.description, case.created,
                        objects, markups, copy.deepcopy(case.sections))


def _typed_json(obj: SceneObject) -> dict[str, Any]:
    """The typed fields that are set, JSON-ready."""
    out: dict[str, Any] = {"label_table": obj.label_table.to_json()} if obj.label_table else {}
    for key in ("trajectory", "tracking", "live_source", "segmentation_of"):
        value = getattr(obj, key)
        if value is not None:
            out[key] = field_json(value)
    return out


def case_files(case: Case | CaseSnapshot, progress: Progress = no_progress,
               blobs: BlobCache | None = None) -> tuple[dict, list[tuple[str, bytes]]]:
    """(manifest dict, [(name, bytes)]) for ``case``; the manifest is the last file."""
    snap = case if isinstance(case, CaseSnapshot) else snapshot_case(case, copy_data=False)
    files: list[tuple[str, bytes]] = []
    hashes: dict[str, dict[str, Any]] = {}

    def add(name: str, blob: bytes) -> str:
        files.append((name, blob))
        hashes[name] = {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
        return name

    objects = []
    for i, obj in enumerate(snap.objects):
        progress(0.9 * i / max(len(snap.objects), 1), f"Saving {obj.name}")
        if obj.blob is not None:
            ext, blob = obj.blob
        else:
            ext, blob = dataset_bytes(obj.data)
            if blobs is not None and obj.token is not None:
                blobs.put(obj.uid, obj.token, ext, blob)
        stem = f"objects/{_safe_uid(obj.uid, i)}"
        name = add(f"{stem}{ext}", blob)
        try:
            metadata = _store_arrays(obj.metadata, f"{stem}.meta", add)
        except InputError as exc:
            raise InputError(f"The case '{snap.name}' cannot be saved: {exc}.") from None
        entry = {"uid": obj.uid, "name": obj.name, "kind": obj.kind, "file": name,
                 "color": list(obj.color), "opacity": obj.opacity, "visible": obj.visible,
                 "display": obj.display, **obj.typed, "metadata": metadata}
        if obj.transform is not None:
            entry["transform"] = obj.transform
        if obj.texture is not None:
            entry["texture"] = add(f"{stem}.texture.npy", _npy(obj.texture))
        objects.append(entry)
    sections = {}
    for key, doc in snap.sections.items():
        if not isinstance(key, str) or not key or len(key) > 64 or _safe_key(key) != key:
            raise InputError(f"'{key}' is not a valid case section name (letters, digits, _ -).")
        try:
            text = json.dumps(doc, indent=2, default=_json_default, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"The case section '{key}' cannot be saved ({exc}).") from None
        sections[key] = add(f"sections/{key}.json", text.encode("utf-8"))
    now = _now()
    created = snap.created or now
    manifest = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "app_version": __version__,
                "created": created.isoformat(), "modified": now.isoformat(),
                "case": {"uid": snap.uid, "name": snap.name, "anatomical": snap.anatomical,
                         "description": snap.description},
                "objects": objects, "markups": snap.markups, "sections": sections,
                "section_versions": {k: section_version(k) for k in sections},
                "files": hashes}
    try:
        text = json.dumps(manifest, indent=2, default=_json_default, allow_nan=False)
        Manifest.model_validate(json.loads(text))
    except (TypeError, ValueError) as exc:
        raise InputError(f"The case '{snap.name}' cannot be saved: {_short(exc)}.") from None
    files.append((MANIFEST, text.encode("utf-8")))
    return manifest, files


def _safe_uid(uid: str, index: int) -> str:
    clean = "".join(c for c in uid if c.isalnum() or c in "_-")[:60]
    return f"{index:04d}-{clean or 'object'}"


def save_case(case: Case | CaseSnapshot, path: str | Path, progress: Progress = no_progress, *,
              password: str | None = None, folder: bool | None = None,
              mark_saved: bool = True, blobs: BlobCache | None = None) -> Path:
    """Save ``case`` to ``path`` atomically and return the path.

    ``folder``: True for the unpacked folder form, False for the single-file archive;
    by default an existing folder stays a folder and anything else becomes an archive.
    ``password`` encrypts the case (AES-256-GCM, scrypt key): the archive as a whole, or
    each file of a folder. ``mark_saved=False``
    (autosave) leaves the case's source and unsaved-changes state alone, as does saving a
    :class:`CaseSnapshot`. ``blobs`` reuses and keeps serialised data between saves.
    """
    path = Path(path)
    if folder is None:
        folder = path.is_dir()
    if path.exists() and path.is_dir() != folder:
        raise InputError(f"Cannot save to '{path}': a {'file' if folder else 'folder'} "
                         f"of that name exists.")
    if password is not None:
        from sim.model.crypto import PasswordError

        if not password:
            raise PasswordError("The password must not be empty.")
    _, files = case_files(case, progress, blobs)
    progress(0.92, "Writing the case")
    if folder:
        bundle.write_folder(path, files, password)
    else:
        bundle.write_archive(path, files, password)
    if mark_saved and isinstance(case, Case):
        case.source = str(path)
        if getattr(case, "_history", None) is not None:
            case.history.set_clean()
    progress(1.0, "Saved")
    return path


def save_case_folder(case: Case, folder: str | Path, progress: Progress = no_progress) -> Path:
    """Save ``case`` in the unpacked folder form."""
    return save_case(case, folder, progress, folder=True)


# -- opening -----------------------------------------------------------------------------------
def _short(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "manifest"
        return f"{where}: {err.get('msg', 'invalid')}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


MAX_MANIFEST = 256 << 20  # a manifest is small; a larger one is hostile or not ours


def _json_document(raw: bytes, path: Path, what: str) -> Any:
    """A manifest's or section's JSON, refused whole if malformed or nested too deeply."""
    from sim.io.json_file import parse_json

    try:
        return parse_json(raw)
    except ValueError as exc:
        raise FileFormatError(path, f"its {what} is not valid JSON ({_short(exc)})") from None


def _manifest_of(b: bundle.Bundle) -> Manifest:
    if b.size(MANIFEST) > MAX_MANIFEST:
        raise FileFormatError(b.path, "its manifest is implausibly large")
    data = _json_document(b.read(MANIFEST), b.path, "manifest")
    when = datetime.fromtimestamp(b.path.stat().st_mtime, UTC)
    try:
        return Manifest.model_validate(migrate(data, when))
    except MigrationError as exc:
        raise FileFormatError(b.path, str(exc)) from None
    except pydantic.ValidationError as exc:
        raise FileFormatError(b.path, f"its manifest is invalid ({_short(exc)})") from None


def read_manifest(path: str | Path, password: str | None = None) -> tuple[Manifest, str]:
    """(validated current-schema manifest, container form) without loading any data."""
    b = bundle.open_bundle(path, password)
    return _manifest_of(b), b.form


def _checked_file(b: bundle.Bundle, m: Manifest, name: str) -> bytes:
    entry = m.files.get(name)
    sized = not (isinstance(b, bundle.FolderBundle) and b.encrypted)  # else ciphertext sizes
    if sized and entry is not None and b.size(name) not in (0, entry.size):  # before reading
        raise FileFormatError(b.path, f"its file '{name}' is damaged (size mismatch)")
    blob = b.read(name)
    if entry is not None and (len(blob) != entry.size
                              or hashlib.sha256(blob).hexdigest() != entry.sha256):
        raise FileFormatError(b.path, f"its file '{name}' is damaged (checksum mismatch)")
    return blob


def _read_contents(b: bundle.Bundle, m: Manifest, path: Path, progress: Progress
                   ) -> tuple[list[SceneObject], list[Markup], dict[str, Any]]:
    """Everything a case holds, read and checked (objects, markups, sections): what
    opening builds the case from, and what validating checks - "valid" means "opens"."""
    objects = []
    for i, e in enumerate(m.objects):
        progress(0.05 + 0.9 * i / max(len(m.objects), 1), f"Loading {e.name}")
        blob = _checked_file(b, m, e.file)
        data = dataset_from_bytes(Path(e.file).suffix.lower(), blob, path, e.file)
        metadata = _load_arrays(dict(e.metadata), b, m)
        texture = None if e.texture is None else _load_arrays({ARRAY_KEY: e.texture}, b, m)
        try:
            obj = SceneObject(name=e.name, kind=e.kind, data=data, color=e.color,
                              opacity=e.opacity, visible=e.visible, metadata=metadata,
                              uid=e.uid, display=e.display, label_table=e.label_table,
                              trajectory=e.trajectory, tracking=e.tracking, texture=texture,
                              live_source=e.live_source, segmentation_of=e.segmentation_of)
            if e.transform is not None:
                obj.transform = e.transform
            objects.append(obj)
        except InputError as exc:
            raise FileFormatError(path, f"object '{e.name}' is invalid ({exc})") from None
    markups = []
    for e in m.markups:
        try:
            markups.append(Markup(name=e.name, type=e.type, points=tuple(e.points),
                                  labels=tuple(e.labels), color=e.color, visible=e.visible,
                                  locked=e.locked, size=e.size, orientation=tuple(e.orientation),
                                  description=e.description, uid=e.uid))
        except InputError as exc:
            raise FileFormatError(path, f"markup '{e.name}' is invalid ({exc})") from None
    sections = {}
    for key, name in m.sections.items():
        sections[key] = _json_document(_checked_file(b, m, name), path, f"section '{key}'")
    return objects, markups, sections


def load_case(path: str | Path, progress: Progress = no_progress, *,
              password: str | None = None) -> Case:
    """Open a case archive or folder; FileFormatError (or PasswordError) if it cannot be."""
    path = Path(path)
    progress(0.0, f"Opening {path.name}")
    b = bundle.open_bundle(path, password)
    try:
        m = _manifest_of(b)
        objects, markups, sections = _read_contents(b, m, path, progress)
    finally:
        b.close()
    # Everything is read and checked: only now is the case built.
    sections = opened_sections(sections, m.section_versions, path.name)
    case = Case(name=m.case.name, anatomical=m.case.anatomical, description=m.case.description,
                source=str(path), uid=m.case.uid, created=m.created, sections=sections)
    for obj in objects:
        case.scene.add(obj)
    for mk in markups:
        case.markups.add(mk)
    progress(1.0, "Case loaded")
    return case


def _check_npy_size(blob: bytes) -> None:
    fh = io.BytesIO(blob)
    major, _ = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if major == 1 else \
        np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fh)
    if dtype.hasobject:
        raise ValueError("it holds Python objects")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if expected != len(blob) - fh.tell():
        raise ValueError(f"its header announces {expected} bytes of data")


def _load_arrays(value: Any, b: bundle.Bundle, m: Manifest) -> Any:
    """Metadata with its ``.npy`` references read back as arrays (checked, no pickles)."""
    if isinstance(value, dict):
        if set(value) == {ARRAY_KEY} and isinstance(value[ARRAY_KEY], str):
            name = value[ARRAY_KEY]
            if name not in m.files:
                raise FileFormatError(b.path, f"its array file '{name}' has no checksum")
            blob = _checked_file(b, m, name)
            try:
                _check_npy_size(blob)  # a header promising more than the file holds
                return np.load(io.BytesIO(blob), allow_pickle=False)
            except (ValueError, EOFError) as exc:
                raise FileFormatError(b.path, f"its array file '{name}' is invalid "
                                              f"({_short(exc)})") from None
        return {k: _load_arrays(v, b, m) for k, v in value.items()}
    if isinstance(value, list):
        return [_load_arrays(v, b, m) for v in value]
    return value


def load_case_folder(folder: str | Path, progress: Progress = no_progress) -> Case:
    return load_case(folder, progress)


def validate_case(path: str | Path, password: str | None = None,
                  progress: Progress = no_progress) -> dict[str, Any]:
    """Check a stored case completely: schema, checksums, and everything opening reads
    (every data file parsed and checked, metadata arrays, markups, sections), so a case
    that validates opens.

    Returns a report; raises FileFormatError at the first problem.
    """
    path = Path(path)
    b = bundle.open_bundle(path, password)
    try:
        m = _manifest_of(b)
        _read_contents(b, m, path, progress)
        unknown = sorted(b.names() - set(m.files) - {MANIFEST} - {e.file for e in m.objects})
    finally:
        b.close()
    progress(1.0, "Checked")
    return {"path": str(path), "form": b.form, "schema_version": m.schema_version,
            "migrated_from": m.migrated_from, "objects": len(m.objects),
            "markups": len(m.markups), "files_checked": len(m.objects),
            "unhashed_files": sorted({e.file for e in m.objects} - set(m.files)),
            "extra_files": unknown, "valid": True}

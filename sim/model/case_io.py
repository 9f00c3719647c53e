"""Save and open a case as a folder: ``manifest.json`` plus one VTK XML file per object.

The folder is written next to its destination and swapped in by renames, so a
crash mid-save leaves the previous version intact. (The single-file ``.twin``
bundle, schema migrations and encryption build on this.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyvista as pv

from sim import __version__
from sim.errors import FileFormatError
from sim.model.scene import Case, ObjectKind, SceneObject
from sim.progress import Progress, no_progress

MANIFEST = "manifest.json"
FORMAT = "twinsight-case"
SCHEMA_VERSION = 1


def is_case_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def save_case_folder(case: Case, folder: str | Path, progress: Progress = no_progress) -> Path:
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / "objects").mkdir()
        entries: list[dict[str, Any]] = []
        objs = list(case.scene)
        for i, obj in enumerate(objs):
            progress(i / max(len(objs), 1), f"Saving {obj.name}")
            ext = ".vti" if isinstance(obj.data, pv.ImageData) else (
                ".vtp" if isinstance(obj.data, pv.PolyData) else ".vtu")
            rel = f"objects/{obj.uid}{ext}"
            obj.data.save(tmp / rel)
            entries.append({"uid": obj.uid, "name": obj.name, "kind": str(obj.kind), "file": rel,
                            "color": list(obj.color), "opacity": obj.opacity,
                            "visible": obj.visible, "metadata": obj.metadata})
        manifest = {"format": FORMAT, "schema_version": SCHEMA_VERSION,
                    "app_version": __version__, "name": case.name,
                    "anatomical": case.anatomical, "description": case.description,
                    "objects": entries}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(tmp)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(1.0, "Saved")
    return folder


def load_case_folder(folder: str | Path, progress: Progress = no_progress) -> Case:
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise FileFormatError(folder, f"its manifest cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise FileFormatError(folder, "it is not a Twinsight case (no case manifest)")
    if manifest.get("schema_version", 0) > SCHEMA_VERSION:
        raise FileFormatError(folder, "it was saved by a newer Twinsight; please update")
    case = Case(name=str(manifest.get("name", folder.name)),
                anatomical=bool(manifest.get("anatomical", True)),
                description=str(manifest.get("description", "")), source=str(folder))
    entries = manifest.get("objects", [])
    for i, e in enumerate(entries):
        progress(i / max(len(entries), 1), f"Loading {e.get('name', '?')}")
        path = (folder / str(e.get("file", ""))).resolve()
        if folder.resolve() not in path.parents or not path.is_file():
            raise FileFormatError(folder, f"object file '{e.get('file')}' is missing")
        try:
            data = pv.read(path)
            obj = SceneObject(name=str(e["name"]), kind=ObjectKind(e["kind"]), data=data,
                              color=tuple(float(c) for c in e.get("color", (0.8, 0.8, 0.8))),
                              opacity=float(e.get("opacity", 1.0)),
                              visible=bool(e.get("visible", True)),
                              metadata=dict(e.get("metadata", {})))
        except (KeyError, ValueError, TypeError) as exc:
            raise FileFormatError(folder, f"object entry {i} is invalid ({exc})") from None
        case.scene.add(obj)
    progress(1.0, "Case loaded")
    return case

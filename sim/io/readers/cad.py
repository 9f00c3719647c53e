"""STEP and IGES parts, tessellated by OpenCASCADE (through gmsh) within a chord tolerance."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from sim.child_process import ChildTimeout, GmshLog, python_child, run_child
from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, merge_vertices, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.vtk_safe import clean_message
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

TIME_LIMIT_S = 180.0


def scratch_env(scratch: Path) -> dict[str, str]:
    """The child's environment: its home, config and cache folders are ``scratch``, so what
    gmsh and FLTK write there (``~/.fltk/fltk.org/fltk.prefs``, ``~/.gmshrc``...) goes
    away with it instead of into the user's home."""
    import sim

    env = dict(os.environ)
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "TMPDIR"):
        env[name] = str(scratch)
    root = str(Path(sim.__file__).resolve().parent.parent)  # the child runs in ``scratch``
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return env


def _run_worker(path: Path, out: Path, tolerance: float, progress: Progress) -> None:
    """Tessellate in a child process that stops within a second of Cancel (and at the time
    limit), showing gmsh's own percentage; its side effects stay in ``out``'s folder."""
    cmd = python_child("sim.io.cad_worker", str(path.resolve()), str(out), repr(tolerance))
    try:
        run = run_child(cmd, progress, f"Tessellating {path.name}", timeout=TIME_LIMIT_S,
                        parse=GmshLog(0.0, 0.9), env=scratch_env(out.parent),
                        cwd=str(out.parent))
    except ChildTimeout:
        raise FileFormatError(path, f"tessellating it took longer than {TIME_LIMIT_S:.0f} s") \
            from None
    if run.returncode != 0 or not out.exists():
        lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip()]
        reason = (clean_message(lines[-1], 200) if lines
                  else f"the tessellator stopped with code {run.returncode}")
        raise FileFormatError(path, f"it could not be tessellated ({reason})")


@reader(".step", ".stp", ".iges", ".igs", name="STEP/IGES CAD")
def read_cad(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    tolerance = float(options.chord_tolerance)
    if not tolerance > 0:
        raise FileFormatError(path, "the chord tolerance must be a positive length in mm")
    with open(path, "rb") as fh:
        head = fh.read(80)
    if path.suffix.lower() in (".step", ".stp") and not head.startswith(b"ISO-10303-21"):
        raise FileFormatError(path, "it does not start with the STEP header ISO-10303-21")
    with tempfile.TemporaryDirectory(prefix="twinsight-cad-") as tmp:
        out = Path(tmp) / "mesh.npz"
        _run_worker(path, out, tolerance, progress)
        with np.load(out) as data:
            names = [str(n) for n in data["names"]]
            parts = [(names[i], data[f"v{i}"], data[f"f{i}"]) for i in range(len(names))]
            deviation = float(data["deviation"])
    objects = []
    for name, xyz, faces in parts:
        if not len(faces):
            continue
        # Each CAD face is meshed on its own; merge the copies of nodes on shared edges.
        vertices, inverse = merge_vertices(xyz)
        poly = triangles_to_polydata(path, vertices.astype(np.float64), inverse[faces])
        objects.append(SceneObject(name if len(parts) > 1 else path.stem, ObjectKind.PART, poly,
                                   color=DEFAULT_COLOR,
                                   metadata={"source_format": path.suffix[1:].upper(),
                                             "chord_deviation_mm": deviation}))
    if not objects:
        raise FileFormatError(path, "it contains no surfaces to tessellate")
    notes = [f"tessellated by OpenCASCADE, max deviation {deviation:.3g} mm "
             f"(tolerance {tolerance:g} mm)"]
    if deviation > tolerance:
        notes.append("the tolerance could not be reached within the refinement limit")
    return Loaded(objects, notes=notes)

"""Where a result came from: software version and commit, the environment's key packages,
and SHA-256 hashes of every input file, so a reader can tell whether a rerun used the same
things."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("numpy", "scipy", "vtk", "pyvista", "gmsh", "scikit-sparse", "numba", "dask",
            "distributed", "SALib", "pyarrow", "matplotlib")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_folder(folder: str | Path, pattern: str = "*") -> str:
    """One hash over the names and contents of the files in ``folder`` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).glob(pattern)):
        if p.is_file() and not p.name.startswith("."):
            h.update(p.name.encode() + b"\0" + bytes.fromhex(sha256_file(p)))
    return h.hexdigest()


def git_commit() -> dict[str, Any]:
    """The commit of the source tree Twinsight runs from (None when not a git checkout)."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return {"commit": None, "modified": None}
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "sim"],
                               capture_output=True, text=True, timeout=20)
        return {"commit": rev.stdout.strip(), "modified": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "modified": None}


def environment() -> dict[str, Any]:
    from sim import __version__

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"twinsight": __version__, **git_commit(), "python": sys.version.split()[0],
            "platform": platform.platform(), "machine": platform.machine(), "packages": versions}


def input_hashes(files: dict[str, str | Path | None]) -> list[dict[str, str]]:
    out = []
    for role, path in files.items():
        if path is None:
            continue
        p = Path(path)
        if p.is_dir():
            out.append({"input": role, "path": str(p), "sha256": sha256_folder(p, "part-*.parquet")})
        elif p.is_file():
            out.append({"input": role, "path": str(p), "sha256": sha256_file(p)})
    return out

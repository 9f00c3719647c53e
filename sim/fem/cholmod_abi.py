"""The struct layout of the CHOLMOD this machine has, read from its own header.

The ctypes binding (:mod:`sim.fem.cholmod`) needs a few offsets inside ``cholmod_common`` and
the layout of ``cholmod_sparse``/``cholmod_dense``. They differ between CHOLMOD 3 (SuiteSparse
5, Debian 12) and CHOLMOD 5 (SuiteSparse 7). Rather than guess, the layout is measured: a tiny
C program is compiled against the installed ``cholmod.h`` and prints ``sizeof``/``offsetof``
(once per library version; the result is cached). A bundle carries the layout measured when it
was built (``cholmod-layout.json`` next to the library). Without a matching layout the binding
is not used, and the reason is reported (``twinsight info --system``), never guessed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Measured on Debian 12 (CHOLMOD 3.0.14) with the probe below; used when no compiler is around.
BUILTIN = {
    (3, 0): {"version": [3, 0], "common_size": 2664, "nmethods": 168, "method0_ordering": 316,
             "status": 1972, "supernodal": 48, "print": 144,
             "sparse": [0, 8, 16, 24, 32, 40, 48, 56, 64, 68, 72, 76, 80, 84], "sparse_size": 88,
             "dense": [0, 8, 16, 24, 32, 40, 48, 52], "dense_size": 56},
}
LAYOUT_FILE = "cholmod-layout.json"
HEADER_DIRS = ("/usr/include/suitesparse", "/usr/local/include/suitesparse", "/usr/include",
               "/usr/local/include")

_SPARSE = ("nrow", "ncol", "nzmax", "p", "i", "nz", "x", "z", "stype", "itype", "xtype",
           "dtype", "sorted", "packed")
_DENSE = ("nrow", "ncol", "nzmax", "d", "x", "z", "xtype", "dtype")

_PROBE = r"""
#include <stdio.h>
#include <stddef.h>
#include "cholmod.h"
int main(void) {
  printf("{\"version\": [%d, %d], \"common_size\": %zu, \"nmethods\": %zu, "
         "\"method0_ordering\": %zu, \"status\": %zu, \"supernodal\": %zu, \"print\": %zu, ",
         CHOLMOD_MAIN_VERSION, CHOLMOD_SUB_VERSION, sizeof(cholmod_common),
         offsetof(cholmod_common, nmethods), offsetof(cholmod_common, method[0].ordering),
         offsetof(cholmod_common, status), offsetof(cholmod_common, supernodal),
         offsetof(cholmod_common, print));
  printf("\"sparse\": [@SPARSE_FMT@], \"sparse_size\": %zu, ", @SPARSE_ARGS@,
         sizeof(cholmod_sparse));
  printf("\"dense\": [@DENSE_FMT@], \"dense_size\": %zu}\n", @DENSE_ARGS@,
         sizeof(cholmod_dense));
  return 0;
}
"""


def _probe_source() -> str:
    """The probe, with the field offsets spelled out (printf of each ``offsetof``)."""
    src = _PROBE
    for struct, fields, key in (("cholmod_sparse", _SPARSE, "SPARSE"),
                                ("cholmod_dense", _DENSE, "DENSE")):
        src = src.replace(f"@{key}_FMT@", ", ".join(["%zu"] * len(fields)))
        src = src.replace(f"@{key}_ARGS@", ", ".join(f"offsetof({struct}, {f})" for f in fields))
    return src


def header_dir() -> Path | None:
    for d in HEADER_DIRS:
        if (Path(d) / "cholmod.h").is_file():
            return Path(d)
    return None


def probe(include: Path | None = None, timeout_s: float = 60.0) -> dict[str, Any] | None:
    """Compile and run the probe against ``include``/cholmod.h; None (with a log line) when
    there is no header or no C compiler, or it fails."""
    include = include or header_dir()
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if include is None or cc is None:
        log.info("CHOLMOD layout probe skipped: %s", "no cholmod.h" if include is None
                 else "no C compiler")
        return None
    with tempfile.TemporaryDirectory(prefix="twinsight-cholmod-") as tmp:
        src, exe = Path(tmp) / "probe.c", Path(tmp) / "probe"
        src.write_text(_probe_source())
        try:
            subprocess.run([cc, "-I", str(include), str(src), "-o", str(exe)], check=True,
                           capture_output=True, timeout=timeout_s)
            out = subprocess.run([str(exe)], check=True, capture_output=True, text=True,
                                 timeout=timeout_s).stdout
            return json.loads(out)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            log.info("CHOLMOD layout probe failed: %s", exc)
            return None


def _cache_file(version: tuple[int, int]) -> Path:
    from sim.resources import cache_dir

    return cache_dir() / f"cholmod-layout-{version[0]}.{version[1]}.json"


def layout_for(version: tuple[int, int], library: str | None = None) -> dict[str, Any] | None:
    """The measured layout for the loaded library's ``(main, sub)`` version: a layout file next
    to the library (bundles), the cache, a fresh probe, or the built-in table, in that order."""
    candidates = []
    if library:
        candidates.append(Path(library).with_name(LAYOUT_FILE))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / LAYOUT_FILE)
    with contextlib.suppress(Exception):  # no usable cache folder: probe without caching
        candidates.append(_cache_file(version))
    for path in candidates:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if tuple(doc.get("version", ())) == tuple(version):
            return doc
    doc = probe()
    if doc is not None and tuple(doc["version"]) == tuple(version):
        try:
            from sim.model.atomic import write_text_atomic

            write_text_atomic(_cache_file(version), json.dumps(doc))
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written only costs time
            log.info("CHOLMOD layout not cached: %s", exc)
        return doc
    return BUILTIN.get(tuple(version))

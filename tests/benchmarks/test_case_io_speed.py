"""How fast cases save and open: a CT-sized volume plus a dense surface, plain and encrypted.

Run: .venv/bin/python -m pytest -q -s tests/benchmarks/test_case_io_speed.py
"""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv

from sim.model import Case, ObjectKind, SceneObject
from sim.model.case_io import load_case, save_case

# Targets with margin for a loaded 2-core CI machine (measured figures are printed).
MAX_SAVE_S, MAX_OPEN_S = 20.0, 20.0


def _ct_like_case() -> Case:
    rng = np.random.default_rng(1)
    shape = (256, 256, 160)  # 21 MB of int16 voxels, like a cropped abdominal CT
    z, y, x = np.mgrid[: shape[2], : shape[1], : shape[0]]
    body = ((x - 128) ** 2 + (y - 128) ** 2 < 110 ** 2) * 1040 - 1000
    hu = (body + rng.normal(0, 20, shape[::-1])).astype(np.int16)
    ct = pv.ImageData(dimensions=shape, spacing=(0.8, 0.8, 1.5))
    ct["HU"] = hu.reshape(-1)
    surf = pv.Sphere(radius=60, theta_resolution=400, phi_resolution=250)  # ~200k triangles
    case = Case(name="bench")
    case.scene.add(SceneObject("CT", ObjectKind.VOLUME, ct))
    case.scene.add(SceneObject("Organ", ObjectKind.SURFACE, surf))
    return case


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def test_case_save_and_open_speed(tmp_path, capsys):
    case = _ct_like_case()
    raw_mb = (case.scene["CT"].data["HU"].nbytes + case.scene["Organ"].data.points.nbytes) / 1e6
    rows = []
    for label, kwargs in (("archive", {}), ("folder", {"folder": True}),
                          ("encrypted", {"password": "benchmark password"})):
        path = tmp_path / (f"{label}.twin" if label != "folder" else label)
        _, t_save = _timed(lambda p=path, k=kwargs: save_case(case, p, **k))
        back, t_open = _timed(lambda p=path, k=kwargs: load_case(p, password=k.get("password")))
        assert np.array_equal(back.scene["CT"].data["HU"], case.scene["CT"].data["HU"])
        size = (sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir()
                else path.stat().st_size) / 1e6
        rows.append((label, t_save, t_open, size))
        assert t_save < MAX_SAVE_S and t_open < MAX_OPEN_S
    with capsys.disabled():
        print(f"\ncase of {raw_mb:.1f} MB raw (256x256x160 int16 CT + 200k-triangle surface)")
        for label, t_save, t_open, size in rows:
            print(f"  {label:9s}: save {t_save:5.2f} s, open {t_open:5.2f} s, "
                  f"{size:5.1f} MB on disk")

"""``twinsight register POINTS ORGAN --deformable``: update the organ model to intra-op points.

Rigid ICP, then the FE-regularised deformable fit (:mod:`sim.registration.deformable`).
Embedded structures (``--embedded``: point sets, vessel or tumour meshes, Slicer markups with
trajectories) move with the organ; ``--targets`` gives their true positions (one row per
target point, in order) to report the target registration error. ``-o UPDATED`` writes the
updated organ (and each moved structure beside it, ``UPDATED-stem.<name>.vtp|.mrk.json``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import InputError

if TYPE_CHECKING:  # pyvista (~0.2 s) is imported when the command runs, not at CLI start
    import pyvista as pv


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--deformable", action="store_true",
                   help="update the organ (FIXED, a closed surface) to the points (MOVING) by a "
                        "finite-element deformable registration")
    p.add_argument("--embedded", nargs="+", metavar="STRUCTURE", default=[],
                   help="with --deformable: files of structures inside the organ (points, "
                        "meshes, .mrk.json markups) carried by the deformation")
    p.add_argument("--noise", type=float, metavar="MM", default=1.0,
                   help="with --deformable: the points' position noise (default 1 mm); sets the "
                        "balance between the data and the organ's elasticity")
    p.add_argument("--targets", metavar="TRUE_TARGETS",
                   help="with --deformable: true positions of the embedded targets (point file, "
                        "one point per target in order) to report the registration error")
    p.add_argument("--max-strain", type=float, default=0.3, metavar="FRACTION",
                   help="with --deformable: strain the organ may take (default 0.3)")
    p.add_argument("--material-model", choices=("auto", "linear", "corotational", "neo-hookean"),
                   default="auto",
                   help="with --deformable: linear elasticity, or co-rotational (finite element "
                        "rotations: parts turning by tens of degrees keep their shape); auto "
                        "(default) is co-rotational when the linear fit turns an element > 15 deg; "
                        "neo-hookean then solves the organ to large-strain equilibrium under the "
                        "fitted loads and corrects them (slower; falls back to co-rotational "
                        "with a warning if the solve fails)")


def _points(path: str, what: str) -> np.ndarray:
    from sim.io import load
    from sim.registration.objects import case_geometry

    return np.asarray(case_geometry(load(path), what).points, dtype=np.float64)


def _organ(path: str) -> pv.PolyData:
    import pyvista as pv

    from sim.io import load

    surfaces = [o for o in load(path).scene if isinstance(o.data, pv.PolyData) and o.data.n_cells]
    if not surfaces:
        raise InputError(f"'{path}' holds no organ surface.")
    o = surfaces[0]
    return o.data.transform(o.transform, inplace=False) if o.has_transform else o.data


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "structure"


def _write(out: Path, updated: pv.PolyData, moved: list) -> list[str]:
    import pyvista as pv

    from sim.io.writers import write_mesh
    from sim.markups.slicer import export_markups
    from sim.model.atomic import FILE_MODE

    written = [write_mesh(updated, out)]
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    for s in moved:
        if s.markup is not None:
            written.append(export_markups([s.markup], out.with_name(f"{stem}.{_safe(s.name)}.mrk.json")))
        else:
            data = s.data if isinstance(s.data, pv.PolyData) else s.data.extract_surface()
            written.append(write_mesh(data, out.with_name(f"{stem}.{_safe(s.name)}.vtp")))
    for f in written:
        Path(f).chmod(FILE_MODE)  # patient anatomy: owner-only
    return [str(f) for f in written]


def run_deformable(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.registration.deformable import DeformableModel, DeformableSettings
    from sim.registration.embedded import (
        load_structures,
        move_structures,
        plan_report,
        target_errors,
    )

    if args.landmarks or args.scale or args.refine:
        raise InputError("--deformable runs its own rigid alignment; drop --landmarks, --scale "
                         "and --refine.")
    settings = DeformableSettings(noise_mm=args.noise, max_strain=args.max_strain,
                                  material_model=args.material_model)
    settings.check()
    if args.output and Path(args.output).suffix.lower() not in (".vtp", ".stl", ".ply", ".obj"):
        raise InputError(f"Write the updated organ as .vtp, .stl, .ply or .obj, not "
                         f"'{Path(args.output).name}'.")
    progress = cli_progress()
    pts = _points(args.moving, "points")
    model = DeformableModel(_organ(args.fixed), name=Path(args.fixed).stem, progress=progress)
    structures = load_structures(args.embedded)
    result = model.register(pts, settings, progress=progress)
    moved = move_structures(result, structures)
    out: dict[str, Any] = {"points": str(args.moving), "organ": str(args.fixed),
                           **result.summary(), "constraint_map": result.constraint_map(),
                           "structures": plan_report(result, structures, moved)}
    if args.targets:
        err = target_errors(moved, _points(args.targets, "true targets"))
        rigid_err = target_errors([s.moved(result.move_rigid_only(s.points)) for s in structures],
                                  _points(args.targets, "true targets"))
        out["tre"] = {"mean_mm": float(err.mean()), "max_mm": float(err.max()),
                      "rigid_mean_mm": float(rigid_err.mean()), "per_target_mm": err.tolist()}
    if args.output:
        out["written"] = _write(Path(args.output), result.deformed_surface(), moved)
    if args.json:
        print_json(out)
        return 0 if result.elastic else 1
    _print(out)
    return 0 if result.elastic else 1


def _print(out: dict[str, Any]) -> None:
    print(f"Updated {out['organ']} to {out['points']} (deformable, {out['tetrahedra']} tetrahedra, "
          f"{out['load_patterns']} load patterns)")
    print(f"  residual RMS {out['residual_rms_mm']:.2f} mm at {out['points']} points, "
          f"{out['outliers']} outlier(s); largest deformation {out['max_deformation_mm']:.1f} mm, "
          f"max strain {100 * out['max_strain']:.1f} %")
    cm = out["constraint_map"]
    print(f"  surface well constrained (<= 1 mm): {100 * cm['well_constrained_fraction']:.0f} %, "
          f"poorly (> 3 mm): {100 * cm['poorly_constrained_fraction']:.0f} %")
    if out.get("message"):
        print("  " + out["message"])
    for s in out["structures"]:
        line = (f"  {s['name']}: moved {s['mean_displacement_mm']:.1f} mm on average, "
                f"{s['max_displacement_mm']:.1f} mm at most")
        if "trajectory" in s:
            t = s["trajectory"]
            line += (f"; trajectory turned {t['direction_change_deg']:.1f} deg, length "
                     f"{t['length_change_mm']:+.1f} mm")
        print(line)
    if "tre" in out:
        t = out["tre"]
        print(f"  target registration error: mean {t['mean_mm']:.2f} mm, max {t['max_mm']:.2f} "
              f"mm (rigid alone: {t['rigid_mean_mm']:.2f} mm)")
    for f in out.get("written", []):
        print(f"Wrote {f}")

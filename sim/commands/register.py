"""``twinsight register MOVING FIXED``: align a scan or model to a reference.

Without ``--landmarks`` it runs surface registration (global feature match, then
robust point-to-plane ICP); with it, paired-point registration on the listed
pairs, optionally refined by ICP. Prints fitness / inlier RMS or FRE, and
writes the 4x4 moving -> fixed matrix with ``-o``. When clearly different poses fit
the scan about equally (a flat or nearly symmetric part), it says so, lists the
candidate poses (``"ambiguous": true`` and ``"candidates"`` in ``--json``), writes
no transform and exits with 1: landmarks must decide.
"""

from __future__ import annotations

import argparse

from sim.commands._options import add_command
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "register", run,
                    help="align a scan or mesh (MOVING) to a reference (FIXED)")
    p.add_argument("moving", help="scan or mesh to move (PLY, PCD, XYZ/PTS/CSV, STL, ...)")
    p.add_argument("fixed", help="reference model or cloud")
    p.add_argument("--landmarks", metavar="FILE",
                   help="landmark pairs (CSV: [name,] mx,my,mz,fx,fy,fz a row; or JSON)")
    p.add_argument("--scale", action="store_true",
                   help="with --landmarks: also fit a uniform scale (similarity)")
    p.add_argument("--refine", action="store_true",
                   help="with --landmarks: refine the landmark result by surface ICP")
    p.add_argument("--method", choices=["ransac", "fgr", "none"], default="ransac",
                   help="global initialisation (default ransac; none = ICP from the file pose)")
    p.add_argument("--voxel", type=float, metavar="MM", help="feature voxel size (default auto)")
    p.add_argument("--inlier-distance", type=float, metavar="MM",
                   help="distance that counts as a match for fitness/RMS (default adaptive)")
    p.add_argument("-o", "--output", metavar="TRANSFORM.json", help="write the 4x4 matrix here")
    from sim.commands.register_deformable import add_arguments

    add_arguments(p)


def _positive(value: float | None, what: str) -> None:
    if value is not None and not value > 0:
        raise InputError(f"{what} must be a positive number of millimetres.")


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json, say_written
    from sim.io import load
    from sim.io.transform_file import save_transform
    from sim.registration.landmarks import paired_point, read_landmarks
    from sim.registration.objects import case_geometry
    from sim.registration.surface import register_surface

    if getattr(args, "deformable", False):
        from sim.commands.register_deformable import run_deformable

        return run_deformable(args)
    if getattr(args, "embedded", None) or getattr(args, "targets", None):
        raise InputError("--embedded and --targets only apply with --deformable.")
    _positive(args.voxel, "--voxel")
    _positive(args.inlier_distance, "--inlier-distance")
    if (args.scale or args.refine) and not args.landmarks:
        raise InputError("--scale and --refine only apply with --landmarks.")
    if args.scale and args.refine:
        raise InputError("--refine is rigid; it cannot follow a --scale fit.")
    progress = cli_progress()
    moving = case_geometry(load(args.moving, progress=progress), "moving")
    fixed = case_geometry(load(args.fixed, progress=progress), "fixed")
    if args.landmarks:
        m_pts, f_pts, names = read_landmarks(args.landmarks)
        lm = paired_point(m_pts, f_pts, scale=args.scale, names=names)
        out = lm.summary()
        matrix = lm.matrix
        if args.refine:
            res = register_surface(moving, fixed, init=lm.matrix, voxel_size=args.voxel,
                                   inlier_distance=args.inlier_distance, progress=progress)
            matrix = res.matrix
            out.update({k: v for k, v in res.summary().items() if k != "method"})
            out["method"] += " + ICP"
            out["matrix"] = matrix.tolist()
    else:
        res = register_surface(moving, fixed, method=args.method, voxel_size=args.voxel,
                               inlier_distance=args.inlier_distance, progress=progress)
        out, matrix = res.summary(), res.matrix
        if res.ambiguous:
            return _ambiguous(args, res, out)
    out = {"moving": str(args.moving), "fixed": str(args.fixed), **out}
    if args.output:
        save_transform(args.output, matrix, **{k: v for k, v in out.items() if k != "matrix"})
        out["output"] = str(args.output)
    if args.json:
        print_json(out)
        return 0
    print(f"Registered {args.moving} to {args.fixed} ({out['method']})")
    if "fitness" in out:
        print(f"  fitness {out['fitness']:.4f}, inlier RMS {out['inlier_rms_mm']:.4f} mm "
              f"(inliers within {out['inlier_distance_mm']:.3f} mm)")
    if "fre_rms_mm" in out:
        print(f"  FRE RMS {out['fre_rms_mm']:.4f} mm, max {out['fre_max_mm']:.4f} mm"
              + (f", scale {out['scale']:.6f}" if args.scale else ""))
        for name, err in out["fre_mm"].items():
            print(f"    {name}: {err:.4f} mm")
    for row in matrix:
        print("  " + " ".join(f"{x:12.6f}" for x in row))
    say_written(args.output)
    return 0


def _ambiguous(args: argparse.Namespace, res, out: dict) -> int:
    """Several clearly different poses fit: report them, write no transform, exit 1."""
    from sim.cli import print_json

    out = {"moving": str(args.moving), "fixed": str(args.fixed), **out}
    if args.json:
        print_json(out)
        return 1
    print(f"Could not register {args.moving} to {args.fixed} with confidence ({out['method']}).")
    print("  " + res.message + " No transform was written.")
    for k, c in enumerate(out["candidates"]):
        print(f"  candidate {k + 1}: turned {c['turn_from_best_deg']:6.1f} deg from the first, "
              f"misfit {100 * c['misfit']:.2f} % ({c['source']})")
    print("  Use --landmarks FILE (three or more point pairs), with --refine to finish by ICP.")
    return 1

"""``twinsight inspect MEASURED NOMINAL --tolerance MM``: deviation statistics and report.

Measures the signed deviation of every measured point from the nominal surface,
prints the statistics and out-of-tolerance regions, and writes a PDF or HTML
report with ``-o``. ``--align`` first registers the measured data to the nominal
model; ``--transform`` applies a stored registration instead.
"""

from __future__ import annotations

import argparse
import math

from sim.commands._options import add_command
from sim.errors import InputError, TwinsightError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "inspect", run,
                    help="deviation of a scan (MEASURED) from a model (NOMINAL)")
    p.add_argument("measured", help="scan or mesh as measured")
    p.add_argument("nominal", help="nominal (CAD) model")
    p.add_argument("--tolerance", type=float, required=True, metavar="MM",
                   help="symmetric tolerance band +-MM")
    p.add_argument("--upper", type=float, metavar="MM", help="upper limit (overrides +tolerance)")
    p.add_argument("--lower", type=float, metavar="MM", help="lower limit, negative "
                                                            "(overrides -tolerance)")
    p.add_argument("--max-distance", type=float, metavar="MM",
                   help="points farther than this are unmatched (default 10 x tolerance)")
    p.add_argument("--align", action="store_true", help="register measured to nominal first")
    p.add_argument("--transform", metavar="FILE", help="apply this 4x4 (JSON) to measured first")
    p.add_argument("--at", action="append", default=[], metavar="X,Y,Z",
                   help="callout at this point (repeatable)")
    p.add_argument("--section", action="append", default=[], metavar="PLANE",
                   help="2D section, e.g. 'z=5' or 'ox,oy,oz,nx,ny,nz' (repeatable)")
    p.add_argument("-o", "--output", metavar="REPORT.pdf",
                   help="write an inspection report (.pdf or .html)")


def _point(text: str):
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        vals = []
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise InputError(f"Callout position '{text}' must be three numbers: X,Y,Z.")
    return vals


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from sim.cli import cli_progress, print_json, say_written, use_offscreen_rendering
    from sim.inspection.callouts import callouts_at, out_of_tolerance_regions
    from sim.inspection.deviation import Tolerance, compute_deviation
    from sim.inspection.distance import MeshDistance
    from sim.inspection.sections import parse_plane, section
    from sim.io import load
    from sim.io.transform_file import load_transform
    from sim.progress import sub_progress
    from sim.registration.objects import case_geometry
    from sim.registration.surface import register_surface, transformed

    for value, name in ((args.tolerance, "--tolerance"), (args.max_distance, "--max-distance")):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number of millimetres.")
    if args.align and args.transform:
        raise InputError("Use either --align or --transform, not both.")
    upper = args.tolerance if args.upper is None else args.upper
    lower = -args.tolerance if args.lower is None else args.lower
    tol = Tolerance(lower, upper)
    points = [_point(t) for t in args.at]
    if args.output and not args.output.lower().endswith((".pdf", ".html", ".htm")):
        raise InputError(f"Report '{args.output}' must end in .pdf or .html.")
    progress = cli_progress()
    measured = case_geometry(load(args.measured, progress=progress), "measured")
    nominal = case_geometry(load(args.nominal, progress=progress), "nominal")
    if nominal.n_cells == 0 or (hasattr(nominal, "faces") and nominal.faces.size == 0):
        raise InputError(f"The nominal file '{args.nominal}' has no surface to measure against.")
    alignment = None
    if args.transform:
        measured = transformed(measured, load_transform(args.transform))
        alignment = {"method": f"transform from {args.transform}"}
    elif args.align:
        reg = register_surface(measured, nominal, progress=sub_progress(progress, 0.0, 0.5))
        if reg.ambiguous:  # a deviation map on a guessed pose would show false defects
            raise TwinsightError(
                f"Could not align {args.measured} to {args.nominal} with confidence: "
                f"{reg.message} Register with landmarks (twinsight register --landmarks FILE "
                f"-o T.json) and measure with --transform T.json; nothing was measured.")
        measured = transformed(measured, reg.matrix)
        alignment = reg.summary()
    md = MeshDistance.from_mesh(nominal)
    result = compute_deviation(measured, md, tol, max_distance=args.max_distance,
                               progress=progress)
    spacing = _spacing(result.points)
    regions = out_of_tolerance_regions(result, link_distance=3.0 * spacing)
    callouts = callouts_at(result, np.array(points), radius=3.0 * spacing) if points else []
    sections = [section(result, nominal, *parse_plane(t, nominal.bounds), label=f"S{k + 1}")
                for k, t in enumerate(args.section)]
    from sim.inspection.report import InspectionReport, write_report

    report = InspectionReport(str(args.measured), str(args.nominal), result, nominal,
                              callouts, regions, sections, alignment)
    out = report.summary()
    if args.output:
        use_offscreen_rendering()
        write_report(report, args.output, progress=progress)
        out["report"] = str(args.output)
    if args.json:
        print_json(out)
        return 0
    s = result.stats
    print(f"Deviation of {args.measured} from {args.nominal} "
          f"(tolerance {tol.lower:+.3f}/{tol.upper:+.3f} mm)")
    if alignment and "fitness" in alignment:
        print(f"  aligned: fitness {alignment['fitness']:.4f}, "
              f"inlier RMS {alignment['inlier_rms_mm']:.4f} mm")
    print(f"  points {s.count:,} matched, {s.unmatched:,} unmatched")
    print(f"  mean {s.mean:+.4f}  std {s.std:.4f}  RMS {s.rms:.4f}  "
          f"min {s.min:+.4f}  max {s.max:+.4f} mm")
    print(f"  within tolerance {s.within_pct:.2f} %  (above {s.above_pct:.2f} %, "
          f"below {s.below_pct:.2f} %)")
    for r in regions:
        c = ", ".join(f"{x:.2f}" for x in r.centroid)
        print(f"  {r.label}: {r.status} tolerance, {r.count} points around ({c}), "
              f"worst {r.worst_deviation:+.4f} mm")
    for c in callouts:
        print(f"  {c.label} at ({', '.join(f'{x:.2f}' for x in c.position)}): "
              f"{c.deviation:+.4f} mm ({c.status})")
    say_written(args.output)
    return 0


def _spacing(points) -> float:
    """Typical distance between neighbouring measured points (from a sample)."""
    import numpy as np
    from scipy.spatial import cKDTree

    sample = points[np.linspace(0, len(points) - 1, min(len(points), 2000)).astype(np.int64)]
    if len(sample) < 2:
        return 1.0
    d, _ = cKDTree(points).query(sample, k=2)
    return max(float(np.median(d[:, 1])), 1e-6)

"""``twinsight mesh ...``: check, repair and convert meshes.

The ``mesh`` group is shared: any command module can add a subcommand with
``mesh_subparsers(sub).add_parser("tet", ...)``; the group is created by whichever
module asks first, so the order in which modules register does not matter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.commands._options import add_command
from sim.errors import InputError

_GROUP_ATTR = "_twinsight_mesh_subparsers"


def mesh_subparsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-subparsers of ``twinsight mesh`` (created on first use)."""
    existing = getattr(sub, _GROUP_ATTR, None)
    if existing is None:
        p = sub.add_parser("mesh", help="check, repair, convert and mesh surface models")
        existing = p.add_subparsers(dest="mesh_command", metavar="MESH_COMMAND",
                                    parser_class=type(p))
        p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])
        setattr(sub, _GROUP_ATTR, existing)
    return existing


def _units_arg(p) -> None:
    p.add_argument("--units", choices=["mm", "cm", "m", "in"],
                   help="length unit of unit-less files such as STL/OBJ (default mm)")


def register(sub: argparse._SubParsersAction) -> None:
    group = mesh_subparsers(sub)
    p = add_command(group, "check", run_check,
                    help="report watertightness, defects, components, volume, area")
    p.add_argument("path", help="a mesh or CAD file")
    _units_arg(p)

    p = add_command(group, "repair", run_repair,
                    help="fix what can be fixed and say what was done; never writes a mesh worse "
                         "than the input (exit 1 if nothing could be fixed)")
    p.add_argument("input", help="a mesh file")
    p.add_argument("output", help="repaired mesh (.stl .obj .ply .vtp .vtu .glb)")
    _units_arg(p)
    p.add_argument("--no-fill-holes", action="store_true", help="leave holes open")

    p = group.add_parser("convert", help="convert between mesh formats (and units)")
    p.add_argument("input", help="a mesh or CAD file")
    p.add_argument("output", help="output mesh (.stl .obj .ply .vtp .vtu .glb)")
    _units_arg(p)
    p.add_argument("--out-units", choices=["mm", "cm", "m", "in"], default="mm",
                   help="length unit to write unit-less formats in (default mm)")
    p.add_argument("--chord-tolerance", type=float, default=None,
                   help="STEP/IGES: max distance of the tessellation from the CAD surface, mm")
    p.set_defaults(handler=run_convert)


def _single_mesh(path: str, units: str | None):
    import pyvista as pv

    from sim.cli import cli_progress
    from sim.io import load

    case = load(path, cli_progress(), units=units)
    meshes = [o.data for o in case.scene if not isinstance(o.data, pv.ImageData)]
    if not meshes:
        raise InputError(f"'{path}' contains no mesh.")
    return meshes[0] if len(meshes) == 1 else pv.merge(meshes, merge_points=True)


def _print_report(r) -> None:
    def yes(flag: bool) -> str:
        return "yes" if flag else "NO"

    print(f"triangles: {r.triangles}, vertices: {r.vertices}, components: {r.components}")
    print(f"watertight: {yes(r.watertight)} (boundary edges {r.boundary_edges}, "
          f"non-manifold edges {r.non_manifold_edges})")
    print(f"degenerate faces: {r.degenerate_faces}, duplicate faces: {r.duplicate_faces}")
    print(f"consistent normals: {yes(r.inconsistent_edges == 0)}"
          + (" (pointing inwards)" if r.inverted else ""))
    si = "not tested (mesh too large)" if r.self_intersections is None else r.self_intersections
    print(f"self-intersecting triangle pairs: {si}")
    if r.coincident_vertices:
        print(f"near-coincident vertices: {r.coincident_vertices} (they leave slits; "
              "'mesh repair' welds them)")
    vol = "n/a (not closed)" if r.volume_mm3 is None else f"{r.volume_mm3:.6g} mm3"
    print(f"area: {r.area_mm2:.6g} mm2, volume: {vol}")
    print("OK" if r.ok else "PROBLEMS FOUND")


def run_check(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.io.mesh_check import check_mesh

    report = check_mesh(_single_mesh(args.path, args.units), cli_progress())
    if args.json:
        print_json({"path": str(args.path), **report.as_dict()})
    else:
        _print_report(report)
    return 0


def _written_report(path: Path):
    """Read a written mesh back and check it: what a user will open, format precision and all."""
    from sim.io.mesh_check import check_mesh

    return check_mesh(_single_mesh(str(path), None))


def run_repair(args: argparse.Namespace) -> int:
    """Exit 0 when the mesh is repaired (fully, or partly with the rest listed), 1 when
    nothing could be fixed (the output is then not written); the output is never worse than
    the input on any defect count."""
    import os

    from sim.cli import cli_progress, print_json
    from sim.errors import TwinsightError
    from sim.io.mesh_check import DEFECT_NAMES, worse_defects
    from sim.io.mesh_repair import repair_mesh
    from sim.io.writers import write_mesh

    out = Path(args.output)
    result = repair_mesh(_single_mesh(args.input, args.units), cli_progress(),
                         fill_holes=not args.no_fill_holes)
    written = result.before.ok or result.improved
    if written:
        tmp = out.with_name(f".{out.stem}.repair-check{out.suffix}")
        try:
            write_mesh(result.mesh, tmp)
            worse = worse_defects(result.before, _written_report(tmp))
            if worse:
                why = ", ".join(f"{DEFECT_NAMES[k]} {a} -> {b}" for k, (a, b) in worse.items())
                raise TwinsightError(
                    f"The repaired mesh would be worse than '{args.input}' once written as "
                    f"{out.suffix or 'this format'} ({why}); '{out}' was not written. "
                    "Try a format that keeps double precision, such as .vtp.")
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    if args.json:
        print_json({"input": args.input, "output": args.output, "written": written,
                    "ok": result.after.ok, "improved": result.improved,
                    "actions": result.actions, "undone": result.skipped,
                    "remaining": result.remaining, "notes": result.notes,
                    "defects": result.comparison(),
                    "before": result.before.as_dict(), "after": result.after.as_dict()})
        return 0 if written else 1
    for action in result.actions:
        print(f"- {action}")
    for step in result.skipped:
        print(f"- {step}")
    changed = {k: v for k, v in result.comparison().items() if v["before"] or v["after"]}
    for name, counts in changed.items():
        print(f"  {DEFECT_NAMES[name]}: {counts['before']} -> {counts['after']}")
    for problem in result.remaining:
        print(f"! could not fix: {problem}")
    for note in result.notes:
        print(f"  ({note})")
    if not written:
        print(f"Nothing could be repaired; '{out}' was not written.")
        return 1
    print(f"Wrote {args.output}" + ("" if result.after.ok else " (partly repaired)"))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    import pyvista as pv

    from sim.cli import cli_progress
    from sim.io import load
    from sim.io.writers import write_mesh

    case = load(args.input, cli_progress(), units=args.units, chord_tolerance=args.chord_tolerance)
    objects = [o for o in case.scene if not isinstance(o.data, pv.ImageData)]
    if not objects:
        raise InputError(f"'{args.input}' contains no mesh.")
    write_mesh(objects, args.output, units=args.out_units)
    print(f"Wrote {args.output} ({len(objects)} part(s))")
    return 0

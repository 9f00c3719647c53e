"""``twinsight mesh tet SURFACE -o OUT.vtu [--edge-length L]``: fill a closed surface with tets."""

from __future__ import annotations

import argparse

from sim.commands._options import add_command
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    from sim.commands.mesh import mesh_subparsers

    p = add_command(mesh_subparsers(sub), "tet", run,
                    help="fill a closed surface with a quality tetrahedral mesh (cached)")
    p.add_argument("surface", help="a closed surface (STL, OBJ, PLY, OFF, VTK ...)")
    p.add_argument("-o", "--output", required=True, help="volume mesh to write (.vtu)")
    p.add_argument("--edge-length", type=float, default=None,
                   help="target edge length in mm (default: 1/20 of the bounding-box diagonal)")
    p.add_argument("--method", choices=["auto", "gmsh", "tetwild"], default="auto",
                   help="mesher: gmsh for clean surfaces, fTetWild for imperfect ones "
                        "(default auto: gmsh, falling back to fTetWild)")
    p.add_argument("--order", type=int, choices=[1, 2], default=1, help="element order")
    p.add_argument("--units", choices=["mm", "cm", "m", "in"],
                   help="length unit of unit-less files such as STL (default mm)")
    p.add_argument("--no-cache", action="store_true", help="mesh again even if cached")


def run(args: argparse.Namespace) -> int:
    import os

    from sim.cli import cli_progress, output_path, print_json
    from sim.mesh.tetrahedralize import tetrahedralize_file

    out = output_path(args.output, ".vtu")
    if args.edge_length is not None and not args.edge_length > 0:
        raise InputError(f"Edge length must be a positive number of mm, not {args.edge_length}.")
    mesh, report = tetrahedralize_file(args.surface, args.edge_length, args.method, args.units,
                                       cli_progress(), use_cache=not args.no_cache)
    mesh = mesh.with_order(args.order)
    report.update(mesh.quality())
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.vtu")
    mesh.to_pyvista().save(tmp)
    os.replace(tmp, out)
    report["output"] = str(out)
    if args.json:
        print_json(report)
        return 0
    print(f"{report['elements']} tetrahedra (P{report['order']}), {report['nodes']} nodes, "
          f"by {report['method']}{' (cached)' if report['cached'] else ''}")
    print(f"  dihedral angles {report['min_dihedral_deg']:.1f} .. {report['max_dihedral_deg']:.1f} "
          f"deg, max aspect ratio {report['max_aspect_ratio']:.3g}, "
          f"volume {report['total_volume_mm3']:.6g} mm^3")
    print(f"Wrote {out}")
    return 0

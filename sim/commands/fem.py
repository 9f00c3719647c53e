"""``twinsight fem solve SPEC [--json] [-o RESULT.vtu]``: run a finite-element analysis spec.

``--example NAME`` solves a worked example shipped with the installation (``fem examples``
lists them), so a wheel or bundle can be checked without any files of one's own."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.commands._options import add_command, add_command_group
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    group = add_command_group(sub, "fem", "finite-element analyses", "FEM_COMMAND")
    s = add_command(group, "solve", run_solve, help="solve an analysis spec (JSON or YAML)")
    s.add_argument("spec", nargs="?", help="analysis spec file (.json, .yaml)")
    s.add_argument("--example", metavar="NAME", help="solve a shipped worked example instead")
    s.add_argument("-o", "--output", help="write the mesh with all result fields (.vtu)")
    add_command(group, "examples", run_examples, help="list the shipped worked examples")
    add_command(group, "materials", run_materials, help="list the material library")


def run_solve(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, output_path, print_json, say_written
    from sim.fem.analysis import run_analysis

    out = output_path(args.output or None, ".vtu")
    if (args.spec is None) == (args.example is None):
        raise InputError("Give an analysis spec file or --example NAME (not both).")
    spec = example_path(args.example) if args.example else Path(args.spec)
    result = run_analysis(spec, cli_progress())
    from sim.fem.linsolve import solver_path

    result.summary["linear_solver"] = solver_path()
    if out is not None:
        import os

        tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.vtu")
        result.grid.save(tmp)
        os.replace(tmp, out)
        result.summary["output"] = str(out)
    s = result.summary
    if args.json:
        print_json(s)
        return 0
    print(f"{s['name']}: {s['analysis']} ({s['law']}), {s['mesh']['elements']} P{s['mesh']['order']} "
          f"elements, {s['iterations']} iteration(s), {s['wall_time_s']:.2f} s")
    print(f"  linear solver: {s['linear_solver']}")
    print(f"  max displacement {s['max_displacement_mm']:.4g} mm, "
          f"max von Mises {s['max_von_mises_mpa']:.4g} MPa")
    for name, r in s["reactions_n"].items():
        print(f"  reaction '{name}': [{r[0]:.4g}, {r[1]:.4g}, {r[2]:.4g}] N")
    for name, pr in s["probes"].items():
        d = pr["displacement_mm"]
        print(f"  probe '{name}': u = [{d[0]:.4g}, {d[1]:.4g}, {d[2]:.4g}] mm, "
              f"von Mises {pr['von_mises_mpa']:.4g} MPa")
    say_written(out)
    return 0


def run_materials(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.fem.materials import library_material, library_names

    mats = [library_material(n) for n in library_names()]
    if args.json:
        print_json([{"name": m.name, "youngs_modulus_mpa": m.youngs_modulus,
                     "poisson_ratio": m.poisson_ratio, "density_t_per_mm3": m.density,
                     "law": m.law, "source": m.source} for m in mats])
        return 0
    for m in mats:
        print(f"{m.name:16s} E = {m.youngs_modulus:<10.4g} MPa  nu = {m.poisson_ratio:<5.3g} "
              f"rho = {m.density:.3g} t/mm^3  ({m.law})")
    return 0


def example_paths() -> dict[str, Path]:
    """Name -> spec file of each worked example shipped in the package."""
    from sim.resources import asset_path

    folder = asset_path("fem_examples")
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def example_path(name: str) -> Path:
    examples = example_paths()
    if name not in examples:
        raise InputError(f"No shipped example '{name}' (known: {', '.join(examples) or 'none'}).")
    return examples[name]


def run_examples(args: argparse.Namespace) -> int:
    from sim.cli import print_json

    rows = []
    for name, path in example_paths().items():
        first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        rows.append({"name": name, "path": str(path), "description": first})
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        print(f"{r['name']:14s} {r['description']}")
        print(f"{'':14s} {r['path']}")
    return 0

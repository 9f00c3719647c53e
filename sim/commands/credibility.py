"""``twinsight credibility SPEC [--sweep RESULTS.parquet] -o REPORT.html|pdf [--json]``: a
model-credibility report (ASME V&V 40 factors, FDA reporting outline) for an FE model."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.commands._options import add_command
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "credibility", run,
                    help="model-credibility report (V&V 40 / FDA) for an FE model")
    p.add_argument("spec", help="credibility spec (YAML or JSON): model, question of interest, "
                                "context of use, quantities, risk, limitations")
    p.add_argument("--sweep", help="results folder of a sweep of this model (uncertainty section)")
    p.add_argument("-o", "--output", help="report file (.html or .pdf)")


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.credibility.assess import assess
    from sim.credibility.report import write_credibility_report
    from sim.credibility.spec import read_credibility

    if args.output:
        out = Path(args.output)
        if out.suffix.lower() not in (".html", ".htm", ".pdf"):
            raise InputError(f"Report '{out}' must end in .pdf or .html.")
        if not out.parent.exists():
            raise InputError(f"Folder '{out.parent}' does not exist.")
    if not args.output and not args.json:
        raise InputError("Give -o REPORT.html (or .pdf), or --json.")
    if args.sweep and not Path(args.sweep).is_dir():
        raise InputError(f"There are no sweep results at '{args.sweep}'.")
    spec = read_credibility(args.spec)
    data = assess(spec, args.sweep, cli_progress())
    if args.output:
        data["report"] = str(write_credibility_report(data, args.output))
    if args.json:
        print_json(data)
        return 0
    ok = all(c["passed"] for c in data["code_verification"])
    print(f"{data['name']}: model risk {data['risk']['level']}/5, code verification "
          f"{'passed' if ok else 'FAILED'}")
    calc = data.get("calculation_verification") or {}
    for name, g in (calc.get("gci") or {}).items():
        if "error" not in g:
            print(f"  {name}: GCI {100 * g['gci_fine']:.3g} %, order {g['order']:.3g}, "
                  f"extrapolated {g['extrapolated']:.5g}")
    print(f"Wrote {data['report']}")
    return 0

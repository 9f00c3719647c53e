"""``twinsight place SPEC [--json]``: evaluate, fit or size a device placement.

The spec file (YAML or JSON) is documented in sim/placement/spec.py and the README.
"""

from __future__ import annotations

import argparse

from sim.commands._options import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "place", run,
                    help="evaluate, fit or size a device placement from a spec file")
    p.add_argument("spec", help="placement spec (YAML or JSON): case, structures, device, "
                                "trajectory or pose, action")


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.placement.run import run_spec
    from sim.placement.spec import read_spec

    spec = read_spec(args.spec)
    result, text = run_spec(spec, progress=cli_progress())
    if args.json:
        print_json(result)
    else:
        print(text)
    return 0

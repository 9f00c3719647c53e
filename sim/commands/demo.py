"""``twinsight demo [--out DIR]``: write the generated demo case."""

from __future__ import annotations

import argparse

from sim.commands._options import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "demo", run, help="write the demo phantom case")
    p.add_argument("--out", help="folder to write the case to (default: the demo cache)")


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.demo.cache import demo_case_path, write_demo
    from sim.errors import InputError

    if args.out:
        from pathlib import Path

        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise InputError(f"'{out}' exists and is not a folder.")
        if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
            raise InputError(f"'{out}' is a non-empty folder that is not a case; choose another.")
        path = write_demo(out, progress=cli_progress())
    else:
        path = demo_case_path(progress=cli_progress())
    if args.json:
        print_json({"case": str(path)})
    else:
        print(f"Demo case written to {path}")
    return 0

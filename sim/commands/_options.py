"""Building blocks of the subcommands' argument parsers: every data command takes ``--json``
and names its handler the same way, and a command group prints its help when called bare."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def add_command(group: argparse._SubParsersAction, name: str, handler: Handler, *,
                json: bool = True, **parser_kw: Any) -> argparse.ArgumentParser:
    """Subcommand ``name`` of ``group`` run by ``handler``; with ``json``, it takes ``--json``
    for machine-readable output (exit codes and errors are sim.cli.main's)."""
    p = group.add_parser(name, **parser_kw)
    if json:
        p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handler)
    return p


def add_command_group(sub: argparse._SubParsersAction, name: str, help: str,
                      metavar: str) -> argparse._SubParsersAction:
    """A command of subcommands (``twinsight fem solve``): called without one it prints its help."""
    p = sub.add_parser(name, help=help)
    group = p.add_subparsers(dest=f"{name}_command", metavar=metavar, parser_class=type(p))
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])
    return group

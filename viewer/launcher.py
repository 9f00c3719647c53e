"""The ``twinsight`` console entry point.

With no command it opens the main window on the demo case; ``twinsight open PATH``
opens a file or case. Every other command is :mod:`sim.cli`'s, headless, so this
module imports Qt only when a window is actually wanted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _register_gui_commands(sub) -> None:
    p = sub.add_parser("open", help="open a file or case in the main window")
    p.add_argument("path", nargs="?", help="a mesh, image or case folder (default: the demo)")
    p.add_argument("--grab", metavar="PNG",
                   help="save a picture of the window once the case is shown, then quit")
    p.set_defaults(handler=_run_gui)
    from viewer.xr.cli import register as register_xr  # Qt-free until it runs

    register_xr(sub)


def _run_gui(args) -> int:
    from pathlib import Path

    from sim.errors import InputError

    if args.path and not Path(args.path).exists():
        raise InputError(f"Cannot open '{args.path}': no such file or folder.")
    from viewer.app import run_app

    if args.grab and not Path(args.grab).resolve().parent.is_dir():
        raise InputError(f"Cannot write '{args.grab}': its folder does not exist.")
    return run_app(args.path, grab=args.grab)


def main(argv: Sequence[str] | None = None) -> int:
    from sim.child_process import run_frozen_child
    from sim.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    worker = run_frozen_child(argv)  # a bundle's meshing/CAD worker process, not a command
    if worker is not None:
        return worker
    if not argv:
        argv = ["open"]
    return cli_main(argv, extra=_register_gui_commands)


if __name__ == "__main__":
    sys.exit(main())

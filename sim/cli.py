"""The ``twinsight`` command line: one entry point, one subcommand per task.

Each module in :mod:`sim.commands` registers its subcommands; handlers return an
exit code. Exit codes: 0 success, 2 bad input, 1 failure. Errors are printed as
one plain sentence on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import pkgutil
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim import __version__
from sim.errors import InputError, TwinsightError

log = logging.getLogger("twinsight")

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one sentence with exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"twinsight: error: {message}.", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser(extra: Callable[[Any], None] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="twinsight", description="Twinsight digital-twin workbench.")
    parser.add_argument("--version", action="version", version=f"twinsight {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    import sim.commands

    for info in sorted(pkgutil.iter_modules(sim.commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"sim.commands.{info.name}").register(sub)
    if extra is not None:
        extra(sub)
    return parser


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cli_progress() -> Callable[[float, str], None]:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        return lambda fraction, message: None

    def report(fraction: float, message: str) -> None:
        filled = int(30 * min(max(fraction, 0.0), 1.0))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {message[:40]:<40}")
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def use_offscreen_rendering() -> None:
    """Without a display, make VTK render through EGL instead of failing on X."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def os_error_sentence(exc: OSError) -> str:
    """``exc`` as one sentence naming the file the user asked for (not a temporary sibling)."""
    from sim.model.atomic import TEMP_MARK

    reason = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".")
    reason = reason[:1].lower() + reason[1:]
    if not exc.filename:
        return f"{reason[:1].upper()}{reason[1:]}."
    path = Path(os.fsdecode(exc.filename))
    temp = re.fullmatch(rf"\.(.+)\.[0-9a-f]+{re.escape(TEMP_MARK)}.*", path.name)
    if temp:
        path = path.with_name(temp[1])
    return f"Cannot access '{path}': {reason}."


def main(argv: Sequence[str] | None = None, extra: Callable[[Any], None] | None = None) -> int:
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.handler(args) or EXIT_OK)
    except InputError as exc:
        print(f"twinsight: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TwinsightError as exc:
        print(f"twinsight: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # the system refused a read or write: a failure, said plainly
        log.debug("system error", exc_info=True)
        print(f"twinsight: error: {os_error_sentence(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("twinsight: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, keep the traceback in the log
        log.debug("internal error", exc_info=True)
        print(f"twinsight: internal error: {type(exc).__name__}: {exc} "
              "(run with --verbose for details).", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

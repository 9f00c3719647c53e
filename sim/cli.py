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
        module = importlib.import_module(f"sim.commands.{info.name}")
        if hasattr(module, "register"):  # (a command's helper module registers nothing)
            module.register(sub)
    if extra is not None:
        extra(sub)
    return parser


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069"
                     "\ufeff\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    c = match.group()
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: Any) -> str:
    """``text`` safe to print on a terminal: control characters (ANSI escapes, newlines,
    carriage returns), bidirectional overrides and lone surrogates become visible escapes
    (``\\x1b``, ``\\n`` ...), so a hostile file or case name cannot rewrite the screen or
    forge lines of output."""
    return _UNSAFE.sub(_escape, str(text))


# What no line of output may carry raw: _UNSAFE less the line breaks and tabs output is made of.
_UNSAFE_IN_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f"
                              "\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


class TerminalSafe:
    """A text stream that escapes, in everything written to it, what could rewrite a terminal
    (ANSI escapes, carriage returns, bidi overrides, lone surrogates): every command's output
    is safe whatever names it prints. Names that may hold line breaks go through
    :func:`printable` too, so they cannot forge a line."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_UNSAFE_IN_LINES.sub(_escape, text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def json_safe(data: Any) -> Any:
    """``data`` with every string free of lone surrogates (undecodable bytes of file names
    become ``\\xNN``), so ``--json`` output is valid UTF-8 JSON any parser accepts."""
    if isinstance(data, str):
        return re.sub("[\ud800-\udfff]", _escape, data)
    if isinstance(data, dict):
        return {json_safe(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data


def print_json(data: Any) -> None:
    print(json.dumps(json_safe(data), indent=2, default=lambda v: json_safe(str(v))))


def say_written(*paths: Any) -> None:
    """"Wrote PATH" for each file a command wrote (None: not written)."""
    for path in paths:
        if path is not None:
            print(f"Wrote {path}")


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


def output_path(path: str | None, suffix: str | tuple[str, ...]) -> Path | None:
    """The path a command will write (None when not asked for); InputError if it does not end
    in ``suffix`` (or one of them) or its folder does not exist (checked before any slow work)."""
    from sim.model.atomic import output_file

    if path is None:
        return None
    return output_file(path, (suffix,) if isinstance(suffix, str) else suffix)


def read_secret(file: str | None, env: str, prompt: str, required: bool) -> str | None:
    """A password from the first line of ``file``, else from the environment variable ``env``,
    else (when ``required`` and on a terminal) typed at ``prompt``; None without one. Never
    an argument: argv is visible to every user in the process list."""
    if file:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read the password file '{file}' ({exc}).") from None
        if not lines or not lines[0]:
            raise InputError(f"The password file '{file}' is empty.")
        return lines[0]
    if os.environ.get(env):
        return os.environ[env]
    if required and sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    return None


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
    temp = re.fullmatch(rf"\.(.+)\.[0-9a-f]+(?:-\d+)?{re.escape(TEMP_MARK)}.*", path.name)
    if temp:
        path = path.with_name(temp[1])
    return f"Cannot access '{path}': {reason}."


MAX_MESSAGE = 600  # characters of an error sentence printed (a path plus a reason fit)


def say_error(message: str, prefix: str = "twinsight: error: ") -> None:
    """One line on stderr: escaped (no terminal control from file contents or names) and
    bounded (no page of binary garbage quoted from a broken file)."""
    text = printable(message)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE - 5] + "[...]."
    print(f"{prefix}{text}", file=sys.stderr)


def quiet_libraries(verbose: bool) -> None:
    """Libraries' own chatter (VTK's log, Python warnings from numpy and friends) goes to the
    log at debug level, not onto stderr next to our one sentence."""
    logging.captureWarnings(True)
    if not verbose:
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
        from sim.io.vtk_safe import quiet_native_logs

        quiet_native_logs()


def main(argv: Sequence[str] | None = None, extra: Callable[[Any], None] | None = None) -> int:
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_OK
    quiet_libraries(args.verbose)
    stdout = sys.stdout
    if not isinstance(stdout, TerminalSafe):
        sys.stdout = TerminalSafe(stdout)
    try:
        return int(args.handler(args) or EXIT_OK)
    except InputError as exc:
        say_error(str(exc))
        return EXIT_BAD_INPUT
    except TwinsightError as exc:
        say_error(str(exc))
        return EXIT_FAILURE
    except OSError as exc:  # the system refused a read or write: a failure, said plainly
        log.debug("system error", exc_info=True)
        say_error(os_error_sentence(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("twinsight: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        say_error("This needs more memory than the machine has.")
        return EXIT_FAILURE
    except Exception as exc:  # a bug: say so plainly, keep the traceback in the log
        log.debug("internal error", exc_info=True)
        say_error(f"{type(exc).__name__}: {exc} (run with --verbose for details).",
                  "twinsight: internal error: ")
        return EXIT_FAILURE
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())

"""``twinsight screenshot PATH -o OUT.png``: render a case or file offscreen."""

from __future__ import annotations

import argparse
import re

from sim.errors import InputError


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", text)
    if not m:
        raise InputError(f"Size '{text}' is not of the form WIDTHxHEIGHT, e.g. 1280x800.")
    w, h = int(m[1]), int(m[2])
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise InputError(f"Size '{text}' must be between 16 and 8192 pixels per side.")
    return w, h


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("screenshot", help="render a case or file to a PNG without a window")
    p.add_argument("path", help="a mesh, image or case folder ('demo' for the demo case)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--size", default="1280x800", help="image size WIDTHxHEIGHT (default 1280x800)")
    p.add_argument("--view", choices=list("APLRSI"), type=str.upper,
                   help="anatomical view direction (default A for patient cases)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    from sim.cli import cli_progress, output_path, use_offscreen_rendering
    from sim.demo.cache import demo_case_path
    from sim.io import load

    size = _size(args.size)
    out = output_path(args.output, ".png")
    if out.is_dir():
        raise InputError(f"Output '{out}' is a folder; give a .png file name.")
    path = demo_case_path(cli_progress()) if args.path == "demo" else args.path
    case = load(path, progress=cli_progress())
    use_offscreen_rendering()
    from sim.render import render_case_image

    render_case_image(case, out, size=size, view=args.view)
    print(f"Wrote {out}")
    return 0

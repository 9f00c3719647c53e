"""``twinsight info PATH``: what a file or case contains."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe what a file or case contains")
    p.add_argument("path", help="a mesh, image or case folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--series", metavar="ID",
                   help="DICOM: the series, volume or time series to open (its handle in "
                        "'twinsight dicom list', e.g. 2 or 3.4)")
    # an encrypted case: the same password sources as ``twinsight case``
    p.add_argument("--password-file",
                   help="file whose first line is the password of an encrypted case "
                        "(or set $TWINSIGHT_PASSWORD; asked for in a terminal)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json, printable
    from sim.commands.case import _open
    from sim.io import load

    args.case = args.path  # what _open names in its prompt and messages
    case, _ = _open(args, lambda pw: load(args.path, progress=cli_progress(), password=pw,
                                              series=args.series))
    info = case.summary()
    info["path"] = str(args.path)
    if args.json:
        print_json(info)
        return 0
    print(f"{printable(info['name'])}  ({info['frame']}, {len(info['objects'])} object(s))")
    for o in info["objects"]:
        b = o["bounds_mm"]
        size = " x ".join(f"{b[i + 1] - b[i]:.1f}" for i in (0, 2, 4))
        detail = (f"{'x'.join(map(str, o['dimensions']))} voxels" if "dimensions" in o
                  else f"{o['points']} points, {o['cells']} cells")
        if o.get("time_points"):
            detail += f" x {o['time_points']} time points"
        print(f"  - {printable(o['name'])} [{o['kind']}]: {detail}, extent {size} mm")
    return 0

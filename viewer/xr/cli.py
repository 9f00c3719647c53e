"""``twinsight xr``: check the OpenXR runtime, show a case in the headset, or preview it.

  twinsight xr --check [--json]     which runtime, headset and per-eye resolution (exit 1 if none)
  twinsight xr CASE                 show CASE in the headset (a small window shows the status)
  twinsight xr CASE --preview       side-by-side stereo preview in a window, no headset needed

Registered by :mod:`viewer.launcher` (it needs the GUI stack); Qt is imported only to run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("xr", help="show a case in an OpenXR headset, or check the runtime",
                       description="Show a case in an OpenXR headset (or a stereo preview), "
                                   "or check which OpenXR runtime is installed.")
    p.add_argument("case", nargs="?", help="a case folder/bundle or a mesh/image file")
    p.add_argument("--check", action="store_true",
                   help="report the OpenXR runtime, headset and per-eye resolution, then exit")
    p.add_argument("--json", action="store_true", help="with --check: machine-readable output")
    p.add_argument("--preview", action="store_true",
                   help="side-by-side stereo preview in a window instead of the headset")
    p.add_argument("--resolution-scale", type=float, default=1.0, metavar="S",
                   help="render each eye at S times the runtime's recommended size (default 1)")
    p.add_argument("--frames", type=int, default=0, metavar="N",
                   help="end the headset session after N frames (for scripted runs)")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.check:
        return check(args.json)
    if not args.case:
        raise InputError("Give a case to show (twinsight xr CASE), or use --check.")
    if not Path(args.case).exists():
        raise InputError(f"Cannot open '{args.case}': no such file or folder.")
    if not 0.05 <= args.resolution_scale <= 4.0:
        raise InputError("--resolution-scale must be between 0.05 and 4.")
    from sim.cli import cli_progress
    from sim.io import load

    case = load(args.case, cli_progress())
    return show(case, args)


def check(as_json: bool) -> int:
    from viewer.xr.runtime import XRUnavailable, format_report, runtime_report

    try:
        report = runtime_report()
    except XRUnavailable as exc:
        if as_json:
            print(json.dumps({"available": False, "reason": str(exc)}, indent=2))
        else:
            print(f"twinsight: error: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"available": True, **report}, indent=2))
    else:
        print(format_report(report))
    return 0


def show(case, args) -> int:
    import os

    if not args.preview and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        # No desktop: the headset still works, VTK through EGL and the status window unseen.
        from sim.cli import use_offscreen_rendering

        use_offscreen_rendering()
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Twinsight")
    if args.preview:
        from viewer.xr.preview import XRPreviewWindow

        window = XRPreviewWindow(case)
        window.show()
        return app.exec()
    from viewer.xr.status_window import XRStatusWindow
    from viewer.xr.xr_view import XRViewController

    controller = XRViewController(resolution_scale=args.resolution_scale)
    window = XRStatusWindow(controller, case.name, max_frames=args.frames)
    controller.start(case)  # XRUnavailable propagates: one sentence, exit code 1
    window.show()
    app.exec()
    return 1 if window.error is not None else 0

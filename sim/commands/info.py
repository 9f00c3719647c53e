"""``twinsight info PATH``: what a file or case contains."""

from __future__ import annotations

import argparse

from sim.commands._options import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "info", run, help="describe what a file or case contains (or, with "
                                           "--system, this installation: solvers, rendering, XR)")
    p.add_argument("path", nargs="?", help="a mesh, image or case folder")
    p.add_argument("--system", action="store_true",
                   help="describe this installation: versions, the sparse solver in use "
                        "(and why, when CHOLMOD is not), rendering and the OpenXR loader")
    p.add_argument("--series", metavar="ID",
                   help="DICOM: the series, volume or time series to open (its handle in "
                        "'twinsight dicom list', e.g. 2 or 3.4)")
    # an encrypted case: the same password sources as ``twinsight case``
    p.add_argument("--password-file",
                   help="file whose first line is the password of an encrypted case "
                        "(or set $TWINSIGHT_PASSWORD; asked for in a terminal)")


def system_info() -> dict:
    """This installation, for bug reports and the About box: what runs where, and why."""
    import platform

    import numpy
    import scipy
    from vtkmodules.vtkCommonCore import vtkVersion

    from sim import __version__
    from sim.fem import cholmod
    from sim.fem.linsolve import solver_path

    info = {"twinsight": __version__, "python": platform.python_version(),
            "platform": platform.platform(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "vtk": vtkVersion.GetVTKVersion(),
            "sparse_solver": solver_path(), "cholmod": cholmod.STATUS}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = sorted({f"{p.get('internal_api')} {p.get('version')} "
                               f"({p.get('num_threads')} threads)" for p in threadpool_info()})
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's stack
        info["blas"] = []
    try:
        import xr  # noqa: F401 - pyopenxr: the loader is found when a runtime is used

        info["openxr"] = "pyopenxr installed (the runtime is chosen by XR_RUNTIME_JSON)"
    except Exception as exc:  # noqa: BLE001 - any loader failure is a fact to report
        info["openxr"] = f"not available ({exc})"
    return info


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json, printable
    from sim.commands.case import _open
    from sim.errors import InputError
    from sim.io import load

    if args.system:
        info = system_info()
        if args.json:
            print_json(info)
        else:
            for key, value in info.items():
                print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
        return 0
    if not args.path:
        raise InputError("Name a file or case to describe, or use --system.")

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

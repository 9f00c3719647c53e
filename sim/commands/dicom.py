"""``twinsight dicom list DIR``, ``deidentify IN OUT``; the network commands are in
:mod:`sim.dicomnet.cli`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands._options import add_command, add_command_group
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    group = add_command_group(sub, "dicom", "DICOM: list and de-identify series, receive, query, "
                                            "retrieve and send over the network", "DICOM_COMMAND")

    q = add_command(group, "list", run_list,
                    help="list the image series found under a folder (or the series, volumes "
                         "and time series of one file)")
    q.add_argument("folder", help="folder to scan (recursively), or one DICOM file (its own "
                                  "series, beside it in its folder)")

    q = group.add_parser("deidentify",
                         help="de-identify a DICOM folder (PS3.15 Annex E basic profile)")
    q.add_argument("input", help="folder (or file) with DICOM files")
    q.add_argument("output", help="new folder for the de-identified copies")
    q.add_argument("--keep-private", action="store_true",
                   help="keep private tags (by default they are removed)")
    q.add_argument("--allow-burned-in", action="store_true",
                   help="also write images that may show identifying text burned into their "
                        "pixels (BurnedInAnnotation YES, or ultrasound, secondary capture, "
                        "photographs, other images not declaring NO); by default they are "
                        "refused: the profile cleans attributes, not pixels")
    q.add_argument("--json", action="store_true", help="print the audit as JSON")
    q.set_defaults(handler=run_deidentify)

    from sim.dicomnet.cli import add_commands
    from sim.io.dicom_results_cli import add_commands as add_result_commands

    add_commands(group)
    add_result_commands(group)


def run_list(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.io.dicom_scan import scan_folder
    from sim.io.dicom_series import choices
    from sim.io.readers.dicom import file_choices

    folder = Path(args.folder)
    if folder.is_file():
        _, found = file_choices(folder, cli_progress())
    elif folder.is_dir():
        found = choices(scan_folder(folder, cli_progress()))
    else:
        raise InputError(f"'{folder}' is neither a folder nor a file.")
    rows = [c.summary() for c in found]
    if args.json:
        print_json({"folder": str(folder), "series": rows})
        return 0
    if not rows:
        print(f"No DICOM image series under {folder}.")
        return 0
    for r in rows:
        size = "x".join(str(n) for n in r["size"])
        spacing = " x ".join("?" if v is None else f"{float(v):.3g}" for v in r["spacing_mm"])
        who = " / ".join(x for x in (r["patient"], r["study"]) if x) or "(no patient/study name)"
        volume = f" [{r['volume']}]" if r.get("volume") else ""
        size += " voxels"
        if r.get("time_points"):
            times = r.get("times_s")
            size += f" x {r['time_points']} time points" + (
                f" ({times[0]:g}-{times[-1]:g} s)" if times else "")
        print(f"[{r['id']}] {r['modality'] or '?'} {r['description'] or '(no description)'}"
              f"{volume}: "
              f"{size}, {spacing} mm, {r['files']} file(s); {who}")
        if r.get("time_points"):
            vols = r["volumes"]
            print(f"    one time point alone: --series {vols[0]['id']} ... {vols[-1]['id']} "
                  f"({vols[0]['volume']} ... {vols[-1]['volume']})")
    return 0


def run_deidentify(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.privacy.deidentify import deidentify_folder

    audit = deidentify_folder(Path(args.input), Path(args.output), progress=cli_progress(),
                              keep_private=args.keep_private,
                              allow_burned_in=args.allow_burned_in)
    for warning in audit.warnings:  # on stderr also with --json: never only in the audit
        print(f"twinsight: warning: {warning}.", file=sys.stderr)
    if args.json:
        print_json(audit.as_dict())
    else:
        print(f"De-identified {audit.files_written} file(s) into {args.output}; "
              f"{audit.files_skipped} non-DICOM file(s) skipped.")
        print(f"Audit written to {audit.audit_path}")
    return 0

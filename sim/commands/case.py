"""``twinsight case info|validate|convert``: inspect, check and re-save case bundles.

Passwords of encrypted cases come from ``--password-file``, the environment
variable ``TWINSIGHT_PASSWORD``, or a prompt when run in a terminal; never from
the command line itself (it would show in the process list and shell history).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.commands._options import add_command

PASSWORD_ENV = "TWINSIGHT_PASSWORD"
NEW_PASSWORD_ENV = "TWINSIGHT_NEW_PASSWORD"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="inspect, validate or convert a case (.twin or folder)")
    cmds = p.add_subparsers(dest="case_command", metavar="ACTION", parser_class=type(p))
    p.set_defaults(handler=lambda args: _usage(p))

    info = add_command(cmds, "info", run_info, help="what a case holds (without loading its data)")
    info.add_argument("case", help="a .twin file or case folder")
    _password_option(info)

    val = add_command(cmds, "validate", run_validate,
                      help="check a case completely (schema, checksums, data)")
    val.add_argument("case", help="a .twin file or case folder")
    _password_option(val)

    mk = add_command(cmds, "markups", run_markups,
                     help="list a case's markups; import/export 3D Slicer .mrk.json")
    mk.add_argument("case", help="a .twin file or case folder")
    mk.add_argument("--export", metavar="FILE", help="write the markups to a Slicer .mrk.json")
    mk.add_argument("--ras", action="store_true", help="export in RAS (default LPS)")
    mk.add_argument("--import", dest="import_file", metavar="FILE",
                    help="add the markups of a Slicer .mrk.json and save the case (atomically)")
    _password_option(mk)

    conv = add_command(cmds, "convert", run_convert,
                       help="save a case again: archive, folder, encrypted or not")
    conv.add_argument("case", help="a .twin file or case folder")
    conv.add_argument("out", help="where to write the case")
    conv.add_argument("--folder", action="store_true", help="write the unpacked folder form")
    conv.add_argument("--encrypt", action="store_true",
                      help=f"encrypt the case (new password from --new-password-file, "
                           f"${NEW_PASSWORD_ENV} or a prompt)")
    conv.add_argument("--new-password-file", help="file whose first line is the new password")
    _password_option(conv)


def _usage(parser) -> int:
    parser.print_help()
    return 2


def _password_option(p) -> None:
    p.add_argument("--password-file",
                   help=f"file whose first line is the case password (or set ${PASSWORD_ENV})")


def _open(args, what):
    """Run ``what(password)``, asking for a password only if the case turns out encrypted."""
    from sim.cli import read_secret
    from sim.model.crypto import PasswordRequired

    password = read_secret(args.password_file, PASSWORD_ENV, "", False)
    try:
        return what(password), password
    except PasswordRequired:
        password = read_secret(None, PASSWORD_ENV, f"Password for {args.case}: ", True)
        if password is None:
            raise PasswordRequired(args.case, f" (give it with --password-file or "
                                              f"${PASSWORD_ENV})") from None
        return what(password), password


def run_info(args: argparse.Namespace) -> int:
    from sim.cli import print_json, printable
    from sim.model.case_io import read_manifest

    (manifest, form), _ = _open(args, lambda pw: read_manifest(args.case, pw))
    info = {
        "path": str(args.case), "form": form, "name": manifest.case.name,
        "uid": manifest.case.uid, "anatomical": manifest.case.anatomical,
        "description": manifest.case.description,
        "schema_version": manifest.schema_version, "migrated_from": manifest.migrated_from,
        "app_version": manifest.app_version, "created": manifest.created.isoformat(),
        "modified": manifest.modified.isoformat(),
        "objects": [{"name": o.name, "kind": str(o.kind), "file": o.file,
                     "bytes": manifest.files[o.file].size if o.file in manifest.files else None,
                     "visible": o.visible, "transformed": o.transform is not None}
                    for o in manifest.objects],
        "markups": [{"name": m.name, "type": str(m.type), "points": len(m.points)}
                    for m in manifest.markups],
        "sections": sorted(manifest.sections),
    }
    if args.json:
        print_json(info)
        return 0
    frame = "LPS (mm)" if info["anatomical"] else "part (mm)"
    migrated = f", read from schema {info['migrated_from']}" if info["migrated_from"] else ""
    print(f"{printable(info['name'])}  [{form}, schema {info['schema_version']}{migrated}, {frame}]")
    print(f"  saved by Twinsight {info['app_version']}; created {info['created']}, "
          f"modified {info['modified']}")
    for o in info["objects"]:
        size = f", {o['bytes'] / 1e6:.2f} MB" if o["bytes"] is not None else ""
        print(f"  - {printable(o['name'])} [{o['kind']}] {printable(o['file'])}{size}")
    for m in info["markups"]:
        print(f"  * markup {printable(m['name'])} [{m['type']}], {m['points']} point(s)")
    if info["sections"]:
        print(f"  sections: {printable(', '.join(info['sections']))}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json, printable
    from sim.model.case_io import validate_case

    report, _ = _open(args, lambda pw: validate_case(args.case, pw, cli_progress()))
    if args.json:
        print_json(report)
    else:
        extra = (f"; {len(report['unhashed_files'])} file(s) from an older version have no "
                 f"checksum") if report["unhashed_files"] else ""
        print(f"{printable(args.case)}: valid {report['form']} (schema {report['schema_version']}), "
              f"{report['objects']} object(s), {report['markups']} markup(s) checked{extra}.")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json, printable, read_secret
    from sim.errors import InputError
    from sim.model.case_io import load_case, save_case

    case, _ = _open(args, lambda pw: load_case(args.case, cli_progress(), password=pw))
    new_password = None
    if args.encrypt:
        new_password = read_secret(args.new_password_file, NEW_PASSWORD_ENV,
                                   "New password: ", True)
        if not new_password:
            raise InputError(f"--encrypt needs a password: use --new-password-file or "
                             f"${NEW_PASSWORD_ENV}.")
    out = Path(args.out)
    if out.resolve() == Path(args.case).resolve():
        raise InputError("Write the converted case to a new path, not over its source.")
    save_case(case, out, cli_progress(), password=new_password, folder=bool(args.folder))
    if args.json:
        print_json({"case": str(out), "form": "folder" if args.folder else "archive",
                    "encrypted": new_password is not None})
    else:
        print(f"Wrote {printable(out)}" + (" (encrypted)" if new_password else ""))
    return 0


def run_markups(args: argparse.Namespace) -> int:
    from sim.cli import print_json, printable
    from sim.markups.slicer import export_markups, import_markups
    from sim.model.bundle import FOLDER_FORMS, sniff
    from sim.model.case_io import load_case, save_case

    case, password = _open(args, lambda pw: load_case(args.case, password=pw))
    notes: list[str] = []
    if args.import_file:
        added, notes = import_markups(args.import_file)
        for m in added:
            case.markups.add(m)
        save_case(case, args.case, password=password, folder=sniff(args.case) in FOLDER_FORMS)
    if args.export:
        export_markups(list(case.markups), args.export, "RAS" if args.ras else "LPS")
    rows = [m.summary() for m in case.markups]
    if args.json:
        print_json({"case": str(args.case), "markups": rows, "notes": notes,
                    "exported": args.export})
        return 0
    for m in case.markups:
        print(f"{printable(m.name)} [{m.type}]: {printable(m.measurement_text())}, "
              f"{len(m.points)} point(s)")
    for note in notes:
        print(f"note: {printable(note)}")
    if args.export:
        print(f"Exported {len(rows)} markup(s) to {printable(args.export)} "
              f"({'RAS' if args.ras else 'LPS'}).")
    return 0

"""``twinsight simulate CASE --script ACTIONS.json [--json] [-o RESULT.vtu] [--record REC.json]``.

Runs a scripted interaction (instrument poses, grabs, drags) or replays a recording on a body
of the case, and reports the maximum displacement, peak contact force, peak stress and the
solver's steps per second.
"""

from __future__ import annotations

import argparse
import os

from sim.commands._options import add_command
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "simulate", run,
                    help="scripted interactive deformation (instruments, grabs)")
    p.add_argument("case", help="case, mesh or part holding the body to deform")
    p.add_argument("--script", required=True,
                   help="ACTIONS.json: setup and timed actions, or a recorded session")
    p.add_argument("--body", help="name of the body (default: the script's, else the first "
                                  "closed surface)")
    p.add_argument("--edge-length", type=float, help="tetrahedron size in mm")
    p.add_argument("--mesher", choices=["engine", "sparse"], default="engine",
                   help="engine: surface-conforming tetrahedra (cached); sparse: an instant "
                        "sparse grid enclosing the surface")
    p.add_argument("--units", choices=["mm", "cm", "m", "in"], help="units of a mesh file")
    p.add_argument("-o", "--output", help="write the deformed body with its fields (.vtu)")
    p.add_argument("--record", help="write the session as a recording (.json) to replay")
    p.add_argument("--export", help="render the run: a .mp4 video or a folder of PNG frames")
    p.add_argument("--every", type=int, default=2, help="export every n-th step (default 2)")
    p.add_argument("--field", choices=["von_mises", "max_principal_strain", "displacement"],
                   help="colour the exported frames by this field")


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, output_path, print_json, say_written
    from sim.interaction.body_setup import pick_body, prepare_body
    from sim.interaction.recording import run_timeline, save_recording
    from sim.interaction.script import read_timeline
    from sim.io import load
    from sim.progress import sub_progress

    out = output_path(args.output, ".vtu")
    rec = output_path(args.record, ".json")
    timeline = read_timeline(args.script)
    if args.edge_length is not None and not args.edge_length > 0:
        raise InputError("--edge-length must be a positive number of mm.")
    progress = cli_progress()
    case = load(args.case, sub_progress(progress, 0.0, 0.05), units=args.units)
    obj = pick_body(case, args.body or timeline.body)
    edge = args.edge_length or timeline.edge_length
    mesh, visual, mesh_report = prepare_body(obj, edge, sub_progress(progress, 0.05, 0.3),
                                             mesher=args.mesher)
    if args.export:
        from sim.interaction.export import export_replay

        captured = {}
        exported = export_replay(timeline, mesh, args.export, visual, every=args.every,
                                 field=args.field, progress=sub_progress(progress, 0.3, 1.0),
                                 keep=captured)
        session = captured["session"]
    else:
        session = run_timeline(timeline, mesh, visual, sub_progress(progress, 0.3, 1.0))
    summary = session.summary()
    summary["body"] = obj.name
    summary["mesher"] = mesh_report.get("method")
    if args.export:
        summary["export"] = exported
    if timeline.expected_state is not None:
        summary["replay_matches_recording"] = timeline.expected_state == session.state_digest()
    if out is not None:
        tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.vtu")
        session.result_grid().save(tmp)
        os.replace(tmp, out)
        summary["output"] = str(out)
    if rec is not None:
        save_recording(session, rec, body=obj.name, edge_length=edge)
        summary["recording"] = str(rec)
    if args.json:
        print_json(summary)
        return 0
    print(f"{obj.name}: {summary['tetrahedra']} tetrahedra, {summary['steps']} steps "
          f"({summary['simulated_time_s']:.3g} s simulated) at {summary['steps_per_second']:.1f} "
          "steps/s")
    print(f"  max displacement {summary['max_displacement_mm']:.4g} mm, peak contact force "
          f"{summary['peak_contact_force_n']:.4g} N, peak von Mises "
          f"{summary['peak_von_mises_kpa']:.4g} kPa, max penetration "
          f"{summary['max_penetration_mm']:.3g} mm")
    if "replay_matches_recording" in summary:
        print("  replay matches the recording" if summary["replay_matches_recording"]
              else "  replay DIFFERS from the recording")
    say_written(summary.get("output"), summary.get("recording"))
    return 0

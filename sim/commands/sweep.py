"""``twinsight sweep SWEEP.yaml [--workers N | --scheduler tcp://HOST:8786] [-o RESULTS.parquet]``:
run an uncertainty sweep or virtual cohort on Dask, then analyse it (``--report``, ``--json``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="uncertainty sweeps and virtual cohorts on Dask")
    p.add_argument("spec", help="sweep spec (YAML or JSON): base, parameters/cohort, sampler, qoi")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="worker processes of the local cluster "
                                                   "(default: the machine's cores, at most 8)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler, "
                                           "e.g. tcp://10.0.0.5:8786")
    p.add_argument("-o", "--output", help="results folder (default: SPEC's name + .parquet)")
    p.add_argument("--batch", type=int, help="samples per Dask task (default: 1 for FE and "
                                             "placement, 200 for Python models)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run again the samples recorded as failed")
    p.add_argument("--stall-timeout", type=float, default=None, metavar="S",
                   help="when no sample finishes for S seconds, resubmit the samples in flight; "
                        "one found running at two such stalls is recorded as failed "
                        "(default 900)")
    p.add_argument("--no-run", action="store_true", help="only analyse the results already there")
    p.add_argument("--report", help="write the analysis report (.html or .pdf)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.sweep.analysis import analyse
    from sim.sweep.report import write_sweep_report
    from sim.sweep.runner import run_sweep
    from sim.sweep.spec import read_sweep
    from sim.sweep.store import read_results

    spec = read_sweep(args.spec)
    out = Path(args.output) if args.output else Path(args.spec).with_suffix(".parquet")
    if out.suffix.lower() != ".parquet":
        raise InputError(f"Output '{out}' must be a .parquet results folder.")
    if not out.parent.exists():
        raise InputError(f"Folder '{out.parent}' does not exist.")
    if args.report and Path(args.report).suffix.lower() not in (".html", ".htm", ".pdf"):
        raise InputError(f"Report '{args.report}' must end in .pdf or .html.")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be at least 1.")
    if args.stall_timeout is not None and not args.stall_timeout > 0:
        raise InputError("--stall-timeout must be a positive number of seconds.")
    import distributed  # noqa: F401  (its import sets its loggers' levels: override after it)

    if not args.verbose:  # a killed worker is handled: the library's warnings are not for users
        for name in ("distributed", "distributed.nanny", "distributed.scheduler", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    run_info = None
    if not args.no_run:
        extra = {"stall_s": args.stall_timeout} if args.stall_timeout else {}
        run_info = run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler,
                             batch=args.batch, retry_failed=args.retry_failed,
                             progress=cli_progress(), **extra)
    elif not out.is_dir():
        raise InputError(f"There are no results at '{out}' to analyse.")
    df = read_results(out)
    result = analyse(spec, df)
    result["output"] = str(out)
    if run_info is not None:
        result["run"] = run_info.to_dict()
    if args.report:
        result["report"] = str(write_sweep_report(spec, df, result, args.report))
    if args.json:
        print_json(result)
    else:
        _print_text(result)
    failed = result["samples"]["failed"]
    if failed:  # the sweep is complete, but not every sample has a result: say so in the code
        print(f"{failed} of {result['samples']['expected']} samples failed (their errors are in "
              f"the results; --retry-failed reruns them).", file=sys.stderr)
        return 1
    return 0


def _print_text(r: dict) -> None:
    s = r["samples"]
    if "run" in r:
        ru = r["run"]
        print(f"{r['name']}: ran {ru['run']} sample(s) on {ru['scheduler']} in "
              f"{ru['wall_time_s']:.1f} s ({ru['skipped']} already done)")
    print(f"{s['ok']} of {s['expected']} samples succeeded, {s['failed']} failed; results in {r['output']}")
    for name, per in r["quantities"].items():
        st = per["all"]
        if st.get("n"):
            print(f"  {name}: mean {st['mean']:.4g}, sd {st['std']:.4g}, "
                  f"5-95 % [{st['p5']:.4g}, {st['p95']:.4g}] (n = {st['n']})")
    for f in r["failure"]:
        if f["probability"] is not None:
            print(f"  P({f['event']}) = {f['probability']:.4g} "
                  f"(95 % {f['ci95'][0]:.3g}-{f['ci95'][1]:.3g}, {f['failures']}/{f['n']})")
    for e in r["sensitivity"]:
        if e.get("method") == "sobol":
            vals = ", ".join(f"{p} S1 {a:.3f} ST {b:.3f}" for p, a, b in
                             zip(e["parameters"], e["S1"], e["ST"], strict=True))
            print(f"  Sobol {e['qoi']}: {vals}")
        elif e.get("method") == "morris":
            print(f"  Morris {e['qoi']}: " + ", ".join(
                f"{p} mu* {m:.3g}" for p, m in zip(e["parameters"], e["mu_star"], strict=True)))
        elif e.get("method") == "spearman":
            print(f"  Spearman {e['qoi']}: " + ", ".join(
                f"{p} {v:+.2f}" for p, v in zip(e["parameters"], e["rho"], strict=True)))
    for err in r["errors"][:5]:
        print(f"  failed x{err['count']}: {err['error']}")
    if r.get("report"):
        print(f"Wrote {r['report']}")

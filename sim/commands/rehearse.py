"""``twinsight rehearse``: build a scenario, run a scripted attempt, (re)score an attempt.

    twinsight rehearse CASE --build SCENARIO.json          a first scenario from the case's plan
    twinsight rehearse SCENARIO --case CASE --script ACTIONS.json [--out ATTEMPT.json]
    twinsight rehearse SCENARIO --case CASE --attempt ATTEMPT.json [--json] [--report R.html|.pdf]
                                          [--report R2.pdf ...] [--out RESCORED.json]
    twinsight rehearse CASE --cohort COHORT.csv            the trainees of the case's attempts

SCENARIO is a scenario file or a case holding one (then --case is not needed). Scoring an
attempt replays its recorded inputs and recomputes every metric: the same attempt gives the
same scores every time, and ``replay_matches_recording`` says whether they equal the recorded.
Scores are always computed with the current scoring formula; an attempt recorded with an
older one says so (``rescored``, ``recorded_formula``, ``recorded_score``) and ``--out``
writes it re-scored. ``--cohort`` writes the cohort table (a row per trainee: attempts,
scores, trend, proficiency) of the attempts kept in the case.
"""

from __future__ import annotations

import argparse

from sim.commands._options import add_command
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "rehearse", run,
                    help="rehearsal scenarios: build, run a scripted attempt, score an attempt, "
                         "write its report")
    p.add_argument("scenario", help="scenario .json, or a case holding one (or, with --build, "
                                    "the case to build from)")
    p.add_argument("--case", help="the case the scenario runs on (if SCENARIO is a file)")
    p.add_argument("--build", metavar="SCENARIO.json",
                   help="write a first scenario built from the case's plan")
    p.add_argument("--attempt", help="recorded attempt (.json) to replay and score")
    p.add_argument("--script", help="scripted attempt (.json timed actions) to run and score")
    p.add_argument("--out", help="with --script: write the attempt (.json); with --attempt: "
                                 "write it re-scored with the current formula")
    p.add_argument("--cohort", metavar="COHORT.csv",
                   help="write the cohort table of the attempts kept in the case (CSV)")
    p.add_argument("--history", nargs="*", default=[],
                   help="earlier attempts of the trainee, for the report's progress plot")
    p.add_argument("--report", action="append", default=[],
                   help="write a report (.html or .pdf); repeat it for both from one replay")


def _load_case(path: str):
    from sim.io import load

    return load(path)


def _resolve(args):
    from sim.model.bundle import sniff
    from sim.rehearsal.scenario import read_scenario, scenario_from_case

    if sniff(args.scenario):
        case = _load_case(args.scenario)
        sc = scenario_from_case(case)
        if sc is None:
            raise InputError(f"'{args.scenario}' holds no rehearsal scenario; build one with "
                             "--build or in the app.")
        return sc, case
    sc = read_scenario(args.scenario)
    if not args.case:
        raise InputError("Give the case the scenario runs on with --case.")
    return sc, _load_case(args.case)


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, output_path, print_json, say_written, use_offscreen_rendering
    from sim.rehearsal.attempt import read_attempt, read_script, replay, run_script, save_attempt
    from sim.rehearsal.scenario import save_scenario
    from sim.rehearsal.scoring import FORMULA, what_cost_points
    from sim.rehearsal.session import RehearsalWorld

    if args.build:
        from sim.rehearsal.builder import build_scenario

        out = output_path(args.build, (".json",))
        sc = build_scenario(_load_case(args.scenario))
        save_scenario(sc, out)
        if args.json:
            print_json({"scenario": str(out), "steps": [s.id for s in sc.steps]})
        else:
            print(f"Wrote {out}: {len(sc.steps)} steps ({', '.join(s.title for s in sc.steps)})")
        return 0
    if args.cohort:
        return _cohort(args)
    if bool(args.attempt) == bool(args.script):
        raise InputError("Give either --attempt (a recorded attempt) or --script (a scripted one).")
    reports = [output_path(r, (".html", ".htm", ".pdf")) for r in args.report]
    attempt_out = output_path(args.out, (".json",))
    history = [read_attempt(h) for h in args.history]
    sc, case = _resolve(args)
    progress = cli_progress()
    world = RehearsalWorld(sc, case)
    result: dict = {"scenario": sc.name}
    if args.script:
        attempt = run_script(world, read_script(sc, args.script), progress)
        if attempt_out is not None:
            save_attempt(attempt, attempt_out)
            result["attempt"] = str(attempt_out)
        metrics, scores = attempt.metrics, attempt.scores
    else:
        attempt = read_attempt(args.attempt)
        if reports:  # one replay gives the metrics and the reports' pictures
            from sim.rehearsal.report import write_reports

            use_offscreen_rendering()
            got = []
            write_reports(world, attempt, reports, history, progress, on_replay=got.append)
            rp = got[0]
        else:
            rp = replay(world, attempt, progress)
        metrics, scores = rp.metrics, rp.scores
        result["replay_matches_recording"] = rp.matches
        result["scenario_changed"] = bool(attempt.scenario_digest) and (
            attempt.scenario_digest != sc.digest())
        result["recorded_formula"] = attempt.formula
        result["recorded_score"] = (attempt.scores or {}).get("score")
        result["rescored"] = attempt.formula != FORMULA
        if attempt_out is not None:
            if attempt.formula != FORMULA:
                scores["rescored_from"] = {"formula": attempt.formula,
                                           "score": result["recorded_score"],
                                           "passed": (attempt.scores or {}).get("passed")}
            attempt.metrics, attempt.scores = metrics, scores
            save_attempt(attempt, attempt_out)
            result["attempt"] = str(attempt_out)
    result.update(trainee=attempt.trainee, formula=FORMULA, score=scores["score"],
                  passed=scores["passed"], costs=scores["costs"], steps=scores["steps"],
                  metrics=metrics, osats=attempt.osats)
    if reports and args.script:
        from sim.rehearsal.report import write_reports

        use_offscreen_rendering()
        write_reports(world, attempt, reports, history)
    if reports:  # "report": the first, as before there could be several
        result.update(report=str(reports[0]), reports=[str(r) for r in reports])
    if args.json:
        print_json(result)
        return 0
    print(f"{sc.name}: {'PASSED' if scores['passed'] else 'FAILED'}, score "
          f"{scores['score']:.1f} / 100 in {metrics['total']['time_s']:.1f} s")
    if result.get("rescored"):
        was = result["recorded_score"]
        print(f"  re-scored with scoring formula {FORMULA} (recorded with formula "
              f"{result['recorded_formula']}" + (f": {was:.1f})" if isinstance(was, float | int)
                                                  else ")"))
    for s in scores["steps"]:
        print(f"  {s['title']}: {s['score']:.1f} {'pass' if s['passed'] else 'FAIL'}")
        for c in s["checks"]:
            if not c["passed"]:
                print(f"    failed: {c['criterion']} ({c['measured']})")
    costs = what_cost_points(scores)
    if costs:
        print("  what cost the points:")
        for c in costs:
            print(f"    {c}")
    if "replay_matches_recording" in result:
        print("  replay matches the recording" if result["replay_matches_recording"]
              else "  replay DIFFERS from the recorded metrics")
    say_written(result.get("attempt"), *result.get("reports", ()))
    return 0


def _cohort(args) -> int:
    from sim.cli import output_path, print_json
    from sim.model.bundle import sniff
    from sim.rehearsal.attempt import attempts_from_case
    from sim.rehearsal.learning import Proficiency, cohort, write_cohort_csv
    from sim.rehearsal.scenario import scenario_from_case

    out = output_path(args.cohort, (".csv",))
    if args.attempt or args.script or args.build:
        raise InputError("--cohort reads the attempts kept in the case; give only the case.")
    if not sniff(args.scenario):
        raise InputError(f"'{args.scenario}' is not a case: --cohort reads a case's attempts.")
    case = _load_case(args.scenario)
    attempts = attempts_from_case(case)
    prof = Proficiency.of(scenario_from_case(case))
    rows = cohort(attempts, prof)
    write_cohort_csv(rows, out)
    if args.json:
        print_json({"cohort": str(out), "threshold": prof.score,
                    "consecutive": prof.consecutive, "trainees": rows})
    else:
        print(f"Wrote {out}: {len(rows)} trainee(s), {len(attempts)} attempt(s); "
              f"proficiency: {prof.describe()}")
    return 0

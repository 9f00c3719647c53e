"""``twinsight predict train|rul|evaluate|demo-fleet``: remaining useful life from a fleet."""

from __future__ import annotations

import argparse

from sim.commands._options import add_command, add_command_group
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    psub = add_command_group(sub, "predict", "remaining useful life: train on a fleet, predict, "
                                             "benchmark", "ACTION")

    t = add_command(psub, "train", run_train,
                    help="train a remaining-life model on run-to-failure histories (C-MAPSS "
                         ".txt, .csv, .parquet, history .db)")
    t.add_argument("fleet", nargs="+", metavar="FLEET")
    t.add_argument("-o", "--output", required=True, metavar="MODEL.json")
    t.add_argument("--cap", default="125", metavar="N|none",
                   help="cap the remaining-life target (default 125, the C-MAPSS convention)")

    r = add_command(psub, "rul", run_rul, help="each unit's remaining life at its latest reading")
    r.add_argument("history", nargs="+", metavar="HISTORY.db|FLEET")
    r.add_argument("--model", required=True, metavar="MODEL.json")

    e = add_command(psub, "evaluate", run_evaluate,
                    help="grouped cross-validation by unit on C-MAPSS")
    e.add_argument("--cmapss", required=True, metavar="train_FD001.txt")
    e.add_argument("--folds", type=int, default=5)
    e.add_argument("--cuts", type=int, default=5,
                   help="truncation points scored per held-out engine (default 5)")
    e.add_argument("--seed", type=int, default=0)

    d = psub.add_parser("demo-fleet", help="write run-to-failure histories of the demo pump "
                                           "(wear mode) to train the Live panel's gauge on")
    d.add_argument("-o", "--output", required=True, metavar="FLEET.csv")
    d.add_argument("--units", type=int, default=30)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(handler=run_demo_fleet)


def _cap(text: str) -> float | None:
    if str(text).lower() == "none":
        return None
    try:
        cap = float(text)
    except ValueError:
        raise InputError(f"--cap must be a number of cycles or 'none', not '{text}'.") from None
    if not cap > 0:
        raise InputError("--cap must be positive.")
    return cap


def run_train(args: argparse.Namespace) -> int:
    import time

    from sim.cli import cli_progress, output_path, print_json
    from sim.predict.fleet import read_fleet
    from sim.predict.rul import RulModel
    from sim.progress import sub_progress

    out = output_path(args.output, ".json")
    cap = _cap(args.cap)
    progress = cli_progress()
    fleet = read_fleet(args.fleet, sub_progress(progress, 0.0, 0.1))
    t0 = time.perf_counter()
    model = RulModel.train(fleet, cap=cap, progress=sub_progress(progress, 0.1, 1.0),
                           where=args.fleet[0] if len(args.fleet) == 1 else "the fleet")
    seconds = time.perf_counter() - t0
    model.save(out)
    summary = {"model": str(out), "train_s": round(seconds, 2), "cap": cap,
               "sensors": model.norm.sensors, "trained_on": model.trained_on}
    if args.json:
        print_json(summary)
    else:
        on = model.trained_on
        print(f"Trained on {on['units']} units ({on['rows']} rows, {len(model.norm.sensors)} "
              f"informative sensors) in {seconds:.1f} s; saved {out}.")
    return 0


def run_rul(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.predict.fleet import read_fleet
    from sim.predict.rul import RulModel

    model = RulModel.load(args.model)
    fleet = read_fleet(args.history)
    if not len(fleet):
        raise InputError("The history holds no readings.")
    preds = model.predict(fleet)
    if args.json:
        print_json({"model": args.model, "trained_on": model.trained_on.get("sha256"),
                    "units": [p.to_dict() for p in preds]})
        return 0
    for p in preds:
        print(f"{p.unit}: {p.rul:.1f} left (10-90 %: {p.low:.1f}..{p.high:.1f}) "
              f"at age {p.age:g}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    import time

    from sim.cli import cli_progress, print_json
    from sim.predict.cmapss import evaluate, single_unit_latency
    from sim.predict.fleet import read_fleet
    from sim.predict.rul import RulModel

    fleet = read_fleet(args.cmapss)
    fleet.check_trainable(args.cmapss)
    t0 = time.perf_counter()
    ev = evaluate(fleet, args.folds, args.cuts, args.seed, cli_progress())
    total = time.perf_counter() - t0
    one = RulModel.train(fleet.select(fleet.unit_ids()[: max(2, len(fleet.unit_ids()) // 5)]),
                         rounds=50)
    doc = {**ev.to_dict(), "total_s": round(total, 1),
           "single_unit_ms": round(single_unit_latency(one, fleet), 3)}
    if args.json:
        print_json(doc)
        return 0
    for f in ev.folds:
        print(f"fold {f.fold}: RMSE {f.rmse:.2f}, PHM08 score {f.score:.1f} "
              f"({len(f.engines)} engines x {f.cuts} cuts), trained in {f.train_s:.1f} s, "
              f"{f.predict_ms_per_unit:.3f} ms/unit")
    print(f"all held-out engines: RMSE {ev.rmse:.2f} (fold mean {ev.rmse_fold_mean:.2f}), "
          f"PHM08 score {ev.score:.1f}, 10-90 % interval coverage {ev.coverage_10_90:.2f}; "
          f"one unit at a time {doc['single_unit_ms']:.2f} ms")
    return 0


def run_demo_fleet(args: argparse.Namespace) -> int:
    from sim.cli import output_path
    from sim.predict.fleet import write_csv
    from sim.twin.simulate import wear_fleet

    if args.units < 2:
        raise InputError("--units must be at least 2.")
    out = output_path(args.output, ".csv")
    fleet = wear_fleet(args.units, args.seed)
    write_csv(fleet, out)
    print(f"Wrote {args.units} pump histories ({len(fleet)} rows, seconds) to {out}.")
    return 0

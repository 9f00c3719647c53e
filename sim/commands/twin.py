"""``twinsight twin build|calibrate|replay|sensors|simulate``: the engineering twin (issue #17).

build      CONFIG -o MODEL.npz      solve the unit loads, influence matrices, hot spots
calibrate  HISTORY.db -m MODEL      fit modulus / support stiffness scales (-o: updated model)
replay     HISTORY.db -m MODEL      loads, damage, life and alarms over a recorded history
sensors    CONFIG --suggest N       observability, and where N more gauges would help most
link-config MODEL -o LINK.json      the sensors' topics for `link record --config`
simulate   MODEL -o HISTORY.db      a simulated history (true loads, noise, drift, crack)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands._options import add_command, add_command_group
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    g = add_command_group(sub, "twin", "engineering twin: loads, stress, health, fatigue life",
                          "TWIN_COMMAND")
    b = add_command(g, "build", run_build, help="build a twin model from a twin config (YAML/JSON)")
    b.add_argument("config")
    b.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    c = add_command(g, "calibrate", run_calibrate, help="calibrate model parameters from a history")
    c.add_argument("history")
    c.add_argument("-m", "--model", required=True, help="twin model (.npz)")
    c.add_argument("-o", "--output", help="write the calibrated model here")
    c.add_argument("--params", nargs="+", metavar="P",
                   help="parameters: modulus, support:NAME, channel:NAME, gain:SENSOR, "
                        "offset:SENSOR "
                        "(default: modulus and every support)")
    r = add_command(g, "replay", run_replay, help="run the twin over a recorded history")
    r.add_argument("history")
    r.add_argument("-m", "--model", required=True, help="twin model (.npz)")
    r.add_argument("--predict", action="store_true",
                   help="include loads, damage, remaining life and alarms")
    s = add_command(g, "sensors", run_sensors,
                    help="observability of the loads; suggest more gauges")
    s.add_argument("config", help="twin config or model (.npz)")
    s.add_argument("--suggest", type=int, default=0, metavar="N")
    k = g.add_parser("link-config", help="a link configuration (for link record --config) "
                                         "with the twin's sensors and the demo pump's")
    k.add_argument("model", help="twin model (.npz)")
    k.add_argument("-o", "--output", required=True, help="link configuration (.json)")
    k.set_defaults(handler=run_link_config)
    m = add_command(g, "simulate", run_simulate, help="write a simulated history of the asset")
    m.add_argument("model", help="twin model (.npz)")
    m.add_argument("-o", "--output", required=True, help="history file (.db)")
    m.add_argument("--duration", type=float, default=600.0, metavar="SECONDS")
    m.add_argument("--rate", type=float, default=10.0, metavar="HZ")
    m.add_argument("--drift-at", type=float, default=None, metavar="SECONDS")
    m.add_argument("--crack-at", type=float, default=None, metavar="SECONDS")
    m.add_argument("--seed", type=int, default=0)


def _load_model(path: str):
    from sim.asset.model import AssetModel

    return AssetModel.load(path)


def run_build(args: argparse.Namespace) -> int:
    from sim.asset.config import read_config
    from sim.asset.identify import LoadIdentifier
    from sim.asset.model import build_model
    from sim.cli import cli_progress, output_path, print_json

    out = output_path(args.output, ".npz")
    cfg = read_config(args.config)
    model = build_model(cfg, progress=cli_progress())
    model.save(out)
    obs = LoadIdentifier(model).observability()
    info = {**model.summary(), "output": str(out), "condition": obs.condition,
            "warnings": obs.warnings}
    for w in model.problems + obs.warnings:
        print(f"twinsight: warning: {w}", file=sys.stderr)
    if args.json:
        print_json(info)
    else:
        print(f"{model.name}: {info['nodes']} nodes, {info['elements']} P{info['order']} "
              f"elements, {info['sensors']} sensors, {len(model.channels)} load channels "
              f"(condition {obs.condition:.3g}); hot spots: {', '.join(model.hot_names)}")
        print(f"Wrote {out}")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sim.asset.calibrate import calibrate
    from sim.asset.model import build_model
    from sim.asset.replay import history_samples
    from sim.cli import cli_progress, output_path, print_json, say_written

    out = output_path(args.output or None, ".npz")
    model = _load_model(args.model)
    _, Y, notes = history_samples(model, args.history)
    res = calibrate(model, Y, args.params, progress=cli_progress())
    info = {**res.to_dict(), "notes": notes}
    if out is not None:
        new = res.apply_to(build_model(model.asset_config(), res.params()))
        new = replace(new, calibration=res.to_dict())
        new.save(out)
        info["output"] = str(out)
    if args.json:
        print_json(info)
        return 0
    for n, v, s in zip(res.names, res.values, res.sd, strict=True):
        print(f"  {n}: {v:.4f} x nominal (+- {1.96 * s:.4f}, 95 %)")
    print(f"Residual RMS (whitened) {res.rms_before:.3g} -> {res.rms_after:.3g} over "
          f"{res.samples} samples")
    say_written(out)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from sim.asset.replay import replay
    from sim.cli import cli_progress, print_json

    model = _load_model(args.model)
    res = replay(model, args.history, cli_progress())
    if not args.predict:
        res = {k: res[k] for k in ("t", "samples", "counters", "residual_rms", "findings",
                                   "notes", "duration_s")}
    for n in res.get("notes", []):
        print(f"twinsight: warning: {n}", file=sys.stderr)
    if args.json:
        print_json(res)
        return 0
    print(f"Replayed {res['samples']} samples ({res['duration_s']:.0f} s); residual RMS "
          f"{res['residual_rms']}")
    for c, v in (res.get("loads") or {}).items():
        print(f"  load {c}: {v['value']} {v['unit']} (95 %: {v['interval95']})")
    for h in res.get("hot_spots") or []:
        print(f"  {h['name']}: damage {h['damage']}, remaining life {h['life_days']} days "
              f"(90 % band {h['life_band_days']})")
    for f in res["findings"]:
        print(f"  at {f['t']:.1f} s: {f['message']}")
    return 0


def run_sensors(args: argparse.Namespace) -> int:
    from sim.asset.identify import LoadIdentifier, suggest_sensors
    from sim.cli import print_json

    if args.suggest < 0:
        raise InputError("--suggest must be 0 or more.")
    if Path(args.config).suffix.lower() == ".npz":
        model = _load_model(args.config)
    else:
        from sim.asset.config import read_config
        from sim.asset.model import build_model

        model = build_model(read_config(args.config))
    obs = LoadIdentifier(model).observability()
    sugg = suggest_sensors(model, args.suggest) if args.suggest else []
    info = {"condition": obs.condition, "rank": obs.rank, "channels": model.channels,
            "singular_values": obs.singular_values, "unobservable": obs.unobservable,
            "warnings": obs.warnings + model.problems, "suggestions": sugg}
    if args.json:
        print_json(info)
        return 0
    print(f"{len(model.sensors)} sensors, {len(model.channels)} load channels: rank "
          f"{obs.rank}, condition number {obs.condition:.3g}")
    for w in info["warnings"]:
        print(f"  warning: {w}")
    for s in sugg:
        print(f"  add a strain gauge at {s['point']} along {s['axis']} "
              f"(information +{s['information_gain']:.3g})")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    import math

    import numpy as np

    from sim.asset.truth import TruthSimulator, cracked_model
    from sim.cli import output_path, print_json
    from sim.twin.history import HistoryStore

    out = output_path(args.output, ".db")
    if out.exists():
        raise InputError(f"History '{out}' exists already; give a new file.")
    if not (args.duration > 0 and args.rate > 0):
        raise InputError("--duration and --rate must be positive.")
    model = _load_model(args.model)
    cracked = cracked_model(model.asset_config()) if args.crack_at is not None else None
    sim = TruthSimulator(model, cracked, math.inf if args.crack_at is None else args.crack_at,
                         math.inf if args.drift_at is None else args.drift_at, seed=args.seed)
    t, q, y = sim.history(args.duration, args.rate)
    t0 = 1.7e9
    with HistoryStore(out) as h:
        for k, sid in enumerate(model.sensor_ids):
            for tt, v in zip(t, y[:, k], strict=True):
                h.record("value", sid, t0 + float(tt), float(v))
        for k, c in enumerate(model.channels):
            for tt, v in zip(t[::10], q[::10, k], strict=True):
                h.record("value", f"truth:{c}", t0 + float(tt), float(v))
        h.flush()
    info = {"output": str(out), "samples": int(len(t)), "sensors": model.sensor_ids,
            "drift_sensor": sim.drift_sensor if args.drift_at is not None else None,
            "start_time": t0, "true_load_max": np.abs(q).max(axis=0).round(3).tolist()}
    if args.json:
        print_json(info)
    else:
        print(f"Wrote {len(t)} samples of {len(model.sensor_ids)} sensors to {out}")
    return 0


def run_link_config(args: argparse.Namespace) -> int:
    from sim.asset.truth import link_sensors
    from sim.cli import output_path
    from sim.twin.simulate import demo_config

    out = output_path(args.output, ".json")
    model = _load_model(args.model)
    config = demo_config(model.config.get("base_topic", "twinsight/pump1"))
    have = {s.topic for s in config.sensors}
    config.sensors += [s for s in link_sensors(model) if s.topic not in have]
    import json

    from sim.model.atomic import write_file_atomic

    write_file_atomic(out, lambda f: f.write(json.dumps(config.to_dict(), indent=2).encode()))
    print(f"Wrote {out} ({len(config.sensors)} sensors)")
    return 0

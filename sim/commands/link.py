"""``twinsight link simulate|record|replay|import|config``: the live twin link from the
command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time

from sim.commands._options import add_command, add_command_group


def register(sub: argparse._SubParsersAction) -> None:
    lsub = add_command_group(sub, "link", "live link: simulate, record and replay telemetry and "
                                          "poses", "ACTION")

    def broker_options(q) -> None:
        q.add_argument("--username", help="broker user name (or in the URL)")
        q.add_argument("--password",
                       help="broker password: visible to other users in the process list, "
                            f"prefer --password-file or ${MQTT_PASSWORD_ENV}")
        q.add_argument("--password-file", metavar="FILE",
                       help="file whose first line is the broker password (or set "
                            f"${MQTT_PASSWORD_ENV}; asked for in a terminal when --username "
                            "is given without one)")
        q.add_argument("--ca", dest="ca_certs", help="CA certificate file for mqtts:// brokers")
        q.add_argument("--cert", dest="certfile", help="client certificate for mqtts://")
        q.add_argument("--key", dest="keyfile", help="client key for mqtts://")
        q.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="give up when the broker cannot be reached within this time")

    s = add_command(lsub, "simulate", run_simulate,
                    help="publish a realistic demo stream (pump + stylus)")
    s.add_argument("--mqtt", metavar="URL", help="broker, e.g. mqtt://127.0.0.1:1883")
    s.add_argument("--igtl", metavar="HOST:PORT",
                   help="serve a tracked stylus and ultrasound over OpenIGTLink here")
    s.add_argument("--duration", type=float, default=30.0, metavar="SECONDS")
    s.add_argument("--fault-at", type=float, default=None, metavar="SECONDS",
                   help="when the injected bearing fault starts (default 20; none with --wear)")
    s.add_argument("--wear", action="store_true",
                   help="degrade slowly instead: the bearing wears out and fails after --life")
    s.add_argument("--life", type=float, default=300.0, metavar="SECONDS",
                   help="with --wear: seconds until the pump fails (default 300)")
    s.add_argument("--pose-hz", type=float, default=60.0)
    s.add_argument("--telemetry-hz", type=float, default=10.0)
    s.add_argument("--image-hz", type=float, default=2.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--twin", metavar="MODEL.npz",
                   help="also publish the bracket's strain gauges through this twin model "
                        "(twinsight twin build); 'demo' builds the shipped one")
    s.add_argument("--drift-at", type=float, default=None, metavar="SECONDS",
                   help="with --twin: a gauge starts drifting at this time")
    s.add_argument("--crack-at", type=float, default=None, metavar="SECONDS",
                   help="with --twin: the bend loses 30 %% of its stiffness at this time")
    s.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                   help="with --twin: run the pump's operating cycles X times faster")
    broker_options(s)

    r = add_command(lsub, "record", run_record, help="record a live session into a history file")
    r.add_argument("--mqtt", metavar="URL")
    r.add_argument("--topics", nargs="+", default=[], metavar="T",
                   help="extra MQTT topic filters to record (wildcards allowed)")
    r.add_argument("--config", metavar="TWIN.json",
                   help="sensor/property configuration (default: the demo pump)")
    r.add_argument("--igtl", metavar="HOST:PORT", help="OpenIGTLink peer to connect to")
    r.add_argument("--listen", action="store_true",
                   help="listen on --igtl instead of connecting to it")
    r.add_argument("--peer-frame", choices=("lps", "ras"), default="lps", type=str.lower,
                   help="frame of the peer's poses: lps (default) or ras (3D Slicer; "
                        "converted to our LPS, and the target sent back in RAS)")
    r.add_argument("--image-pose", action="append", default=[], metavar="IMAGE=TRANSFORM",
                   help="place IMAGE by the TRANSFORM of that name (PLUS style, e.g. "
                        "Image_Reference=ImageToReference); repeatable")
    r.add_argument("-o", "--output", required=True, metavar="HISTORY.db")
    r.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this long (default: until Ctrl-C)")
    r.add_argument("--client-id", metavar="ID",
                   help="MQTT client id; the same id again resumes the broker's persistent "
                        "session (messages queued meanwhile are recorded)")
    r.add_argument("--keep-days", type=float, default=None, metavar="DAYS",
                   help="history retention: delete events older than this (default: keep all)")
    r.add_argument("--keep-events", type=int, default=None, metavar="N",
                   help="history retention: keep only the newest N events")
    r.add_argument("--max-peers", type=int, default=None, metavar="N",
                   help="with --listen: OpenIGTLink peers served at once (default 16)")
    r.add_argument("--idle-timeout", type=float, default=None, metavar="SECONDS",
                   help="with --listen: drop an OpenIGTLink peer silent this long "
                        "(default 300)")
    broker_options(r)

    p2 = add_command(lsub, "replay", run_replay,
                     help="summarise, replay or export a recorded session")
    p2.add_argument("history", metavar="HISTORY.db")
    p2.add_argument("--events", action="store_true", help="print every event in time order")
    p2.add_argument("--speed", type=float, default=0.0,
                    help="with --events: 1 = real time, 0 = as fast as possible")
    p2.add_argument("--export", metavar="OUT.csv|OUT.parquet")

    im = add_command(lsub, "import", run_import,
                     help="import a CSV or Parquet table (or C-MAPSS .txt) into a history file, "
                          "with data-quality flags")
    im.add_argument("table", metavar="CSV|PARQUET")
    im.add_argument("-o", "--output", required=True, metavar="HISTORY.db")

    c = lsub.add_parser("config", help="write the demo twin configuration to edit")
    c.add_argument("-o", "--output", required=True, metavar="TWIN.json")
    c.set_defaults(handler=run_config)


MQTT_PASSWORD_ENV = "TWINSIGHT_MQTT_PASSWORD"


def _broker(args):
    """The broker settings; its password from --password-file, $TWINSIGHT_MQTT_PASSWORD or a
    prompt (like case passwords), --password and the URL still work but are visible in ``ps``."""
    from urllib.parse import urlsplit

    from sim.cli import read_secret
    from sim.twin.mqtt_link import BrokerConfig

    url = args.mqtt
    try:
        in_url = urlsplit(url if "://" in url else f"mqtt://{url}").password is not None
    except ValueError:
        in_url = False
    password = args.password
    if password is not None or in_url:
        print("twinsight: warning: a password on the command line (--password or in the URL) "
              "is visible to other users of this computer; use --password-file or "
              f"${MQTT_PASSWORD_ENV} instead.", file=sys.stderr)
    if password is None:
        password = read_secret(args.password_file, MQTT_PASSWORD_ENV,
                                f"Password for the MQTT broker user {args.username}: ",
                                bool(args.username) and not in_url)
    return BrokerConfig.from_url(url, args.username, password or None, args.ca_certs,
                                 args.certfile, args.keyfile)


def _wait(duration: float | None, stop: threading.Event) -> None:
    end = None if duration is None else time.monotonic() + duration
    while not stop.is_set():
        left = None if end is None else end - time.monotonic()
        if left is not None and left <= 0:
            return
        stop.wait(0.2 if left is None else min(left, 0.2))


def run_simulate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sim.cli import print_json
    from sim.errors import InputError
    from sim.twin import simulate
    from sim.twin.igtl_link import IgtlServer
    from sim.twin.instruments import Endpoint
    from sim.twin.mqtt_link import MqttLink

    if not args.mqtt and not args.igtl:
        raise InputError("Give --mqtt URL and/or --igtl HOST:PORT to simulate on.")
    if args.duration <= 0 or min(args.pose_hz, args.telemetry_hz) <= 0:
        raise InputError("--duration and the rates must be positive.")
    if args.wear and not args.life > 0:
        raise InputError("--life must be a positive number of seconds.")
    fault_at = args.fault_at if args.fault_at is not None else (
        float("inf") if args.wear else 20.0)
    mqtt = igtl = None
    try:
        if args.mqtt:
            mqtt = MqttLink(_broker(args)).start()
            mqtt.require_connected(args.timeout)
        if args.igtl:
            ep = Endpoint.parse(args.igtl)
            igtl = IgtlServer(ep.host, ep.port)
            if igtl.warning:
                print(f"twinsight: warning: {igtl.warning}", file=sys.stderr)
        if not args.json:
            where = " and ".join(x for x in (mqtt and mqtt.config.describe(),
                                             igtl and f"igtl://{igtl.host}:{igtl.port}") if x)
            what = (f"wearing out, failing at {args.life:g} s" if args.wear
                    else f"fault at {fault_at:g} s")
            print(f"Simulating the pump and stylus on {where} for {args.duration:g} s "
                  f"({what})…", flush=True)
        gauges = None
        if getattr(args, "twin", None):
            from sim.asset.truth import live_gauges

            gauges = live_gauges(args.twin, args.drift_at, args.crack_at, args.seed,
                                 time_scale=args.time_scale)
        stats = simulate.run(mqtt, igtl, args.duration, args.telemetry_hz, args.pose_hz,
                             args.image_hz, fault_at, args.seed,
                             wear_life=args.life if args.wear else None, gauges=gauges)
    finally:
        if mqtt is not None:
            mqtt.close()
        if igtl is not None:
            igtl.close()
    if args.json:
        print_json(asdict(stats))
    else:
        print(f"Published {stats.telemetry_published} values, sent {stats.poses_sent} poses and "
              f"{stats.images_sent} images, acknowledged {stats.commands_acknowledged} commands.")
    return 0


def run_record(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.errors import InputError
    from sim.twin.instruments import Endpoint, parse_image_poses
    from sim.twin.session import LiveSession
    from sim.twin.simulate import demo_config
    from sim.twin.telemetry import TwinConfig

    if not args.mqtt and not args.igtl:
        raise InputError("Give --mqtt URL and/or --igtl HOST:PORT to record from.")
    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be positive.")
    if args.keep_days is not None and not args.keep_days > 0:
        raise InputError("--keep-days must be positive.")
    if args.keep_events is not None and args.keep_events < 1:
        raise InputError("--keep-events must be at least 1.")
    if args.max_peers is not None and args.max_peers < 1:
        raise InputError("--max-peers must be at least 1.")
    if args.idle_timeout is not None and not args.idle_timeout > 0:
        raise InputError("--idle-timeout must be positive.")
    config = TwinConfig.load(args.config) if args.config else demo_config()
    session = LiveSession(config=config, history=args.output,
                          keep_seconds=None if args.keep_days is None
                          else args.keep_days * 86400.0,
                          keep_events=args.keep_events, max_igtl_peers=args.max_peers,
                          igtl_idle_timeout=args.idle_timeout)
    stop = threading.Event()
    try:
        if args.igtl:
            ep = Endpoint.parse(args.igtl)
            endpoint = session.connect_igtl(ep.host, ep.port, listen=args.listen,
                                            peer_frame=args.peer_frame,
                                            image_poses=parse_image_poses(args.image_pose))
            if endpoint.warning:
                print(f"twinsight: warning: {endpoint.warning}", file=sys.stderr)
        if args.mqtt:
            session.connect_mqtt(_broker(args), args.topics, client_id=args.client_id,
                                 wait=args.timeout)
        if not args.json:
            print(f"Recording to {args.output}" + (" (Ctrl-C to stop)" if args.duration is None
                                                   else f" for {args.duration:g} s") + "…",
                  flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the recording cleanly
            _wait(args.duration, stop)
        if session.history is not None:
            session.history.flush()
        status = session.status()
    finally:
        session.close()
    status["history"]["written"] = session.history.written if session.history else 0
    status["history"]["pruned"] = session.history.pruned if session.history else 0
    _warn_skipped(status)
    if args.json:
        print_json(status)
        return 0
    tel, ig, mq = status["telemetry"], status["igtl"], status["mqtt"]
    print(f"Recorded {status['history']['written']} events "
          f"({status['history']['dropped']} dropped"
          + (f", {status['history']['pruned']} pruned by retention"
             if status["history"]["pruned"] else "") + f") to {args.output}.")
    if mq is not None:
        print(f"  MQTT: {mq['received']} messages, {mq['duplicates']} redeliveries stored "
              f"once, {mq['skipped_oversized']} oversized and {mq['skipped_malformed']} "
              f"malformed skipped, {mq['connects']} connects")
    print(f"  telemetry: {tel['accepted']} accepted, {tel['rejected']} rejected, "
          f"{tel['unbound']} on extra topics")
    if ig is not None:
        print(f"  OpenIGTLink: {ig['received']} messages, {ig['rejected_crc']} bad CRC, "
              f"{ig['rejected_malformed']} malformed, {ig['rejected_unknown_type']} unknown, "
              f"{ig['rejected_not_rigid']} non-rigid poses; {ig['refused_connections']} "
              f"peers refused (limit), {ig['dropped_idle']} idle peers dropped")
    for a in status["alarms"]:
        print(f"  alarm {a['id']} [{a['state']}]: {a['message']}")
    return 0


def _warn_skipped(status: dict) -> None:
    """Say on stderr what was received but not recorded (also in --json runs)."""
    mq, ig = status.get("mqtt"), status.get("igtl")
    if mq and (mq["skipped_oversized"] or mq["skipped_malformed"]):
        print(f"twinsight: warning: skipped {mq['skipped_oversized']} oversized and "
              f"{mq['skipped_malformed']} malformed MQTT messages (not recorded).",
              file=sys.stderr)
    if ig and (ig["rejected_not_rigid"] or ig["refused_connections"]):
        print(f"twinsight: warning: rejected {ig['rejected_not_rigid']} non-rigid OpenIGTLink "
              f"poses and refused {ig['refused_connections']} peers over the limit.",
              file=sys.stderr)


def run_replay(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.errors import InputError
    from sim.twin.history import HistoryStore

    if args.speed < 0:
        raise InputError("--speed must be 0 (as fast as possible) or positive.")
    with HistoryStore.open(args.history) as reader:
        span = reader.time_range()
        summary = {
            "file": str(args.history), "events": reader.count(),
            "start": span[0] if span else None, "end": span[1] if span else None,
            "duration_s": round(span[1] - span[0], 3) if span else 0.0,
            "channels": reader.channels(),
            "alarms": [e.data for e in reader.events(kinds=("alarm",))],
            "commands": [{"t": e.t, "kind": e.kind, "channel": e.channel, "data": e.data}
                         for e in reader.events(kinds=("command", "ack"))],
        }
        if args.export:
            summary["exported_rows"] = reader.export(args.export)
            summary["exported_to"] = str(args.export)
        if args.events:
            _play(reader, args.speed, as_json=args.json)
            return 0
    if args.json:
        print_json(summary)
        return 0
    print(f"{summary['file']}: {summary['events']} events over {summary['duration_s']:g} s")
    for c in summary["channels"]:
        stats = (f", {c['min']:.4g}..{c['max']:.4g} (mean {c['mean']:.4g})"
                 if c["mean"] is not None else "")
        print(f"  {c['kind']:<8} {c['channel']:<28} {c['count']:>7}{stats}")
    for a in summary["alarms"]:
        if isinstance(a, dict):
            print(f"  alarm {a.get('id')} [{a.get('state')}]: {a.get('message')}")
    if args.export:
        print(f"Exported {summary['exported_rows']} rows to {args.export}.")
    return 0


def _play(reader, speed: float, as_json: bool) -> None:
    import json

    start_wall, first = time.monotonic(), None
    for ev in reader.events():
        if first is None:
            first = ev.t
        if speed > 0:
            delay = (ev.t - first) / speed - (time.monotonic() - start_wall)
            if delay > 0:
                time.sleep(delay)
        if as_json:
            print(json.dumps({"t": ev.t, "kind": ev.kind, "channel": ev.channel,
                              "value": ev.value, "data": ev.data}), flush=speed > 0)
        else:
            shown = ev.value if ev.value is not None else ev.data
            print(f"{ev.t:.3f} {ev.kind:<8} {ev.channel:<24} {shown}", flush=speed > 0)


def run_import(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.predict.history_fleet import import_table

    summary = import_table(args.table, args.output, cli_progress())
    if args.json:
        print_json(summary)
        return 0
    flagged = {c: n for c, n in summary["flagged"].items() if n}
    print(f"Imported {summary['readings']} readings of {len(summary['channels'])} channels"
          + (f" ({summary['units']} units)" if summary["units"] > 1 else "")
          + f" into {summary['file']}.")
    if flagged:
        print("  flagged: " + ", ".join(f"{c} {n}" for c, n in flagged.items()))
    return 0


def run_config(args: argparse.Namespace) -> int:
    from sim.twin.simulate import demo_config

    demo_config().save(args.output)
    print(f"Wrote the demo twin configuration to {args.output}.")
    return 0

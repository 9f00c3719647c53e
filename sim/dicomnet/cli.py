"""``twinsight dicom listen|echo|query|retrieve|send|stored|peers|peer-add|peer-remove``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from sim.commands._options import add_command
from sim.errors import InputError


def add_commands(group: argparse._SubParsersAction) -> None:
    q = _network_command(group, "listen", run_listen, json=False,
                         help="receive DICOM (C-ECHO, C-STORE) from configured peers into the "
                              "local store until Ctrl-C")
    q.add_argument("--ae-title", help="our AE title (default from the configuration, TWINSIGHT)")
    q.add_argument("--port", type=int, help="port (default from the configuration, 11112)")
    q.add_argument("--bind", help="address to listen on (default 127.0.0.1: this machine only)")
    q.add_argument("--store", help="store folder (default from the configuration)")
    q.add_argument("--deidentify", action="store_true",
                   help="de-identify instances on arrival (PS3.15 basic profile)")
    q.add_argument("--tls", action="store_true", help="DICOM TLS (certificate, key, ca in the "
                                                     "configuration's 'tls')")
    q.add_argument("--duration", type=float, help="stop after this many seconds")

    _network_command(group, "echo", run_echo, help="C-ECHO a configured peer", peer=True)

    q = _network_command(group, "query", run_query,
                         help="C-FIND on a peer (patient, study or series level)", peer=True)
    q.add_argument("--level", default="study", choices=("patient", "study", "series"))
    q.add_argument("--name", help="patient name or part of it; '-' reads it from stdin "
                                  "(a value here is visible to other users in the process list)")
    q.add_argument("--id", help="patient ID; '-' reads it from stdin (after the name)")
    q.add_argument("--date", help="study date YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    q.add_argument("--modality", help="modality, e.g. CT")
    q.add_argument("--study", help="Study Instance UID (series level: the study's series)")

    q = _network_command(group, "retrieve", run_retrieve,
                         help="C-MOVE or C-GET a study or series into the store", peer=True)
    q.add_argument("--study", required=True, help="Study Instance UID")
    q.add_argument("--series", default="", help="Series Instance UID (default: the whole study)")
    q.add_argument("--method", default="move", choices=("move", "get"),
                   help="move: the peer sends to our receiver (it must know us); get: over the "
                        "same association")
    q.add_argument("--deidentify", action="store_true", help="de-identify on arrival")

    q = _network_command(group, "send", run_send, help="C-STORE files or folders to a peer",
                         peer=True)
    q.add_argument("paths", nargs="+", help="DICOM files or folders")

    q = _network_command(group, "stored", run_stored, help="list the series in the local store")
    q.add_argument("--modality", default="")

    _network_command(group, "peers", run_peers,
                         help="show the DICOM network configuration and its peers")

    q = _network_command(group, "peer-add", run_peer_add, json=False,
                         help="add (or replace) a peer in the configuration")
    q.add_argument("name")
    q.add_argument("--ae-title", required=True)
    q.add_argument("--host", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--tls", action="store_true")

    q = _network_command(group, "peer-remove", run_peer_remove, json=False,
                         help="remove a peer from the configuration")
    q.add_argument("name")


def _network_command(group: argparse._SubParsersAction, name: str, handler: Any, help: str, *,
                     json: bool = True, peer: bool = False) -> argparse.ArgumentParser:
    """A DICOM network command: it reads the network configuration (``--config``) and, with
    ``peer``, names one of its peers."""
    q = add_command(group, name, handler, json=json, help=help)
    q.add_argument("--config", help="DICOM network configuration (JSON; default "
                                    "$TWINSIGHT_DICOM_CONFIG or ~/.config/twinsight/dicom.json)")
    if peer:
        q.add_argument("peer", help="peer name in the configuration")
    return q


def _config(args: argparse.Namespace) -> Any:
    from sim.dicomnet.peers import load_config

    return load_config(args.config)


def run_listen(args: argparse.Namespace) -> int:
    from sim.dicomnet.peers import check_ae, check_port
    from sim.dicomnet.receiver import Receiver
    from sim.dicomnet.store import Store

    config = _config(args)
    if args.ae_title:
        config.ae_title = check_ae(args.ae_title, "this workstation")
    if args.port is not None:
        config.port = check_port(args.port, "this workstation")
    if args.bind:
        config.bind = args.bind
    if args.store:
        config.store = args.store
    if config.bind not in ("127.0.0.1", "localhost", "::1"):
        print(f"twinsight: warning: listening on {config.bind}: other machines can reach the "
              "receiver (only configured peers are accepted"
              f"{'' if args.tls else '; without --tls the images cross the network unencrypted'}"
              ").", file=sys.stderr)
    if not config.peers:
        print("twinsight: warning: no DICOM peers are configured, so every association will be "
              "refused; add one with 'twinsight dicom peer-add'.", file=sys.stderr)
    receiver = Receiver(config, Store(config.store_path()),
                        deidentify=args.deidentify or config.deidentify, tls=args.tls)
    stop = threading.Event()

    def show(record: dict) -> None:
        if record.get("event") != "association":
            return
        who = f"{record.get('calling_ae', '?')}@{record.get('address', '?')}"
        if record.get("result") == "rejected":
            print(f"Refused {who}: {record.get('reason')}", flush=True)
        else:
            print(f"{who}: {record.get('instances', 0)} instance(s) stored, "
                  f"{record.get('failed', 0)} failed, {record.get('refused', 0)} refused, "
                  f"{record.get('echoes', 0)} echo(es)", flush=True)

    receiver.audit.listeners.append(show)
    port = receiver.start()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(f"Listening as {config.ae_title} on {config.bind}:{port}"
              f"{' (TLS)' if args.tls else ''}; storing into {receiver.store.root}"
              f"{' (de-identified)' if receiver.handler.deidentify else ''}; peers allowed: "
              f"{', '.join(p.describe() for p in config.peers.values()) or 'none'}", flush=True)
        stop.wait(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        receiver.stop()
    print("Receiver stopped.", flush=True)
    return 0


def run_echo(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.dicomnet.association import echo

    config = _config(args)
    peer = config.peer(args.peer)
    seconds = echo(config, peer)
    if args.json:
        print_json({"peer": peer.name, "ok": True, "seconds": round(seconds, 4)})
    else:
        print(f"{peer.describe()} answered in {seconds * 1000:.0f} ms.")
    return 0


def _from_stdin(value: str | None, what: str) -> str:
    if value is None:
        return ""
    if value == "-":
        line = sys.stdin.readline()
        if not line:
            raise InputError(f"No {what} on standard input.")
        return line.strip()
    print(f"twinsight: warning: the {what} given on the command line is visible to other "
          f"users in the process list; use '--{what.split()[-1]} -' to read it from stdin.",
          file=sys.stderr)
    return value


def run_query(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.dicomnet.query import find

    config = _config(args)
    peer = config.peer(args.peer)
    filters = {"patient_name": _from_stdin(args.name, "patient name"),
               "patient_id": _from_stdin(args.id, "patient id"),
               "date": args.date or "", "modality": args.modality or "",
               "study_uid": args.study or ""}
    rows = find(config, peer, args.level.upper(), filters)
    if args.json:
        print_json({"peer": peer.name, "level": args.level, "matches": rows})
        return 0
    if not rows:
        print("No matches.")
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items() if v))
    return 0


def run_retrieve(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.dicomnet.query import get, move
    from sim.dicomnet.store import Store

    config = _config(args)
    peer = config.peer(args.peer)
    if args.deidentify:
        config.deidentify = True
    store = Store(config.store_path())
    if args.method == "get":
        result = get(config, peer, args.study, args.series, store, progress=cli_progress())
    else:
        result = move(config, peer, args.study, args.series, store, progress=cli_progress())
    folders = {uid: str(store.series_folder(uid)) for uid in result["series"]}
    if args.json:
        print_json({**result, "folders": folders})
    else:
        print(f"Retrieved {result['completed']} instance(s) ({result['failed']} failed) into "
              f"{store.root}")
        for uid, folder in folders.items():
            print(f"  series {uid}: {folder}")
    return 0


def run_send(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.dicomnet.send import send

    config = _config(args)
    peer = config.peer(args.peer)
    result = send(config, peer, args.paths, cli_progress())
    if args.json:
        print_json(result.as_dict())
    else:
        print(f"Sent {result.sent} instance(s) to {peer.describe()}; {result.failed} failed, "
              f"{len(result.skipped)} non-DICOM file(s) skipped.")
    return 0 if not result.failed else 1


def run_stored(args: argparse.Namespace) -> int:
    from sim.cli import print_json
    from sim.dicomnet.store import Store

    store = Store(_config(args).store_path())
    rows = store.series(modality=args.modality)
    for r in rows:
        r["folder"] = str(store.series_folder(r["series_uid"]))
    if args.json:
        print_json({"store": str(store.root), "series": rows})
        return 0
    if not rows:
        print(f"The store {store.root} is empty.")
    for r in rows:
        print(f"{r['patient_name'] or '(no name)'} [{r['patient_id']}] {r['study_date']} "
              f"{r['modality']} {r['series_description'] or '(no description)'}: "
              f"{r['instances']} instance(s) in {r['folder']}")
    return 0


def run_peers(args: argparse.Namespace) -> int:
    from sim.cli import print_json

    config = _config(args)
    if args.json:
        print_json({**config.as_dict(), "config": config.path,
                    "store_folder": str(config.store_path())})
        return 0
    print(f"Configuration: {config.path}")
    print(f"This workstation: {config.ae_title} on {config.bind}:{config.port}; "
          f"store {config.store_path()}")
    for p in config.peers.values():
        print(f"  {p.describe()}")
    if not config.peers:
        print("  (no peers)")
    return 0


def run_peer_add(args: argparse.Namespace) -> int:
    from sim.dicomnet.peers import Peer, check_ae, check_port, save_config

    config = _config(args)
    config.peers[args.name] = Peer(args.name, check_ae(args.ae_title, f"peer '{args.name}'"),
                                   args.host, check_port(args.port, f"peer '{args.name}'"), args.tls)
    path = save_config(config, args.config)
    print(f"Peer {config.peers[args.name].describe()} saved in {path}.")
    return 0


def run_peer_remove(args: argparse.Namespace) -> int:
    from sim.dicomnet.peers import save_config

    config = _config(args)
    config.peer(args.name)
    del config.peers[args.name]
    path = save_config(config, args.config)
    print(f"Peer '{args.name}' removed from {path}.")
    return 0

"""``twinsight link simulate | record | replay`` end to end with a real broker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from sim.cli import main


def test_simulate_record_replay(broker, tmp_path, free_port, capsys):
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "link", "simulate", "--mqtt", broker.url,
         "--igtl", f"127.0.0.1:{port}", "--duration", "5", "--fault-at", "1.5", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30  # wait until the simulator serves (imports take time)
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        db = tmp_path / "session.db"
        rc = main(["link", "record", "--mqtt", broker.url, "--topics", "extra/#",
                   "--igtl", f"127.0.0.1:{port}", "-o", str(db), "--duration", "3.5", "--json"])
        assert rc == 0
        status = json.loads(capsys.readouterr().out)
        out, err = sim.communicate(timeout=30)
    finally:
        if sim.poll() is None:
            sim.kill()
    assert sim.returncode == 0, err
    stats = json.loads(out)
    assert stats["telemetry_published"] > 50 and stats["poses_sent"] > 60
    assert status["telemetry"]["accepted"] > 50 and status["telemetry"]["rejected"] == 0
    assert status["igtl"]["received"] > 60 and status["history"]["dropped"] == 0
    assert status["tools"]["StylusToTracker"]["updates"] > 60

    assert main(["link", "replay", str(db), "--json", "--export", str(tmp_path / "x.csv")]) == 0
    summary = json.loads(capsys.readouterr().out)
    chans = {(c["kind"], c["channel"]): c for c in summary["channels"]}
    for sensor in ("temp_bend", "temp_foot", "temp_top", "vibration", "strain_bend"):
        assert chans[("value", sensor)]["count"] >= 10
    assert chans[("pose", "StylusToTracker")]["count"] > 60
    assert ("image", "Image_Reference") in chans and ("reported", "speed") in chans
    kinds = {(a["sensor"], a["kind"]) for a in summary["alarms"]}
    assert ("vibration", "high") in kinds  # the injected fault was noticed
    assert summary["exported_rows"] == summary["events"]

    assert main(["link", "replay", str(db), "--events", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == summary["events"]
    times = [json.loads(x)["t"] for x in lines]
    assert times == sorted(times)


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["link", "record", "-o", str(tmp_path / "h.db")]) == 2
    assert main(["link", "simulate", "--igtl", "nohost:abc"]) == 2
    assert main(["link", "replay", str(tmp_path / "missing.db")]) == 2
    assert main(["link", "record", "--mqtt", "http://x", "-o", str(tmp_path / "h.db")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "HOST:PORT" in err


def test_unreachable_broker_is_a_failure_not_a_hang(tmp_path, free_port, capsys):
    port = free_port()
    rc = main(["link", "simulate", "--mqtt", f"mqtt://127.0.0.1:{port}", "--duration", "1",
               "--timeout", "0.5"])
    assert rc == 1
    assert "Cannot connect" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["link", "config", "-o", "{tmp}/twin.json"]])
def test_config_writes_loadable_file(tmp_path, argv):
    from sim.twin.telemetry import TwinConfig

    assert main([a.format(tmp=tmp_path) for a in argv]) == 0
    assert len(TwinConfig.load(tmp_path / "twin.json").sensors) == 5


def test_record_listening_for_a_pyigtl_peer(tmp_path, free_port, capsys, record_from_peer):
    import numpy as np
    import pyigtl

    db = tmp_path / "listen.db"

    def sent():
        m = np.eye(4)
        for i in range(20):
            m[0, 3] = i
            yield pyigtl.TransformMessage(m, device_name="Needle")
        yield pyigtl.StringMessage("done", device_name="Note")

    rc = record_from_peer(free_port(), sent(), ["-o", str(db), "--duration", "2.5", "--json"])
    assert rc == 0
    status = json.loads(capsys.readouterr().out)
    assert status["igtl"]["received"] == 21 and status["tools"]["Needle"]["updates"] == 20
    assert main(["link", "replay", str(db), "--json"]) == 0
    chans = {(c["kind"], c["channel"]): c for c in json.loads(capsys.readouterr().out)["channels"]}
    assert chans[("pose", "Needle")]["count"] == 20 and chans[("string", "Note")]["count"] == 1

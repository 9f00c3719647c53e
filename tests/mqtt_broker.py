"""A real mosquitto broker on 127.0.0.1 for the MQTT tests (link, Live panel, ingest benchmark).

Import ``broker_url_fixture`` into a test module to use ``broker_url``: a running broker's URL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a peer cleanly with SIGTERM (mosquitto saves its persistence database, Orthanc its
    index), killing it if it has not exited within 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def paho_client(url: str, client_id: str):
    """paho-mqtt, an independent MQTT implementation, as the asset's side: a persistent
    session (clean_session=False) with unlimited in-flight and queued messages, looping."""
    from sim.twin.mqtt_link import BrokerConfig

    mqtt = pytest.importorskip("paho.mqtt.client")
    cfg = BrokerConfig.from_url(url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    c.connect(cfg.host, cfg.port)
    c.loop_start()
    return c


def skip_without_mosquitto() -> None:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (packaging/setup-env.sh installs it)")


class Broker:
    """A real mosquitto on 127.0.0.1 with persistence (so QoS 1 survives a restart)."""

    def __init__(self, folder: Path, port: int | None = None, extra: str = "") -> None:
        self.folder = folder
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
            # As root mosquitto would drop to user 'mosquitto', who cannot read pytest's tmp.
            + ("user root\n" if os.geteuid() == 0 else "") + extra)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto failed: {self.proc.stderr.read().decode()}") \
                        from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None


@pytest.fixture(name="broker_url")
def broker_url_fixture(tmp_path):
    """The URL of a broker running for this test (in ``tmp_path/broker``)."""
    skip_without_mosquitto()
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder)
    broker.start()
    yield broker.url
    broker.stop()

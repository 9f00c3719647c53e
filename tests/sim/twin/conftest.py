"""Real peers for the link tests: pyigtl (the other OpenIGTLink end) and a mosquitto broker."""

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(predicate, timeout: float = 5.0, interval: float = 0.005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@pytest.fixture
def free_port():
    """A function returning an unused loopback TCP port."""
    return _free_port


@pytest.fixture
def wait_until():
    """A function polling ``predicate`` until true or a timeout; returns the last result."""
    return _wait_until


@pytest.fixture
def pyigtl_server_factory():
    """Start pyigtl servers on loopback; restore the signal handlers pyigtl replaces."""
    pyigtl = pytest.importorskip("pyigtl")
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    servers = []

    def start(port: int | None = None):
        srv = pyigtl.OpenIGTLinkServer(port=port or _free_port(), local_server=True)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        if not srv.communication_thread_stop_requested:
            srv.stop()
    for s, h in saved.items():
        signal.signal(s, h)


class Broker:
    """A real mosquitto on 127.0.0.1 with persistence (so QoS 1 survives a restart)."""

    def __init__(self, folder: Path, port: int | None = None, extra: str = "") -> None:
        self.folder = folder
        self.port = port or _free_port()
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
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # saves the persistence database
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def broker_factory(tmp_path):
    """Make (not start) brokers in fresh folders; all are stopped at the end."""
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (packaging/setup-env.sh installs it)")
    made: list[Broker] = []

    def make(extra: str = "", anonymous: bool = True) -> Broker:
        folder = tmp_path / f"broker{len(made)}"
        folder.mkdir()
        b = Broker(folder, extra=extra)
        if not anonymous:
            b.conf.write_text(b.conf.read_text().replace("allow_anonymous true",
                                                         "allow_anonymous false"))
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def broker(broker_factory):
    b = broker_factory()
    b.start()
    return b

"""Real peers for the link tests: pyigtl (the other OpenIGTLink end) and a mosquitto broker."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable

import pytest

from tests.mqtt_broker import Broker, skip_without_mosquitto
from tests.mqtt_broker import free_port as _free_port


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


@pytest.fixture
def record_from_peer():
    """A function running ``twinsight link record --igtl 127.0.0.1:PORT --listen`` (more
    arguments after) while a pyigtl client connects to it and sends ``messages`` (an iterable:
    a generator makes each message, and its timestamp, as it is sent); returns the command's
    exit code."""
    pyigtl = pytest.importorskip("pyigtl")
    from sim.cli import main

    def record(port: int, messages: Iterable, args: list[str]) -> int:
        def peer():
            time.sleep(0.5)  # the recorder is listening by then
            client = pyigtl.OpenIGTLinkClient("127.0.0.1", port)
            for m in messages:
                client.send_message(m, wait=True)
            client.stop()

        th = threading.Thread(target=peer)
        th.start()
        try:
            return main(["link", "record", "--igtl", f"127.0.0.1:{port}", "--listen", *args])
        finally:
            th.join()

    return record


@pytest.fixture
def broker_factory(tmp_path):
    """Make (not start) brokers in fresh folders; all are stopped at the end."""
    skip_without_mosquitto()
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

"""Socket writes that a peer's hang-up cannot turn into a process kill.

Python ignores SIGPIPE, but a native library loaded into the same process may reset it
to the default (terminate). ``MSG_NOSIGNAL`` makes a write to a closed connection fail
with an ``OSError`` instead, whatever the process-wide handler is.
"""

from __future__ import annotations

import socket
import ssl
import time

_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


def send_all(sock: socket.socket, data: bytes) -> None:
    if _NOSIGNAL and not isinstance(sock, ssl.SSLSocket):  # TLS sockets take no flags
        sock.sendall(data, _NOSIGNAL)
    else:
        sock.sendall(data)


class WarningThrottle:
    """At most one warning per kind every ``every`` seconds; the ones held back are counted
    and mentioned with the next (a flooding peer must not flood the log too)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._state: dict[str, tuple[float, int]] = {}  # kind -> (last logged, held back)

    def allow(self, kind: str) -> str | None:
        """None to hold this warning back; else the suffix to log it with ('' or a count)."""
        now = time.monotonic()
        last, held = self._state.get(kind, (-1e9, 0))
        if now - last < self.every:
            self._state[kind] = (last, held + 1)
            return None
        self._state[kind] = (now, 0)
        return f" ({held} more since the last warning)" if held else ""

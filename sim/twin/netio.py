"""Socket writes that a peer's hang-up cannot turn into a process kill.

Python ignores SIGPIPE, but a native library loaded into the same process may reset it
to the default (terminate). ``MSG_NOSIGNAL`` makes a write to a closed connection fail
with an ``OSError`` instead, whatever the process-wide handler is.
"""

from __future__ import annotations

import socket
import ssl

_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


def send_all(sock: socket.socket, data: bytes) -> None:
    if _NOSIGNAL and not isinstance(sock, ssl.SSLSocket):  # TLS sockets take no flags
        sock.sendall(data, _NOSIGNAL)
    else:
        sock.sendall(data)

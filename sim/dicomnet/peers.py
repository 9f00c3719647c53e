"""The DICOM network configuration: our AE title and port, the store, TLS, and the peers.

Only a configured peer (AE title *and* host) may store into the receiver; query, retrieve
and send name a peer by its configuration name. The file is JSON, owner-only::

    {"ae_title": "TWINSIGHT", "port": 11112, "bind": "127.0.0.1",
     "store": "~/.local/share/twinsight/dicom-store", "deidentify": false,
     "tls": {"certificate": "me.pem", "key": "me.key", "ca": "ca.pem"},
     "peers": {"pacs": {"ae_title": "ORTHANC", "host": "10.0.0.5", "port": 4242,
                        "tls": false}}}

Its place: ``$TWINSIGHT_DICOM_CONFIG``, else ``dicom.json`` in the user config folder
(``~/.config/twinsight``); the store defaults to ``~/.local/share/twinsight/dicom-store``.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sim.dicomnet.errors import UnknownPeer
from sim.errors import InputError

DEFAULT_AE = "TWINSIGHT"
DEFAULT_PORT = 11112
LOCALHOST = "127.0.0.1"


def check_ae(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not 1 <= len(text) <= 16 or not text.isascii() or "\\" in text or not text.isprintable():
        raise InputError(f"The AE title of {what} must be 1 to 16 printable ASCII characters "
                         f"without a backslash, not {text!r}.")
    return text


def _in_range(value: Any, kind: type, lo: float, hi: float) -> Any:
    """``value`` as a ``kind`` (int, float) when it is one from ``lo`` to ``hi``; else None."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        return None
    return number if lo <= number <= hi else None


def check_port(value: Any, what: str) -> int:
    port = _in_range(value, int, 0, 65535)
    if port is None:
        raise InputError(f"The port of {what} must be a number from 0 to 65535, not {value!r}.")
    return port


def _timeout(value: Any, where: str) -> float:
    t = _in_range(value, float, 0.1, 3600)
    if t is None:
        raise InputError(f"'timeout_s' in {where} must be 0.1 to 3600 seconds, not {value!r}.")
    return t


@dataclass
class Peer:
    name: str
    ae_title: str
    host: str
    port: int
    tls: bool = False

    def describe(self) -> str:
        return f"'{self.name}' ({self.ae_title} at {self.host}:{self.port}{', TLS' if self.tls else ''})"

    def addresses(self) -> set[str]:
        """The IP addresses the peer's host name stands for (itself if it is one)."""
        try:
            return {info[4][0] for info in socket.getaddrinfo(self.host, None)}
        except OSError:
            return {self.host}


@dataclass
class TlsFiles:
    certificate: str = ""
    key: str = ""
    ca: str = ""  # peers' certificates are checked against this (required for TLS)

    def context(self, server: bool) -> ssl.SSLContext:
        """A TLS context that checks the other side's certificate against ``ca``."""
        if not self.ca:
            raise InputError("DICOM TLS needs a CA file ('tls': {'ca': ...}) to check peers "
                             "against.")
        purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
        try:
            ctx = ssl.create_default_context(purpose, cafile=self.ca)
            if self.certificate:
                ctx.load_cert_chain(self.certificate, self.key or None)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(f"Cannot use the DICOM TLS files ({exc.strerror or exc}).") from None
        if server:
            if not self.certificate:
                raise InputError("A DICOM TLS receiver needs a certificate and key "
                                 "('tls': {'certificate': ..., 'key': ...}).")
            ctx.verify_mode = ssl.CERT_REQUIRED  # only peers with a certificate we trust
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


@dataclass
class NetConfig:
    ae_title: str = DEFAULT_AE
    port: int = DEFAULT_PORT
    bind: str = LOCALHOST
    store: str = ""
    deidentify: bool = False
    tls: TlsFiles = field(default_factory=TlsFiles)
    peers: dict[str, Peer] = field(default_factory=dict)
    timeout_s: float = 30.0  # connect, association and each response
    path: str = ""  # where it was read from (not saved)

    def peer(self, name: str) -> Peer:
        try:
            return self.peers[name]
        except KeyError:
            known = ", ".join(sorted(self.peers)) or "none is configured"
            raise UnknownPeer(f"No DICOM peer named '{name}' in {self.path or 'the configuration'} "
                              f"(known: {known}).") from None

    def allowed(self, ae_title: str, address: str) -> Peer | None:
        """The configured peer with this AE title at this address, or None."""
        for peer in self.peers.values():
            if peer.ae_title == ae_title.strip() and address in peer.addresses():
                return peer
        return None

    def store_path(self) -> Path:
        if self.store:
            return Path(self.store).expanduser()
        from sim.resources import data_dir

        return data_dir() / "dicom-store"

    def as_dict(self) -> dict[str, Any]:
        return {"ae_title": self.ae_title, "port": self.port, "bind": self.bind,
                "store": self.store, "deidentify": self.deidentify,
                "tls": asdict(self.tls), "timeout_s": self.timeout_s,
                "peers": {k: {f: v for f, v in asdict(p).items() if f != "name"}
                          for k, p in self.peers.items()}}


def default_path() -> Path:
    from sim.resources import config_dir

    env = os.environ.get("TWINSIGHT_DICOM_CONFIG")
    return Path(env) if env else config_dir() / "dicom.json"


def parse_config(data: Any, where: str = "the configuration") -> NetConfig:
    if not isinstance(data, dict):
        raise InputError(f"{where} must hold a JSON object.")
    peers = {}
    raw_peers = data.get("peers") or {}
    if not isinstance(raw_peers, dict):
        raise InputError(f"'peers' in {where} must map names to peers.")
    for name, p in raw_peers.items():
        if not isinstance(p, dict) or not p.get("host"):
            raise InputError(f"Peer '{name}' in {where} needs an ae_title, a host and a port.")
        peers[str(name)] = Peer(str(name), check_ae(p.get("ae_title"), f"peer '{name}'"),
                                str(p["host"]), check_port(p.get("port", 104), f"peer '{name}'"),
                                bool(p.get("tls", False)))
    tls = data.get("tls") or {}
    if not isinstance(tls, dict):
        raise InputError(f"'tls' in {where} must be an object with certificate, key and ca.")
    return NetConfig(ae_title=check_ae(data.get("ae_title", DEFAULT_AE), "this workstation"),
                     port=check_port(data.get("port", DEFAULT_PORT), "this workstation"),
                     bind=str(data.get("bind") or LOCALHOST), store=str(data.get("store") or ""),
                     deidentify=bool(data.get("deidentify", False)),
                     tls=TlsFiles(str(tls.get("certificate") or ""), str(tls.get("key") or ""),
                                  str(tls.get("ca") or "")),
                     peers=peers, timeout_s=_timeout(data.get("timeout_s", 30.0), where),
                     path=where)


def load_config(path: str | Path | None = None) -> NetConfig:
    """The configuration at ``path`` (default :func:`default_path`); defaults if absent."""
    path = Path(path) if path else default_path()
    if not path.exists():
        return NetConfig(path=str(path))
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the DICOM configuration '{path}' ({exc}).") from None
    return parse_config(data, str(path))


def save_config(config: NetConfig, path: str | Path | None = None) -> Path:
    from sim.model.atomic import write_file_atomic

    path = Path(path or config.path or default_path())
    text = json.dumps(config.as_dict(), indent=2).encode()
    return write_file_atomic(path, lambda fh: fh.write(text))

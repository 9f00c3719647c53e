"""DICOM TLS: the receiver with a certificate, a peer that trusts the same CA echoes and stores;
a peer without TLS, or with a certificate from another CA, is turned away with a clear error."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import numpy as np
import pytest

from tests.mqtt_broker import free_port


def _cert(folder: Path, name: str, issuer=None, ca: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert, key


@pytest.fixture
def pki(tmp_path):
    ca = _cert(tmp_path, "ca", ca=True)
    _cert(tmp_path, "server", ca)
    _cert(tmp_path, "client", ca)
    other = _cert(tmp_path, "otherca", ca=True)
    _cert(tmp_path, "intruder", other)
    return tmp_path


def _config(pki: Path, port: int, me: str, peer_tls: bool):
    from sim.dicomnet.peers import parse_config

    return parse_config({
        "ae_title": "TWINSIGHT" if me == "server" else "CLIENT", "port": port,
        "store": str(pki / f"store-{me}"), "timeout_s": 5,
        "tls": {"certificate": str(pki / f"{me}.pem"), "key": str(pki / f"{me}.key"),
                "ca": str(pki / "ca.pem")},
        "peers": {"other": {"ae_title": "CLIENT" if me == "server" else "TWINSIGHT",
                            "host": "127.0.0.1", "port": port, "tls": peer_tls}}})


def test_tls_receiver_accepts_trusted_peers_only(pki, tmp_path):
    from sim.dicomnet.association import echo
    from sim.dicomnet.errors import DicomNetError
    from sim.dicomnet.receiver import Receiver
    from sim.dicomnet.send import send
    from tests.sim.io.dicom_factory import write_series

    port = free_port()
    receiver = Receiver(_config(pki, port, "server", False), tls=True)
    receiver.start()
    try:
        client = _config(pki, port, "client", True)
        assert echo(client, client.peer("other")) < 5
        write_series(tmp_path / "src", np.zeros((2, 4, 4)), patient="Tls^Patient")
        assert send(client, client.peer("other"), [tmp_path / "src"]).sent == 2
        assert receiver.store.count() == 2
        # without TLS: the receiver cannot even read the association request
        plain = _config(pki, port, "client", False)
        with pytest.raises(DicomNetError, match="TLS|did not answer|aborted"):
            echo(plain, plain.peer("other"))
        # with a certificate from a CA the receiver does not trust
        intruder = _config(pki, port, "client", True)
        intruder.tls.certificate = str(pki / "intruder.pem")
        intruder.tls.key = str(pki / "intruder.key")
        with pytest.raises(DicomNetError):
            echo(intruder, intruder.peer("other"))
        assert receiver.store.count() == 2
    finally:
        receiver.stop()
    records = receiver.audit.records()
    assert any(r.get("event") == "listen" and r.get("tls") for r in records)


def test_dcmtk_echoscu_over_tls(pki):
    """DCMTK's echoscu, an independent TLS client, with the client certificate gets in; the
    same without TLS does not."""
    import subprocess

    from sim.dicomnet.receiver import Receiver
    from tests.dicom_peers import skip_without

    skip_without("echoscu")
    port = free_port()
    receiver = Receiver(_config(pki, port, "server", False), tls=True)
    receiver.start()
    base = ["echoscu", "-aet", "CLIENT", "-aec", "TWINSIGHT"]
    tls = ["+tls", str(pki / "client.key"), str(pki / "client.pem"), "+cf", str(pki / "ca.pem")]
    try:
        ok = subprocess.run([*base, *tls, "127.0.0.1", str(port)], capture_output=True,
                            text=True, timeout=60)
        plain = subprocess.run([*base, "127.0.0.1", str(port)], capture_output=True, text=True,
                               timeout=60)
    finally:
        receiver.stop()
    assert ok.returncode == 0, ok.stderr
    assert plain.returncode != 0
    assert any(r.get("echoes") == 1 and r.get("calling_ae") == "CLIENT"
               for r in receiver.audit.records())

"""Opening an association with a peer, with errors a user can act on.

pynetdicom reports a refused connection, a rejected association and a timeout alike as
"not established" in its log; here each becomes one sentence naming the peer and the
reason. pynetdicom's own log (it prints query identifiers, which hold patient names) is
kept off every handler.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from sim.dicomnet.errors import AssociationRefused, DicomNetError, PeerTimeout

if TYPE_CHECKING:
    from pynetdicom import AE
    from pynetdicom.association import Association

    from sim.dicomnet.peers import NetConfig, Peer


def quiet_pynetdicom() -> None:
    """pynetdicom logs identifiers (patient names) at INFO/DEBUG: never let them out."""
    log = logging.getLogger("pynetdicom")
    log.setLevel(logging.CRITICAL)
    log.propagate = False


def quiet_pydicom() -> None:
    """As :func:`sim.io.dicom_scan.quiet_pydicom`, without importing :mod:`sim.io` (whose
    readers pull in VTK: seconds a network command does not need)."""
    import warnings

    import pydicom

    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module=r"pydicom\..*")
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE


def make_ae(config: NetConfig) -> AE:
    from pynetdicom import AE

    quiet_pynetdicom()
    ae = AE(ae_title=config.ae_title)
    t = config.timeout_s
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = t
    ae.connection_timeout = t
    return ae


def _reject_reason(assoc: Association) -> str:
    rsp = getattr(assoc.acceptor, "primitive", None)
    try:
        reason = str(rsp.reason_str)
        source = str(rsp.source_str)
        kind = "permanently" if rsp.result == 1 else "for now"
    except (AttributeError, KeyError, TypeError):
        return "no reason given"
    return f"{kind}: {reason.lower()} (by the {source.lower()})"


def _check_reachable(peer: Peer, timeout: float) -> None:
    try:
        with socket.create_connection((peer.host, peer.port), timeout=timeout):
            pass
    except TimeoutError:
        raise PeerTimeout(f"DICOM peer {peer.describe()} did not answer within {timeout:g} s "
                          "(wrong host or a firewall?).") from None
    except ConnectionRefusedError:
        raise DicomNetError(f"DICOM peer {peer.describe()} refused the connection: nothing "
                            "listens on that port.") from None
    except OSError as exc:
        raise DicomNetError(f"Cannot reach DICOM peer {peer.describe()} "
                            f"({exc.strerror or exc}).") from None


def associate(ae: AE, config: NetConfig, peer: Peer, **kwargs: Any) -> Association:
    """An established association with ``peer`` (TLS if the peer is marked so)."""
    _check_reachable(peer, config.timeout_s)
    if peer.tls:
        kwargs["tls_args"] = (config.tls.context(server=False), peer.host)
    start = time.monotonic()
    try:
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, **kwargs)
    except OSError as exc:  # TLS handshake failures end up here
        raise DicomNetError(f"Cannot open a DICOM association with {peer.describe()} "
                            f"({exc}).") from None
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise AssociationRefused(
            f"DICOM peer {peer.describe()} refused the association {_reject_reason(assoc)}; "
            f"check that it knows this workstation as AE title {config.ae_title}.")
    if time.monotonic() - start >= 0.9 * config.timeout_s:  # pynetdicom aborts on timeout
        raise PeerTimeout(f"DICOM peer {peer.describe()} did not answer the association "
                          f"request within {config.timeout_s:g} s.")
    if assoc.is_aborted:
        why = " (TLS: check certificates)" if peer.tls else ""
        raise DicomNetError(f"DICOM peer {peer.describe()} aborted the association{why}; "
                            "it may not support what was asked or may expect TLS.")
    raise PeerTimeout(f"DICOM peer {peer.describe()} did not answer the association request "
                      f"within {config.timeout_s:g} s.")


def check_status(status: Any, peer: Peer, what: str) -> int:
    """The status code of a DIMSE response; an error naming ``what`` if there is none."""
    if status is None or "Status" not in status:
        raise PeerTimeout(f"DICOM peer {peer.describe()} did not answer the {what} in time "
                          "or ended the association.")
    return int(status.Status)


def echo(config: NetConfig, peer: Peer) -> float:
    """C-ECHO ``peer``; the round trip in seconds."""
    from pynetdicom.sop_class import Verification

    ae = make_ae(config)
    ae.add_requested_context(Verification)
    start = time.perf_counter()
    assoc = associate(ae, config, peer)
    try:
        code = check_status(assoc.send_c_echo(), peer, "echo")
    finally:
        assoc.release()
    if code != 0:
        raise DicomNetError(f"DICOM peer {peer.describe()} answered the echo with status "
                            f"0x{code:04X}.")
    return time.perf_counter() - start

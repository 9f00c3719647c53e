"""The DICOM receiver: C-ECHO and C-STORE SCP into the local store (and C-FIND on it).

Only configured peers may open an association: the calling AE title *and* the address it
connects from must match a peer of the configuration, else the association is rejected
("calling AE title not recognised") and the attempt is audited. Received instances are
de-identified on arrival when asked (the PS3.15 basic profile of :mod:`sim.privacy`;
images that may show burned-in text are then refused). Every association is audited
when it ends (see :mod:`sim.dicomnet.audit`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.dicomnet.association import make_ae
from sim.dicomnet.audit import AuditLog
from sim.dicomnet.errors import DicomNetError
from sim.dicomnet.store import Store

if TYPE_CHECKING:
    from sim.dicomnet.peers import NetConfig

STATUS_OK, STATUS_REFUSED, STATUS_FAILED = 0x0000, 0xA900, 0xC000
STATUS_OUT_OF_RESOURCES = 0xA700


@dataclass
class _Session:
    calling_ae: str
    called_ae: str
    address: str
    port: int
    started: float = field(default_factory=time.monotonic)
    instances: int = 0
    failed: int = 0
    refused: int = 0
    echoes: int = 0
    queries: int = 0
    studies: dict[str, dict[str, Any]] = field(default_factory=dict)
    sop_classes: Counter = field(default_factory=Counter)


def _keyed_deidentifier(store: Store) -> Any:
    """The basic profile with replacements derived from the store's secret key: the same
    study sent in two parts, or again after a restart, gets the same new UIDs and patient
    pseudonym (so it stays one study), and different patients never share one; without the
    key nothing maps back."""
    from sim.privacy.deidentify import Deidentifier

    class Keyed(Deidentifier):
        def new_uid(self, old: str) -> str:
            if old not in self.uid_map:
                digest = store.keyed_digest("uid:" + old)
                self.uid_map[old] = "2.25." + str(int.from_bytes(digest[:16], "big"))
            return self.uid_map[old]

        def _dummy(self, elem: Any) -> Any:
            if elem.tag == 0x00100020:  # Patient ID
                return "ANON-" + store.keyed_digest("patient:" + str(elem.value)).hex()[:12]
            return super()._dummy(elem)

    return Keyed()


class StoreHandler:
    """Stores C-STORE requests into a store, de-identifying if asked, and audits per
    association. Used by the receiver and by C-GET (which receives on its own association)."""

    def __init__(self, store: Store, audit: AuditLog, deidentify: bool = False,
                 on_stored: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.store, self.audit, self.deidentify = store, audit, deidentify
        self.on_stored = on_stored
        self._deid = None
        self._sessions: dict[int, _Session] = {}
        self._lock = threading.Lock()
        self.stored_series: Counter = Counter()  # series uid (as stored) -> instances

    def session(self, assoc: Any) -> _Session:
        with self._lock:
            s = self._sessions.get(id(assoc))
            if s is None:
                rq = assoc.requestor
                s = self._sessions[id(assoc)] = _Session(
                    str(rq.ae_title).strip(), str(assoc.acceptor.ae_title).strip(),
                    str(rq.address), int(rq.port or 0))
            return s

    def _prepare(self, ds: Any) -> tuple[Any, bool]:
        """(dataset to store, whether it must be re-encoded); None if refused."""
        if not self.deidentify:
            return ds, False
        from sim.privacy.deidentify import Audit, may_show_burned_in_text

        if may_show_burned_in_text(ds):
            return None, False
        with self._lock:
            if self._deid is None:
                self._deid = _keyed_deidentifier(self.store)
            note = Audit("", "", self._deid.edition)
            self._deid.apply(ds, note)
            self._deid.finish(ds, note)
        return ds, True

    def handle_store(self, event: Any) -> int:
        s = self.session(event.assoc)
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception:  # undecodable: nothing to store or index
            s.failed += 1
            return STATUS_FAILED
        patient_id = str(ds.get("PatientID", "") or "")
        ds, changed = self._prepare(ds)
        if ds is None:
            s.refused += 1
            return STATUS_REFUSED
        sender = f"{s.calling_ae}@{s.address}"
        try:
            self.store.add(ds, None if changed else event.encoded_dataset(), sender=sender)
        except OSError:  # a full or unwritable disk: out of resources, the sender may retry
            s.failed += 1
            return STATUS_OUT_OF_RESOURCES
        except Exception:  # a value that cannot be written
            s.failed += 1
            return STATUS_FAILED
        study = str(ds.get("StudyInstanceUID", "") or "")
        series = str(ds.get("SeriesInstanceUID", "") or "")
        with self._lock:
            s.instances += 1
            s.sop_classes[str(ds.get("SOPClassUID", ""))] += 1
            entry = s.studies.setdefault(study, {
                "study_uid": study, "series": set(), "instances": 0, "modalities": set(),
                "patient": self.store.pseudonym(patient_id)})
            entry["series"].add(series)
            entry["instances"] += 1
            entry["modalities"].add(str(ds.get("Modality", "") or ""))
            self.stored_series[series] += 1
        if self.on_stored is not None:
            self.on_stored({"series_uid": series, "study_uid": study})
        return STATUS_OK

    def handle_echo(self, event: Any) -> int:
        self.session(event.assoc).echoes += 1
        return STATUS_OK

    def open_session(self, assoc: Any, calling_ae: str, called_ae: str, address: str,
                     port: int) -> None:
        """Start auditing an association we requested (C-GET receives on it)."""
        with self._lock:
            self._sessions[id(assoc)] = _Session(calling_ae, called_ae, address, port)

    def finish(self, assoc: Any, result: str = "released", operation: str = "receive",
               peer: str = "") -> None:
        """Write the association's audit record (once)."""
        with self._lock:
            s = self._sessions.pop(id(assoc), None)
        if s is None:
            return
        studies = [{"study_uid": v["study_uid"], "series": sorted(v["series"]),
                    "instances": v["instances"], "modalities": sorted(v["modalities"]),
                    "patient": v["patient"]} for v in s.studies.values()]
        self.audit.write("association", operation=operation, result=result,
                         calling_ae=s.calling_ae, called_ae=s.called_ae, address=s.address,
                         port=s.port, peer=peer, instances=s.instances, failed=s.failed,
                         refused=s.refused, echoes=s.echoes, queries=s.queries,
                         studies=studies,
                         sop_classes=dict(s.sop_classes),
                         duration_s=round(time.monotonic() - s.started, 3))


class Receiver:
    """A running C-ECHO/C-STORE SCP; ``start()`` returns the port it listens on."""

    def __init__(self, config: NetConfig, store: Store | None = None,
                 deidentify: bool | None = None, tls: bool = False,
                 on_stored: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.store = store or Store(config.store_path())
        self.audit = AuditLog(self.store.root / "audit.jsonl")
        self.tls = tls
        self.handler = StoreHandler(self.store, self.audit,
                                    config.deidentify if deidentify is None else deidentify,
                                    on_stored)
        self._server = None
        self.port = 0

    def _on_requested(self, event: Any) -> None:
        assoc = event.assoc
        rq = assoc.requestor.primitive
        calling = str(rq.calling_ae_title).strip()
        address = str(assoc.requestor.address)
        peer = self.config.allowed(calling, address)
        if peer is None:
            assoc.acse.send_reject(0x01, 0x01, 0x03)  # permanent, calling AE title not recognised
            self.audit.write("association", operation="receive", result="rejected",
                             reason="not a configured peer (AE title and host)",
                             calling_ae=calling, called_ae=str(rq.called_ae_title).strip(),
                             address=address, port=int(assoc.requestor.port or 0),
                             tls=self.tls)
            assoc.kill()  # as pynetdicom's own rejections: wait until the reply went out
        else:
            self.handler.open_session(assoc, calling, str(rq.called_ae_title).strip(), address,
                                      int(assoc.requestor.port or 0))

    def _on_find(self, event: Any) -> Any:
        from sim.dicomnet.find_scp import handle_find

        self.handler.session(event.assoc).queries += 1
        yield from handle_find(self.store, event)

    def _ended(self, result: str) -> Callable[[Any], None]:
        def done(event: Any) -> None:
            s = self.handler._sessions.get(id(event.assoc))
            peer = self.config.allowed(s.calling_ae, s.address) if s else None
            self.handler.finish(event.assoc, result, peer=peer.name if peer else "")
        return done

    def start(self) -> int:
        from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import (
            PatientRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelFind,
            Verification,
        )

        ae = make_ae(self.config)
        ae.require_called_aet = True  # a sender must address us by our AE title
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(PatientRootQueryRetrieveInformationModelFind)
        handlers = [(evt.EVT_C_FIND, self._on_find),
                    (evt.EVT_REQUESTED, self._on_requested),
                    (evt.EVT_C_STORE, self.handler.handle_store),
                    (evt.EVT_C_ECHO, self.handler.handle_echo),
                    (evt.EVT_RELEASED, self._ended("released")),
                    (evt.EVT_ABORTED, self._ended("aborted")),
                    (evt.EVT_CONN_CLOSE, self._ended("closed"))]
        ssl_context = self.config.tls.context(server=True) if self.tls else None
        try:
            self._server = ae.start_server((self.config.bind, self.config.port), block=False,
                                           evt_handlers=handlers, ssl_context=ssl_context)
        except OSError as exc:
            raise DicomNetError(f"Cannot listen for DICOM on {self.config.bind}:"
                                f"{self.config.port} ({exc.strerror or exc}).") from None
        self.port = int(self._server.server_address[1])
        self.audit.write("listen", operation="receive", called_ae=self.config.ae_title,
                         address=self.config.bind, port=self.port, tls=self.tls)
        return self.port

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
            self.audit.write("stop", operation="receive", called_ae=self.config.ae_title,
                             port=self.port)

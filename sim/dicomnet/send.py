"""Sending instances to a peer (C-STORE SCU): results back to the PACS, or a series on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.dicomnet.association import associate, check_status, make_ae, quiet_pydicom
from sim.dicomnet.audit import AuditLog
from sim.dicomnet.errors import DicomNetError
from sim.errors import InputError
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from sim.dicomnet.peers import NetConfig, Peer

MAX_CONTEXTS = 128  # the standard's limit of presentation contexts per association
MAX_FILES = 100_000


@dataclass
class SendResult:
    peer: str
    sent: int = 0
    failed: int = 0
    warnings: int = 0
    skipped: list[str] = field(default_factory=list)  # files that are not DICOM
    statuses: dict[str, int] = field(default_factory=dict)  # "0xA700" -> count

    def as_dict(self) -> dict[str, Any]:
        return {"peer": self.peer, "sent": self.sent, "failed": self.failed,
                "warnings": self.warnings, "skipped": len(self.skipped),
                "statuses": self.statuses}


def dicom_files(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"'{p}' does not exist.")
        if len(out) > MAX_FILES:
            raise InputError(f"More than {MAX_FILES} files to send: send them in parts.")
    return out


def _sop_class(ds: Any) -> str:
    """The SOP Class UID; some anonymisers empty it in the dataset but keep the file meta's."""
    return str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", "") or "")


def _complete(ds: Any) -> Any:
    """Fill an emptied SOP Class/Instance UID from the file meta (a peer needs them)."""
    if not ds.get("SOPClassUID"):
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    if not ds.get("SOPInstanceUID"):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    return ds


def _headers(files: list[Path]) -> tuple[list[tuple[Path, str, str, bool]], list[str]]:
    """(file, SOP class, transfer syntax, complete) of each DICOM file (complete: its UIDs
    are in place, so it can be streamed as it is); the names of the others."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    quiet_pydicom()
    ok, skipped, no_uids = [], [], []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True,
                                 specific_tags=["SOPClassUID", "SOPInstanceUID",
                                                "StudyInstanceUID", "SeriesInstanceUID"])
            sop = _sop_class(ds)
            ts = str(ds.file_meta.TransferSyntaxUID)
            if not sop or not (ds.get("SOPInstanceUID") or ds.file_meta.get(
                    "MediaStorageSOPInstanceUID")):
                raise ValueError("no SOP class or instance")
            if not ds.get("StudyInstanceUID") or not ds.get("SeriesInstanceUID"):
                no_uids.append(f.name)  # a PACS cannot file it under a study and series
                continue
        except (InvalidDicomError, OSError, AttributeError, ValueError, KeyError, TypeError,
                EOFError):
            skipped.append(f.name)
            continue
        whole = bool(ds.get("SOPClassUID") and ds.get("SOPInstanceUID")
                     and ds.file_meta.get("MediaStorageSOPInstanceUID"))
        ok.append((f, sop, ts, whole))
    if no_uids and not ok:
        raise InputError(f"The {len(no_uids)} DICOM file(s) given (e.g. '{no_uids[0]}') have no "
                         "Study or Series Instance UID (removed by an anonymiser?): a PACS "
                         "cannot file them.")
    return ok, skipped + no_uids


def send(config: NetConfig, peer: Peer, paths: list[str | Path],
         progress: Progress = no_progress) -> SendResult:
    """C-STORE every DICOM file under ``paths`` to ``peer`` (one association per batch of
    SOP class / transfer syntax pairs that fit in one)."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True  # a file path is sent from disk in chunks
    files, skipped = _headers(dicom_files(paths))
    if not files:
        raise InputError("Nothing to send: no DICOM files among the given paths.")
    result = SendResult(peer.name, skipped=skipped)
    pairs = sorted({(sop, ts) for _, sop, ts, _ in files})
    audit = AuditLog(Path(config.store_path()) / "audit.jsonl")
    start = time.monotonic()
    done = 0
    batch_size = MAX_CONTEXTS // 2
    for b in range(0, len(pairs), batch_size):
        batch = set(pairs[b:b + batch_size])
        ae = make_ae(config)
        for sop in sorted({sop for sop, _ in batch}):
            syntaxes = sorted({ts for s, ts in batch if s == sop})
            ae.add_requested_context(sop, syntaxes)
            ae.add_requested_context(sop, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        assoc = associate(ae, config, peer)
        exact = {(str(cx.abstract_syntax), str(cx.transfer_syntax[0]))
                 for cx in assoc.accepted_contexts}
        try:
            for path, sop, ts, whole in files:
                if (sop, ts) not in batch:
                    continue
                progress(done / len(files), f"Sending {done + 1}/{len(files)}")
                try:  # a complete file in an accepted syntax is streamed from disk as it is
                    ds = path if whole and (sop, ts) in exact else _complete(pydicom.dcmread(path))
                except Exception:  # read a moment ago: changed on disk meanwhile
                    result.failed += 1
                    done += 1
                    continue
                try:
                    status = assoc.send_c_store(ds)
                except (ValueError, AttributeError) as exc:  # no context accepted for it
                    result.failed += 1
                    result.statuses[f"not accepted ({exc.__class__.__name__})"] = \
                        result.statuses.get(f"not accepted ({exc.__class__.__name__})", 0) + 1
                    done += 1
                    continue
                code = check_status(status, peer, "storage request")
                key = f"0x{code:04X}"
                result.statuses[key] = result.statuses.get(key, 0) + 1
                if code == 0:
                    result.sent += 1
                elif code in (0xB000, 0xB007, 0xB006):
                    result.sent += 1
                    result.warnings += 1
                else:
                    result.failed += 1
                done += 1
        finally:
            if assoc.is_established:
                assoc.release()
    progress(1.0, "Sent")
    audit.write("association", operation="send", result="released", called_ae=peer.ae_title,
                address=peer.host, port=peer.port, peer=peer.name, instances=result.sent,
                failed=result.failed, sop_classes=dict(sorted(
                    {sop: sum(1 for _, s, _, _ in files if s == sop) for _, sop, _, _ in files}.items())),
                duration_s=round(time.monotonic() - start, 3), tls=peer.tls)
    if result.sent == 0:
        raise DicomNetError(f"DICOM peer {peer.describe()} stored none of the {len(files)} "
                            f"instance(s) (statuses: {result.statuses}).")
    return result

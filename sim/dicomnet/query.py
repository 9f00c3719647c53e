"""Query/retrieve from a PACS: C-FIND (patient, study, series level), C-MOVE and C-GET.

Retrieved instances go into the local store. C-MOVE asks the PACS to send them to our
receiver (the PACS must know our AE title, host and port as a move destination; a
temporary receiver is started unless one is given); C-GET receives them on the same
association (nothing to configure on the PACS, but not every PACS offers it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sim.dicomnet.association import associate, check_status, make_ae
from sim.dicomnet.audit import AuditLog
from sim.dicomnet.errors import DicomNetError
from sim.dicomnet.store import Store
from sim.errors import InputError
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from sim.dicomnet.peers import NetConfig, Peer
    from sim.dicomnet.receiver import Receiver

LEVELS = ("PATIENT", "STUDY", "SERIES")
MAX_MATCHES = 5000
RETURN_KEYS = {
    "PATIENT": ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                "NumberOfPatientRelatedStudies"),
    "STUDY": ("PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime",
              "StudyDescription", "AccessionNumber", "ModalitiesInStudy",
              "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"),
    "SERIES": ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber",
               "SeriesDescription", "SeriesDate", "NumberOfSeriesRelatedInstances"),
}
FILTERS = {"patient_name": "PatientName", "patient_id": "PatientID", "date": "StudyDate",
           "modality": "Modality", "study_uid": "StudyInstanceUID",
           "series_uid": "SeriesInstanceUID", "accession": "AccessionNumber",
           "description": "StudyDescription"}
# Storage classes offered for C-GET (one association holds at most 128 contexts).
GET_CLASSES = (
    "CTImageStorage", "EnhancedCTImageStorage", "MRImageStorage", "EnhancedMRImageStorage",
    "PositronEmissionTomographyImageStorage", "NuclearMedicineImageStorage",
    "SegmentationStorage", "RTStructureSetStorage", "RTDoseStorage", "RTPlanStorage",
    "EncapsulatedPDFStorage", "SecondaryCaptureImageStorage", "UltrasoundImageStorage",
    "UltrasoundMultiFrameImageStorage", "XRayAngiographicImageStorage",
    "ComputedRadiographyImageStorage", "DigitalXRayImagePresentationStorage",
    "DigitalMammographyXRayImagePresentationStorage", "ComprehensiveSRStorage",
    "EnhancedSRStorage", "BasicTextSRStorage", "SurfaceSegmentationStorage",
    "EnhancedPETImageStorage", "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage", "Comprehensive3DSRStorage",
    "XRay3DAngiographicImageStorage", "BreastTomosynthesisImageStorage",
)
GET_IMAGE_CLASSES = ("CTImageStorage", "EnhancedCTImageStorage", "MRImageStorage",
                     "EnhancedMRImageStorage", "PositronEmissionTomographyImageStorage",
                     "SecondaryCaptureImageStorage", "UltrasoundImageStorage",
                     "XRayAngiographicImageStorage", "ComputedRadiographyImageStorage",
                     "DigitalXRayImagePresentationStorage",
                     "DigitalMammographyXRayImagePresentationStorage")


def _audit(config: NetConfig) -> AuditLog:
    return AuditLog(config.store_path() / "audit.jsonl")


def _identifier(level: str, filters: dict[str, str]) -> Any:
    from pydicom import Dataset

    level = level.upper()
    if level not in LEVELS:
        raise InputError(f"Query level must be one of {', '.join(LEVELS)}, not '{level}'.")
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise InputError(f"Unknown query filter(s) {sorted(unknown)} "
                         f"(known: {', '.join(FILTERS)}).")
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword in RETURN_KEYS[level]:
        setattr(ds, keyword, "")
    for key, value in filters.items():
        if not value:
            continue
        keyword = FILTERS[key]
        if keyword == "Modality" and level == "STUDY":
            keyword = "ModalitiesInStudy"
        if keyword == "PatientName" and not any(c in value for c in "*?"):
            value = f"*{value}*"  # people type part of a name
        setattr(ds, keyword, value)
    return ds


def _row(ds: Any, level: str) -> dict[str, Any]:
    out = {}
    for keyword in RETURN_KEYS[level]:
        value = ds.get(keyword, "")
        if keyword == "ModalitiesInStudy" and value and not isinstance(value, str):
            value = "\\".join(str(v) for v in value)
        out[keyword] = "" if value is None else str(value)
    return out


def find(config: NetConfig, peer: Peer, level: str = "STUDY",
         filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """C-FIND at ``level``: one dict of the level's return keys per match."""
    from pynetdicom.sop_class import (
        PatientRootQueryRetrieveInformationModelFind as PatientFind,
    )
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelFind as StudyFind,
    )

    filters = filters or {}
    ident = _identifier(level, filters)
    model = PatientFind if ident.QueryRetrieveLevel == "PATIENT" else StudyFind
    ae = make_ae(config)
    ae.add_requested_context(model)
    assoc = associate(ae, config, peer)
    rows: list[dict[str, Any]] = []
    try:
        for status, match in assoc.send_c_find(ident, model):
            code = check_status(status, peer, "query")
            if code in (0xFF00, 0xFF01) and match is not None:
                rows.append(_row(match, ident.QueryRetrieveLevel))
                if len(rows) >= MAX_MATCHES:  # bounded memory; the caller should narrow it
                    break
            elif code != 0:
                raise DicomNetError(f"DICOM peer {peer.describe()} failed the query "
                                    f"(status 0x{code:04X}).")
    finally:
        if assoc.is_established:
            assoc.release()
    _audit(config).write("query", operation="find", peer=peer.name, called_ae=peer.ae_title,
                         address=peer.host, port=peer.port, level=ident.QueryRetrieveLevel,
                         matched_on=sorted(k for k, v in filters.items() if v),
                         matches=len(rows), tls=peer.tls)
    return rows


def _retrieve_identifier(study_uid: str, series_uid: str) -> Any:
    from pydicom import Dataset

    if not study_uid:
        raise InputError("A retrieve needs the Study Instance UID (and optionally a series).")
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def _progress_of(status: Any, progress: Progress, what: str) -> None:
    done = sum(int(status.get(k, 0) or 0) for k in (
        "NumberOfCompletedSuboperations", "NumberOfFailedSuboperations",
        "NumberOfWarningSuboperations"))
    left = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
    if done + left:
        progress(done / (done + left), f"{what} {done}/{done + left}")


def _final(code: int, status: Any, peer: Peer, config: NetConfig, how: str) -> dict[str, int]:
    if status is None:
        raise DicomNetError(f"DICOM peer {peer.describe()} ended the {how} without a result.")
    counts = {k: int(status.get(f"Number Of {k.title()} Suboperations".replace(" ", ""), 0) or 0)
              for k in ("completed", "failed", "warning")}
    if code == 0xA801:
        raise DicomNetError(f"DICOM peer {peer.describe()} does not know the move destination "
                            f"{config.ae_title}: add this workstation (AE title, host, port "
                            f"{config.port}) to the PACS's DICOM modalities.")
    if code in (0xA701, 0xA702):
        raise DicomNetError(f"DICOM peer {peer.describe()} ran out of resources for the {how}.")
    if code == 0xFE00:
        raise DicomNetError(f"The {how} from {peer.describe()} was cancelled.")
    if code not in (0x0000, 0xB000):
        raise DicomNetError(f"DICOM peer {peer.describe()} failed the {how} "
                            f"(status 0x{code:04X}).")
    return counts


def move(config: NetConfig, peer: Peer, study_uid: str, series_uid: str = "",
         store: Store | None = None, receiver: Receiver | None = None,
         progress: Progress = no_progress) -> dict[str, Any]:
    """C-MOVE a study or series to our receiver (started here for the duration unless
    ``receiver`` runs already); the counts and the series stored."""
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelMove as StudyMove,
    )

    from sim.dicomnet.receiver import Receiver

    ident = _retrieve_identifier(study_uid, series_uid)
    own = receiver is None
    if own:
        receiver = Receiver(config, store)
        receiver.start()
    before = dict(receiver.handler.stored_series)
    start = time.monotonic()
    try:
        ae = make_ae(config)
        ae.add_requested_context(StudyMove)
        assoc = associate(ae, config, peer)
        code, last = _follow_retrieve(assoc, assoc.send_c_move(ident, config.ae_title, StudyMove),
                                      peer, "move request", progress)
        counts = _final(code, last, peer, config, "move")
    finally:
        if own:
            receiver.stop()
    series = {k: v - before.get(k, 0) for k, v in receiver.handler.stored_series.items()
              if v - before.get(k, 0) > 0}
    _audit(config).write("retrieve", operation="move", peer=peer.name, called_ae=peer.ae_title,
                         address=peer.host, port=peer.port, level=ident.QueryRetrieveLevel,
                         instances=counts["completed"], failed=counts["failed"],
                         duration_s=round(time.monotonic() - start, 3), tls=peer.tls)
    progress(1.0, "Retrieved")
    return {**counts, "series": series, "store": str(receiver.store.root)}


def _follow_retrieve(assoc: Any, responses: Any, peer: Peer, what: str,
                     progress: Progress) -> tuple[int, Any]:
    """Follow a C-MOVE/C-GET's pending responses (with progress) to its final status code and
    dataset; a cancel or failure mid-transfer aborts the association instead of waiting, and
    it is released in any case."""
    code, last = 0xC000, None
    try:
        for status, _ in responses:
            code = check_status(status, peer, what)
            last = status
            if code == 0xFF00:
                _progress_of(status, progress, "Receiving")
    except BaseException:  # cancelled (or failed) mid-transfer: abort, do not wait
        assoc.abort()
        raise
    finally:
        if assoc.is_established:
            assoc.release()
    return code, last


def get(config: NetConfig, peer: Peer, study_uid: str, series_uid: str = "",
        store: Store | None = None, deidentify: bool | None = None,
        progress: Progress = no_progress) -> dict[str, Any]:
    """C-GET a study or series into the store over one association."""
    import pynetdicom.sop_class as sop_class
    from pydicom.uid import (
        JPEG2000,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLosslessSV1,
        JPEGLSLossless,
        RLELossless,
    )
    from pynetdicom import evt
    from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelGet as StudyGet,
    )

    from sim.dicomnet.receiver import StoreHandler

    ident = _retrieve_identifier(study_uid, series_uid)
    store = store or Store(config.store_path())
    handler = StoreHandler(store, _audit(config),
                           config.deidentify if deidentify is None else deidentify)
    ae = make_ae(config)
    ae.add_requested_context(StudyGet)
    # A PACS accepting a context picks one transfer syntax of it, and some (Orthanc) will not
    # transcode: so each compressed syntax gets its own context for the image classes.
    compressed = [JPEG2000Lossless, JPEG2000, JPEGLosslessSV1, JPEGBaseline8Bit,
                  JPEGExtended12Bit, JPEGLSLossless, RLELossless]
    roles = []
    for name in GET_CLASSES:
        uid = getattr(sop_class, name, None)
        if uid is None:
            continue
        ae.add_requested_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                                       DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian])
        if name in GET_IMAGE_CLASSES:
            for ts in compressed:
                ae.add_requested_context(uid, [ts])
        role = SCP_SCU_RoleSelectionNegotiation()
        role.sop_class_uid, role.scu_role, role.scp_role = uid, False, True
        roles.append(role)
    assoc = associate(ae, config, peer, ext_neg=roles,
                      evt_handlers=[(evt.EVT_C_STORE, handler.handle_store)])
    handler.open_session(assoc, peer.ae_title, config.ae_title, peer.host, peer.port)
    try:
        code, last = _follow_retrieve(assoc, assoc.send_c_get(ident, StudyGet), peer,
                                      "get request", progress)
    finally:
        handler.finish(assoc, "released", operation="get", peer=peer.name)
    counts = _final(code, last, peer, config, "get")
    progress(1.0, "Retrieved")
    return {**counts, "series": dict(handler.stored_series), "store": str(store.root)}

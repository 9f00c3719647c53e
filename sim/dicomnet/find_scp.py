"""C-FIND SCP on the local store: configured peers (e.g. another workstation, DCMTK's
findscu) can ask what the receiver holds, at patient, study or series level.

Matching follows PS3.4 C.2.2.2 where it matters here: ``*`` and ``?`` wildcards (names
case-insensitive), date ranges ``A-B``, ``A-`` and ``-B``, UID lists, empty = any.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.dicomnet.store import Store

# identifier keyword -> index column
KEYS = {"PatientName": "patient_name", "PatientID": "patient_id",
        "PatientBirthDate": "birth_date", "StudyInstanceUID": "study_uid",
        "StudyDate": "study_date", "StudyDescription": "study_description",
        "SeriesInstanceUID": "series_uid", "SeriesDescription": "series_description",
        "Modality": "modality", "SeriesNumber": "series_number"}
GROUP_BY = {"PATIENT": "patient_id", "STUDY": "study_uid", "SERIES": "series_uid"}
COUNTS = {"PATIENT": ("NumberOfPatientRelatedStudies", "study_uid"),
          "STUDY": ("NumberOfStudyRelatedInstances", "sop_uid"),
          "SERIES": ("NumberOfSeriesRelatedInstances", "sop_uid")}


def _matches(keyword: str, wanted: str, value: str) -> bool:
    if not wanted or wanted == "*":
        return True
    if keyword == "StudyDate" and "-" in wanted:
        lo, _, hi = wanted.partition("-")
        return bool(value) and (not lo or value >= lo) and (not hi or value <= hi)
    if keyword.endswith("UID"):
        return value in wanted.split("\\")
    if any(c in wanted for c in "*?"):
        return fnmatch.fnmatchcase(value.upper(), wanted.upper())
    return value.upper() == wanted.upper() if keyword == "PatientName" else value == wanted


def find(store: Store, identifier: Any) -> Iterator[Any]:
    """The matching identifiers (one per patient, study or series) for a C-FIND request."""
    from pydicom import Dataset

    level = str(identifier.get("QueryRetrieveLevel", "") or "").upper()
    if level not in GROUP_BY:
        return
    wanted = {k: str(identifier.get(k, "") or "") for k in KEYS if k in identifier}
    modalities = str(identifier.get("ModalitiesInStudy", "") or "")
    groups: dict[str, list[dict[str, str]]] = {}
    for row in store.rows():
        if all(_matches(k, v, row[KEYS[k]]) for k, v in wanted.items()) and (
                not modalities or row["modality"] in modalities.split("\\")):
            groups.setdefault(row[GROUP_BY[level]], []).append(row)
    for rows in groups.values():
        out = Dataset()
        out.QueryRetrieveLevel = level
        for k in wanted:
            setattr(out, k, rows[0][KEYS[k]])
        if "ModalitiesInStudy" in identifier:
            out.ModalitiesInStudy = sorted({r["modality"] for r in rows if r["modality"]})
        keyword, column = COUNTS[level]
        if keyword in identifier:
            setattr(out, keyword, len({r[column] for r in rows}))
        yield out


def handle_find(store: Store, event: Any) -> Iterator[tuple[int, Any]]:
    """pynetdicom EVT_C_FIND handler: pending matches, then success (or cancel)."""
    try:
        identifier = event.identifier
    except Exception:  # an identifier we cannot decode
        yield 0xC000, None
        return
    for match in find(store, identifier):
        if event.is_cancelled:
            yield 0xFE00, None
            return
        yield 0xFF00, match
    yield 0x0000, None

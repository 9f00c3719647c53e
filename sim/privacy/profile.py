"""The DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile as tag -> action.

The attribute table comes from the ``dicom-anonymizer`` package, which transcribes
Table E.1-1 of the standard. Compound actions are resolved to the choice that
keeps the file conformant whatever the attribute's type: X/Z and X/Z/D -> Z
(empty), X/D and Z/D -> D (dummy), X/Z/U* -> U inside the sequence (instance
UIDs replaced, the references stay consistent).
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from functools import cache


class Action(StrEnum):
    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"
    UID = "U"
    SEQUENCE_UIDS = "U*"


# Newest table first; the package ships one module per edition of the standard.
_EDITIONS = ("dicomfields_2026c", "dicomfields_2024b", "dicomfields_2023")
_CATEGORIES = {
    "D_TAGS": Action.DUMMY, "Z_TAGS": Action.EMPTY, "X_TAGS": Action.REMOVE, "U_TAGS": Action.UID,
    "Z_D_TAGS": Action.DUMMY, "X_Z_TAGS": Action.EMPTY, "X_D_TAGS": Action.DUMMY,
    "X_Z_D_TAGS": Action.EMPTY, "X_Z_U_STAR_TAGS": Action.SEQUENCE_UIDS,
}
# Repeating groups the table cannot list one by one: curves (50xx) and overlay data/comments.
CURVE_GROUPS = range(0x5000, 0x5100, 2)
OVERLAY_ELEMENTS = (0x3000, 0x4000)  # in groups 60xx


@cache
def profile() -> tuple[str, dict[int, Action]]:
    """(edition, {tag as int: action})."""
    for edition in _EDITIONS:
        try:
            module = importlib.import_module(f"dicomanonymizer.dicom_anonymization_databases.{edition}")
        except ImportError:
            continue
        table: dict[int, Action] = {}
        for category, action in _CATEGORIES.items():
            for entry in getattr(module, category, []):
                if len(entry) == 2:  # masked entries (curves, overlays) are handled by group below
                    group, element = entry
                    table[(group << 16) | element] = action
        return edition.replace("dicomfields_", ""), table
    raise ImportError("the dicom-anonymizer package (Annex E attribute table) is not installed")

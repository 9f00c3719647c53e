"""De-identify DICOM files with the PS3.15 Annex E Basic Application Level Confidentiality Profile.

Every attribute the profile lists is removed, emptied or replaced wherever it occurs
(also inside sequences); instance UIDs are replaced consistently across the whole
run, so a study stays a study and references stay valid; private tags are dropped;
Patient Identity Removed and De-identification Method (0012,0062-0064) are set.
The profile applies to every item of every sequence, at any depth (an image reference
may carry the patient's name and dates too), and the File Meta Information's AE titles
and private information are removed. Output files are renamed (S0001/IM0001.dcm) because
folder and file names often hold names or IDs. An audit (what was done, never the
original values, nor the input folder's name) is written next to them.

Images that may show identifying text burned into their pixels (BurnedInAnnotation YES;
or, without the flag, ultrasound, secondary capture, photographs, other modalities,
encapsulated documents) are refused (not written) unless ``allow_burned_in``: the profile
cleans attributes, not pixels.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import __version__
from sim.errors import FileFormatError, InputError
from sim.privacy.profile import CURVE_GROUPS, OVERLAY_ELEMENTS, Action, profile
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from pydicom import Dataset

    from sim.model import Case

AUDIT_NAME = "deidentification-audit.json"
METHOD = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"
_DUMMY_TEXT = "ANONYMIZED"
# File Meta Information that can name a site or carry anything: Source/Sending/Receiving
# AE Titles, Private Information Creator UID and Private Information.
_META_REMOVE = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
# Images whose pixels may hold burned-in text when they do not say otherwise.
_BURNED_IN_MODALITIES = {"US", "OT", "SC", "XC", "ES", "GM", "SM", "DOC", "IVUS"}
_BURNED_IN_SOP_PREFIXES = ("1.2.840.10008.5.1.4.1.1.7",  # secondary capture (all kinds)
                           "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF/CDA/STL …
                           "1.2.840.10008.5.1.4.1.1.6.",  # ultrasound
                           "1.2.840.10008.5.1.4.1.1.3.",  # ultrasound multi-frame
                           "1.2.840.10008.5.1.4.1.1.77.")  # visible light (photographs)
_DUMMIES = {"DA": "19000101", "TM": "000000.00", "DT": "19000101000000", "AS": "000Y",
            "PN": "ANONYMIZED", "CS": "ANONYMIZED", "AE": "ANONYMIZED", "IS": "0", "DS": "0",
            "UR": "", "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0, "UV": 0, "SV": 0}


@dataclass
class Audit:
    input: str  # kept in memory only: folder names often hold a name or record number
    output: str
    profile_edition: str
    files_written: int = 0
    files_skipped: int = 0
    files_refused_burned_in: int = 0  # not written (see allow_burned_in)
    files_burned_in_allowed: int = 0  # written although they may show burned-in text
    actions: Counter = field(default_factory=Counter)  # "X (0010,1000) OtherPatientIDs" -> count
    private_tags_removed: int = 0
    uids_replaced: int = 0
    warnings: list[str] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)
    audit_path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"tool": f"Twinsight {__version__}", "method": METHOD,
                "profile_edition": self.profile_edition,
                "files_written": self.files_written, "files_skipped": self.files_skipped,
                "files_refused_burned_in": self.files_refused_burned_in,
                "files_burned_in_allowed": self.files_burned_in_allowed,
                "private_tags_removed": self.private_tags_removed,
                "uids_replaced": self.uids_replaced, "warnings": self.warnings,
                "attribute_actions": dict(sorted(self.actions.items())), "files": self.files}


class Deidentifier:
    """Applies the profile to datasets; one instance per run keeps UID and ID mappings."""

    def __init__(self, keep_private: bool = False) -> None:
        self.edition, self.table = profile()
        self.keep_private = keep_private
        self.uid_map: dict[str, str] = {}
        self.patient_map: dict[str, str] = {}

    def new_uid(self, old: str) -> str:
        from pydicom.uid import generate_uid

        if old not in self.uid_map:
            self.uid_map[old] = generate_uid()  # 2.25.<random UUID>: carries nothing of the old one
        return self.uid_map[old]

    def _dummy(self, elem) -> Any:
        from pydicom.sequence import Sequence

        if elem.VR == "SQ":
            return Sequence([])
        if elem.VR == "UI":
            return self.new_uid(str(elem.value)) if elem.value else ""
        if elem.tag == 0x00100020:  # Patient ID: a pseudonym, the same for the same patient
            key = str(elem.value)
            self.patient_map.setdefault(key, f"ANON{len(self.patient_map) + 1:04d}")
            return self.patient_map[key]
        if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
            return b""
        return _DUMMIES.get(elem.VR, _DUMMY_TEXT)

    def apply(self, ds: Dataset, audit: Audit) -> None:
        """De-identify ``ds`` in place (recursively)."""
        for elem in list(ds):
            tag = int(elem.tag)
            group, element = tag >> 16, tag & 0xFFFF
            action = self.table.get(tag)
            if action is None and (group in CURVE_GROUPS or (
                    0x6000 <= group <= 0x60FF and group % 2 == 0 and element in OVERLAY_ELEMENTS)):
                action = Action.REMOVE
            if action is None:
                if elem.VR == "SQ":
                    for item in elem.value:
                        self.apply(item, audit)
                continue
            audit.actions[f"{action.value} ({group:04X},{element:04X}) {elem.keyword or '?'}"] += 1
            if action is Action.REMOVE:
                del ds[elem.tag]
            elif action is Action.EMPTY:
                elem.value = [] if elem.VR == "SQ" else (b"" if elem.VR in ("OB", "OW", "UN") else None)
            elif action is Action.UID:
                if elem.VR == "SQ":  # the whole profile inside, UIDs included
                    for item in elem.value:
                        self.apply(item, audit)
                elif elem.value:
                    elem.value = self.new_uid(str(elem.value))
                    audit.uids_replaced += 1
            elif action is Action.SEQUENCE_UIDS:
                if elem.VR == "SQ":  # kept, but its items are de-identified like the dataset
                    for item in elem.value:
                        self.apply(item, audit)
                else:
                    elem.value = self.new_uid(str(elem.value)) if elem.VR == "UI" else None
            else:
                elem.value = self._dummy(elem)

    def finish(self, ds: Dataset, audit: Audit) -> None:
        """Private tags, the de-identification markers, and file meta consistent with the dataset."""
        from pydicom.dataset import Dataset

        if not self.keep_private:
            before = sum(1 for e in ds.iterall() if e.tag.is_private)
            ds.remove_private_tags()
            audit.private_tags_removed += before
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = f"PS3.15 Annex E Basic Profile (Twinsight {__version__})"
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator = "113100", "DCM"
        code.CodeMeaning = "Basic Application Confidentiality Profile"
        ds.DeidentificationMethodCodeSequence = [code]
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            for tag in _META_REMOVE:
                if tag in meta:
                    audit.actions[f"X ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                                  f"{meta[tag].keyword or '?'}"] += 1
                    del meta[tag]
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def may_show_burned_in_text(ds: Dataset) -> bool:
    """Whether the pixels may carry identifying text: the image says so, or it is of a kind
    that often does (ultrasound, secondary capture, photographs, other) and does not say no."""
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return True
    if flag == "NO":
        return False
    modality = str(ds.get("Modality", "") or "").strip().upper()
    sop = str(ds.get("SOPClassUID", "") or "")
    return modality in _BURNED_IN_MODALITIES or sop.startswith(_BURNED_IN_SOP_PREFIXES)


BURNED_IN_HINT = ("they may show identifying text burned into their pixels "
                  "(BurnedInAnnotation YES, or ultrasound, secondary capture, photographs or "
                  "other images that do not declare it NO)")


def deidentify_folder(src: Path, dst: Path, progress: Progress = no_progress,
                      keep_private: bool = False, allow_burned_in: bool = False) -> Audit:
    """Write de-identified copies of every DICOM file under ``src`` into the new folder ``dst``.

    Images that may show burned-in text are left out unless ``allow_burned_in`` (see
    ``audit.files_refused_burned_in`` and ``audit.warnings``); if that leaves nothing,
    InputError.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    from sim.io.dicom_scan import quiet_pydicom

    quiet_pydicom()
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise InputError(f"'{src}' does not exist.")
    if dst.exists() and any(dst.iterdir()):
        raise InputError(f"Output folder '{dst}' already exists and is not empty.")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise InputError("The output folder must not be inside the input folder.")
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
    engine = Deidentifier(keep_private=keep_private)
    audit = Audit(str(src), str(dst), engine.edition)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    series_dirs: dict[str, str] = {}
    counts: Counter = Counter()
    try:
        for i, path in enumerate(files):
            progress(i / max(len(files), 1), f"De-identifying {i + 1}/{len(files)}")
            try:
                ds = pydicom.dcmread(path)
            except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, EOFError,
                    AttributeError, IndexError, OverflowError):
                audit.files_skipped += 1
                continue
            if may_show_burned_in_text(ds):
                if not allow_burned_in:
                    audit.files_refused_burned_in += 1
                    continue
                audit.files_burned_in_allowed += 1
            series = str(ds.get("SeriesInstanceUID", "") or "")
            engine.apply(ds, audit)
            engine.finish(ds, audit)
            folder = series_dirs.setdefault(series, f"S{len(series_dirs) + 1:04d}")
            counts[folder] += 1
            rel = f"{folder}/IM{counts[folder]:04d}.dcm"
            (tmp / folder).mkdir(exist_ok=True)
            try:
                ds.save_as(tmp / rel, enforce_file_format=False)
            except Exception as exc:  # pydicom raises many kinds for values it cannot encode
                raise FileFormatError(path, f"its de-identified copy cannot be written ({exc})") from None
            audit.files_written += 1
            audit.files.append({"output": rel, "series": folder})
        if audit.files_refused_burned_in:
            audit.warnings.append(f"{audit.files_refused_burned_in} image(s) were not written: "
                                  f"{BURNED_IN_HINT}; pass --allow-burned-in to include them")
        if audit.files_burned_in_allowed:
            audit.warnings.append(f"{audit.files_burned_in_allowed} written image(s) may still "
                                  f"show identifying text burned into their pixels: check them")
        if audit.files_written == 0 and audit.files_refused_burned_in:
            raise InputError(f"Nothing was de-identified: all {audit.files_refused_burned_in} "
                             f"image(s) were refused because {BURNED_IN_HINT}; pass "
                             f"--allow-burned-in to de-identify them anyway.")
        if audit.files_written == 0:
            raise InputError(f"No DICOM files found under '{src}'.")
        audit.audit_path = str(dst / AUDIT_NAME)
        (tmp / AUDIT_NAME).write_text(json.dumps(audit.as_dict(), indent=2))  # no input name
        if dst.exists():
            dst.rmdir()
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(1.0, "De-identified")
    return audit


def load_deidentified(src: Path, progress: Progress = no_progress,
                      allow_burned_in: bool = False) -> Case:
    """Open the largest DICOM series under ``src`` as a case, de-identified first.

    The de-identified copy is made in a private temporary folder and removed once loaded, so
    nothing identifying reaches the case (its name and source do not mention ``src`` either).
    """
    from sim.io import load
    from sim.progress import sub_progress

    with tempfile.TemporaryDirectory(prefix="twinsight-deid-") as tmp:
        out = Path(tmp) / "dicom"
        audit = deidentify_folder(Path(src), out, sub_progress(progress, 0.0, 0.5),
                                  allow_burned_in=allow_burned_in)
        case = load(out, sub_progress(progress, 0.5, 1.0))
    case.name = "De-identified scan"
    case.source = None
    case.description = "; ".join(x for x in (
        f"de-identified on import ({METHOD}, {audit.files_written} files)", case.description) if x)
    for obj in case.scene:
        obj.metadata["deidentified"] = True
    return case

"""De-identification inside sequences, File Meta, audit and burned-in text, on real DICOM files.

The check is independent of our profile code: it reads Table E.1-1 as data from the
``dicomanonymizer`` package's own category lists (X, Z, D, U and their combinations) and
walks every element of every item at every depth of the output.
"""

from __future__ import annotations

import json
import shutil

import pydicom
import pytest
from pydicom.dataset import Dataset

from sim.cli import main
from sim.privacy.deidentify import AUDIT_NAME, deidentify_folder
from tests.conftest import SHARED_DATA as DATA

CT = DATA / "ct" / "totalseg" / "example_ct_dicom"
FOLDER = "Doe_Jane_MRN448812"  # the kind of folder name hospitals export
PHI = {"PatientName": "Doe^Jane", "PatientID": "MRN448812", "StudyDate": "19610203",
       "InstitutionName": "Saint Nowhere Hospital", "OperatorsName": "Tech^Tony",
       "AccessionNumber": "ACC99172", "PatientBirthDate": "19400517",
       "ReferringPhysicianName": "Dr^Referrer", "StudyID": "STUDY7781"}


def _table():
    """{tag: set of raw Table E.1-1 codes} straight from the package's data."""
    from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as t

    codes = {"X_TAGS": "X", "Z_TAGS": "Z", "D_TAGS": "D", "U_TAGS": "U", "X_Z_TAGS": "X/Z",
             "X_D_TAGS": "X/D", "Z_D_TAGS": "Z/D", "X_Z_D_TAGS": "X/Z/D",
             "X_Z_U_STAR_TAGS": "X/Z/U*"}
    table = {}
    for name, code in codes.items():
        for entry in getattr(t, name):
            if len(entry) == 2:
                table[(entry[0] << 16) | entry[1]] = code
    return table


def _phi_item(depth: int) -> Dataset:
    item = Dataset()
    for k, v in PHI.items():
        setattr(item, k, v)
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.99.{depth}.7"
    if depth:
        inner = Dataset()
        inner.RequestedProcedureID = "RPID-5544"
        inner.AccessionNumber = PHI["AccessionNumber"]
        item.RequestAttributesSequence = [inner]  # X: removed with all it holds
        item.AnatomicRegionSequence = [_phi_item(depth - 1)]  # not in the table: walked
    return item


@pytest.fixture
def nested_copy(tmp_path):
    if not CT.is_dir():
        pytest.skip(f"shared test data not found at {CT}")
    src = tmp_path / FOLDER
    src.mkdir()
    originals = []
    for i, f in enumerate(sorted(CT.iterdir())[:3]):
        ds = pydicom.dcmread(f)
        ds.ReferencedImageSequence = [_phi_item(2)]          # X/Z/U*
        ds.SourceImageSequence = [_phi_item(1)]              # X/Z/U*
        ds.ReferencedStudySequence = [_phi_item(1)]          # X
        ds.ProcedureCodeSequence = [_phi_item(0)]            # X
        ds.AnatomicRegionSequence = [_phi_item(1)]           # not in the table: kept, walked
        ds.file_meta.SourceApplicationEntityTitle = "STNOWHERE_CT1"
        ds.save_as(src / f"{FOLDER}_{i}.dcm")
        originals.append(pydicom.dcmread(src / f"{FOLDER}_{i}.dcm"))
    return src, originals


def _walk(ds, depth=0):
    for elem in ds:
        yield elem, depth
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item, depth + 1)


def test_every_item_at_every_depth_follows_table_e11(nested_copy, tmp_path):
    src, originals = nested_copy
    out = tmp_path / "out"
    audit = deidentify_folder(src, out)
    assert audit.files_written == 3
    table = _table()
    orig_uids = {str(e.value) for ds in originals for e, _ in _walk(ds)
                 if e.VR == "UI" and not e.is_empty and int(e.tag) in table}
    orig_uids |= {str(ds.file_meta.MediaStorageSOPInstanceUID) for ds in originals}
    # values the profile must remove (anything in the table other than U), at any depth
    secret = {str(e.value) for ds in originals for e, _ in _walk(ds)
              if int(e.tag) in table and table[int(e.tag)] != "U" and e.VR != "SQ"
              and len(str(e.value)) >= 4}
    kept = {str(e.value) for ds in originals for e, _ in _walk(ds) if int(e.tag) not in table}
    secret -= kept
    assert set(PHI.values()) <= secret
    deepest, refs = 0, set()
    for f in sorted(out.rglob("*.dcm")):
        ds = pydicom.dcmread(f)
        for elem, depth in _walk(ds):
            deepest = max(deepest, depth)
            code = table.get(int(elem.tag))
            where = f"{f.name}: {elem.tag} {elem.keyword} at depth {depth}"
            if code == "X":
                pytest.fail(f"{where} must be removed")
            if code in ("Z", "X/Z"):
                assert elem.is_empty, where
            if code in ("D", "X/D", "Z/D", "X/Z/D") and elem.VR != "SQ":
                assert str(elem.value) not in secret, where
            if code == "U" and not elem.is_empty:
                assert str(elem.value) not in orig_uids, where
            if elem.VR != "SQ":
                assert str(elem.value) not in secret, where
        raw = f.read_bytes()
        for value in PHI.values():
            assert value.encode() not in raw, (f.name, value)
        assert b"STNOWHERE" not in raw  # File Meta Source AE Title (0002,0016)
        assert "SourceApplicationEntityTitle" not in ds.file_meta
        assert str(ds.file_meta.MediaStorageSOPInstanceUID) not in orig_uids
        # references stay consistent: the same old UID maps to the same new one
        refs.add(str(ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID))
    assert len(refs) == 1 and not refs & orig_uids
    assert deepest >= 3  # the nested items were really there and walked
    text = (out / AUDIT_NAME).read_text()
    assert FOLDER not in text and "MRN448812" not in text and str(src) not in text
    assert "input" not in json.loads(text)


def test_burned_in_images_are_refused_unless_allowed(nested_copy, tmp_path, capsys):
    src, _ = nested_copy
    files = sorted(src.glob("*.dcm"))
    ds = pydicom.dcmread(files[0])
    ds.BurnedInAnnotation = "YES"
    ds.save_as(files[0])
    ds = pydicom.dcmread(files[1])
    ds.Modality = "US"  # an ultrasound image that does not say whether text is burned in
    ds.save_as(files[1])
    assert main(["dicom", "deidentify", str(src), str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "2 image(s) were not written" in err and "--allow-burned-in" in err
    assert len(list((tmp_path / "a").rglob("*.dcm"))) == 1
    assert json.loads((tmp_path / "a" / AUDIT_NAME).read_text())["files_refused_burned_in"] == 2
    assert main(["dicom", "deidentify", str(src), str(tmp_path / "b"), "--allow-burned-in"]) == 0
    assert "may still show identifying text" in capsys.readouterr().err
    assert len(list((tmp_path / "b").rglob("*.dcm"))) == 3
    # only burned-in images: nothing written, one sentence, exit 2
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(files[0], only / "x.dcm")
    assert main(["dicom", "deidentify", str(only), str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--allow-burned-in" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()

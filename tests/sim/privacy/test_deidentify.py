"""DICOM de-identification (PS3.15 Annex E basic profile) on series carrying made-up PHI."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from sim.cli import main
from sim.errors import InputError
from sim.imaging.volume import affine_of, voxel_array
from sim.io import load
from sim.privacy.deidentify import AUDIT_NAME, deidentify_folder
from sim.privacy.profile import profile
from tests.sim.io.dicom_factory import write_series

PHI = ["Doe^Jane", "TS-0001", "19700101", "General Hospital", "Dr^Who", "A123", "20240102",
       "secret private value"]


@pytest.fixture
def study(tmp_path):
    """Two series of one study, with PHI, a private tag and a reference between images."""
    hu = np.arange(4 * 6 * 5, dtype=np.int16).reshape(4, 6, 5)
    study_uid = pydicom.uid.generate_uid()
    a = write_series(tmp_path / "in" / "Doe_Jane" / "ax", hu, study_uid=study_uid, private=True)
    write_series(tmp_path / "in" / "Doe_Jane" / "loc", hu[:2], study_uid=study_uid,
                 description="localizer", prefix="loc")
    ds = pydicom.dcmread(a[1])
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = pydicom.dcmread(a[0]).SOPInstanceUID
    ds.ReferencedImageSequence = [ref]
    ds.OtherPatientIDs = "OLD-ID-77"
    ds.save_as(a[1])
    return tmp_path / "in", study_uid, a


def test_phi_is_gone_and_uids_are_consistent(study, tmp_path):
    src, study_uid, files = study
    before = {p: p.read_bytes() for p in src.rglob("*.dcm")}
    audit = deidentify_folder(src, tmp_path / "out")
    assert audit.files_written == 6 and audit.private_tags_removed >= 4
    outs = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(outs) == 6
    assert all("Doe" not in str(p) for p in outs)  # names in folder names are not carried over
    datasets = [pydicom.dcmread(p) for p in outs]
    for ds in datasets:
        raw = bytes(ds.PixelData)
        text = str(ds) + str(ds.file_meta)
        for value in PHI + ["OLD-ID-77"]:
            assert value not in text, value
        assert ds.PatientIdentityRemoved == "YES"
        assert "Annex E" in ds.DeidentificationMethod
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert not any(e.tag.is_private for e in ds.iterall())
        assert ds.StudyInstanceUID != study_uid
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientName == "" and ds.PatientID.startswith("ANON")
        assert "PatientBirthDate" not in ds or ds.PatientBirthDate == ""
        assert len(raw) == 6 * 5 * 2
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1  # one study stays one study
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 2
    assert len({ds.PatientID for ds in datasets}) == 1
    # the reference points at the new UID of the referenced image
    sop_uids = {ds.SOPInstanceUID for ds in datasets}
    refs = [ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID for ds in datasets
            if "ReferencedImageSequence" in ds and len(ds.ReferencedImageSequence)]
    assert refs and refs[0] in sop_uids
    # the input is untouched
    assert all(p.read_bytes() == b for p, b in before.items())
    # the audit says what was done, never the old values
    audit_text = (tmp_path / "out" / AUDIT_NAME).read_text()
    for value in PHI + [study_uid]:
        assert value not in audit_text
    log = json.loads(audit_text)
    assert log["attribute_actions"]["Z (0010,0010) PatientName"] == 6
    assert log["attribute_actions"]["X (0010,1000) OtherPatientIDs"] == 1


def test_deidentified_series_loads_with_same_geometry_and_pixels(study, tmp_path):
    src, _, _ = study
    deidentify_folder(src, tmp_path / "out")
    orig = list(load(src / "Doe_Jane" / "ax").scene)[0].data
    anon_series = max((tmp_path / "out").iterdir(), key=lambda p: len(list(p.glob("*.dcm"))))
    anon = list(load(anon_series).scene)[0].data
    np.testing.assert_array_equal(voxel_array(anon), voxel_array(orig))
    np.testing.assert_allclose(affine_of(anon), affine_of(orig))


def test_profile_table_covers_the_standard():
    edition, table = profile()
    assert len(table) > 400
    assert table[0x00100010].value == "Z"  # Patient's Name
    assert table[0x00080018].value == "U"  # SOP Instance UID
    assert table[0x00101000].value == "X"  # Other Patient IDs


def test_bad_arguments(study, tmp_path):
    src, _, _ = study
    with pytest.raises(InputError):
        deidentify_folder(tmp_path / "missing", tmp_path / "o1")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        deidentify_folder(src, tmp_path / "full")
    with pytest.raises(InputError, match="inside"):
        deidentify_folder(src, src / "sub")
    (tmp_path / "nodicom").mkdir()
    (tmp_path / "nodicom" / "a.txt").write_text("hello")
    with pytest.raises(InputError, match="No DICOM"):
        deidentify_folder(tmp_path / "nodicom", tmp_path / "o2")
    assert not (tmp_path / "o2").exists()  # nothing half-written


def test_cli(study, tmp_path, capsys):
    src, _, _ = study
    assert main(["dicom", "deidentify", str(src), str(tmp_path / "out"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files_written"] == 6
    assert main(["dicom", "deidentify", str(src), str(tmp_path / "out")]) == 2


def test_import_deidentified_case(study):
    from sim.privacy.deidentify import load_deidentified

    src, _, _ = study
    case = load_deidentified(src)
    (obj,) = list(case.scene)
    assert obj.kind == "volume" and obj.metadata["deidentified"]
    assert "Doe" not in case.name + case.description + str(case.source) + obj.name
    assert "de-identified on import" in case.description

"""Opening one DICOM file opens its series: files without a '.dcm' suffix (as scanners write
them) are recognised by their 'DICM' marker, only the file's own folder is scanned, and a
lying file beside it is skipped while the lie of the opened file itself is reported."""

from __future__ import annotations

import shutil

import pydicom
import pytest

from sim.errors import FileFormatError
from sim.io import load


@pytest.fixture
def ct_folder(shared_data, tmp_path):
    src = shared_data / "ct" / "totalseg" / "example_ct_dicom"
    files = sorted(p for p in src.iterdir() if p.is_file())
    folder = tmp_path / "series"
    folder.mkdir()
    for i, f in enumerate(files):
        shutil.copy(f, folder / f"IM{i:04d}")  # no suffix at all
    return folder, len(files)


def test_a_suffixless_file_opens_its_whole_series(ct_folder):
    folder, n = ct_folder
    volume = next(iter(load(folder / "IM0003").scene))
    assert volume.kind == "volume" and volume.data.dimensions[2] == n


def test_neighbours_that_lie_are_skipped_and_subfolders_not_scanned(ct_folder):
    folder, n = ct_folder
    liar = pydicom.dcmread(folder / "IM0000")
    liar.NumberOfFrames = 10**9
    liar.SeriesInstanceUID = "1.2.3.4"
    liar.save_as(folder / "LIAR")
    deeper = folder / "other"
    deeper.mkdir()
    shutil.copy(folder / "LIAR", deeper / "ALSO_LIAR")
    volume = next(iter(load(folder / "IM0001").scene))
    assert volume.data.dimensions[2] == n
    with pytest.raises(FileFormatError, match="frame"):
        load(folder / "LIAR")


def test_a_file_that_is_not_dicom_and_has_no_suffix_is_refused(tmp_path):
    plain = tmp_path / "README"
    plain.write_bytes(b"just text" * 40)
    with pytest.raises(FileFormatError, match="not a supported format"):
        load(plain)


def test_a_damaged_slice_of_the_series_itself_refuses_it(ct_folder):
    folder, _n = ct_folder
    ds = pydicom.dcmread(folder / "IM0002")
    ds.NumberOfFrames = 10**9  # same series: loading without it would lose a slice silently
    ds.save_as(folder / "IM0002")
    with pytest.raises(FileFormatError, match="IM0002"):
        load(folder / "IM0001")

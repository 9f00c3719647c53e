"""12-bit JPEG Extended (1.2.840.10008.1.2.4.51) DICOM: a real scanner file that pydicom's
standard plugins refuse, and a CT series encoded by an independent 12-bit JPEG encoder
(libjpeg-turbo through imagecodecs), checked voxel by voxel against the values encoded."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGExtended12Bit

from sim.imaging.volume import voxel_array
from sim.io import load
from tests.sim.io.dicom_factory import write_series

imagecodecs = pytest.importorskip("imagecodecs")


def _only(case):
    (obj,) = list(case.scene)
    return obj


def test_nonconformant_12bit_jpeg_from_a_scanner_decodes(tmp_path):
    """JPEG-lossy.dcm's scan header says spectral end 0 (not 63): libjpeg refuses it, GDCM and
    Pillow refuse 12 bits. JPGExtended.dcm is the same image with a conformant stream."""
    for name in ("JPEG-lossy.dcm", "JPGExtended.dcm"):
        (tmp_path / name).mkdir()
        shutil.copy(get_testdata_file(name), tmp_path / name / "a.dcm")
    bad = voxel_array(_only(load(tmp_path / "JPEG-lossy.dcm")).data).astype(int)
    good = voxel_array(_only(load(tmp_path / "JPGExtended.dcm")).data).astype(int)
    assert bad.shape == good.shape == (256, 1024, 1)
    assert bad.max() > 200 and np.abs(bad - good).max() <= 1  # IDCT rounding only


@pytest.fixture(scope="module")
def ct_slices(shared_data):
    """Four real CT slices (HU) as 12-bit stored values (HU + 1024, 0..4095)."""
    nib = pytest.importorskip("nibabel")
    hu = np.asarray(nib.load(shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz").dataobj)
    stack = np.transpose(hu[:, :, 10:14], (2, 1, 0)).astype(np.int32)  # [slice, row, col]
    return np.clip(stack, -1024, 3071).astype(np.int16)


def test_independently_encoded_12bit_ct_series_decodes_to_its_values(tmp_path, ct_slices):
    from pydicom import dcmread
    from pydicom.pixels import pixel_array

    paths = write_series(tmp_path / "ct", ct_slices, spacing=(3.0, 3.0), shuffle=False)
    for k, path in enumerate(sorted(paths)):
        ds = dcmread(path)
        stored = (ct_slices[k].astype(np.int32) + 1024).astype(np.uint16)
        jpeg = imagecodecs.jpeg8_encode(stored, level=95, bitspersample=12)
        assert jpeg[2:4] in (b"\xff\xe0", b"\xff\xdb") and b"\xff\xc1" in jpeg  # SOF1: extended
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = encapsulate([jpeg])
        ds.file_meta.TransferSyntaxUID = JPEGExtended12Bit
        ds.save_as(path, enforce_file_format=True)
    obj = _only(load(tmp_path / "ct"))
    got = np.transpose(voxel_array(obj.data), (2, 1, 0)).astype(int)  # back to [slice, row, col]
    err = np.abs(got - ct_slices.astype(int))
    assert got.shape == ct_slices.shape
    print(f"12-bit JPEG round trip: mean |err| {err.mean():.2f} HU, max {err.max()} HU")
    assert err.mean() < 3.0 and np.percentile(err, 99) < 30, (err.mean(), err.max())
    assert got.min() < -900 and got.max() > 1000  # air and bone survive in HU
    # both decoders (libjpeg through pylibjpeg, libjpeg-turbo through our plugin) agree
    ref = pixel_array(str(sorted(paths)[0]), decoding_plugin="pylibjpeg").astype(int)
    alt = pixel_array(str(sorted(paths)[0]), decoding_plugin="imagecodecs").astype(int)
    assert np.abs(ref - alt).max() <= 1

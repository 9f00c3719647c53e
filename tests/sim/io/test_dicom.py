"""DICOM series: scanning, grouping, geometry, ordering, spacing, tilt, compression, multi-frame."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from sim.cli import main
from sim.errors import FileFormatError
from sim.imaging.volume import affine_of, voxel_array
from sim.io import load
from sim.io.dicom_scan import scan_folder
from tests.sim.io.dicom_factory import write_enhanced, write_series


def _phantom(n=6, rows=20, cols=24) -> np.ndarray:
    k, j, i = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    return (100 * k + 3 * j + i - 500).astype(np.int16)  # every voxel tells where it is


def _only(case):
    (obj,) = list(case.scene)
    return obj


def test_real_jpeg2000_series_geometry_matches_its_nifti(shared_data):
    obj = _only(load(shared_data / "ct" / "totalseg" / "example_ct_dicom"))
    assert obj.kind == "volume" and obj.metadata["modality"] == "CT"
    assert tuple(obj.data.dimensions) == (512, 512, 20)
    np.testing.assert_allclose(obj.data.spacing, (0.9765625, 0.9765625, 2.0))
    values = voxel_array(obj.data)
    assert values.min() == -1024 and values.dtype == np.int16  # rescaled to HU
    # The label map made for this series covers exactly the same box in the world.
    seg = _only(load(shared_data / "ct" / "totalseg" / "example_seg_dicom.nii.gz"))
    np.testing.assert_allclose(obj.data.bounds, seg.data.bounds, atol=1e-3)


def test_order_by_position_not_instance_number(tmp_path):
    hu = _phantom()
    write_series(tmp_path / "s", hu)
    obj = _only(load(tmp_path / "s"))
    vol = voxel_array(obj.data)  # [i=col, j=row, k=slice]
    np.testing.assert_array_equal(vol, np.transpose(hu, (2, 1, 0)))
    np.testing.assert_allclose(obj.data.spacing, (0.7, 0.8, 2.5))
    np.testing.assert_allclose(obj.data.origin, (-100, -120, 50))
    assert obj.display.window == (40.0, 400.0)


def test_oblique_orientation_and_world_positions(tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    ori = (c, s, 0, 0, 0, -1)  # rows run obliquely in x/y, columns run foot-wards
    normal = np.cross(ori[:3], ori[3:])
    pos = [np.array([5.0, 6.0, 7.0]) + 1.5 * k * normal for k in range(4)]
    write_series(tmp_path / "s", _phantom(n=4), positions=pos, orientation=ori)
    obj = _only(load(tmp_path / "s"))
    aff = affine_of(obj.data)
    # voxel (i, j, k) sits at IPP_k + i*col_spacing*row_dir + j*row_spacing*col_dir
    ijk = np.array([3, 5, 2, 1.0])
    expected = pos[2] + 3 * 0.7 * np.array(ori[:3]) + 5 * 0.8 * np.array(ori[3:])
    np.testing.assert_allclose((aff @ ijk)[:3], expected, atol=1e-6)


def test_several_series_and_split_by_orientation(tmp_path, capsys):
    write_series(tmp_path / "a", _phantom(n=5), description="axial")
    write_series(tmp_path / "b" / "deep", _phantom(n=3), description="small")
    uid = "1.2.826.0.1.3680043.8.498.1"
    write_series(tmp_path / "c", _phantom(n=4), series_uid=uid, description="mixed", prefix="ax")
    write_series(tmp_path / "c", _phantom(n=2), series_uid=uid, description="mixed", prefix="sag",
                 orientation=(0, 1, 0, 0, 0, -1))
    (tmp_path / "notes.txt").write_text("not dicom")
    found = scan_folder(tmp_path)
    assert [len(s.frames) for s in found] == [5, 4, 3, 2]
    assert [s.sub for s in found if s.uid == uid] == [1, 2]
    assert main(["dicom", "list", str(tmp_path), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["series"]
    assert [r["description"] for r in listing] == ["axial", "mixed", "small", "mixed"]
    assert listing[0]["size"] == [24, 20, 5] and listing[0]["spacing_mm"] == [0.7, 0.8, 2.5]
    case = load(tmp_path)  # the largest series is loaded; the note says there are others
    assert _only(case).data.dimensions[2] == 5 and "4 series" in case.description


def test_non_uniform_spacing_is_resampled(tmp_path):
    z = [0.0, 2.0, 4.0, 7.0, 9.0, 11.0]
    hu = np.stack([np.full((8, 8), 10 * zz, dtype=np.int16) for zz in z])
    write_series(tmp_path / "s", hu, positions=[np.array([0, 0, zz]) for zz in z])
    case = load(tmp_path / "s")
    obj = _only(case)
    assert obj.data.spacing[2] == pytest.approx(2.0)
    vol = voxel_array(obj.data)
    assert vol.shape[2] == 6  # 0..10 mm in 2 mm steps
    np.testing.assert_allclose(vol[0, 0, :], [0, 20, 40, 60, 80, 100], atol=1)  # linear in z
    assert "uneven slice spacing" in case.description


def test_missing_slices_are_refused(tmp_path):
    z = [0.0, 2.0, 4.0, 30.0]
    write_series(tmp_path / "s", _phantom(n=4), positions=[np.array([0, 0, zz]) for zz in z])
    with pytest.raises(FileFormatError, match="slices are missing"):
        load(tmp_path / "s")


def test_gantry_tilt_is_detected_and_removed(tmp_path):
    n, step, shift_per_slice = 5, 2.0, 0.8 * 2  # slices drift 2 pixels (rows) each
    base = np.zeros((n, 30, 30), dtype=np.int16)
    for k in range(n):
        base[k, 10 - 2 * k, 12] = 1000  # a rod that is straight in the world
    pos = [np.array([0.0, shift_per_slice * k, step * k]) for k in range(n)]
    write_series(tmp_path / "s", base, positions=pos, spacing=(0.8, 0.8))
    case = load(tmp_path / "s")
    vol = voxel_array(_only(case).data)
    assert "gantry tilt" in case.description
    peaks = [np.unravel_index(np.argmax(vol[:, :, k]), vol.shape[:2]) for k in range(n)]
    assert all(p == (12, 10) for p in peaks), peaks  # the rod now lines up in the volume


def test_enhanced_multiframe(tmp_path):
    hu = _phantom(n=5)
    path = write_enhanced(tmp_path / "mf" / "enh.dcm", hu)
    obj = _only(load(path))
    vol = voxel_array(obj.data)
    np.testing.assert_array_equal(vol, np.transpose(hu, (2, 1, 0)))
    assert obj.data.spacing[2] == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm",
                                  "MR_small_implicit.dcm"])
def test_compressed_transfer_syntaxes_decode_exactly(tmp_path, name):
    ref_dir, dut_dir = tmp_path / "ref", tmp_path / "dut"
    ref_dir.mkdir()
    dut_dir.mkdir()
    shutil.copy(get_testdata_file("MR_small.dcm"), ref_dir / "a.dcm")
    shutil.copy(get_testdata_file(name), dut_dir / "a.dcm")
    ref = voxel_array(_only(load(ref_dir / "a.dcm")).data)
    got = voxel_array(_only(load(dut_dir / "a.dcm")).data)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEGLSNearLossless_16.dcm"])
def test_lossy_jpeg_decodes(tmp_path, name):
    shutil.copy(get_testdata_file(name), tmp_path / "a.dcm")
    obj = _only(load(tmp_path / "a.dcm"))
    assert voxel_array(obj.data).std() > 0


def test_truncated_and_garbage_dicom(tmp_path):
    shutil.copy(get_testdata_file("MR_truncated.dcm"), tmp_path / "a.dcm")
    with pytest.raises(FileFormatError, match="pixel data"):
        load(tmp_path / "a.dcm")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 300)
    with pytest.raises(FileFormatError):
        load(bad)
    with pytest.raises(FileFormatError, match="no DICOM images"):
        load(tmp_path / "bad")


def test_dicom_list_errors(tmp_path):
    assert main(["dicom", "list", str(tmp_path / "missing")]) == 2


def test_rt_dose_grid_offsets_and_scaling(tmp_path):
    """Legacy multi-frame: frame positions from GridFrameOffsetVector, values scaled to Gy."""
    import pydicom

    shutil.copy(get_testdata_file("rtdose.dcm"), tmp_path / "dose.dcm")
    obj = _only(load(tmp_path))
    ds = pydicom.dcmread(tmp_path / "dose.dcm")
    assert tuple(obj.data.dimensions) == (ds.Columns, ds.Rows, ds.NumberOfFrames)
    assert obj.data.spacing[2] == pytest.approx(5.0)
    np.testing.assert_allclose(obj.data.origin, [float(v) for v in ds.ImagePositionPatient])
    raw = ds.pixel_array  # [frame, row, col]
    np.testing.assert_allclose(voxel_array(obj.data), np.transpose(raw, (2, 1, 0)) * ds.DoseGridScaling,
                               rtol=1e-6)

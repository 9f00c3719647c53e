"""DICOM import fidelity (issue #23): modality LUTs, truncated frames, gantry tilt, Siemens
mosaics, multi-volume series (colour: test_dicom_colour.py; time series:
test_dicom_timeseries.py).

References: pydicom's own ``apply_modality_lut`` on the files of the ``pydicom-data``
package; dcm2niix (Debian) for the mosaic; analytic values for the tilt resampling.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sim.errors import FileFormatError
from sim.imaging.volume import voxel_array
from sim.io import load
from tests.sim.io.dicom_factory import write_series


def _pydicom_data(name: str) -> Path:
    from pydicom.data import get_testdata_file

    try:
        path = get_testdata_file(name, download=False)
    except Exception:  # noqa: BLE001 - pydicom raises various errors when offline
        path = None
    if path is None:
        pytest.skip(f"{name} comes with the pydicom-data package (pip install -e '.[test]')")
    return Path(path)


def _alone(tmp_path: Path, name: str) -> Path:
    """A copy of one pydicom-data file in its own folder (a file opens its folder's series)."""
    dst = tmp_path / name.replace(".dcm", "") / name
    dst.parent.mkdir(parents=True)
    shutil.copy(_pydicom_data(name), dst)
    return dst


def _only(case):
    (obj,) = list(case.scene)
    return obj


def test_modality_lut_sequence_is_applied_like_pydicom(tmp_path):
    import pydicom
    from pydicom.pixels import apply_modality_lut

    path = _alone(tmp_path, "mlut_18.dcm")
    ds = pydicom.dcmread(path)
    assert "ModalityLUTSequence" in ds and "RescaleSlope" not in ds
    expected = apply_modality_lut(ds.pixel_array, ds)
    assert np.abs(expected - ds.pixel_array).max() > 1000  # the LUT matters for this file
    vol = voxel_array(_only(load(path)).data)
    np.testing.assert_array_equal(vol[:, :, 0], expected.T)


def test_truncated_jpeg2000_file_says_truncated(tmp_path):
    src = _pydicom_data("emri_small_jpeg_2k_lossless.dcm").read_bytes()
    path = tmp_path / "t" / "cut.dcm"
    path.parent.mkdir()
    path.write_bytes(src[: len(src) - len(src) // 3])
    with pytest.raises(FileFormatError, match="truncated"):
        load(path)
    (tmp_path / "t" / "cut.dcm").write_bytes(b"not dicom at all" * 20)
    with pytest.raises(FileFormatError, match="not a DICOM image"):
        load(path)


def test_gantry_tilt_rounds_and_grows_the_grid(tmp_path):
    """Each slice holds 7 * row + 100; slices drift 0.3 pixel per slice along the rows.
    In the world, slice k's row j sits at row j - 0.3 k of its own image, so the untilted
    value there is exactly round(7 (j - 0.3 k) + 100): truncating would give 4 instead of 5
    for 4.9, and the last slice needs a 31st row."""
    n, rows, cols, dy = 5, 30, 8, 0.8
    base = np.repeat((7 * np.arange(rows) + 100)[None, :, None], cols, axis=2)
    base = np.repeat(base, n, axis=0).astype(np.int16)
    pos = [np.array([0.0, 0.3 * dy * k, 2.0 * k]) for k in range(n)]
    write_series(tmp_path / "s", base, positions=pos, spacing=(dy, 0.7))
    case = load(tmp_path / "s")
    vol = voxel_array(_only(case).data)  # [column, row, slice]
    assert "gantry tilt" in case.description and vol.dtype == np.int16
    assert vol.shape[1] >= rows + 2  # 0.3 x 4 = 1.2 rows of drift: nothing is cut
    j = np.arange(vol.shape[1])
    for k in range(n):
        src = j - 0.3 * k
        inside = (src >= 0) & (src <= rows - 1)
        expected = np.round(7 * src[inside] + 100)
        np.testing.assert_array_equal(vol[3, inside, k], expected, err_msg=f"slice {k}")
    assert inside[-1] or inside[-2]  # the grown rows hold real data for the last slice


@pytest.mark.parametrize("drift_rows, drift_cols", [(-0.4, 0.25), (0.35, -0.6)])
def test_gantry_tilt_any_direction_matches_the_geometry(tmp_path, drift_rows, drift_cols):
    """Slices drifting both ways in-plane: every output voxel, mapped to the world by the
    loaded image's own affine and back into each slice's pixel grid with the file's
    positions, holds that slice's (linear, so exactly interpolated) value rounded; and every
    pixel of every slice lies inside the output grid (nothing cut)."""
    from sim.imaging.volume import affine_of

    n, rows, cols, dy, dx = 6, 12, 10, 0.8, 0.7
    r, c = np.mgrid[:rows, :cols]
    plane = (7 * r + 3 * c + 100).astype(np.int16)
    pos = [np.array([drift_cols * dx * k, drift_rows * dy * k, 2.0 * k]) for k in range(n)]
    write_series(tmp_path / "s", np.repeat(plane[None], n, axis=0), positions=pos, spacing=(dy, dx))
    obj = _only(load(tmp_path / "s"))
    vol = voxel_array(obj.data)
    affine = affine_of(obj.data)
    ijk = np.indices(vol.shape).reshape(3, -1)
    world = (affine @ np.vstack([ijk, np.ones(ijk.shape[1])]))[:3].T
    for k in range(n):
        on = ijk[2] == k
        col = (world[on] - pos[k]) @ np.array([1.0, 0, 0]) / dx
        row = (world[on] - pos[k]) @ np.array([0, 1.0, 0]) / dy
        inside = (row > -1e-6) & (row < rows - 1 + 1e-6) & (col > -1e-6) & (col < cols - 1 + 1e-6)
        np.testing.assert_array_equal(vol[ijk[0, on][inside], ijk[1, on][inside], k],
                                      np.round(7 * row[inside] + 3 * col[inside] + 100),
                                      err_msg=f"slice {k}")
        corners = np.array([[0, 0], [0, cols - 1], [rows - 1, 0], [rows - 1, cols - 1]])
        for rr, cc in corners:  # each slice's corner pixels fall inside the grown grid
            p = pos[k] + cc * dx * np.array([1.0, 0, 0]) + rr * dy * np.array([0, 1.0, 0])
            idx = np.linalg.solve(affine, np.append(p, 1.0))[:3]
            assert (idx > -1e-6).all() and (idx < np.array(vol.shape) - 1 + 1e-6).all(), (k, idx)


MOSAIC = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "dicom-qa" / "mosaic-ax"


def _dcm2niix(folder: Path, out: Path):
    exe = shutil.which("dcm2niix")
    if exe is None:
        pytest.skip("dcm2niix is not installed (Debian package dcm2niix; packaging/setup-env.sh)")
    nib = pytest.importorskip("nibabel", reason="nibabel is not installed")
    out.mkdir()
    subprocess.run([exe, "-f", "ref", "-o", str(out), "-z", "n", "-b", "n", str(folder)],
                   check=True, capture_output=True, timeout=60)
    return nib.load(out / "ref.nii")


def _same_voxels(obj, ref_affine_ras: np.ndarray, ref_values: np.ndarray) -> None:
    """Every voxel of ``obj`` lands on the reference voxel with the same value."""
    from sim.imaging.volume import affine_of

    to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    t = np.linalg.inv(to_lps @ ref_affine_ras) @ affine_of(obj.data)  # ours -> reference ijk
    perm = np.round(t[:3, :3])
    assert np.allclose(t[:3, :3], perm, atol=1e-4), t  # same grid up to axis order and sign
    assert np.allclose(t[:3, 3], np.round(t[:3, 3]), atol=1e-3), t
    ours = voxel_array(obj.data)
    idx = np.indices(ours.shape).reshape(3, -1)
    ref_idx = np.round(perm @ idx + t[:3, 3:4]).astype(int)
    assert (ref_idx >= 0).all() and (ref_idx.max(axis=1) < ref_values.shape[:3]).all()
    np.testing.assert_array_equal(ours.reshape(-1), ref_values[tuple(ref_idx)])


def test_siemens_mosaic_matches_dcm2niix(tmp_path):
    from sim.io.dicom_scan import scan_folder

    if not MOSAIC.is_dir():
        pytest.skip(f"the Siemens mosaic files are not at {MOSAIC} (see ../shared/data)")
    ref = _dcm2niix(MOSAIC, tmp_path / "nii")
    assert ref.shape == (64, 64, 35, 2)
    values = np.asarray(ref.dataobj)
    found = scan_folder(MOSAIC)  # two volumes of one series, told apart by acquisition
    assert [s.summary()["size"] for s in found] == [[64, 64, 35]] * 2
    assert [s.volume for s in found] == ["acquisition 1", "acquisition 2"]
    copy = tmp_path / "mosaic"
    copy.mkdir()
    for t, src in enumerate(sorted(MOSAIC.iterdir())):  # the files have no .dcm suffix
        shutil.copy(src, copy / f"vol{t}.dcm")
    from sim.imaging.timeseries import current_frame, frame_count, set_frame

    for t in range(2):  # a file opens its time series at its own time point
        obj = _only(load(copy / f"vol{t}.dcm"))
        assert tuple(obj.data.dimensions) == (64, 64, 35)
        assert frame_count(obj.data) == 2 and current_frame(obj.data) == t
        np.testing.assert_allclose(obj.data.spacing, ref.header.get_zooms()[:3], rtol=1e-6)
        _same_voxels(obj, ref.affine, values[..., t])
        alone = _only(load(copy / f"vol{t}.dcm", series=f"1.{t + 1}"))  # one time point alone
        assert frame_count(alone.data) == 1
        _same_voxels(alone, ref.affine, values[..., t])
    case = load(MOSAIC)  # the folder: one 4D volume, as dcm2niix writes one 4D NIfTI
    obj = _only(case)
    assert "time series of 2 time points" in case.description
    assert frame_count(obj.data) == 2
    for t in range(2):
        set_frame(obj.data, t)
        _same_voxels(obj, ref.affine, values[..., t])


def _voxel_code(t: int, n: int, rows: int, cols: int) -> np.ndarray:
    """Values that say which time point, slice, row and column a voxel is (HU)."""
    k, j, i = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    return (1000 * t + 100 * k + 4 * j + i - 900).astype(np.int16)


def test_enhanced_4d_file_splits_by_temporal_position(tmp_path):
    """One Enhanced CT file, 2 time points x 4 slices, frames interleaved in time."""
    import pydicom
    from pydicom.dataset import Dataset

    from sim.io.dicom_scan import scan_folder
    from tests.sim.io.dicom_factory import write_enhanced

    n, rows, cols = 4, 6, 5
    vols = [_voxel_code(t, n, rows, cols) for t in range(2)]
    # write_enhanced stores frame f at z = (frames-1-f) * 2; build 8 frames then re-place them
    stack = np.concatenate(vols)[::-1]
    path = write_enhanced(tmp_path / "e" / "4d.dcm", stack)
    ds = pydicom.dcmread(path)
    order = [(t, k) for t in range(2) for k in range(n)]  # frame f holds (t, slice k) of vols
    frames = np.stack([vols[t][k] for t, k in order])
    ds.PixelData = (frames.astype(np.int32) + 1024).astype("<u2").tobytes()
    for f, (t, k) in enumerate(order):
        item = ds.PerFrameFunctionalGroupsSequence[f]
        item.PlanePositionSequence[0].ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        content = Dataset()
        content.TemporalPositionIndex = t + 1
        item.FrameContentSequence = [content]
    ds.save_as(path)
    found = scan_folder(path.parent)
    assert [s.volume for s in found] == ["temporal position 1", "temporal position 2"]
    for t, series in enumerate(found):
        from sim.io.readers.dicom import series_loaded

        obj = series_loaded(series, lambda *a: None).objects[0]
        np.testing.assert_array_equal(voxel_array(obj.data), np.transpose(vols[t], (2, 1, 0)))


def test_magnitude_and_phase_in_one_series_uid(tmp_path, capsys):
    """Two image types share a Series UID and the same positions (e.g. a field map)."""
    import pydicom

    from sim.cli import main
    from sim.io.dicom_scan import scan_folder

    n, rows, cols = 3, 6, 5
    uid = "1.2.826.0.1.3680043.8.498.1"
    for t, kind in enumerate(("M", "P")):
        paths = write_series(tmp_path / "s", _voxel_code(t, n, rows, cols), series_uid=uid,
                             study_uid=uid + ".2", prefix=kind)
        for p in paths:
            ds = pydicom.dcmread(p)
            ds.ImageType = ["ORIGINAL", "PRIMARY", kind, "ND"]
            ds.save_as(p)
    found = scan_folder(tmp_path / "s")
    assert [s.volume for s in found] == ["image type ORIGINAL\\PRIMARY\\M\\ND",
                                         "image type ORIGINAL\\PRIMARY\\P\\ND"]
    for t, kind in enumerate(("M", "P")):
        obj = _only(load(tmp_path / "s" / f"{kind}0000.dcm"))  # a file opens its own volume
        np.testing.assert_array_equal(voxel_array(obj.data),
                                      np.transpose(_voxel_code(t, n, rows, cols), (2, 1, 0)))
    capsys.readouterr()
    assert main(["dicom", "list", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "\\M\\ND]" in lines[0] and "\\P\\ND]" in lines[1], lines

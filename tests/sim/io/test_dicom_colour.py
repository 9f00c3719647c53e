"""Colour DICOM (#23 item 4): palette colour through its palette, YBR_FULL/YBR_FULL_422 and
RGB as 8-bit RGB volumes; other encodings refused in plain words; greyscale-only work
(segmentation) refuses an RGB volume clearly; a case keeps it.

References: pydicom's own ``apply_color_lut`` and ``convert_color_space`` on the files of
the ``pydicom-data`` package, SimpleITK/GDCM for RGB, and the same picture stored as RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from sim.errors import FileFormatError, InputError
from sim.imaging.volume import is_rgb, rgb_array, voxel_array
from sim.io import load
from tests.sim.io.test_dicom_fidelity import _alone, _only, _pydicom_data


def _expected_8bit(rgb: np.ndarray, bits: int) -> np.ndarray:
    return np.round(rgb.astype(np.float64) * 255 / (2 ** bits - 1)).astype(np.uint8)


def _ours(path: Path) -> np.ndarray:
    """[frame, row, column, 3] as the files store it."""
    obj = _only(load(path))
    assert is_rgb(obj.data) and obj.metadata["color"] == "RGB"
    return np.transpose(rgb_array(obj.data), (2, 1, 0, 3))


@pytest.mark.parametrize("name", ["OBXXXX1A.dcm", "OBXXXX1A_rle.dcm", "OBXXXX1A_expb.dcm",
                                  "OBXXXX1A_2frame.dcm"])
def test_palette_colour_matches_pydicom_apply_color_lut(tmp_path, name):
    from pydicom.pixels import apply_color_lut

    path = _alone(tmp_path, name)
    ds = pydicom.dcmread(_pydicom_data(name.replace("_expb", "")))  # big endian: same picture
    assert ds.PhotometricInterpretation == "PALETTE COLOR"
    indices = ds.pixel_array
    ref = apply_color_lut(indices, ds)  # 16-bit palette entries (pydicom 3.0 reads those of a
    # big-endian file in the wrong byte order, so the little-endian twin is the reference)
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    expected = _expected_8bit(ref, bits).reshape((-1, *indices.shape[-2:], 3))
    ours = _ours(path)
    np.testing.assert_array_equal(ours, expected)
    assert len(np.unique(ours.reshape(-1, 3), axis=0)) > 50  # colours, not grey indices
    assert (ours[..., 0] != ours[..., 2]).mean() > 0.05  # red and blue differ: not grey


@pytest.mark.parametrize("name, photometric", [
    ("SC_ybr_full_uncompressed.dcm", "YBR_FULL"),
    ("SC_ybr_full_422_uncompressed.dcm", "YBR_FULL_422")])
def test_ybr_matches_pydicom_convert_color_space_and_the_rgb_original(tmp_path, name, photometric):
    from pydicom.pixels import convert_color_space, pixel_array

    path = _alone(tmp_path, name)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == photometric
    ybr = pixel_array(ds, as_rgb=False)  # the stored YBR samples (4:2:2 expanded)
    expected = convert_color_space(ybr, "YBR_FULL", "RGB")
    ours = _ours(path)[0]
    np.testing.assert_array_equal(ours, expected)
    original = pydicom.dcmread(_pydicom_data("SC_rgb.dcm")).pixel_array  # the same picture
    assert np.abs(ours.astype(int) - original.astype(int)).max() <= 6  # YBR rounding only


def test_rgb_matches_simpleitk(tmp_path):
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is not installed")
    path = _alone(tmp_path, "SC_rgb.dcm")
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))  # [rows, columns, 3] (GDCM)
    np.testing.assert_array_equal(_ours(path)[0], ref.reshape(_ours(path)[0].shape))


def test_16bit_rgb_is_scaled_to_8_bits(tmp_path):
    path = _alone(tmp_path, "SC_rgb_16bit.dcm")
    ref = pydicom.dcmread(path).pixel_array
    np.testing.assert_array_equal(_ours(path)[0], _expected_8bit(ref, 16))


def test_other_colour_encodings_are_refused_clearly(tmp_path):
    path = _alone(tmp_path, "SC_rgb.dcm")
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "HSV"  # retired; nobody should guess its colours
    ds.save_as(path)
    with pytest.raises(FileFormatError, match="colour encoding HSV with 3 samples per pixel is "
                                              "not supported"):
        load(path)


def test_segmentation_refuses_an_rgb_volume(tmp_path, capsys):
    from sim.cli import main
    from sim.imaging.pipeline import Recipe, run

    path = _alone(tmp_path, "OBXXXX1A.dcm")
    obj = _only(load(path))
    with pytest.raises(InputError, match=r"colour \(RGB\) picture, not a scan"):
        voxel_array(obj.data)
    with pytest.raises(InputError, match=r"colour \(RGB\) picture"):
        run(obj.data, Recipe(preset="bone"))
    capsys.readouterr()
    assert main(["segment", str(path.parent), "--preset", "bone", "-o",
                 str(tmp_path / "bone.vtp")]) == 2
    err = capsys.readouterr().err
    assert "colour (RGB) picture" in err and "Traceback" not in err


def test_case_keeps_an_rgb_volume(tmp_path):
    from sim.model.case_io import load_case, save_case

    path = _alone(tmp_path, "SC_ybr_full_uncompressed.dcm")
    case = load(path)
    save_case(case, tmp_path / "c.twin")
    back = _only(load_case(tmp_path / "c.twin"))
    assert is_rgb(back.data)
    np.testing.assert_array_equal(rgb_array(back.data), rgb_array(_only(case).data))


def test_colour_slices_stack_in_place(tmp_path):
    """Three RGB slices with positions form one colour volume ordered by position."""
    from tests.sim.io.dicom_factory import write_series

    rgb = np.random.default_rng(1).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    paths = write_series(tmp_path / "s", np.zeros((3, 4, 5), np.int16), shuffle=False)
    for k, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.PixelData = rgb[k].tobytes()
        ds.save_as(p)
    obj = _only(load(tmp_path / "s"))
    assert tuple(obj.data.dimensions) == (5, 4, 3)
    np.testing.assert_array_equal(rgb_array(obj.data), np.transpose(rgb, (2, 1, 0, 3)))

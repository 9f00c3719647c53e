"""NIfTI, NRRD and MetaImage readers: geometry checked against nibabel and hand-made headers."""

from __future__ import annotations

import contextlib
import gzip

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import FileFormatError
from sim.imaging.volume import affine_of, voxel_array
from sim.io import load

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _only(case):
    (obj,) = list(case.scene)
    return obj


@pytest.mark.parametrize("name", ["example_ct.nii.gz", "example_ct_sm.nii.gz", "example_seg.nii.gz",
                                  "example_seg_dicom.nii.gz"])
def test_real_nifti_matches_nibabel(shared_data, name):
    path = shared_data / "ct" / "totalseg" / name
    obj = _only(load(path))
    ref = nib.load(path)
    np.testing.assert_allclose(affine_of(obj.data), LPS @ ref.affine, atol=1e-4)
    np.testing.assert_array_equal(voxel_array(obj.data), np.asanyarray(ref.dataobj))
    assert obj.kind == ("labelmap" if "seg" in name else "volume")


def test_segmentation_labels_are_listed(shared_data):
    obj = _only(load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz"))
    labels = obj.label_table.as_info()
    assert len(labels) == len(np.unique(voxel_array(obj.data))) - 1
    # TotalSegmentator keeps its label table in a Caret XML header extension; read it
    # independently (nibabel + a regex) and compare every name and colour
    import re

    (ext,) = nib.load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz").header.extensions
    ref = {int(k): (name, [float(r), float(g), float(b)]) for k, r, g, b, name in re.findall(
        r'Key="(\d+)" Red="([\d.]+)" Green="([\d.]+)" Blue="([\d.]+)"[^>]*><!\[CDATA\[(\w+)\]\]>',
        ext.get_content().decode())}
    assert len(ref) == 117
    for value, info in labels.items():
        assert (info["name"], info["color"]) == ref[value]
    assert labels[5]["name"] == "liver" and labels[52]["name"] == "aorta"
    assert "header extension (117 labels)" in " ".join(obj.metadata["notes"])


def test_qform_only_rotated_nifti(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    angle = 0.4
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([0.7, 0.9, 2.5])
    aff[:3, 3] = (10, -20, 30)
    img = nib.Nifti1Image(data, None)
    img.set_qform(aff, code=1)
    img.set_sform(None, code=0)
    path = tmp_path / "q.nii"
    img.to_filename(path)
    obj = _only(load(path))
    np.testing.assert_allclose(affine_of(obj.data), LPS @ nib.load(path).affine, atol=1e-5)
    np.testing.assert_array_equal(voxel_array(obj.data), data)


def test_nifti_scaling_and_label_intent(tmp_path):
    data = np.array([[[1, 2], [3, 4]]], dtype=np.int16)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, -10)
    img.to_filename(tmp_path / "s.nii.gz")
    obj = _only(load(tmp_path / "s.nii.gz"))
    np.testing.assert_allclose(voxel_array(obj.data), data * 0.5 - 10)


def test_truncated_nifti(shared_data, tmp_path):
    raw = gzip.decompress((shared_data / "ct" / "totalseg" / "example_ct_sm.nii.gz").read_bytes())
    (tmp_path / "t.nii").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match="truncated"):
        load(tmp_path / "t.nii")
    (tmp_path / "t.nii.gz").write_bytes(gzip.compress(raw)[:5000])
    with pytest.raises(FileFormatError):
        load(tmp_path / "t.nii.gz")


def test_nifti_huge_claim_is_refused(tmp_path):
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4))
    raw = bytearray(img.to_bytes())
    raw[42:48] = np.array([30000, 30000, 30000], dtype="<i2").tobytes()
    (tmp_path / "h.nii").write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="more than we can load|truncated"):
        load(tmp_path / "h.nii")


def _nrrd(path, header: str, data: bytes) -> None:
    path.write_bytes(header.encode() + b"\n" + data)


def test_nrrd_ras_space_becomes_lps(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype="<i2").reshape((2, 3, 4), order="F")
    header = ("NRRD0004\ntype: short\ndimension: 3\nsizes: 2 3 4\n"
              "space: right-anterior-superior\nspace directions: (0.5,0,0) (0,0.75,0) (0,0,2)\n"
              "space origin: (10,20,30)\nencoding: gzip\nendian: little\n")
    _nrrd(tmp_path / "a.nrrd", header, gzip.compress(arr.tobytes(order="F")))
    obj = _only(load(tmp_path / "a.nrrd"))
    expected = LPS @ np.array([[0.5, 0, 0, 10], [0, 0.75, 0, 20], [0, 0, 2, 30], [0, 0, 0, 1]])
    np.testing.assert_allclose(affine_of(obj.data), expected)
    np.testing.assert_array_equal(voxel_array(obj.data), arr)


def test_slicer_segmentation_nrrd_names_and_colours(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[1:3, 1:3, 1:3] = 1
    arr[0, 0, 0] = 7
    header = ("NRRD0004\ntype: uchar\ndimension: 3\nsizes: 4 4 4\nspace: left-posterior-superior\n"
              "space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nencoding: raw\n"
              "Segment0_Name:=Liver\nSegment0_Color:=0.8 0.4 0.3\nSegment0_LabelValue:=1\n"
              "Segment1_Name:=Tumour\nSegment1_Color:=1 1 0\nSegment1_LabelValue:=7\n")
    _nrrd(tmp_path / "s.seg.nrrd", header, arr.tobytes(order="F"))
    case = load(tmp_path / "s.seg.nrrd")
    obj = _only(case)
    assert case.name == "s" and obj.kind == "labelmap"
    assert obj.label_table.as_info()[1] == {"name": "Liver", "color": [0.8, 0.4, 0.3]}
    assert obj.label_table.as_info()[7]["name"] == "Tumour"


def test_sidecar_colour_table(tmp_path):
    arr = np.zeros((3, 3, 3), dtype=np.uint8)
    arr[1, 1, 1] = 2
    nib.Nifti1Image(arr, np.eye(4)).to_filename(tmp_path / "lab.nii.gz")
    (tmp_path / "lab.ctbl").write_text("# Slicer table\n0 background 0 0 0 0\n2 kidney 255 0 0 255\n")
    obj = _only(load(tmp_path / "lab.nii.gz"))
    assert obj.label_table.as_info() == {2: {"name": "kidney", "color": [1.0, 0.0, 0.0]}}


def test_metaimage_direction_and_compression(tmp_path):
    import zlib

    import vtk

    arr = np.arange(3 * 4 * 5, dtype="<f4").reshape((3, 4, 5), order="F")
    packed = zlib.compress(arr.tobytes(order="F"))
    header = ("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
              f"CompressedData = True\nCompressedDataSize = {len(packed)}\nTransformMatrix = 0 1 0 -1 0 0 0 0 1\nOffset = 1 2 3\n"
              "ElementSpacing = 0.5 0.6 0.7\nDimSize = 3 4 5\nElementType = MET_FLOAT\n"
              "ElementDataFile = LOCAL\n")
    (tmp_path / "m.mha").write_bytes(header.encode() + packed)
    obj = _only(load(tmp_path / "m.mha"))
    np.testing.assert_array_equal(voxel_array(obj.data), arr)
    # first axis runs along +y, second along -x (ITK writes each axis direction in turn)
    np.testing.assert_allclose(affine_of(obj.data)[:3, :3],
                               [[0, -0.6, 0], [0.5, 0, 0], [0, 0, 0.7]], atol=1e-12)
    np.testing.assert_allclose(obj.data.origin, (1, 2, 3))
    reader = vtk.vtkMetaImageReader()  # an independent reader agrees on the values
    reader.SetFileName(str(tmp_path / "m.mha"))
    reader.Update()
    from vtk.util.numpy_support import vtk_to_numpy

    np.testing.assert_array_equal(vtk_to_numpy(reader.GetOutput().GetPointData().GetScalars()),
                                  arr.ravel(order="F"))


def test_mhd_with_missing_data_file(tmp_path):
    (tmp_path / "m.mhd").write_text("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\n"
                                    "ElementDataFile = m.raw\n")
    with pytest.raises(FileFormatError, match="missing"):
        load(tmp_path / "m.mhd")
    (tmp_path / "m.raw").write_bytes(b"\1" * 5)
    with pytest.raises(FileFormatError, match="truncated"):
        load(tmp_path / "m.mhd")


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_nifti_headers_never_crash(tmp_path, flips):
    img = nib.Nifti1Image(np.arange(27, dtype=np.int16).reshape(3, 3, 3), np.eye(4))
    raw = bytearray(img.to_bytes())
    for pos, value in flips:
        raw[pos] = value
    path = tmp_path / "f.nii"
    path.write_bytes(bytes(raw))
    try:
        obj = _only(load(path))
    except FileFormatError:
        return
    assert np.isfinite(affine_of(obj.data)).all()


@FUZZ
@given(lines=st.lists(st.sampled_from([
    "type: short", "type: blah", "dimension: 3", "dimension: 9", "sizes: 2 2 2", "sizes: -1 2 2",
    "sizes: 99999 99999 99999", "encoding: raw", "encoding: gzip", "encoding: bzip2",
    "space directions: (1,0,0) (0,1,0) (0,0,1)", "space directions: (1,0) none",
    "space origin: (a,b,c)", "space: RAS", "data file: ../../etc/passwd", "endian: big",
    "garbage line"]), max_size=10), body=st.binary(max_size=64))
def test_random_nrrd_headers_never_crash(tmp_path, lines, body):
    path = tmp_path / "f.nrrd"
    path.write_bytes(("NRRD0004\n" + "\n".join(lines) + "\n\n").encode() + body)
    with contextlib.suppress(FileFormatError):
        load(path)


@FUZZ
@given(lines=st.lists(st.sampled_from([
    "NDims = 3", "NDims = 2", "DimSize = 2 2 2", "DimSize = 0 2 2", "DimSize = 100000 100000 100000",
    "ElementType = MET_SHORT", "ElementType = MET_WHAT", "CompressedData = True",
    "TransformMatrix = 0 0 0 0 0 0 0 0 0", "ElementSpacing = -1 1 1", "ElementDataFile = LOCAL",
    "ElementDataFile = /etc/passwd", "Offset = nan 0 0", "nonsense"]), max_size=10),
    body=st.binary(max_size=64))
def test_random_metaimage_headers_never_crash(tmp_path, lines, body):
    path = tmp_path / "f.mha"
    path.write_bytes(("\n".join(lines) + "\n").encode() + body)
    with contextlib.suppress(FileFormatError):
        load(path)

"""DICOM-native results: SEG export/import round trip on the real CT series (identical voxels,
validated by dicom3tools' dciodvfy and checked against the source headers with pydicom), RTSTRUCT
import from pydicom's public test file to a label map and surfaces at the contours' place, and
a PDF report as Encapsulated PDF in the patient's study."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.dicom_peers import ct_with_uids


def twinsight(*args: str) -> tuple[int, str]:
    from sim.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def dciodvfy_errors(path: Path) -> list[str]:
    if not shutil.which("dciodvfy"):
        pytest.skip("dciodvfy is not installed (dicom3tools; packaging/setup-env.sh)")
    out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def ct(tmp_path_factory, shared_data):
    return ct_with_uids(shared_data, tmp_path_factory.mktemp("ct") / "ct", "Seg^Patient")


@pytest.fixture(scope="module")
def labels(ct):
    """A label map on the CT's grid: bone (threshold), a box, and fat; 0 elsewhere."""
    from sim.imaging.volume import make_image, voxel_array
    from sim.io import load

    vol = next(o for o in load(ct).scene if o.kind == "volume").data
    hu = voxel_array(vol)
    lab = np.zeros(hu.shape, np.int16)
    lab[(hu > -200) & (hu < -60)] = 2
    lab[hu > 300] = 5
    lab[100:200, 150:260, 3:12] = 52
    return make_image(lab, vol.spacing, vol.origin, vol.direction_matrix)


NAMES = {2: {"name": "fat", "color": [0.9, 0.8, 0.2]}, 5: {"name": "bone", "color": [0.95, 0.95, 0.85]},
         52: {"name": "aorta", "color": [0.8, 0.1, 0.1]}}


def test_seg_round_trip_gives_identical_voxels_and_validates(ct, labels, tmp_path):
    from sim.imaging.volume import voxel_array
    from sim.io import load
    from sim.io.dicom_seg import write_label_nrrd

    write_label_nrrd(labels, NAMES, tmp_path / "labels.nrrd")
    code, out = twinsight("dicom", "export-seg", str(tmp_path / "labels.nrrd"), "--source", str(ct),
                          "-o", str(tmp_path / "seg.dcm"), "--json")
    assert code == 0, out
    assert [s["name"] for s in json.loads(out)["segments"]] == ["fat", "bone", "aorta"]
    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
    # what the SEG references, read with pydicom against the source files' own headers
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    source = {str(d.SOPInstanceUID): d for d in (pydicom.dcmread(f, stop_before_pixels=True)
                                                 for f in ct.iterdir())}
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == next(iter(source.values())).StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == \
        next(iter(source.values())).SeriesInstanceUID
    for frame in seg.PerFrameFunctionalGroupsSequence:
        ref = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        np.testing.assert_allclose(
            [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient],
            [float(v) for v in source[ref].ImagePositionPatient])
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["fat", "bone", "aorta"]
    # the segment volumes as a measurement report (SR TID 1500), against voxel counts
    code, out = twinsight("dicom", "export-sr", str(tmp_path / "seg.dcm"), "-o",
                          str(tmp_path / "sr.dcm"), "--json")
    assert code == 0, out
    assert dciodvfy_errors(tmp_path / "sr.dcm") == []
    from sim.io.dicom_sr import read_volumes

    voxel_mm3 = float(np.prod(labels.spacing))  # 0.977 x 0.977 x 2 mm
    counts = np.bincount(voxel_array(labels).ravel())
    assert read_volumes(tmp_path / "sr.dcm") == pytest.approx(
        {f"label {v}": counts[v] * voxel_mm3 for v in NAMES}, abs=1e-3)
    # back in: identical voxels, names and colours (CIELab in the file: within 1/255)
    code, out = twinsight("dicom", "import-seg", str(tmp_path / "seg.dcm"), "--reference", str(ct),
                          "-o", str(tmp_path / "back.nrrd"), "--json")
    assert code == 0, out
    back = next(iter(load(tmp_path / "back.nrrd").scene))
    assert back.kind == "labelmap"
    np.testing.assert_array_equal(voxel_array(back.data), voxel_array(labels))
    np.testing.assert_allclose(back.data.origin, labels.origin)
    for value, info in NAMES.items():
        got = back.label_table.as_info()[value]
        assert got["name"] == info["name"]
        np.testing.assert_allclose(got["color"], info["color"], atol=1.5 / 255)


def test_seg_import_without_reference_keeps_world_positions(ct, labels, tmp_path):
    from sim.imaging.volume import affine_of, voxel_array
    from sim.io.dicom_seg import export_seg, import_seg

    export_seg(labels, NAMES, ct, tmp_path / "seg.dcm")
    image, names = import_seg(tmp_path / "seg.dcm")
    assert set(names) == {2, 5, 52}
    # centroid of the box label in world mm, from each grid independently
    centres = []
    for img in (labels, image):
        idx = np.argwhere(voxel_array(img) == 52)
        centres.append((affine_of(img) @ np.c_[idx, np.ones(len(idx))].T)[:3].mean(axis=1))
    np.testing.assert_allclose(centres[1], centres[0], atol=1e-3)
    assert (voxel_array(image) == 52).sum() == 100 * 110 * 9


def test_seg_refuses_a_label_map_off_the_series_grid(ct, labels, tmp_path):
    from sim.imaging.volume import make_image, voxel_array
    from sim.io.dicom_seg import export_seg

    shifted = make_image(voxel_array(labels), labels.spacing, np.add(labels.origin, [5, 0, 0]),
                         labels.direction_matrix)
    with pytest.raises(Exception, match="not on the grid"):
        export_seg(shifted, NAMES, ct, tmp_path / "seg.dcm")


def test_rtstruct_imports_to_surfaces_at_the_contours(tmp_path):
    from pydicom.data import get_testdata_file

    rt = get_testdata_file("rtstruct.dcm")  # pydicom's public test file: a 400x300 mm box
    code, out = twinsight("dicom", "import-rtstruct", rt, "--spacing", "2", "-o",
                          str(tmp_path / "rt.nrrd"), "--surfaces", str(tmp_path / "surf"),
                          "--json")
    assert code == 0, out
    info = json.loads(out)
    assert info["labels"]["1"]["name"] == "patient"
    np.testing.assert_allclose(info["labels"]["1"]["color"], np.array([220, 160, 120]) / 255)
    assert info["points"] == {"Isocenter 1": [[[0.0, 0.0, 0.0]]], "Isocenter 2": [[[0.0, 0.0, 0.0]]]}
    [surf] = info["surfaces"]
    # the contours: x -200..200, y -150..150 on planes z = -200, -190, -180 (10 mm apart);
    # each plane's slab is 10 mm thick, so the surface spans z -205..-175; smoothing rounds
    # the 3-slice slab's ends, so z is checked to half a slice and centred on -190
    b = np.asarray(surf["bounds_mm"])
    error = np.abs(b - [-200, 200, -150, 150, -205, -175])
    assert (error <= [1, 1, 1, 1, 5, 5]).all(), surf["bounds_mm"]
    assert abs((b[4] + b[5]) / 2 + 190) < 0.5
    import pyvista as pv

    mesh = pv.read(surf["file"])
    assert mesh.is_manifold
    assert abs(mesh.volume - 400 * 300 * 30) < 0.02 * 400 * 300 * 30


def test_rtstruct_on_a_reference_grid_and_holes(tmp_path):
    import pyvista as pv
    from pydicom.data import get_testdata_file

    from sim.imaging.volume import voxel_array
    from sim.io.dicom_rtstruct import Roi, StructureSet, read_rtstruct, to_labelmap

    s = read_rtstruct(get_testdata_file("rtstruct.dcm"))
    # a grid with flipped x and y axes (as a scan in another orientation), 2.5 mm in-plane
    grid = pv.ImageData(dimensions=(200, 160, 5), spacing=(2.5, 2.5, 10.0),
                        origin=(248.75, 198.75, -210.0),
                        direction_matrix=np.diag([-1.0, -1.0, 1.0]))
    image, _ = to_labelmap(s, grid)
    area = (voxel_array(image) == 1).sum(axis=(0, 1))
    assert list(area * 2.5 * 2.5) == [0, 120000, 120000, 120000, 0]  # 400 x 300 mm per plane
    # a ring: an outer and an inner contour on one plane (even-odd rule cuts the hole)
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    ring = Roi(7, "ring", (1, 0, 0), contours=[
        np.c_[50 * np.cos(t), 50 * np.sin(t), np.zeros_like(t)],
        np.c_[20 * np.cos(t), 20 * np.sin(t), np.zeros_like(t)]])
    image, _ = to_labelmap(StructureSet({7: ring}, ""), spacing=0.5)
    area = (voxel_array(image) == 7).sum() * 0.25
    assert abs(area - np.pi * (50 ** 2 - 20 ** 2)) < 0.01 * np.pi * (50 ** 2 - 20 ** 2)


def test_pdf_report_goes_into_the_patients_study(ct, tmp_path):
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from sim.io.dicom_pdf import extract_pdf

    pdf = tmp_path / "report.pdf"
    with PdfPages(pdf) as pages:  # as the inspection and rehearsal reports are written
        fig = Figure()
        fig.text(0.1, 0.5, "Plan report")
        pages.savefig(fig)
    code, out = twinsight("dicom", "export-pdf", str(pdf), "--study", str(ct), "-o",
                          str(tmp_path / "report.dcm"), "--title", "Plan report", "--json")
    assert code == 0, out
    assert dciodvfy_errors(tmp_path / "report.dcm") == []
    ds = pydicom.dcmread(tmp_path / "report.dcm")
    src = pydicom.dcmread(next(ct.iterdir()), stop_before_pixels=True)
    assert ds.StudyInstanceUID == src.StudyInstanceUID and ds.PatientID == src.PatientID
    assert ds.SeriesInstanceUID != src.SeriesInstanceUID and ds.Modality == "DOC"
    assert extract_pdf(tmp_path / "report.dcm") == pdf.read_bytes()
    code, _ = twinsight("dicom", "export-pdf", str(ct / next(iter(sorted(p.name for p in ct.iterdir())))),
                        "--study", str(ct), "-o", str(tmp_path / "x.dcm"))
    assert code == 2  # a DICOM image is not a PDF


def test_resample_nearest_on_shifted_and_flipped_grids():
    """Nearest-voxel placement, against index arithmetic done by hand."""
    import pyvista as pv

    from sim.imaging.volume import make_image, voxel_array
    from sim.io.dicom_seg import resample_nearest

    src = make_image(np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3), (2, 2, 3), (0, 0, 0))
    a = voxel_array(src)
    # shifted by 0.4 voxel in x: the same voxels (general path); by 1 voxel: one index on
    for shift, offset in ((0.8, 0), (2.0, 1)):
        grid = pv.ImageData(dimensions=(5, 4, 3), spacing=(2, 2, 3), origin=(shift, 0, 0))
        got = resample_nearest(src, grid)
        np.testing.assert_array_equal(got[:5 - offset], a[offset:])
        assert (got[5 - offset:] == 0).all()  # outside the source: background
    # a grid with x and z flipped and axes swapped (the permutation path)
    grid = pv.ImageData(dimensions=(3, 4, 5), spacing=(3, 2, 2), origin=(8, 0, 6),
                        direction_matrix=[[0, 0, -1], [0, 1, 0], [-1, 0, 0]])
    got = resample_nearest(src, grid)
    np.testing.assert_array_equal(got, np.transpose(a, (2, 1, 0))[::-1, :, ::-1])

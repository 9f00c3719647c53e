"""DICOM time series (#23 item 3): several volumes by temporal position open as ONE 4D
volume, any single time point can be chosen (also from a single multi-frame file), and
a case keeps the 4D volume through save and reopen.

References: values coded by (time, slice, row, column) so every voxel of every frame is
checked exactly; SimpleITK/GDCM reads each time point's files for geometry and values.
"""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from sim.cli import main
from sim.errors import InputError
from sim.imaging.timeseries import (
    TIMES_KEY,
    current_frame,
    frame_count,
    frame_label,
    frame_values,
    set_frame,
)
from sim.imaging.volume import voxel_array
from sim.io import load
from sim.io.dicom_scan import scan_folder
from sim.io.dicom_series import choices
from tests.sim.io.dicom_factory import write_enhanced, write_time_series

N_T, N_Z, ROWS, COLS = 12, 3, 6, 5  # 12 time points: "10" must sort after "9"


def _code(t: int) -> np.ndarray:
    """[slice, row, column] values saying which time point, slice, row and column (HU)."""
    k, j, i = np.meshgrid(np.arange(N_Z), np.arange(ROWS), np.arange(COLS), indexing="ij")
    return (100 * t + 20 * k + 3 * j + i - 500).astype(np.int16)


def _only(case):
    (obj,) = list(case.scene)
    return obj


@pytest.fixture
def classic(tmp_path):
    """A classic CT series: one file per slice and time point, TemporalPositionIdentifier
    1..12 and TriggerTime 250 ms apart, sharing one Series UID."""
    uid = "1.2.826.0.1.3680043.8.498.77"
    series = write_time_series(tmp_path / "s", [_code(t) for t in range(N_T)], uid, 250.0,
                               description="perfusion", prefix="t{:02d}_", count=True)
    files = {t: sorted(paths, key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
             for t, paths in enumerate(series)}
    return tmp_path / "s", files


def test_classic_time_series_opens_as_one_4d_volume(classic):
    folder, files = classic
    found = choices(scan_folder(folder))
    assert len(found) == 1 and found[0].time_series and len(found[0].volumes) == N_T
    assert found[0].times() == [0.25 * t for t in range(N_T)]
    assert [v.volume for v in found[0].volumes] == [f"temporal position {t + 1}" for t in range(N_T)]
    case = load(folder)
    obj = _only(case)
    assert frame_count(obj.data) == N_T and tuple(obj.data.dimensions) == (COLS, ROWS, N_Z)
    assert "time series of 12 time points" in case.description
    assert obj.metadata[TIMES_KEY] == [0.25 * t for t in range(N_T)]
    for t in range(N_T):
        np.testing.assert_array_equal(frame_values(obj.data, t), np.transpose(_code(t), (2, 1, 0)))
    assert set_frame(obj.data, 10) == 10 and current_frame(obj.data) == 10
    np.testing.assert_array_equal(voxel_array(obj.data), np.transpose(_code(10), (2, 1, 0)))
    assert frame_label(obj.data, obj.metadata[TIMES_KEY]) == "frame 11/12, t = 2.50 s"


def test_each_time_point_matches_simpleitk(classic):
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is not installed")
    folder, files = classic
    obj = _only(load(folder))
    for t in (0, 9, 11):
        ref = sitk.ReadImage([str(p) for p in files[t]])  # GDCM, files in slice order
        ref_values = np.transpose(sitk.GetArrayFromImage(ref), (2, 1, 0))  # -> [i, j, k]
        np.testing.assert_array_equal(frame_values(obj.data, t), ref_values)
        np.testing.assert_allclose(obj.data.origin, ref.GetOrigin(), atol=1e-6)
        np.testing.assert_allclose(obj.data.spacing, ref.GetSpacing(), atol=1e-6)
        np.testing.assert_allclose(np.asarray(obj.data.direction_matrix).ravel(),
                                   ref.GetDirection(), atol=1e-9)


def test_one_time_point_alone_and_a_file_opens_its_time_point(classic, capsys):
    folder, files = classic
    one = _only(load(folder, series="1.10"))
    assert frame_count(one.data) == 1 and "temporal position 10" in one.name
    np.testing.assert_array_equal(voxel_array(one.data), np.transpose(_code(9), (2, 1, 0)))
    obj = _only(load(files[7][1]))  # a file of time point 8: the 4D volume, showing it
    assert frame_count(obj.data) == N_T and current_frame(obj.data) == 7
    with pytest.raises(InputError, match=r"no series '7'.*1 \(time points 1.1-1.12\)"):
        load(folder, series="7")
    capsys.readouterr()
    assert main(["info", str(folder), "--series", "1.3", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["objects"][0]["dimensions"] == [COLS, ROWS, N_Z]
    assert "time_points" not in info["objects"][0]
    assert main(["info", str(folder)]) == 0
    assert "5x6x3 voxels x 12 time points" in capsys.readouterr().out
    assert main(["info", str(folder), "--series", "9"]) == 2
    assert "no series '9'" in capsys.readouterr().err


def test_dicom_list_shows_the_time_series_and_its_time_points(classic, capsys):
    folder, _ = classic
    capsys.readouterr()
    assert main(["dicom", "list", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1] CT perfusion [time series of 12]: 5x6x3 voxels x 12 time "
                               "points (0-2.75 s), 0.7 x 0.8 x 2.5 mm, 36 file(s)"), lines
    assert "--series 1.1 ... 1.12" in lines[1]
    assert main(["dicom", "list", str(folder), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["series"]
    assert row["time_points"] == N_T and row["files"] == N_T * N_Z
    assert [v["id"] for v in row["volumes"]] == [f"1.{t + 1}" for t in range(N_T)]


def _enhanced_4d(path, n_t=3):
    """One Enhanced CT file: n_t time points x N_Z slices, frames interleaved by slice,
    TemporalPositionIndex and TemporalPositionTimeOffset (s) per frame."""
    from pydicom.dataset import Dataset

    vols = [_code(t) for t in range(n_t)]
    write_enhanced(path, np.concatenate(vols))
    ds = pydicom.dcmread(path)
    order = [(t, k) for k in range(N_Z) for t in range(n_t)]
    ds.PixelData = (np.stack([vols[t][k] for t, k in order]).astype(np.int32) + 1024) \
        .astype("<u2").tobytes()
    for f, (t, k) in enumerate(order):
        item = ds.PerFrameFunctionalGroupsSequence[f]
        item.PlanePositionSequence[0].ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        content, temporal = Dataset(), Dataset()
        content.TemporalPositionIndex = t + 1
        temporal.TemporalPositionTimeOffset = 1.5 * t
        item.FrameContentSequence = [content]
        item.TemporalPositionSequence = [temporal]
    ds.save_as(path)
    return vols


def test_single_file_4d_lists_and_opens_any_time_point(tmp_path, capsys):
    path = tmp_path / "e" / "4d.dcm"
    vols = _enhanced_4d(path)
    capsys.readouterr()
    assert main(["dicom", "list", str(path), "--json"]) == 0  # a file: its own series
    (row,) = json.loads(capsys.readouterr().out)["series"]
    assert row["time_points"] == 3 and row["times_s"] == [0.0, 1.5, 3.0] and row["files"] == 1
    obj = _only(load(path))
    assert frame_count(obj.data) == 3 and obj.metadata[TIMES_KEY] == [0.0, 1.5, 3.0]
    for t in range(3):
        np.testing.assert_array_equal(frame_values(obj.data, t), np.transpose(vols[t], (2, 1, 0)))
        alone = _only(load(path, series=f"1.{t + 1}"))
        np.testing.assert_array_equal(voxel_array(alone.data), np.transpose(vols[t], (2, 1, 0)))


def test_case_keeps_the_4d_volume(tmp_path, classic):
    from sim.model.case_io import load_case, save_case

    folder, _ = classic
    case = load(folder)
    obj = _only(case)
    set_frame(obj.data, 5)
    save_case(case, tmp_path / "c.twin")
    back = _only(load_case(tmp_path / "c.twin"))
    assert frame_count(back.data) == N_T and current_frame(back.data) == 5
    assert back.metadata[TIMES_KEY] == obj.metadata[TIMES_KEY]
    for t in range(N_T):
        np.testing.assert_array_equal(frame_values(back.data, t), frame_values(obj.data, t))


def test_series_option_is_refused_for_other_files(tmp_path):
    from sim.errors import FileFormatError

    stl = tmp_path / "a.stl"
    stl.write_text("solid a\nendsolid a\n")
    with pytest.raises(FileFormatError, match="not DICOM"):
        load(stl, series="2")


def test_segment_one_time_point(classic, tmp_path, capsys):
    folder, _ = classic
    capsys.readouterr()
    assert main(["segment", str(folder), "--series", "1.12", "--low", "640", "--high", "2000",
                 "--smooth", "0", "--triangles", "0", "-o", str(tmp_path / "s.vtp"),
                 "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["stats"]["voxels"] == int((_code(11) >= 640).sum())  # the last time point


def test_single_file_4d_is_decoded_once(tmp_path, monkeypatch):
    from sim.io.dicom_series import load_choice

    path = tmp_path / "e" / "4d.dcm"
    vols = _enhanced_4d(path, n_t=4)
    (choice,) = choices(scan_folder(path.parent))
    reads = []
    real = pydicom.dcmread
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    loaded, times = load_choice(choice)
    assert len(reads) == 1 and times == [0.0, 1.5, 3.0, 4.5]
    np.testing.assert_array_equal(frame_values(loaded.image, 3), np.transpose(vols[3], (2, 1, 0)))


def test_single_file_with_two_echoes_lists_and_opens_either(tmp_path):
    """One enhanced file holding two echoes on the same slices: two volumes, not a time
    series; the file's listing offers both and either opens."""
    from pydicom.dataset import Dataset

    from sim.io.readers.dicom import file_choices

    path = tmp_path / "e" / "echo.dcm"
    _enhanced_4d(path, n_t=2)
    ds = pydicom.dcmread(path)
    for item in ds.PerFrameFunctionalGroupsSequence:
        t = int(item.FrameContentSequence[0].TemporalPositionIndex) - 1
        del item.FrameContentSequence[0].TemporalPositionIndex
        del item.TemporalPositionSequence
        echo = Dataset()
        echo.EffectiveEchoTime = [4.6, 9.2][t]
        item.MREchoSequence = [echo]
    ds.save_as(path)
    _, found = file_choices(path, lambda *a: None)
    assert [(c.id, c.time_series, c.first.volume) for c in found] == [
        ("1", False, "echo 4.6"), ("2", False, "echo 9.2")]
    for t in range(2):
        obj = _only(load(path, series=str(t + 1)))
        assert frame_count(obj.data) == 1 and f"echo {[4.6, 9.2][t]}" in obj.name
        np.testing.assert_array_equal(voxel_array(obj.data), np.transpose(_code(t), (2, 1, 0)))
    assert "echo 4.6" in _only(load(path)).name  # the file alone: the first volume

"""DICOM networking throughput against a real Orthanc on 127.0.0.1 (issue #25): a synthetic
512x512 CT of 200 slices (100 MB) sent with C-STORE, retrieved with C-GET and C-MOVE into the
store; and a 3-label SEG of it exported and imported. Figures are printed, never asserted on time.

Run: .venv/bin/python -m pytest tests/benchmarks/test_dicomnet_throughput.py -s -q
"""

from __future__ import annotations

import time

import numpy as np

from tests.dicom_peers import ORTHANC, Orthanc, skip_without, write_config
from tests.mqtt_broker import free_port

SLICES = 200


def test_send_get_move_and_seg_throughput(tmp_path):
    skip_without(ORTHANC)
    import pydicom
    from pydicom.uid import generate_uid

    from sim.dicomnet.peers import load_config
    from sim.dicomnet.query import find, get, move
    from sim.dicomnet.send import send
    from sim.imaging.volume import make_image, voxel_array
    from sim.io import load
    from sim.io.dicom_seg import export_seg, import_seg
    from tests.sim.io.dicom_factory import write_series

    rng = np.random.default_rng(0)
    hu = rng.integers(-1000, 2000, size=(SLICES, 512, 512)).astype(np.int16)
    write_series(tmp_path / "ct", hu, spacing=(0.7, 0.7), shuffle=False)
    frame = generate_uid()
    for f in (tmp_path / "ct").iterdir():
        ds = pydicom.dcmread(f)
        ds.FrameOfReferenceUID = frame
        ds.save_as(f)
    mb = sum(f.stat().st_size for f in (tmp_path / "ct").iterdir()) / 1e6
    port = free_port()
    (tmp_path / "orthanc").mkdir()
    orthanc = Orthanc(tmp_path / "orthanc", {"twinsight": ("TWINSIGHT", port)})
    orthanc.start()
    try:
        config = load_config(write_config(tmp_path / "dicom.json", port, tmp_path / "store",
                                          {"pacs": ("ORTHANC", orthanc.port)}, timeout_s=120))
        pacs = config.peer("pacs")
        t = time.perf_counter()
        assert send(config, pacs, [tmp_path / "ct"]).sent == SLICES
        t_send = time.perf_counter() - t
        [study] = find(config, pacs, "STUDY", {})
        uid = study["StudyInstanceUID"]
        t = time.perf_counter()
        assert get(config, pacs, uid)["completed"] == SLICES
        t_get = time.perf_counter() - t
        config.store = str(tmp_path / "store2")
        t = time.perf_counter()
        assert move(config, pacs, uid)["completed"] == SLICES
        t_move = time.perf_counter() - t
    finally:
        orthanc.stop()
    vol = next(o for o in load(tmp_path / "ct").scene if o.kind == "volume").data
    v = voxel_array(vol)
    lab = np.where(v > 1500, 3, np.where(v > 500, 2, np.where(v > 0, 1, 0))).astype(np.int16)
    labels = make_image(lab, vol.spacing, vol.origin, vol.direction_matrix)
    names = {k: {"name": f"l{k}", "color": [0.5, 0.5, 0.5]} for k in (1, 2, 3)}
    t = time.perf_counter()
    export_seg(labels, names, tmp_path / "ct", tmp_path / "seg.dcm")
    t_seg = time.perf_counter() - t
    t = time.perf_counter()
    back, _ = import_seg(tmp_path / "seg.dcm", onto=labels)
    t_import = time.perf_counter() - t
    assert (voxel_array(back) == lab).all()
    print(f"\n{SLICES} slices 512x512, {mb:.0f} MB:")
    for what, s in (("C-STORE send", t_send), ("C-GET", t_get), ("C-MOVE", t_move)):
        print(f"  {what:<13} {s:6.2f} s  {mb / s:6.1f} MB/s  {SLICES / s:6.0f} instances/s")
    print(f"  SEG export (3 labels, {SLICES * 3} frames) {t_seg:.2f} s; import {t_import:.2f} s")

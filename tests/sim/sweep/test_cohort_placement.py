"""A virtual cohort: the same pedicle-screw plan transferred to every vertebra of the real
TotalSegmentator label map (shared data) by the host's centroid, run as a Dask sweep."""

from __future__ import annotations

import numpy as np

from sim.sweep.analysis import analyse
from sim.sweep.runner import run_sweep
from sim.sweep.spec import read_sweep
from sim.sweep.store import read_results
from tests.sim.placement.conftest import ENTRY, STRUCTURES, TARGET

from .conftest import write

VERTEBRAE = {"L2": 30, "L1": 31, "T12": 32, "T11": 33}  # TotalSegmentator v2 class ids


def _centroids_lps(path) -> dict[str, np.ndarray]:
    """Label centroids computed with nibabel (RAS affine -> LPS), independent of Twinsight."""
    import nibabel as nib

    img = nib.load(path)
    data = np.asarray(img.dataobj)
    out = {}
    for name, label in VERTEBRAE.items():
        ijk = np.argwhere(data == label).mean(axis=0)
        ras = img.affine @ np.append(ijk, 1.0)
        out[name] = np.array([-ras[0], -ras[1], ras[2]])
    return out


def test_cohort_placement_over_vertebrae(tmp_path, shared_data, dask_client):
    seg = shared_data / "ct" / "totalseg" / "example_seg.nii.gz"
    write(tmp_path / "screw.yaml", {
        "case": str(seg), "structures": STRUCTURES,
        "device": {"family": "pedicle_screw", "size": {"diameter": 5.5, "length": 40}},
        "trajectory": {"entry": ENTRY.tolist(), "target": TARGET.tolist()}, "action": "evaluate"})
    spec_path = write(tmp_path / "cohort.yaml", {
        "name": "screw per vertebra", "base": {"place": "screw.yaml"},
        "cohort": {"transfer": "centroid", "members": [
            {"name": name, "set": {"structures[0].label": label, "structures[0].name": name}}
            for name, label in VERTEBRAE.items()]},
        "qoi": ["safe", "min_clearance_mm", "breach_mm", "purchase",
                {"name": "anchor_x", "path": "chosen.pose[0][3]"},
                {"name": "anchor_y", "path": "chosen.pose[1][3]"},
                {"name": "anchor_z", "path": "chosen.pose[2][3]"}],
        "failure": [{"qoi": "min_clearance_mm", "below": 2.0}]})
    spec = read_sweep(spec_path)
    run = run_sweep(spec, tmp_path / "out.parquet", client=dask_client)
    df = read_results(tmp_path / "out.parquet").set_index("member")
    assert run.total == 4 and sorted(df.index) == sorted(VERTEBRAE)
    assert df["error"].isna().all(), df["error"].dropna().tolist()
    # L1 is the planned vertebra: the sweep reproduces `twinsight place` on the base spec
    from sim.placement.run import run_spec
    from sim.placement.spec import read_spec

    direct, _ = run_spec(read_spec(tmp_path / "screw.yaml"))
    assert bool(df.loc["L1", "q.safe"]) == direct["chosen"]["safe"]
    s = {x["name"]: x for x in direct["evaluation"]["structures"]}
    assert abs(df.loc["L1", "q.breach_mm"] - s["L1"]["breach_mm"]) < 1e-9
    # every other vertebra gets the plan moved by its centroid offset from L1 (nibabel's centroids)
    cen = _centroids_lps(seg)
    anchor = df[["q.anchor_x", "q.anchor_y", "q.anchor_z"]].to_numpy(dtype=float)
    anchors = dict(zip(df.index, anchor, strict=True))
    for name in VERTEBRAE:
        assert np.allclose(anchors[name] - anchors["L1"], cen[name] - cen["L1"], atol=1e-6)
    a = analyse(spec, read_results(tmp_path / "out.parquet"))
    assert set(a["quantities"]["purchase"]) == {"all", *VERTEBRAE}
    assert a["failure"][0]["n"] == 4

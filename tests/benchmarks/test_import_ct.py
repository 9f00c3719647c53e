"""Benchmarks on a 512x512x100 CT series (made from the real TotalSegmentator CT, resampled):
folder scan + load in under 3 s; bone preset to a smoothed, decimated surface in under 5 s."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from scipy import ndimage

from sim.imaging.pipeline import Recipe, run
from sim.imaging.volume import voxel_array
from sim.io import load
from sim.io.dicom_scan import scan_folder
from sim.io.dicom_volume import load_series
from tests.sim.io.dicom_factory import write_series


def _busy() -> bool:
    """Other work is fighting for the 2 cores (CI runs alone; a shared dev box may not)."""
    return os.getloadavg()[0] > 2.0 * (os.cpu_count() or 2)


class _Clock:
    """Wall and CPU seconds of a block; on an oversubscribed machine the CPU time of this
    process is the honest figure (wall time then mostly measures the other processes)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    @property
    def judged(self) -> float:
        return min(self.wall, self.cpu) if _busy() else self.wall

    def text(self) -> str:
        load = os.getloadavg()[0]
        return f"wall {self.wall:.2f} s, CPU {self.cpu:.2f} s, load {load:.1f}"


@pytest.fixture(scope="module")
def ct_series(shared_data, tmp_path_factory):
    src = list(load(shared_data / "ct" / "totalseg" / "example_ct.nii.gz").scene)[0].data
    hu = voxel_array(src).astype(np.float32)  # [i, j, k]
    zoom = (512 / hu.shape[0], 512 / hu.shape[1], 100 / hu.shape[2])
    big = ndimage.zoom(hu, zoom, order=1).astype(np.int16)
    spacing = np.asarray(src.spacing) / np.asarray(zoom)
    folder = tmp_path_factory.mktemp("ct512")
    slices = np.transpose(big, (2, 1, 0))  # [slice, row, column]
    positions = [np.array([0.0, 0.0, k * spacing[2]]) for k in range(slices.shape[0])]
    write_series(folder, slices, positions=positions, spacing=(spacing[1], spacing[0]))
    return folder, big


def test_scan_and_load_512x512x100_series(ct_series, capsys):
    folder, big = ct_series
    with _Clock() as clock:
        series = scan_folder(folder)
        loaded = load_series(series[0])
    assert tuple(loaded.image.dimensions) == (512, 512, 100)
    np.testing.assert_array_equal(voxel_array(loaded.image), np.maximum(big, -1024))  # stored unsigned
    with capsys.disabled():
        print(f"\n[benchmark] 512x512x100 CT series scan+load: {clock.text()} (target < 3 s)")
    assert clock.judged < 3.0


def test_bone_preset_to_smoothed_decimated_surface(ct_series, capsys):
    folder, _ = ct_series
    image = list(load(folder).scene)[0].data
    with _Clock() as clock:
        result = run(image, Recipe(preset="bone", smoothing_iterations=20, target_triangles=40_000))
    assert 30_000 <= result.surface.n_cells <= 40_001
    with capsys.disabled():
        print(f"\n[benchmark] bone preset -> smoothed, decimated surface: {clock.text()} "
              f"({result.stats['voxels']} voxels, {result.surface.n_cells} triangles; target < 5 s)")
    assert clock.judged < 5.0

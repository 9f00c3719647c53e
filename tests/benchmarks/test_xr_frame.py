"""Benchmark: one XR frame (both eyes plus the GPU copies into the swapchains) costs at most
2.5x one desktop frame of the same scene, framed alike, at one eye's size, against a real
OpenXR runtime (Monado, null compositor, still head) with software rendering.

With software GL the cost of a frame is CPU time; the machine is shared, so wall-clock time
mostly measures the neighbours. Both are printed; the CPU figures are asserted."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewer.xr.xr_helpers import monado_manifest, run_child  # noqa: F401 - fixture
from viewer.xr.stereo_renderer import XR_BACKGROUND

pytestmark = pytest.mark.slow

MAX_RATIO = 2.5


def test_xr_frame_costs_at_most_two_and_a_half_desktop_frames(monado_manifest, tmp_path,  # noqa: F811
                                                              demo_case_dir, capsys):
    res = run_child("bench", monado_manifest, tmp_path, remote=True, case_dir=demo_case_dir,
                    timeout=180)
    ratio = res["xr_cpu_s"] / res["desktop_cpu_s"]
    w, h = res["eye_size"]
    with capsys.disabled():
        print(f"\nXR frame benchmark (demo case, same framing, {w}x{h} per eye, {res['frames']} "
              f"interleaved frames, software GL): desktop frame {1000 * res['desktop_cpu_s']:.0f} "
              f"ms CPU, XR frame (2 eyes + copy) {1000 * res['xr_cpu_s']:.0f} ms CPU, ratio "
              f"{ratio:.2f} (limit {MAX_RATIO}). Wall clock on this shared machine: desktop "
              f"{1000 * res['desktop_wall_best_s']:.0f} ms best / "
              f"{1000 * res['desktop_wall_median_s']:.0f} ms median, XR "
              f"{1000 * res['xr_wall_best_s']:.0f} / {1000 * res['xr_wall_median_s']:.0f} ms; "
              f"XR {1 / res['xr_wall_best_s']:.1f} fps best, loop {res['xr_loop_fps']:.1f} fps")
    # The comparison is meaningful only if the XR eyes really show the scene.
    for eye in ("left", "right"):
        img = np.load(tmp_path / "bench" / f"bench_{eye}.npy")
        drawn = np.abs(img.astype(float) - np.array(XR_BACKGROUND) * 255).max(axis=-1) > 20
        assert drawn.mean() > 0.05
    assert ratio <= MAX_RATIO

"""What a bundle relies on, checked without building one: its executable runs the meshing
worker (there is no ``python -m`` inside a bundle), and ``twinsight open --grab`` saves the main
window as drawn once the demo is shown (the bundle smoke test's window check)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import pyvista as pv

from sim import child_process

# Stands in for the bundle's executable: the same entry point, as packaging/bundle/entry.py.
ENTRY = "import sys; from viewer.launcher import main; sys.exit(main())"


def test_a_frozen_app_starts_workers_through_its_own_executable(monkeypatch):
    assert child_process.python_child("sim.mesh.mesher_worker", "a")[1:] == [
        "-m", "sim.mesh.mesher_worker", "a"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child_process.python_child("sim.mesh.mesher_worker", "a") == [
        sys.executable, child_process.FROZEN_CHILD_FLAG, "sim.mesh.mesher_worker", "a"]


def test_the_entry_point_runs_the_gmsh_worker(tmp_path):
    cube = pv.Cube(x_length=10, y_length=10, z_length=10).triangulate()
    src, dst = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(src, vertices=np.asarray(cube.points, dtype=float),
             faces=cube.faces.reshape(-1, 4)[:, 1:])
    out = subprocess.run([sys.executable, "-c", ENTRY, child_process.FROZEN_CHILD_FLAG,
                          "sim.mesh.mesher_worker", "gmsh", str(src), str(dst), "2.5"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    data = np.load(dst)
    p, t = data["points"], data["tets"]
    a, b, c, d = (p[t[:, k]] for k in range(4))
    volume = np.abs(np.einsum("ij,ij->i", b - a, np.cross(c - a, d - a))).sum() / 6.0
    assert volume == pytest.approx(1000.0, rel=1e-9)


def test_the_entry_point_refuses_other_modules(tmp_path):
    out = subprocess.run([sys.executable, "-c", ENTRY, child_process.FROZEN_CHILD_FLAG, "os"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 2 and "not a Twinsight worker module" in out.stderr


@pytest.mark.gui
def test_open_grab_saves_the_window_showing_the_demo(tmp_path, demo_case_dir):
    png = tmp_path / "window.png"
    out = subprocess.run([sys.executable, "-c", ENTRY, "open", "--grab", str(png)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    image = pv.read(png)
    w, h, _ = image.dimensions
    rgb = np.asarray(image.active_scalars).reshape(h, w, -1)[::-1, :, :3].astype(int)
    assert w >= 800 and h >= 500
    # The 3D view in the middle is drawn (the demo's organs), not a blank or black widget.
    middle = rgb[h // 4: 3 * h // 4, w // 3: 2 * w // 3]
    assert len(np.unique(middle.reshape(-1, 3), axis=0)) > 200
    reddish = (middle[..., 0] > middle[..., 2] + 40).mean()  # liver and aorta
    assert reddish > 0.01
    bad = subprocess.run([sys.executable, "-c", ENTRY, "open", "--grab",
                          str(tmp_path / "no" / "such" / "x.png")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "its folder does not exist" in bad.stderr

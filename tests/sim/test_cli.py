"""The twinsight command line: every subcommand, good and bad input, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import pyvista as pv

from sim import __version__
from tests.cli_process import run_cli


def read_png(path) -> np.ndarray:
    """An RGB array (rows top to bottom) of a PNG file."""
    image = pv.read(path)
    w, h, _ = image.dimensions
    return np.asarray(image.active_scalars).reshape(h, w, -1)[::-1, :, :3]


def run(*args, timeout=180):
    """``twinsight ARGS`` in a process of its own (forked from a warm one)."""
    return run_cli(*args, timeout=timeout)


def run_fresh(*args, timeout=180):
    """``python -m viewer.launcher ARGS`` in a fresh interpreter: the real entry point."""
    return subprocess.run([sys.executable, "-m", "viewer.launcher", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_sentence(stderr: str) -> bool:
    lines = [ln for ln in stderr.strip().splitlines() if ln.startswith("twinsight:")]
    return len(lines) == 1 and "Traceback" not in stderr


def test_version():
    out = run_fresh("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"twinsight {__version__}"


def test_help_lists_commands():
    out = run_fresh("--help")
    assert out.returncode == 0
    for cmd in ("info", "demo", "screenshot", "open"):
        assert cmd in out.stdout


def test_info_on_case_json(demo_case_dir):
    out = run("info", demo_case_dir, "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    names = {o["name"] for o in info["objects"]}
    assert {"CT", "Liver", "Aorta", "Vertebra L1", "Pedicle screw 6.5x45"} <= names
    ct = next(o for o in info["objects"] if o["name"] == "CT")
    assert ct["spacing_mm"] == [1.25, 1.25, 1.25]
    assert info["frame"] == "LPS (mm)"


def test_info_on_mesh_text(tmp_path):
    path = tmp_path / "ball.stl"
    pv.Sphere(radius=10).save(path)
    out = run("info", path)
    assert out.returncode == 0, out.stderr
    assert "ball" in out.stdout and "20.0 x" in out.stdout


def test_info_on_real_obj(shared_data):
    out = run("info", shared_data / "anatomy" / "sofa-liver-smooth.obj", "--json")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)["objects"][0]
    assert obj["points"] > 1000 and obj["kind"] == "surface"


@pytest.mark.parametrize("content, reason", [
    (None, "no such file"),
    (b"", "empty"),
    (b"\x00" * 80 + (10**9).to_bytes(4, "little") + b"\x00" * 100, "announces 1000000000 triangles"),
])
def test_info_bad_files(tmp_path, content, reason):
    path = tmp_path / "part.stl"
    if content is not None:
        path.write_bytes(content)
    out = run("info", path)
    assert out.returncode == 2
    assert one_sentence(out.stderr), out.stderr
    assert reason in out.stderr and str(path) in out.stderr


def test_info_unknown_format(tmp_path):
    path = tmp_path / "notes.xyz123"
    path.write_text("hello")
    out = run("info", path)
    assert out.returncode == 2 and "not a supported format" in out.stderr


def test_info_folder_that_is_not_a_case(tmp_path):
    out = run("info", tmp_path)
    assert out.returncode == 2 and "Twinsight case" in out.stderr and one_sentence(out.stderr)


def test_demo_writes_a_case(tmp_path):
    out = run("demo", "--out", tmp_path / "demo", "--json")
    assert out.returncode == 0, out.stderr
    folder = json.loads(out.stdout)["case"]
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text())
    assert folder.endswith("demo") and len(manifest["objects"]) == 9


def test_demo_refuses_a_file_as_output(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    out = run("demo", "--out", target)
    assert out.returncode == 2 and one_sentence(out.stderr)
    assert target.read_text() == "keep me"


def test_demo_that_cannot_be_written_fails_in_one_sentence():
    """The system refusing a write is a failure (exit 1), said plainly with the asked-for path."""
    target = "/proc/twinsight-demo"  # the kernel's folder: nothing can be created there
    out = run("demo", "--out", target)
    assert out.returncode == 1, out.stderr
    assert one_sentence(out.stderr), out.stderr
    assert f"'{target}'" in out.stderr and "internal error" not in out.stderr
    assert "twinsight-tmp" not in out.stderr, "names the user's path, not a temporary one"


def test_screenshot_of_case(tmp_path, demo_case_dir):
    png = tmp_path / "shot.png"
    out = run("screenshot", demo_case_dir, "-o", png, "--size", "400x300", "--view", "a")
    assert out.returncode == 0, out.stderr
    img = read_png(png)
    assert img.shape == (300, 400, 3)
    liver = np.array([0.69, 0.26, 0.20]) * 255
    # The liver (reddish brown) is visible: a good number of pixels close to its hue.
    reddish = (img[..., 0] > img[..., 1] + 40) & (img[..., 0] > img[..., 2] + 40)
    assert reddish.sum() > 500
    assert np.abs(img.reshape(-1, 3) - liver).sum(axis=1).min() < 120


def test_screenshot_of_mesh_from_each_side(tmp_path):
    mesh = tmp_path / "box.ply"
    pv.Cube(x_length=30, y_length=10, z_length=20).triangulate().save(mesh)
    for view in "LS":
        png = tmp_path / f"{view}.png"
        out = run("screenshot", mesh, "-o", png, "--size", "200x160", "--view", view)
        assert out.returncode == 0, out.stderr
        assert png.stat().st_size > 1000


@pytest.mark.parametrize("args, needle", [
    (["--size", "big"], "WIDTHxHEIGHT"),
    (["--size", "10x99999"], "between 16 and 8192"),
    (["--view", "Q"], "invalid choice"),
])
def test_screenshot_bad_arguments(tmp_path, args, needle):
    mesh = tmp_path / "b.stl"
    pv.Sphere().save(mesh)
    out = run("screenshot", mesh, "-o", tmp_path / "x.png", *args)
    assert out.returncode == 2
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_screenshot_bad_output(tmp_path):
    mesh = tmp_path / "b.stl"
    pv.Sphere().save(mesh)
    out = run("screenshot", mesh, "-o", tmp_path / "missing" / "x.png")
    assert out.returncode == 2 and "does not exist" in out.stderr
    out = run("screenshot", mesh, "-o", tmp_path / "x.jpg")
    assert out.returncode == 2 and ".png" in out.stderr


def test_screenshot_onto_a_folder(tmp_path):
    mesh = tmp_path / "b.stl"
    pv.Sphere().save(mesh)
    (tmp_path / "shots.png").mkdir()
    out = run("screenshot", mesh, "-o", tmp_path / "shots.png")
    assert out.returncode == 2 and one_sentence(out.stderr), out.stderr
    assert "is a folder" in out.stderr


def test_screenshot_of_a_missing_file(tmp_path):
    out = run("screenshot", tmp_path / "gone.stl", "-o", tmp_path / "x.png")
    assert out.returncode == 2 and one_sentence(out.stderr), out.stderr
    assert "gone.stl" in out.stderr and not (tmp_path / "x.png").exists()


def test_open_missing_path():
    out = run("open", "/nonexistent/case")
    assert out.returncode == 2 and one_sentence(out.stderr)


def test_unknown_command():
    out = run("frobnicate")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_no_command_prints_a_terminal_escape_from_a_hostile_name(tmp_path, capsys):
    """Every command's output goes through one escaping stream: a file named with ANSI escape
    sequences cannot clear or recolour the user's terminal (here `mesh convert`, which prints
    the name as it is)."""
    from sim.cli import main

    source = tmp_path / "ball.stl"
    pv.Sphere().triangulate().save(source)
    name = tmp_path / "\x1b[2J\x1b[31mpart\u202e.stl"
    assert main(["mesh", "convert", str(source), str(name)]) == 0  # prints "Wrote NAME"
    out = capsys.readouterr().out
    assert "part" in out and "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out

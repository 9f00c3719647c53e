"""``twinsight xr --check`` with and without an OpenXR runtime, and bad input."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli_process import run_cli
from tests.viewer.xr.xr_helpers import ROOT, xr_env


def twinsight(args, env, timeout=60):
    return run_cli(*args, cwd=ROOT, env=env, timeout=timeout)


@pytest.fixture
def no_runtime_env(tmp_path):
    """No XR_RUNTIME_JSON and empty config folders: the loader finds no runtime."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XR_", "XRT_"))}
    (tmp_path / "cfg").mkdir()
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_CONFIG_DIRS": str(tmp_path / "cfg")})
    return env


def test_check_without_a_runtime_says_so_plainly(no_runtime_env):
    proc = twinsight(["xr", "--check"], no_runtime_env)
    assert proc.returncode == 1
    assert "No OpenXR runtime is installed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # one sentence, no loader noise


def test_check_json_without_a_runtime(no_runtime_env):
    proc = twinsight(["xr", "--check", "--json"], no_runtime_env)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["available"] is False
    assert "No OpenXR runtime" in data["reason"]


def test_check_with_a_missing_runtime_manifest(no_runtime_env, tmp_path):
    env = dict(no_runtime_env, XR_RUNTIME_JSON=str(tmp_path / "nowhere.json"))
    proc = twinsight(["xr", "--check"], env)
    assert proc.returncode == 1
    assert "nowhere.json" in proc.stderr


@pytest.mark.slow
def test_check_reports_runtime_system_and_eye_resolution(monado_manifest, tmp_path):
    proc = twinsight(["xr", "--check", "--json"], xr_env(monado_manifest, tmp_path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["available"] is True
    assert "Monado" in data["runtime"] and data["runtime_version"] == "25.0.0"
    assert "Simulated HMD" in data["system"]
    assert len(data["eyes"]) == 2
    for eye in data["eyes"]:
        w, h = eye["recommended"]
        assert 16 <= w <= eye["max"][0] and 16 <= h <= eye["max"][1]
    assert "XR_KHR_opengl_enable" in data["opengl"]


def test_xr_without_a_case_or_with_a_missing_one_is_bad_input(no_runtime_env, tmp_path):
    proc = twinsight(["xr"], no_runtime_env)
    assert proc.returncode == 2 and "--check" in proc.stderr
    proc = twinsight(["xr", str(tmp_path / "missing.case")], no_runtime_env)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_showing_a_case_without_a_runtime_fails_plainly(no_runtime_env, tmp_path):
    import pyvista as pv

    mesh = tmp_path / "ball.stl"
    pv.Sphere(radius=20.0).save(mesh)
    proc = twinsight(["xr", str(mesh)], dict(no_runtime_env, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 1
    assert "No OpenXR runtime is installed" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_xr_case_shows_it_in_the_headset_for_n_frames(monado_manifest, tmp_path):
    import pyvista as pv

    mesh = tmp_path / "ball.stl"
    pv.Sphere(radius=20.0).save(mesh)
    proc = twinsight(["xr", str(mesh), "--frames", "5"], xr_env(monado_manifest, tmp_path),
                     timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "twinsight: error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "in the headset: 5 frames" in proc.stdout

"""The wheel, not the source tree: ``python -m build`` makes an sdist and a wheel that pass
``twine check``; the wheel installed (not editable) into a fresh virtual environment runs the
CLI, and the CLI tests pass against it from a folder outside the source tree.

The fresh environment gets Twinsight from the wheel only; its third-party dependencies come from
the project's .venv through a ``.pth`` path line (a path line adds site-packages to sys.path
without running the .pth files there, so the editable install's import hook stays out).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("TWINSIGHT_SHARED_DATA", ROOT.parent / "shared" / "data"))
pytestmark = pytest.mark.slow


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("PYTEST")}
    env.update(extra)
    return env


def _run(cmd, cwd, timeout=600, **env):
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, env=_clean_env(**env))
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=dist)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "fresh"
    _run([sys.executable, "-m", "venv", env_dir], cwd=env_dir.parent)
    py = env_dir / "bin" / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=env_dir).stdout.strip())
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "zz_project_dependencies.pth").write_text("\n".join(deps) + "\n")
    _run([py, "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir",
          built["wheel"]], cwd=env_dir)
    return env_dir


def test_sdist_and_wheel_pass_twine_check(built):
    out = _run([sys.executable, "-m", "twine", "check", "--strict", built["wheel"], built["sdist"]],
               cwd=built["wheel"].parent)
    assert out.stdout.count("PASSED") == 2, out.stdout


def test_wheel_carries_the_package_data_and_not_the_screenshots(built):
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    for data in ("sim/_assets/materials.json", "sim/_assets/devices/catalogue.json",
                 "sim/_assets/fem_examples/cantilever.yaml", "sim/_assets/icons/twinsight.svg",
                 "sim/cli.py", "viewer/launcher.py"):
        assert data in names, data
    assert not [n for n in names if "screenshots" in n or n.startswith("tests/")]


def test_installed_wheel_is_what_runs(venv, tmp_path):
    py = venv / "bin" / "python"
    code = ("import sim, viewer, sim.resources as r; "
            "print(sim.__file__); print(viewer.__file__); print(r.assets_root())")
    paths = _run([py, "-c", code], cwd=tmp_path).stdout.split()
    assert len(paths) == 3
    for p in paths:
        assert Path(p).resolve().is_relative_to(venv.resolve()), p
        assert not Path(p).resolve().is_relative_to(ROOT), p
    twinsight = venv / "bin" / "twinsight"
    assert _run([twinsight, "--version"], cwd=tmp_path).stdout.startswith("twinsight ")
    out = _run([twinsight, "demo", "--out", tmp_path / "demo"], cwd=tmp_path,
               TWINSIGHT_CACHE_DIR=str(tmp_path / "cache"))
    assert (tmp_path / "demo" / "manifest.json").is_file(), out.stdout
    out = _run([twinsight, "fem", "solve", "--example", "cantilever", "--json"], cwd=tmp_path,
               TWINSIGHT_CACHE_DIR=str(tmp_path / "cache"))
    assert '"steel cantilever"' in out.stdout, out.stderr


def test_cli_tests_pass_against_the_wheel(venv, tmp_path):
    """tests/sim/test_cli.py and the FEM CLI tests, copied out of the source tree."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", run / "conftest.py")
    shutil.copy(ROOT / "tests" / "sim" / "test_cli.py", run / "test_cli.py")
    shutil.copy(ROOT / "tests" / "sim" / "fem" / "test_fem_cli.py", run / "test_fem_cli.py")
    (run / "tests").mkdir()  # test_cli.py's runner: it forks the wheel's twinsight
    shutil.copy(ROOT / "tests" / "cli_process.py", run / "tests" / "cli_process.py")
    (run / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider -p no:benchmark\n"
                                    "timeout = 600\ntimeout_method = thread\n")
    out = subprocess.run(
        [venv / "bin" / "python", "-m", "pytest", "-q", "-x", "test_cli.py", "test_fem_cli.py",
         # the two worked examples read third-party data by a path relative to the repository
         "-k", "not worked_example"],
        cwd=run, capture_output=True, text=True, timeout=900,
        env=_clean_env(TWINSIGHT_SHARED_DATA=str(SHARED_DATA), QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and " failed" not in out.stdout, out.stdout[-2000:]

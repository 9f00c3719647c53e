"""Helpers for the XR tests: the runtime's environment and one-process-per-session runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_process import run_script
from tests.viewer.xr.monado_remote import free_port, write_remote_config

ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = ROOT / "packaging" / "build-monado.sh"
CHILD = Path(__file__).resolve().parent / "xr_child.py"


def xr_env(manifest: Path, tmp_path: Path, remote_port: int | None = None) -> dict[str, str]:
    """Environment for an in-process Monado: null compositor, simulated or remote devices."""
    env = dict(os.environ)
    config_home = tmp_path / "xdg-config"
    config_home.mkdir(exist_ok=True)
    env.update({"XR_RUNTIME_JSON": str(manifest), "XRT_COMPOSITOR_NULL": "1",
                "XDG_CONFIG_HOME": str(config_home), "XRT_LOG": "warning",
                "PYTHONPATH": str(ROOT)})
    if remote_port is None:
        env["SIMULATED_ENABLE"] = "1"
    else:
        env["P_OVERRIDE_ACTIVE_CONFIG"] = "remote"
        env["TWINSIGHT_TEST_REMOTE_PORT"] = str(remote_port)
        write_remote_config(config_home, remote_port)
    return env


def run_child(scenario: str, manifest: Path, tmp_path: Path, *, remote: bool = False,
              case_dir: Path | None = None, timeout: float = 120.0,
              env_changes: dict[str, str | None] | None = None) -> dict:
    """Run one scenario of xr_child.py in a fresh process and return its result."""
    out = tmp_path / scenario
    env = xr_env(manifest, tmp_path, free_port() if remote else None)
    for key, value in (env_changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    args = [scenario, out] + ([] if case_dir is None else [case_dir])
    proc = run_script(CHILD, *args, env=env, timeout=timeout)
    assert proc.returncode == 0, f"XR child '{scenario}' failed:\n{proc.stderr[-4000:]}"
    return json.loads((out / "result.json").read_text())


@pytest.fixture(scope="session")
def monado_manifest() -> Path:
    if os.environ.get("TWINSIGHT_MONADO_JSON"):
        return Path(os.environ["TWINSIGHT_MONADO_JSON"])
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                          timeout=1800)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"the Monado OpenXR runtime cannot be built on this machine: {reason}")
    return Path(lines[-1])

"""A real OpenXR runtime for the XR tests: Monado built by packaging/build-monado.sh.

The build is cached outside the repository, so after the first time the script just prints
the manifest. Tests skip (with the script's own reason) only if it cannot be built here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.viewer.xr.xr_helpers import BUILD_SCRIPT


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

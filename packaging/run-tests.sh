#!/usr/bin/env bash
# Set up (system packages and .venv) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup-env.sh
# The OpenXR runtime for the XR tests (cached outside the repo; they skip if it cannot build).
bash packaging/build-monado.sh >/dev/null || echo "Monado could not be built; XR tests will skip." >&2
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-xcb}
.venv/bin/python -m ruff check sim viewer tests
if [ $# -eq 0 ]; then
  # Benchmarks first, in reporting mode: they print their figures and whether each target was
  # met; a noisy machine's clock must not fail the run, so their result is reported, not fatal.
  .venv/bin/python -m pytest tests/benchmarks -q -s -p no:cacheprovider \
    || echo "Benchmarks: some figures missed their targets (see above); they never fail the run."
fi
# The test suite (benchmarks are left out unless named); its result is the run's result.
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up (system packages and .venv) and start Twinsight on the bundled demo case.
# Without a display it starts a virtual one (Xvfb) so the app still runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup-env.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: running under a virtual X display (xvfb-run)."
  exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/twinsight "$@"
fi
exec .venv/bin/twinsight "$@"

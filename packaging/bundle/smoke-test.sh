#!/usr/bin/env bash
# Smoke-test a Twinsight bundle archive as a user would get it: unpacked into a fresh folder
# outside the source tree and run with a clean environment (no virtual environment or repo on
# PATH, no PYTHONPATH, an empty home). Prints figures (size, start-up time beside the venv's).
#   bash packaging/bundle/smoke-test.sh /tmp/twinsight-bundle/twinsight-X-linux-ARCH.tar.xz
#   bash packaging/bundle/smoke-test.sh /tmp/twinsight-bundle/dist/twinsight   (unpacked folder)
set -euo pipefail
TARBALL=$(realpath "$1")
REPO=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/twinsight-smoke.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "smoke-test: FAILED: $*" >&2; exit 1; }
ok() { echo "smoke-test: ok: $*"; }

if [ -d "$TARBALL" ]; then  # an unpacked bundle folder (e.g. the build's dist/twinsight)
  B=$TARBALL
else
  tar -xJf "$TARBALL" -C "$T"
  B=$(find "$T" -mindepth 1 -maxdepth 1 -type d -name 'twinsight-*')
fi
[ -x "$B/twinsight" ] || fail "no twinsight executable in the archive"
mkdir -p "$T/home" "$T/run"
cd "$T/run"
# A user's environment, not ours: nothing from the venv, the repository or a Python setup.
run() {
  env -i HOME="$T/home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    ${DISPLAY:+DISPLAY=$DISPLAY} "$@"
}

echo "smoke-test: $(basename "$TARBALL") $(du -sh "$TARBALL" | cut -f1), unpacked $(du -sh "$B" | cut -f1)"

v=$(run "$B/twinsight" --version) || fail "twinsight --version"
ok "--version: $v"

# Start-up time: the bundle beside the venv (best of 3, warm file cache).
best() {
  local best=999 s e t
  for _ in 1 2 3; do
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s.%N)
    t=$(awk -v a="$s" -v b="$e" 'BEGIN {printf "%.2f", b - a}')
    best=$(awk -v a="$best" -v b="$t" 'BEGIN {print (b < a) ? b : a}')
  done
  echo "$best"
}
tb=$(best run "$B/twinsight" --version)
tv=$(best "$REPO/.venv/bin/twinsight" --version)
tbh=$(best run "$B/twinsight" fem --help)
tvh=$(best "$REPO/.venv/bin/twinsight" fem --help)
echo "smoke-test: start-up 'twinsight --version': bundle ${tb} s, venv ${tv} s"
echo "smoke-test: start-up 'twinsight fem --help' (loads the CLI): bundle ${tbh} s, venv ${tvh} s"

run "$B/twinsight" screenshot demo -o demo.png >screenshot.log 2>&1 \
  || { cat screenshot.log >&2; fail "twinsight screenshot demo"; }
[ "$(head -c 8 demo.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "demo.png is not a PNG"
ok "screenshot demo -o demo.png ($(du -h demo.png | cut -f1))"

run "$B/twinsight" fem solve --example cantilever --json >fem.json 2>fem.log \
  || { cat fem.log >&2; fail "twinsight fem solve --example cantilever"; }
# Checked with the build machine's Python (the bundle itself has none to offer).
"$REPO/.venv/bin/python" - fem.json <<'EOF' || fail "the cantilever result is wrong"
import json, sys
s = json.load(open(sys.argv[1]))
tip = s["probes"]["tip"]["displacement_mm"][2]
exact = -100 * 100**3 / (3 * 200000 * 10**4 / 12)  # Euler-Bernoulli, -0.2 mm
assert abs(tip - exact) < 0.03 * abs(exact), (tip, exact)
print(f"smoke-test: ok: fem solve --example cantilever: tip {tip:.4f} mm (beam theory "
      f"{exact:.4f}), solver: {s['linear_solver']}")
EOF

# Meshing runs gmsh in a worker process: the bundle's own executable must start it (no python).
"$REPO/.venv/bin/python" -c 'import pyvista as pv; pv.Cube(x_length=10, y_length=10,
z_length=10).triangulate().save("cube.stl")'
run "$B/twinsight" mesh tet cube.stl -o cube.vtu --method gmsh --edge-length 2.5 --no-cache \
  --json >mesh.json 2>mesh.log || { tail -n 20 mesh.log >&2; fail "mesh tet (gmsh worker)"; }
"$REPO/.venv/bin/python" - cube.vtu <<'EOF' || fail "the meshed cube is wrong"
import sys
import pyvista as pv
grid = pv.read(sys.argv[1])
volume = grid.volume
assert abs(volume - 1000.0) < 1e-6 * 1000, volume
print(f"smoke-test: ok: mesh tet in the bundle's worker process: {grid.n_cells} tetrahedra, "
      f"volume {volume:.3f} mm^3 (exact 1000)")
EOF

# XR: without a runtime on this machine, one clear sentence and a failure exit code, no crash.
set +e
xr=$(run "$B/twinsight" xr --check 2>&1)
code=$?
set -e
if [ $code -eq 0 ]; then
  ok "xr --check: a runtime answered: $(echo "$xr" | head -n1)"
elif [ $code -le 2 ] && echo "$xr" | grep -q -i "openxr" && ! echo "$xr" | grep -q Traceback; then
  ok "xr --check degrades clearly (exit $code): $(echo "$xr" | tail -n1)"
else
  echo "$xr" >&2
  fail "xr --check crashed or said nothing clear (exit $code)"
fi
# With a real runtime (Monado from packaging/build-monado.sh, when built on this machine) the
# bundle's own OpenXR loader must find it and see the simulated headset.
manifest=$(find "${TWINSIGHT_MONADO_CACHE:-/var/cache/twinsight/monado}" \
  "${XDG_CACHE_HOME:-$HOME/.cache}/twinsight/monado" -name openxr_monado.json 2>/dev/null \
  | head -n1 || true)
if [ -n "$manifest" ]; then
  xr=$(run XR_RUNTIME_JSON="$manifest" XRT_COMPOSITOR_NULL=1 SIMULATED_ENABLE=1 \
    "$B/twinsight" xr --check 2>/dev/null) || fail "xr --check with Monado ($manifest)"
  echo "$xr" | grep -q "Simulated HMD" || { echo "$xr" >&2; fail "no simulated HMD through Monado"; }
  ok "xr --check with Monado: the bundled OpenXR loader reaches the runtime and its headset"
else
  echo "smoke-test: Monado is not built here; OpenXR loader checked without a runtime only"
fi

# The main window under Xvfb, showing the demo; the picture is taken from the X server.
if command -v xvfb-run >/dev/null; then
  run xvfb-run -a -s "-screen 0 1600x1000x24" "$B/twinsight" open --grab window.png \
    >window.log 2>&1 || { tail -n 20 window.log >&2; fail "main window under Xvfb"; }
  [ -s window.png ] || fail "no window picture"
  if [ -n "${TWINSIGHT_SMOKE_KEEP:-}" ]; then
    cp window.png demo.png fem.json "$TWINSIGHT_SMOKE_KEEP/"
  fi
  ok "main window under Xvfb: window.png ($(du -h window.png | cut -f1))"
else
  echo "smoke-test: xvfb-run is missing; main-window check skipped" >&2
fi

# Desktop integration installs per user into the clean home.
run "$B/install-desktop.sh" >/dev/null || fail "install-desktop.sh"
grep -q "Exec=$B/twinsight open %f" "$T/home/.local/share/applications/twinsight.desktop" \
  || fail "the installed .desktop entry does not start this bundle"
[ -f "$T/home/.local/share/mime/packages/twinsight.xml" ] || fail "MIME type not installed"
ok "install-desktop.sh: .desktop entry, icon and the .twin MIME type"
echo "smoke-test: all passed"

#!/usr/bin/env bash
# Build the Twinsight desktop bundle: a ONE-FOLDER PyInstaller build of the app and the CLI
# (one executable, `twinsight`), with a .desktop entry, an icon and the .twin MIME type, packed
# as twinsight-VERSION-linux-ARCH.tar.xz. Runs without Python or the source tree on the target.
#
#   bash packaging/build-bundle.sh          build (about 10 minutes on 2 cores)
#   bash packaging/build-bundle.sh --test   build, then smoke-test the unpacked archive from
#                                           outside the source tree with a clean environment
#
# Needs the project's .venv (bash packaging/setup-env.sh); PyInstaller is installed into it
# if missing (a build tool: the `bundle` extra, never a run-time dependency).
# Output folder: $TWINSIGHT_BUNDLE_DIR, else /tmp/twinsight-bundle (never inside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TEST=0
for arg in "$@"; do
  case $arg in
    --test) TEST=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-bundle: unknown option '$arg' (use --test)" >&2; exit 2 ;;
  esac
done
log() { echo "build-bundle: $*" >&2; }

PY=$ROOT/.venv/bin/python
if [ ! -x "$PY" ]; then
  log "no .venv here: run 'bash packaging/setup-env.sh' first"
  exit 1
fi
if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
  log "installing PyInstaller into .venv (build tool only)"
  "$PY" -m pip install -q "pyinstaller>=6.6"
fi
VERSION=$("$PY" -c 'import sim; print(sim.__version__)')
# The bundle freezes whatever is in this folder: say so when it is not what was committed.
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 \
    && [ -n "$(git status --porcelain -- sim viewer assets packaging 2>/dev/null)" ]; then
  log "WARNING: uncommitted changes in sim/, viewer/, assets/ or packaging/ go into this bundle"
  log "(for a release, build from a clean clone: git clone . /tmp/x && ln -s \$PWD/.venv /tmp/x/)"
fi
ARCH=$(uname -m)
NAME=twinsight-$VERSION-linux-$ARCH
OUT=${TWINSIGHT_BUNDLE_DIR:-/tmp/twinsight-bundle}
mkdir -p "$OUT"
DIST=$OUT/dist
WORK=$OUT/work
TARBALL=$OUT/$NAME.tar.xz

start=$(date +%s)
log "PyInstaller (one-folder) into $DIST (log: $OUT/pyinstaller.log)"
rm -rf "$DIST"
if ! nice -n 5 "$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" \
    --workpath "$WORK" packaging/twinsight.spec >"$OUT/pyinstaller.log" 2>&1; then
  tail -n 30 "$OUT/pyinstaller.log" >&2
  log "PyInstaller failed (full log: $OUT/pyinstaller.log)"
  exit 1
fi
APP=$DIST/twinsight

# Desktop integration, registered by the bundle's own install-desktop.sh.
mkdir -p "$APP/share/applications" "$APP/share/mime/packages" \
  "$APP/share/icons/hicolor/scalable/apps" "$APP/share/icons/hicolor/256x256/apps"
cp packaging/bundle/twinsight.desktop "$APP/share/applications/twinsight.desktop"
cp packaging/bundle/twinsight-mime.xml "$APP/share/mime/packages/twinsight.xml"
cp assets/icons/twinsight.svg "$APP/share/icons/hicolor/scalable/apps/twinsight.svg"
QT_QPA_PLATFORM=offscreen "$PY" - "$APP/share/icons/hicolor/256x256/apps/twinsight.png" <<'EOF'
import sys
from PyQt6.QtGui import QGuiApplication, QImage, QPainter
from PyQt6.QtSvg import QSvgRenderer
app = QGuiApplication(sys.argv[:1])
image = QImage(256, 256, QImage.Format.Format_ARGB32)
image.fill(0)
painter = QPainter(image)
QSvgRenderer("assets/icons/twinsight.svg").render(painter)
painter.end()
sys.exit(0 if image.save(sys.argv[1]) else 1)
EOF
cp packaging/bundle/install-desktop.sh "$APP/install-desktop.sh"
cat >"$APP/README.txt" <<EOF
Twinsight $VERSION for Linux ($ARCH): a self-contained bundle (no Python needed).

  ./twinsight                  open the main window on the demo case
  ./twinsight open CASE.twin   open a case or file
  ./twinsight --help           every command (the same CLI as a pip installation)
  ./install-desktop.sh         add the menu entry, icon and the .twin file type (per user;
                               --system as root for everyone)

Needs an X11 or Wayland desktop with OpenGL (Mesa is fine). The XR view needs an OpenXR
runtime (e.g. Monado or SteamVR) installed on the machine; without one it says so.
EOF

log "packing $TARBALL"
rm -f "$TARBALL"
tar -C "$DIST" --transform "s|^twinsight|$NAME|" -cf - twinsight \
  | xz ${XZ_OPT:--T0 -3} >"$TARBALL.tmp"
mv "$TARBALL.tmp" "$TARBALL"
end=$(date +%s)
log "built in $((end - start)) s: $(du -sh "$APP" | cut -f1) unpacked, $(du -h "$TARBALL" | cut -f1) packed"
echo "$TARBALL"

[ $TEST = 1 ] || exit 0
exec bash packaging/bundle/smoke-test.sh "$TARBALL"

#!/usr/bin/env bash
# Build the Monado OpenXR runtime (25.0.0, Debian 13's source) on Debian 12 so the XR view can be
# tested against a real runtime without a headset: an in-process runtime (no monado-service) with
# the null compositor, the simulated HMD and the remote driver (scriptable poses over TCP).
#
# Debian 12 has no Monado package and Debian 13's binaries need a newer glibc, so we fetch only
# the upstream .orig tarball through a private apt state (a temporary trixie deb-src entry that
# never touches the system's apt configuration) and build it with bookworm's build dependencies.
#
# The build is cached OUTSIDE the repository (built once per machine):
#   $TWINSIGHT_MONADO_CACHE, else /var/cache/twinsight/monado when writable, else
#   ${XDG_CACHE_HOME:-~/.cache}/twinsight/monado.
# On success the last line of stdout is the runtime manifest to use as XR_RUNTIME_JSON.
# Run with:  XR_RUNTIME_JSON=<manifest> XRT_COMPOSITOR_NULL=1 SIMULATED_ENABLE=1
set -euo pipefail

VERSION=25.0.0
DEB_VERSION=25.0.0+dfsg
ORIG=monado_${DEB_VERSION}.orig.tar.xz
ORIG_SHA256=ddfa1899078173bea3db98034dc8b990df727a169f490896570ff6e3bda72113

if [ -n "${TWINSIGHT_MONADO_CACHE:-}" ]; then
  CACHE=$TWINSIGHT_MONADO_CACHE
elif mkdir -p /var/cache/twinsight/monado 2>/dev/null && [ -w /var/cache/twinsight/monado ]; then
  CACHE=/var/cache/twinsight/monado
else
  CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/twinsight/monado
fi
PREFIX=$CACHE/install-$VERSION
MANIFEST=$PREFIX/share/openxr/1/openxr_monado.json

log() { echo "build-monado: $*" >&2; }

if [ -f "$PREFIX/.complete" ] && [ -f "$MANIFEST" ]; then
  echo "$MANIFEST"
  exit 0
fi

mkdir -p "$CACHE"
# One build at a time per machine (parallel test runs wait for the first one).
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$PREFIX/.complete" ] && [ -f "$MANIFEST" ]; then
  echo "$MANIFEST"
  exit 0
fi

# Build dependencies (all from bookworm) plus Mesa's lavapipe Vulkan driver for the runtime.
BUILD_PACKAGES=(
  cmake ninja-build build-essential pkg-config glslang-tools libeigen3-dev libvulkan-dev
  mesa-vulkan-drivers libcjson-dev libgl-dev libegl-dev libegl1-mesa-dev libglvnd-dev libx11-dev
  libx11-xcb-dev libxcb1-dev libxcb-randr0-dev libxrandr-dev libxxf86vm-dev libbsd-dev
  libudev-dev libusb-1.0-0-dev xz-utils ca-certificates
)
source "$(dirname "$0")/debian-packages.sh"
if ! install_debian_packages "Monado's build dependencies" "${BUILD_PACKAGES[@]}"; then
  log "cannot build Monado: could not install ${MISSING_PACKAGES[*]}: $INSTALL_ERROR"
  exit 1
fi

# Fetch the source tarball through a private apt state directory.
SRC=$CACHE/src
mkdir -p "$SRC"
if ! echo "$ORIG_SHA256  $SRC/$ORIG" | sha256sum -c --status 2>/dev/null; then
  APTDIR=$(mktemp -d)
  trap 'rm -rf "$APTDIR"' EXIT
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/sources.list.d"
  # The machine's own Debian archive, from its apt configuration (no host is named here).
  MIRROR=$( (grep -h -E '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
               | awk '{print $2}'
             grep -h -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list \
               /etc/apt/sources.list.d/*.list 2>/dev/null \
               | awk '{for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; break}}') \
           | grep -v -i security | head -n 1)
  if [ -z "$MIRROR" ]; then
    log "cannot fetch the Monado source: no Debian archive in this machine's apt configuration"
    exit 1
  fi
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
    >"$APTDIR/sources.list"
  APT_OPTS=(
    -o "Dir::State=$APTDIR" -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
    -o "Dir::Etc::SourceList=$APTDIR/sources.list" -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
    -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Sandbox::User=$(id -un)"
  )
  log "fetching monado $DEB_VERSION source (Debian trixie)"
  apt-get "${APT_OPTS[@]}" -qq update
  # Only the .orig tarball is needed; the .dsc/.debian parts may already be gone from the mirror.
  (cd "$SRC" && apt-get "${APT_OPTS[@]}" -qq source --download-only "monado=${DEB_VERSION}-2" >/dev/null 2>&1 || true)
  if ! echo "$ORIG_SHA256  $SRC/$ORIG" | sha256sum -c --status; then
    log "could not download a verified $ORIG from the Debian mirror"
    exit 1
  fi
fi

WORK=$CACHE/build-$VERSION
rm -rf "$WORK"
mkdir -p "$WORK"
tar -xf "$SRC/$ORIG" -C "$WORK"
SRCDIR=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d | head -n1)

log "configuring (in-process runtime, null compositor, simulated + remote drivers)"
# Drivers for real hardware are left out: they add build time and nothing here can use them.
cmake -S "$SRCDIR" -B "$WORK/build" -G Ninja -Wno-dev \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DXRT_FEATURE_SERVICE=OFF -DXRT_MODULE_COMPOSITOR_NULL=ON -DXRT_BUILD_DRIVER_SIMULATED=ON \
  -DXRT_BUILD_DRIVER_REMOTE=ON -DBUILD_TESTING=OFF -DXRT_BUILD_SAMPLES=OFF \
  -DXRT_FEATURE_STEAMVR_PLUGIN=OFF -DXRT_MODULE_MONADO_GUI=OFF -DXRT_MODULE_MONADO_CLI=OFF \
  -DXRT_HAVE_OPENCV=OFF -DXRT_HAVE_GST=OFF -DXRT_HAVE_SDL2=OFF -DXRT_HAVE_HIDAPI=OFF \
  -DXRT_HAVE_LIBUVC=OFF -DXRT_HAVE_WAYLAND=OFF -DXRT_HAVE_DBUS=OFF -DXRT_HAVE_SYSTEMD=OFF \
  -DXRT_BUILD_DRIVER_VIVE=OFF -DXRT_BUILD_DRIVER_STEAMVR_LIGHTHOUSE=OFF \
  -DXRT_BUILD_DRIVER_WMR=OFF -DXRT_BUILD_DRIVER_NS=OFF -DXRT_BUILD_DRIVER_ROKID=OFF \
  -DXRT_BUILD_DRIVER_PSSENSE=OFF -DXRT_BUILD_DRIVER_RIFT_S=OFF \
  >"$WORK/configure.log" 2>&1 || { tail -n 40 "$WORK/configure.log" >&2; log "configure failed"; exit 1; }

log "building (takes a few minutes; log: $WORK/build.log)"
JOBS=${MONADO_BUILD_JOBS:-$(nproc)}
nice -n 10 cmake --build "$WORK/build" --parallel "$JOBS" >"$WORK/build.log" 2>&1 \
  || { tail -n 40 "$WORK/build.log" >&2; log "build failed"; exit 1; }
rm -rf "$PREFIX"
cmake --install "$WORK/build" >"$WORK/install.log" 2>&1 \
  || { tail -n 20 "$WORK/install.log" >&2; log "install failed"; exit 1; }
if [ ! -f "$MANIFEST" ]; then
  log "the build did not produce $MANIFEST"
  exit 1
fi
touch "$PREFIX/.complete"
rm -rf "$WORK"
log "Monado $VERSION installed in $PREFIX"
echo "$MANIFEST"

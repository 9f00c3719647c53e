#!/usr/bin/env bash
# Set up everything Twinsight needs on a fresh Debian 12 machine with Python 3.11:
# system libraries (OpenGL/EGL through Mesa, Xvfb and X/Qt libraries, mosquitto) and a
# virtual environment in .venv with Twinsight installed (editable) plus its test tools.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  xvfb xauth x11-utils libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libosmesa6
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libdbus-1-3 libfontconfig1
  libxrender1 libxi6 libgomp1 mosquitto libusb-1.0-0
  libglu1-mesa libxcursor1 libxft2 libxinerama1
  libsuitesparse-dev libopenblas0-pthread gcc libc6-dev python3-dev
  dcm2niix openigtlink-examples
  orthanc dcmtk dicom3tools
)

source packaging/debian-packages.sh
if command -v dpkg-query >/dev/null && ! install_debian_packages "system packages" "${SYSTEM_PACKAGES[@]}"; then
  echo "Twinsight needs these Debian packages and they could not be installed: $INSTALL_ERROR" >&2
  echo "Install them as root, then run this again:" >&2
  echo "  apt-get install ${MISSING_PACKAGES[*]}" >&2
  exit 1
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Twinsight needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"

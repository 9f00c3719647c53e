# Sourced by setup-env.sh and build-monado.sh: installing the Debian packages a step needs.

# install_debian_packages WHAT PACKAGE...: installs those of the packages dpkg does not list as
# installed, as root or through password-less sudo; WHAT names them in the progress line (stderr).
# Another apt/dpkg run holding the lock is waited for (up to 10 minutes), not treated as failure.
# Returns 1 when they could not be installed, with the packages in MISSING_PACKAGES and the
# reason in INSTALL_ERROR (not root and no sudo, or apt's own error lines).
APT_LOCK_WAIT_S=${APT_LOCK_WAIT_S:-600}

install_debian_packages() {
  local what=$1 p
  shift
  MISSING_PACKAGES=()
  INSTALL_ERROR=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || MISSING_PACKAGES+=("$p")
  done
  if [ ${#MISSING_PACKAGES[@]} -eq 0 ]; then
    return 0
  fi
  local as_root=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      as_root=(sudo)
    else
      INSTALL_ERROR="installing needs root, and this is user $(id -un) without password-less sudo"
      return 1
    fi
  fi
  local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_WAIT_S")
  local log
  log=$(mktemp)
  echo "Installing $what: ${MISSING_PACKAGES[*]}" >&2
  if ! "${as_root[@]}" apt-get "${lock[@]}" update -qq >"$log" 2>&1; then
    # A stale or unreachable source must not hide that the packages may still be installable
    # from the lists already on the machine: say so, and go on to the install.
    echo "apt-get update failed; trying with the package lists already here:" >&2
    grep -E '^(E|W):' "$log" | head -n 5 >&2 || true
  fi
  if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq \
      --no-install-recommends "${MISSING_PACKAGES[@]}" >"$log" 2>&1; then
    INSTALL_ERROR="apt-get install failed: $(grep -E '^E:' "$log" | head -n 3 | tr '\n' ' ')"
    if [ "$INSTALL_ERROR" = "apt-get install failed: " ]; then
      INSTALL_ERROR="apt-get install failed: $(tail -n 3 "$log" | tr '\n' ' ')"
    fi
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  # Re-check: apt can succeed without installing a package (e.g. a virtual name).
  local still=()
  for p in "${MISSING_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || still+=("$p")
  done
  if [ ${#still[@]} -gt 0 ]; then
    MISSING_PACKAGES=("${still[@]}")
    INSTALL_ERROR="apt-get reported success but these are still not installed"
    return 1
  fi
  MISSING_PACKAGES=()
}

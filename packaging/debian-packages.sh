# Sourced by setup-env.sh and build-monado.sh: installing the Debian packages a step needs.

# install_debian_packages WHAT PACKAGE...: installs those of the packages dpkg does not list as
# installed, as root or through password-less sudo; WHAT names them in the progress line (stderr).
# Returns 1 where it cannot (not root, no sudo), leaving them in MISSING_PACKAGES for the message.
install_debian_packages() {
  local what=$1 p
  shift
  MISSING_PACKAGES=()
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
      return 1
    fi
  fi
  echo "Installing $what: ${MISSING_PACKAGES[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${MISSING_PACKAGES[@]}" >/dev/null
}

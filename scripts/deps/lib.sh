# Shared helpers for scripts/deps/*.sh (sourced, not executed).
# shellcheck shell=bash

DEPS_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
DEPS_BIN_DIR="${TOKENROUTE_BIN_DIR:-$DEPS_REPO_ROOT/.cache/bin}"

# apt_install PKG... : install Debian packages non-interactively (root or sudo).
# Runs `apt-get update` once per process, and only when something must be installed.
apt_install() {
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to apt-get install $*" >&2; return 1; }
    sudo="sudo -n"
  fi
  if [[ -z "${_DEPS_APT_UPDATED:-}" ]]; then
    echo "apt-get update ..."
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _DEPS_APT_UPDATED=1
  fi
  echo "apt-get install $* ..."
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

#!/usr/bin/env bash
# Installs the Debian 12 packages cxflow needs, only those missing. Sourced by the other scripts.
set -euo pipefail

CXFLOW_APT_PACKAGES=(
  build-essential cmake ccache pkg-config clang-format
  libboost1.81-dev libyaml-cpp-dev nlohmann-json3-dev libsimdjson-dev
  libsqlite3-dev sqlite3 libssl-dev openssl libgtest-dev libgmock-dev libmimalloc-dev
)

cxflow_install_deps() {
  local missing=()
  for p in "${CXFLOW_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "cxflow: installing missing packages: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "cxflow: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configures and builds the tree in $1 with extra cmake args. A new folder is configured as
# RelWithDebInfo unless the args say otherwise; an existing one is configured again only when
# args are given (so they take effect), else just built.
cxflow_build() {
  local build_dir=$1
  shift
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  elif [ $# -gt 0 ]; then
    cmake -S "$root" -B "$build_dir" "$@" >/dev/null
  fi
  cmake --build "$build_dir" -j "$(nproc)"
}

#!/usr/bin/env bash
# Install the Debian packages kb needs to build and test. Idempotent: packages
# already present are not touched, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libcurl4-openssl-dev libssl-dev libgit2-dev liblief-dev
  pybind11-dev libgtest-dev libgmock-dev bats
  python3 python3-dev python3-venv python3-pip python3-pytest
  python3-torch libtorch-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present" >&2
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"

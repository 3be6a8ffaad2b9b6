#!/usr/bin/env bash
# Install the Debian packages kb needs to build and test. Idempotent: packages
# already present are not touched, and apt-get runs only when something is missing.
#
# Prints one line; apt-get's output goes to ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/install-deps.log
# (overwritten on every run), whose last lines are shown when it fails.
#
# Environment:
#   KB_VERBOSE=1  show apt-get's output as it runs instead (no log)
#   KB_LOG_DIR    where the log goes (default $HOME/.cache/kb/logs)
set -euo pipefail
# shellcheck source=lib/step.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libcurl4-openssl-dev libssl-dev libgit2-dev liblief-dev
  pybind11-dev libgtest-dev libgmock-dev bats
  clang libclang-rt-14-dev
  python3 python3-dev python3-venv python3-pip python3-pytest
  python3-torch libtorch-dev
  python3-tabulate python3-matplotlib python3-pil
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present" >&2
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

apt_install() {
  echo "missing: ${missing[*]}"
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

if [ ${#missing[@]} -eq 1 ]; then
  what="1 Debian package (${missing[0]})"
elif [ ${#missing[@]} -le 4 ]; then
  what="${#missing[@]} Debian packages (${missing[*]})"
else
  what="${#missing[@]} Debian packages"
fi
run_step install-deps "installing $what" -- apt_install

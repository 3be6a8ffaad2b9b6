#!/usr/bin/env bash
# Provide a Python virtual environment holding the real Hugging Face clients
# from PyPI, pinned: `huggingface_hub` and the existing `kernels` runtime. The
# compatibility tests (ctest fixture/hub-server and compat/real-clients) point
# them at the loopback hub fixture to prove that what kb publishes, real
# clients download, and the reverse. It also holds `auditwheel`, the
# portable-build tests' second opinion on kb's manylinux verdict. They are
# test-only tools, never a dependency of kb; without this environment those
# tests skip.
#
# The environment is created once and kept: when it exists and imports the
# packages at the pinned versions, nothing is downloaded or reinstalled. An
# environment made before auditwheel was pinned gets auditwheel added, and
# nothing else touched.
#
# Prints one line, whether the environment is already there or is created;
# pip's output goes to ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/setup-test-tools.<venv
# directory name>.log (overwritten on every run), whose last lines are shown
# when a step fails.
#
# Usage: scripts/setup-test-tools.sh [--check]
#   --check   only report whether a usable environment exists (exit 1 if not),
#             with its details (python, versions, size)
#
# Environment:
#   KB_TEST_TOOLS_VENV    location (default ${HOME}/.cache/kb/test-tools-venv)
#   KB_TEST_TOOLS_KERNELS_VERSION / KB_TEST_TOOLS_HF_HUB_VERSION
#                         other pins (make test also keeps kernels 0.16.2, the
#                         last release writing the kernels.lock format kb
#                         writes, in ~/.cache/kb/kernels-0.16-venv)
#   KB_TEST_TOOLS_AUDITWHEEL_VERSION
#                         auditwheel pin; set but empty: no auditwheel (the
#                         kernels 0.16 / 0.19 environments of make test)
#   KB_TEST_TOOLS_TORCH_VENV
#                         a virtual environment with torch (the CUDA torch one,
#                         scripts/setup-cuda-torch.sh) whose interpreter creates
#                         this environment and whose site-packages it sees
#                         through a .pth file, for clients that need torch to
#                         load kernels (make test keeps kernels 0.19.1 so in
#                         ~/.cache/kb/kernels-0.19-venv); torch is never
#                         downloaded twice
#   KB_TEST_TOOLS_PYTHON  interpreter used to create the environment (default:
#                         /usr/bin/python3 when it is >= 3.10 and has venv, else
#                         the first of python3.13 ... python3.10, python3 on PATH)
#   KB_VERBOSE=1          show pip's output as it runs instead of logging it,
#                         and the details of an existing environment
#   KB_LOG_DIR            where the log goes (default $HOME/.cache/kb/logs)
set -euo pipefail
# shellcheck source=lib/step.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"

# Pinned compatibility peers. huggingface_hub >= 1.10 reads repo_type="kernel"
# repositories (kernels 0.17.2 requires it), but only 2.x also commits to them
# (1.33 refuses create_commit/upload_folder with repo_type="kernel"), which the
# tests use to publish with the real client. kernels 0.17.2 needs no torch to
# lock and download.
HF_HUB_VERSION="${KB_TEST_TOOLS_HF_HUB_VERSION:-2.4.0}"
KERNELS_VERSION="${KB_TEST_TOOLS_KERNELS_VERSION:-0.17.2}"
# Judges the symbol versions of wheels against the manylinux policies
# (tests/python/auditwheel_judge.py); `-` so that an empty value opts out.
AUDITWHEEL_VERSION="${KB_TEST_TOOLS_AUDITWHEEL_VERSION-6.8.2}"

venv="${KB_TEST_TOOLS_VENV:-${HOME}/.cache/kb/test-tools-venv}"
torch_venv="${KB_TEST_TOOLS_TORCH_VENV:-}"
incomplete_marker="${venv}/.kb-setup-incomplete"
info_file="${venv}/kb-test-tools.json"

kb_setup_start setup-test-tools "$@"

# Prints "<huggingface_hub version> <kernels version> <python version>" when the
# environment imports both clients at the pinned versions. PYTHONPATH is
# dropped so this repository's own `kernels` package can never stand in.
probe_venv() {
  [ -x "$venv/bin/python" ] || return 1
  env -u PYTHONPATH "$venv/bin/python" - "$HF_HUB_VERSION" "$KERNELS_VERSION" <<'EOF' 2>/dev/null
import platform, sys
from importlib.metadata import version
import huggingface_hub
try:
    import kernels.cli  # noqa: F401  (the PyPI package: PYTHONPATH is dropped, and the pins are checked below)
except ModuleNotFoundError:
    import kernels._internals.cli  # noqa: F401  (0.19 moved its modules)
hf, kn = version("huggingface_hub"), version("kernels")
if hf != sys.argv[1] or kn != sys.argv[2]:
    sys.exit(1)
print(hf, kn, platform.python_version())
EOF
}

# Prints the auditwheel version when it is the pinned one and its command
# runs (or nothing, successfully, when no auditwheel is wanted).
probe_auditwheel() {
  [ -n "$AUDITWHEEL_VERSION" ] || return 0
  [ -x "$venv/bin/auditwheel" ] || return 1
  env -u PYTHONPATH "$venv/bin/auditwheel" --version >/dev/null 2>&1 || return 1
  env -u PYTHONPATH "$venv/bin/python" - "$AUDITWHEEL_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
found = version("auditwheel")
if found != sys.argv[1]:
    sys.exit(1)
print(found)
EOF
}

report() {
  local facts="$1" auditwheel="${2:-}" hf kn pyver
  read -r hf kn pyver <<<"$facts"
  echo "python:           $venv/bin/python (Python $pyver)"
  echo "huggingface_hub:  $hf"
  echo "kernels:          $kn"
  if [ -n "$AUDITWHEEL_VERSION" ]; then
    echo "auditwheel:       ${auditwheel:-not installed at the pinned $AUDITWHEEL_VERSION}"
  fi
  echo "size:             $(du -sh "$venv" 2>/dev/null | cut -f1)"
}

# Set by present(): the clients are there at their pins, only auditwheel is not.
auditwheel_missing=false

present() {
  local facts auditwheel
  if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
    if auditwheel="$(probe_auditwheel)"; then
      log "test tools environment already present at $venv"
      if $check_only || kb_step_verbose; then report "$facts" "$auditwheel"; fi
      return 0
    fi
    auditwheel_missing=true
    if $check_only; then
      log "test tools environment at $venv lacks auditwheel==$AUDITWHEEL_VERSION (run scripts/setup-test-tools.sh to add it)"
      report "$facts"
    fi
  fi
  return 1
}

present && exit 0
if $check_only; then
  if ! $auditwheel_missing; then
    log "no usable test tools environment at $venv (huggingface_hub==$HF_HUB_VERSION, kernels==$KERNELS_VERSION)"
  fi
  exit 1
fi

mkdir -p "$(dirname "$venv")"
# One installer at a time; a second caller waits, then finds the result.
exec 9>"${venv}.lock"
flock 9
present && exit 0

# A Python >= 3.10 that can create virtual environments with pip in them.
usable_python() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}

pick_python() {
  if [ -n "$torch_venv" ]; then
    [ -x "$torch_venv/bin/python" ] || return 1
    echo "$torch_venv/bin/python"; return 0
  fi
  if [ -n "${KB_TEST_TOOLS_PYTHON:-}" ]; then
    usable_python "$KB_TEST_TOOLS_PYTHON" || return 1
    echo "$KB_TEST_TOOLS_PYTHON"; return 0
  fi
  local candidate path
  for candidate in /usr/bin/python3 python3.13 python3.12 python3.11 python3.10 python3; do
    path="$(command -v "$candidate" 2>/dev/null)" || continue
    if usable_python "$path"; then echo "$path"; return 0; fi
  done
  return 1
}

# What the step does: "create" (perhaps replacing an unfinished environment
# of ours), "update" (ours, from an older pin: brought to the pins in place,
# without recreating the environment) or "add-auditwheel" (ours, complete but
# for auditwheel: only auditwheel is installed).
mode=create
if $auditwheel_missing; then
  mode=add-auditwheel
elif [ -e "$venv" ] && [ ! -e "$incomplete_marker" ]; then
  if [ -e "$info_file" ] && [ -x "$venv/bin/python" ]; then
    mode=update
  else
    die "$venv exists but is not a usable test tools environment; remove it or set KB_TEST_TOOLS_VENV"
  fi
fi
if [ "$mode" = create ]; then
  base_python="$(pick_python)" || die "no Python >= 3.10 with the venv module found (Debian: apt-get install python3-venv; or set KB_TEST_TOOLS_PYTHON)"
fi

# Creates or updates the environment; run by run_step, so its output (and a
# die message) goes to the log.
# Records the pins in the environment's info file.
write_info() {
  local py="$1" seconds="$2"
  "$py" - "$info_file" "$HF_HUB_VERSION" "$KERNELS_VERSION" "$AUDITWHEEL_VERSION" "$seconds" <<'EOF'
import json, os, sys
path, hf, kn, aw, seconds = sys.argv[1:]
info = {"huggingface_hub": hf, "kernels": kn}
if aw:
    info["auditwheel"] = aw
info["install_seconds"] = int(seconds)
with open(path + ".tmp", "w") as f:
    json.dump(info, f, indent=2)
    f.write("\n")
os.replace(path + ".tmp", path)
EOF
}

# Installs only auditwheel into a complete environment. The incomplete marker
# stays away: an interrupted install leaves the clients usable, and the next
# run adds auditwheel again.
add_auditwheel() {
  local start_time end_time facts auditwheel py="$venv/bin/python"
  start_time=$(date +%s)
  echo "installing auditwheel==$AUDITWHEEL_VERSION into $venv (the other packages stay as they are)"
  env -u PYTHONPATH "$py" -m pip --disable-pip-version-check --no-input install --no-cache-dir \
      --progress-bar off --only-binary=:all: "auditwheel==$AUDITWHEEL_VERSION" \
    || die "pip could not install auditwheel==$AUDITWHEEL_VERSION into $venv (is the package index reachable?); run this script again to retry"
  facts="$(probe_venv)" || die "installing auditwheel broke huggingface_hub / kernels in $venv"
  auditwheel="$(probe_auditwheel)" || die "auditwheel==$AUDITWHEEL_VERSION was installed into $venv but does not run"
  end_time=$(date +%s)
  write_info "$py" "$((end_time - start_time))"
  echo "done in $((end_time - start_time)) s"
  report "$facts" "$auditwheel"
}

setup_env() {
  local start_time end_time facts auditwheel
  start_time=$(date +%s)
  if [ "$mode" = update ]; then
    echo "updating $venv to huggingface_hub==$HF_HUB_VERSION kernels==$KERNELS_VERSION"
    touch "$incomplete_marker"
  else
    if [ -e "$venv" ]; then
      # Only a directory this script started (and did not finish) is removed.
      echo "removing the unfinished environment at $venv"
      rm -rf "$venv"
    fi
    echo "creating $venv with $base_python ($("$base_python" --version 2>&1))"
    # The marker goes in first so that an interrupted setup is recognised as ours.
    mkdir -p "$venv"
    touch "$incomplete_marker"
    "$base_python" -m venv "$venv" || die "\`$base_python -m venv $venv\` failed"
  fi

  local py="$venv/bin/python"
  if [ -n "$torch_venv" ]; then
    # torch comes from the torch environment's site-packages.
    local site base_site
    site="$(env -u PYTHONPATH "$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    base_site="$(env -u PYTHONPATH "$torch_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$base_site" > "$site/kb-torch-venv.pth"
  fi
  local pip=(env -u PYTHONPATH "$py" -m pip --disable-pip-version-check --no-input)
  local packages=("huggingface_hub==$HF_HUB_VERSION" "kernels==$KERNELS_VERSION")
  if [ -n "$AUDITWHEEL_VERSION" ]; then packages+=("auditwheel==$AUDITWHEEL_VERSION"); fi
  echo "installing ${packages[*]} from the package index"
  "${pip[@]}" install --no-cache-dir --progress-bar off --only-binary=:all: "${packages[@]}" \
    || die "pip could not install ${packages[*]} into $venv (is the package index reachable?); run this script again to retry"

  facts="$(probe_venv)" || die "the packages were installed into $venv but importing huggingface_hub / kernels.install at the pinned versions fails"
  auditwheel="$(probe_auditwheel)" || die "auditwheel==$AUDITWHEEL_VERSION was installed into $venv but does not run"
  end_time=$(date +%s)
  write_info "$py" "$((end_time - start_time))"
  rm -f "$incomplete_marker"
  echo "done in $((end_time - start_time)) s"
  report "$facts" "$auditwheel"
}

if [ "$mode" = add-auditwheel ]; then
  run_step --log "setup-test-tools.$(basename "$venv")" setup-test-tools \
    "adding auditwheel $AUDITWHEEL_VERSION to the test tools environment at $venv" -- add_auditwheel
  exit 0
fi
if [ "$mode" = update ]; then
  what="updating the test tools environment at $venv to huggingface_hub $HF_HUB_VERSION, kernels $KERNELS_VERSION"
else
  what="creating the test tools environment at $venv (huggingface_hub $HF_HUB_VERSION, kernels $KERNELS_VERSION)"
fi
run_step --log "setup-test-tools.$(basename "$venv")" setup-test-tools "$what" -- setup_env

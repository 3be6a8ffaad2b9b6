#!/usr/bin/env bats
# `kb build` writes nothing beside the user's sources: the generated project
# and the CMake build trees live in the kernel's scratch directory
# (`kb scratch-dir`), the kernel directory only gets build/. Checked on a copy
# of examples/relu committed to a real git repository and built for real, and
# on a small [torch-noarch] kernel; `kb create-pyproject` still writes in place.
#
# Needs KB_BIN, KB_SOURCE_DIR (the kb source tree) and an interpreter with
# torch (KB_TEST_PYTHON, default /usr/bin/python3).

setup_file() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  export KB_SOURCE_DIR="${KB_SOURCE_DIR:-$BATS_TEST_DIRNAME/../..}"
  export KB_TEST_PYTHON="${KB_TEST_PYTHON:-/usr/bin/python3}"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  export GIT_AUTHOR_NAME=kb GIT_AUTHOR_EMAIL=kb@example.invalid
  export GIT_COMMITTER_NAME=kb GIT_COMMITTER_EMAIL=kb@example.invalid
  export KB_SCRATCH_DIR="$BATS_FILE_TMPDIR/scratch"
  export RELU="$BATS_FILE_TMPDIR/relu"
  cp -r "$KB_SOURCE_DIR/examples/relu" "$RELU"
  commit_all "$RELU"
  build "$RELU" "$BATS_FILE_TMPDIR/first" --backend cpu
}

# Makes DIR a git repository holding exactly its tracked sources: whatever
# .gitignore ignores (an earlier in-place build's outputs) is removed.
commit_all() {
  git -C "$1" init -q
  git -C "$1" clean -fdXq
  git -C "$1" add -A
  git -C "$1" commit -qm sources
}

# build DIR PREFIX [OPTIONS]: kb build --json of DIR with the test interpreter;
# PREFIX.jsonl (events), PREFIX.err, PREFIX.status.
build() {
  local dir=$1 prefix=$2
  shift 2
  set +e
  "$KB_BIN/kb" build "$dir" --python "$KB_TEST_PYTHON" --json "$@" >"$prefix.jsonl" 2>"$prefix.err"
  echo $? >"$prefix.status"
  set -e
}

load event_query

variant() {
  events "$BATS_FILE_TMPDIR/first.jsonl" '[e["variant"] for e in events if e["event"] == "variant-built"][0]'
}

# Everything git sees in DIR that is not committed, ignored files included.
untracked() {
  git -C "$1" status --porcelain --ignored --untracked-files=all
}

@test "kb build leaves nothing but build/ in the kernel's git tree" {
  [ "$(cat "$BATS_FILE_TMPDIR/first.status")" = 0 ] || cat "$BATS_FILE_TMPDIR/first.err"
  [ "$(cat "$BATS_FILE_TMPDIR/first.status")" = 0 ]
  [ "$(untracked "$RELU" | grep -v '^!! build/')" = "" ]
  [ -f "$RELU/build/$(variant)/metadata.json" ]
  for old in CMakeLists.txt setup.py pyproject.toml cmake metadata-cpu.json torch-ext/registration.h \
    torch-ext/relu/_ops.py _cmake_build; do
    [ ! -e "$RELU/$old" ] || { echo "$old was written into the kernel directory" >&2; return 1; }
  done
}

@test "the variant's id is the committed tree's, not dirty" {
  tree=$(git -C "$RELU" rev-parse 'HEAD^{tree}')
  id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$RELU/build/$(variant)/metadata.json")
  [ "$id" = "_relu_cpu_${tree:0:7}" ]
}

@test "the generated project and the CMake build tree are in the scratch directory" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  scratch=$("$KB_BIN/kb" scratch-dir "$RELU")
  [ "$(dirname "$scratch")" = "$KB_SCRATCH_DIR" ]
  [[ "$(basename "$scratch")" =~ ^relu-[0-9a-f]{12}$ ]]
  [ "$(events "$F" '[(e["project_dir"], e["scratch_dir"]) for e in events if e["event"] == "project"]')" = \
    "[('$scratch/project', '$scratch')]" ]
  [ "$(events "$F" '[(e["project_dir"], e["scratch_dir"]) for e in events if e["event"] == "variant-built"]')" = \
    "[('$scratch/project', '$scratch')]" ]
  for f in CMakeLists.txt setup.py pyproject.toml cmake/kb-kernel.cmake cmake/_ops.py.in metadata-cpu.json \
    torch-ext/registration.h; do
    [ -f "$scratch/project/$f" ] || { echo "$f is missing from $scratch/project" >&2; return 1; }
  done
  V=$(variant)
  [ -f "$scratch/cmake/$V/build.ninja" ]
  [ -f "$scratch/cmake/$V/kb-build.log" ]
  grep -qx "KB_KERNEL_DIR:PATH=$RELU" "$scratch/cmake/$V/CMakeCache.txt"
  grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$scratch/project" "$scratch/cmake/$V/CMakeCache.txt"
}

@test "a rebuild without changes is up to date, does not reconfigure and still writes nothing beside build/" {
  V=$(variant)
  so=$(ls "$RELU/build/$V"/_relu_cpu_*.abi3.so)
  before=$(stat -c %Y.%i "$so")
  build "$RELU" "$BATS_FILE_TMPDIR/again" --backend cpu
  [ "$(cat "$BATS_FILE_TMPDIR/again.status")" = 0 ]
  [ "$(events "$BATS_FILE_TMPDIR/again.jsonl" '[e["up_to_date"] for e in events if e["event"] == "variant-built"]')" = "[True]" ]
  grep -q "$V: compiling" "$BATS_FILE_TMPDIR/again.err"
  ! grep -q "$V: configuring" "$BATS_FILE_TMPDIR/again.err"
  [ "$(stat -c %Y.%i "$so")" = "$before" ]
  [ "$(untracked "$RELU" | grep -v '^!! build/')" = "" ]
}

@test "kb create-pyproject still writes the project in place, and plain cmake builds the kernel from it" {
  K="$BATS_TEST_TMPDIR/relu"
  cp -r "$RELU" "$K"
  rm -rf "$K/build"
  run "$KB_BIN/kb" create-pyproject "$K"
  [ "$status" -eq 0 ]
  for f in CMakeLists.txt setup.py pyproject.toml cmake/kb-kernel.cmake metadata-cpu.json torch-ext/registration.h; do
    [ -f "$K/$f" ] || { echo "$f was not written into $K" >&2; return 1; }
  done
  # The configure arguments kb-compile used, for the in-place project, without
  # KB_KERNEL_DIR: it defaults to the project's own directory.
  scratch=$("$KB_BIN/kb" scratch-dir "$RELU")
  mapfile -t args <"$scratch/cmake/$(variant)/kb-configure-args"
  plain=()
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
      -S) plain+=(-S "$K"); i=$((i + 1)) ;;
      -B) plain+=(-B "$BATS_TEST_TMPDIR/plain"); i=$((i + 1)) ;;
      -DKB_KERNEL_DIR=*) ;;
      *) plain+=("${args[$i]}") ;;
    esac
  done
  "${plain[@]}" >"$BATS_TEST_TMPDIR/plain.log" 2>&1 || { cat "$BATS_TEST_TMPDIR/plain.log" >&2; return 1; }
  grep -qx "KB_KERNEL_DIR:PATH=$K" "$BATS_TEST_TMPDIR/plain/CMakeCache.txt"
  cmake --build "$BATS_TEST_TMPDIR/plain" >>"$BATS_TEST_TMPDIR/plain.log" 2>&1 ||
    { tail -30 "$BATS_TEST_TMPDIR/plain.log" >&2; return 1; }
  cmake --install "$BATS_TEST_TMPDIR/plain" --prefix "$BATS_TEST_TMPDIR/installed" >/dev/null
  [ -f "$BATS_TEST_TMPDIR/installed/$(variant)/__init__.py" ]
  ls "$BATS_TEST_TMPDIR/installed/$(variant)"/_relu_cpu_*.abi3.so
  # clean-pyproject removes them again, in place.
  run "$KB_BIN/kb" clean-pyproject --force "$K"
  [ "$status" -eq 0 ]
  [ ! -e "$K/CMakeLists.txt" ] && [ ! -e "$K/cmake" ] && [ ! -e "$K/torch-ext/registration.h" ]
}

# A [torch-noarch] kernel whose package imports the generated _ops.py.
noarch_kernel() {
  local dir=$1
  mkdir -p "$dir/torch-ext/quiet_noarch"
  cat >"$dir/build.toml" <<'EOF'
[general]
name = "quiet-noarch"
version = 1
edition = 6
license = "apache-2.0"
backends = ["cpu"]

[torch-noarch]
EOF
  printf 'from ._ops import add_op_namespace_prefix\n' >"$dir/torch-ext/quiet_noarch/__init__.py"
  printf 'build/\n' >"$dir/.gitignore"
}

@test "a noarch kernel gets the generated _ops.py in its variant, never in its torch-ext" {
  K="$BATS_TEST_TMPDIR/quiet"
  noarch_kernel "$K"
  commit_all "$K"
  build "$K" "$BATS_TEST_TMPDIR/noarch"
  [ "$(cat "$BATS_TEST_TMPDIR/noarch.status")" = 0 ] || { cat "$BATS_TEST_TMPDIR/noarch.err" >&2; return 1; }
  [ "$(untracked "$K" | grep -v '^!! build/')" = "" ]
  [ ! -e "$K/torch-ext/quiet_noarch/_ops.py" ]
  V="$K/build/torch-cpu"
  [ -f "$V/__init__.py" ] && [ -f "$V/metadata.json" ]
  grep -q "Generated by kb" "$V/_ops.py"
  scratch=$("$KB_BIN/kb" scratch-dir "$K")
  cmp "$V/_ops.py" "$scratch/project/torch-ext/quiet_noarch/_ops.py"
  tree=$(git -C "$K" rev-parse 'HEAD^{tree}')
  grep -q "\"id\": \"_quiet_noarch_cpu_${tree:0:7}\"" "$V/metadata.json"
  # The variant imports: its package finds the _ops.py kb put beside it.
  "$KB_TEST_PYTHON" - "$V" <<'EOF'
import importlib.util, sys
from pathlib import Path
path = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("quiet_noarch_t", path / "__init__.py", submodule_search_locations=[str(path)])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
assert module.add_op_namespace_prefix("f").endswith("::f"), module.add_op_namespace_prefix("f")
EOF
  # Rebuilt unchanged: up to date.
  build "$K" "$BATS_TEST_TMPDIR/noarch-again"
  [ "$(events "$BATS_TEST_TMPDIR/noarch-again.jsonl" '[e["up_to_date"] for e in events if e["event"] == "variant-built"]')" = "[True]" ]
}

@test "a noarch package's own _ops.py is refused, not replaced, as before" {
  K="$BATS_TEST_TMPDIR/mine"
  noarch_kernel "$K"
  printf 'MINE = True\n' >"$K/torch-ext/quiet_noarch/_ops.py"
  commit_all "$K"
  build "$K" "$BATS_TEST_TMPDIR/mine"
  [ "$(cat "$BATS_TEST_TMPDIR/mine.status")" = 1 ]
  grep -q "refusing to replace torch-ext/quiet_noarch/_ops.py of $K .*not generated by kb" \
    "$BATS_TEST_TMPDIR/mine.err" "$BATS_TEST_TMPDIR/mine.jsonl"
  [ "$(cat "$K/torch-ext/quiet_noarch/_ops.py")" = "MINE = True" ]
  [ ! -e "$K/build" ]
  [ "$(untracked "$K")" = "" ]
}

#!/usr/bin/env bats
# kb update-build (kb-update-build): build.toml editions 3-5 upgraded to
# edition 6 in place, and one kb build of an edition-6 kernel (scaffolded by
# kb init, upgraded, given a kernel dependency) on the CPU.
#
# Needs KB_BIN (directory of the kb executables) and an interpreter with torch
# (KB_TEST_PYTHON, default /usr/bin/python3).

bats_require_minimum_version 1.5.0

setup_file() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  export KB_TEST_PYTHON="${KB_TEST_PYTHON:-/usr/bin/python3}"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  export KB_SCRATCH_DIR="$BATS_FILE_TMPDIR/scratch"
}

setup() {
  K="$BATS_TEST_TMPDIR/k"
  mkdir -p "$K"
}

# An edition-5 build.toml with a comment, a CUDA bound and two kernels.
write_v5() {
  cat >"$K/build.toml" <<'EOF'
# this comment is not kept
[general]
name = "relu"
version = 1
edition = 5
license = "apache-2.0"
backends = ["cpu", "cuda"]

[general.cuda]
minver = "12"

[torch]
src = ["torch-ext/torch_binding.cpp"]

[kernel.relu_cpu]
backend = "cpu"
src = ["relu_cpu/relu.cpp"]
depends = ["torch"]

[kernel.relu_cuda]
backend = "cuda"
src = ["relu_cuda/relu.cu"]
depends = ["torch"]
EOF
}

@test "--help describes the tool, its exit codes and that comments are not kept" {
  run "$KB_BIN/kb-update-build" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"edition 6"* ]]
  [[ "$output" == *"comments and the old formatting are NOT"* ]]
  [[ "$output" == *"--dry-run"* ]]
  [[ "$output" == *"--check"* ]]
  run "$KB_BIN/kb" update-build --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Usage: kb-update-build"* ]]
  run "$KB_BIN/kb" --help
  [[ "$output" == *"update-build [DIR]"*"edition 6"* ]]
}

@test "usage errors exit 2" {
  run "$KB_BIN/kb-update-build" --frobnicate "$K"
  [ "$status" -eq 2 ]
  write_v5
  run "$KB_BIN/kb-update-build" --check --dry-run "$K"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--dry-run and --check cannot be combined"* ]]
}

@test "kb update-build upgrades edition 5 in place; a second run leaves it alone" {
  write_v5
  run "$KB_BIN/kb" update-build "$K"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Updated $K/build.toml from edition 5 to edition 6"* ]]
  grep -qx 'edition = 6' "$K/build.toml"
  grep -qx 'language = "cpp-cpu"' "$K/build.toml"
  grep -qx 'language = "cpp-cuda"' "$K/build.toml"
  grep -qx 'minver = "12.0"' "$K/build.toml"
  ! grep -q '^backend = ' "$K/build.toml"
  ! grep -q 'comment' "$K/build.toml"
  [ "$(ls -A "$K")" = "build.toml" ]  # no temporary file left behind
  run "$KB_BIN/kb" check-config "$K"
  [ "$status" -eq 0 ]
  [ -z "$output" ]  # edition 6 reads without a warning
  before=$(stat -c %Y.%i "$K/build.toml")
  sum=$(sha256sum <"$K/build.toml")
  run "$KB_BIN/kb" update-build "$K"
  [ "$status" -eq 0 ]
  [[ "$output" == *"already is edition 6, left unchanged"* ]]
  [ "$(sha256sum <"$K/build.toml")" = "$sum" ]
  [ "$(stat -c %Y.%i "$K/build.toml")" = "$before" ]
}

@test "an edition-less (v4) file in the current directory is upgraded too" {
  write_v5
  sed -i '/^edition = 5$/d' "$K/build.toml"
  cd "$K"
  run "$KB_BIN/kb" update-build
  [ "$status" -eq 0 ]
  [[ "$output" == *"from the legacy v4 format to edition 6"* ]]
  grep -qx 'edition = 6' build.toml
}

@test "--dry-run prints the edition-6 file and --check reports, neither writes" {
  write_v5
  sum=$(sha256sum <"$K/build.toml")
  run --separate-stderr "$KB_BIN/kb-update-build" --dry-run "$K"
  [ "$status" -eq 0 ]
  [[ "$output" == *'language = "cpp-cuda"'* ]]
  [[ "$output" == *"edition = 6"* ]]
  [[ "$stderr" == *"uses edition 5"* ]]
  [ "$(sha256sum <"$K/build.toml")" = "$sum" ]
  run "$KB_BIN/kb-update-build" --check "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *"uses edition 5"* ]]
  [ "$(sha256sum <"$K/build.toml")" = "$sum" ]
  "$KB_BIN/kb-update-build" "$K" 2>/dev/null
  run "$KB_BIN/kb-update-build" --check "$K"
  [ "$status" -eq 0 ]
  [[ "$output" == *"already is edition 6"* ]]
}

@test "bad input is an error naming file and key, and the file is left untouched" {
  write_v5
  sed -i 's/depends = \["torch"\]/depends = ["torhc"]/' "$K/build.toml"
  sum=$(sha256sum <"$K/build.toml")
  run "$KB_BIN/kb" update-build "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Error: $K/build.toml:18:12: [kernel.relu_cpu] unknown dependency \"torhc\""* ]]
  [ "$(sha256sum <"$K/build.toml")" = "$sum" ]

  write_v5
  sed -i 's/minver = "12"/minver = "12.4.1"/' "$K/build.toml"
  sum=$(sha256sum <"$K/build.toml")
  run "$KB_BIN/kb" update-build "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$K/build.toml: [general.cuda] minver = \"12.4.1\" cannot be written in edition 6"* ]]
  [ "$(sha256sum <"$K/build.toml")" = "$sum" ]
  [ "$(ls -A "$K")" = "build.toml" ]

  run "$KB_BIN/kb" update-build "$BATS_TEST_TMPDIR/missing"
  [ "$status" -eq 1 ]
  [[ "$output" == *"is not a directory"* ]]
}

@test "kb build of an edition-6 kernel: the variants of its edition-5 form, kernel-depends and kernels-minver in metadata.json" {
  K="$BATS_TEST_TMPDIR/tiny"
  "$KB_BIN/kb-init" --name acme/tiny --backends cpu "$K" >/dev/null
  expected=$("$KB_BIN/kb" list-variants "$K" --python "$KB_TEST_PYTHON" 2>/dev/null)
  [ -n "$expected" ]
  "$KB_BIN/kb" update-build "$K" 2>/dev/null
  grep -qx 'edition = 6' "$K/build.toml"
  grep -qx 'language = "cpp-cpu"' "$K/build.toml"
  sed -i 's|^backends = \["cpu"\]$|backends = ["cpu"]\nkernel-depends = [{ repo-id = "acme/helper", version = 2 }]|' "$K/build.toml"
  grep -q 'acme/helper' "$K/build.toml"
  [ "$("$KB_BIN/kb" list-variants "$K" --python "$KB_TEST_PYTHON" 2>/dev/null)" = "$expected" ]

  run "$KB_BIN/kb" build "$K" --python "$KB_TEST_PYTHON" --unique-id t35t1d
  [ "$status" -eq 0 ]
  [ "$(ls "$K/build" | grep -v '^CARD.md$')" = "$expected" ]
  /usr/bin/python3 - "$K/build/$expected/metadata.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
keys = list(m)
assert keys[:4] == ["name", "id", "version", "kernels-minver"], keys
assert keys[4:8] == ["license", "python-depends", "kernel-depends", "backend"], keys
assert m["kernels-minver"] == "0.17.0", m
assert m["kernel-depends"] == [{"repo-id": "acme/helper", "version": 2}], m
assert m["backend"] == {"type": "cpu"}, m
assert m["id"] == "_tiny_cpu_t35t1d", m
EOF
}

@test "kb build of an edition-6 Rust kernel reports its backend as skipped and writes nothing" {
  cat >"$K/build.toml" <<'EOF2'
[general]
name = "rusty"
version = 1
edition = 6
license = "apache-2.0"
backends = ["cpu"]

[tvm-ffi]

[kernel.cpu_kernel]
language = "rust-cpu"
cargo-manifest = "Cargo.toml"
src = ["src/lib.rs"]
EOF2
  run "$KB_BIN/kb" check-config "$K"
  [ "$status" -eq 0 ]
  run "$KB_BIN/kb" build "$K" --python "$KB_TEST_PYTHON"
  [ "$status" -eq 0 ]
  [[ "$output" == *'cpu: skipped, kernel "cpu_kernel" is written in Rust (language = "rust-cpu"), which kb cannot build yet'* ]]
  [[ "$output" == *"nothing to build on this machine"* ]]
  [ "$(ls -A "$K")" = "build.toml" ]
}

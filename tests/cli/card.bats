#!/usr/bin/env bats
# The kernel card: `kb card` renders CARD.md, `kb build` writes build/CARD.md,
# `kb upload` publishes it as README.md on main, `kb build-and-upload` does
# both steps. One small cpu kernel is scaffolded with kb-init (whose CARD.md is
# the default template) and built once per file.
#
# Needs KB_BIN (directory of the kb executables) and an interpreter with torch
# (KB_TEST_PYTHON, default /usr/bin/python3).

bats_require_minimum_version 1.5.0

setup_file() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  export KB_TEST_PYTHON="${KB_TEST_PYTHON:-/usr/bin/python3}"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  export XDG_CACHE_HOME="$BATS_FILE_TMPDIR/cache"
  export KB_SCRATCH_DIR="$BATS_FILE_TMPDIR/scratch"
  export KERNEL="$BATS_FILE_TMPDIR/tiny"
  "$KB_BIN/kb-init" --name acme/tiny_card --backends cpu "$KERNEL" >/dev/null
  export UNIQUE_ID=c4rd1d
  # Linked natively, this toolchain's glibc makes the variant non-portable;
  # publishing it needs --allow-nonportable.
  "$KB_BIN/kb" build "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" --target native \
    >"$BATS_FILE_TMPDIR/build.out" 2>"$BATS_FILE_TMPDIR/build.err"
  echo $? >"$BATS_FILE_TMPDIR/build.code"
}

setup() {
  unset KB_HUB
}

# A copy of the kernel's sources (no build/) with a given build.toml edit.
small_kernel() {
  local dir=$1
  mkdir -p "$dir"
  cp -r "$KERNEL/build.toml" "$KERNEL/CARD.md" "$KERNEL/torch-ext" "$dir/"
}

@test "kb card --help describes the command and exits 0" {
  run "$KB_BIN/kb" card --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"KERNEL_DIR"* ]]
  [[ "$output" == *"OUTPUT"* ]]
  [[ "$output" == *"CARD.md"* ]]
  run "$KB_BIN/kb" --help
  [[ "$output" == *"card [DIR] [OUTPUT]"* ]]
  [[ "$output" == *"build-and-upload [DIR]"* ]]
}

@test "kb card renders the default template to stdout" {
  run --separate-stderr "$KB_BIN/kb" card "$KERNEL"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "---" ]
  [ "${lines[1]}" = "library_name: kernels" ]
  [ "${lines[2]}" = "license: apache-2.0" ]
  [[ "$output" == *'get_kernel("acme/tiny-card", version=1)'* ]]
  [[ "$output" == *"# result = kernel.tiny_card(...)"* ]]
  [[ "$output" == *'- `tiny_card`'* ]]
  [[ "$output" == *"kernels benchmark acme/tiny-card --version 1"* ]]
  [[ "$output" != *"{{"* ]]
  [[ "$output" != *"{%"* ]]
  [ -z "$stderr" ]
}

@test "kb card writes OUTPUT atomically and says so on stderr" {
  mkdir "$BATS_TEST_TMPDIR/out"
  out="$BATS_TEST_TMPDIR/out/README.md"
  run --separate-stderr "$KB_BIN/kb" card "$KERNEL" "$out"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$stderr" = "Generated $out" ]
  [ "$(cat "$out")" = "$("$KB_BIN/kb" card "$KERNEL")" ]
  # No temporary files are left next to it.
  [ "$(ls -A "$BATS_TEST_TMPDIR/out")" = "README.md" ]
}

@test "kb card defaults to the current directory" {
  cd "$KERNEL"
  run "$KB_BIN/kb-card"
  [ "$status" -eq 0 ]
  [[ "$output" == *'get_kernel("acme/tiny-card", version=1)'* ]]
}

@test "a kernel without CARD.md is an error naming the missing file" {
  K="$BATS_TEST_TMPDIR/nocard"
  small_kernel "$K"
  rm "$K/CARD.md"
  run "$KB_BIN/kb" card "$K"
  [ "$status" -eq 1 ]
  [ "$output" = "Error: CARD.md template not found at \`$K/CARD.md\`" ]
}

@test "a missing repo-id is an error; a malformed template names its line" {
  K="$BATS_TEST_TMPDIR/norepo"
  small_kernel "$K"
  sed -i '/^\[general.hub\]/d; /^repo-id/d' "$K/build.toml"
  run "$KB_BIN/kb" card "$K"
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: Cannot fill card template because `repo-id` is not specified in `[general.hub]`' ]
  printf 'line\n{%% for f in functions %%}\n' >"$K/CARD.md"
  run "$KB_BIN/kb" card "$K"
  [ "$status" -eq 1 ]
  [ "$output" = "Error: $K/CARD.md:2: \`{% for %}\` is never closed (missing \`{% endfor %}\`)" ]
  run "$KB_BIN/kb" card "$BATS_TEST_TMPDIR/absent"
  [ "$status" -eq 1 ]
  [[ "$output" == *"is not a directory"* ]]
}

@test "kb build renders the card into build/CARD.md" {
  [ "$(cat "$BATS_FILE_TMPDIR/build.code")" = "0" ]
  grep -q "card: $KERNEL/build/CARD.md" "$BATS_FILE_TMPDIR/build.err"
  [ -f "$KERNEL/build/CARD.md" ]
  [ "$(cat "$KERNEL/build/CARD.md")" = "$("$KB_BIN/kb" card "$KERNEL")" ]
  # The card sits next to the variant and is not mistaken for one.
  run "$KB_BIN/kb-metadata" --check-builds "$KERNEL"
  [ "$status" -eq 0 ]
}

@test "kb build keeps building without a repo-id and warns that the card was skipped" {
  K="$BATS_TEST_TMPDIR/norepo"
  "$KB_BIN/kb-init" --name acme/tiny_card --backends cpu "$K" >/dev/null
  sed -i '/^\[general.hub\]/d; /^repo-id/d' "$K/build.toml"
  run "$KB_BIN/kb" build "$K" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID"
  [ "$status" -eq 0 ]
  [[ "$output" == *'warning: CARD.md not rendered: Cannot fill card template because `repo-id` is not specified'* ]]
  [ ! -e "$K/build/CARD.md" ]
  ls "$K"/build/torch*-cpu-*/metadata.json
}

@test "kb build fails on a malformed card template after building the variants" {
  K="$BATS_TEST_TMPDIR/badcard"
  "$KB_BIN/kb-init" --name acme/tiny_card --backends cpu "$K" >/dev/null
  printf '{%% if functions %%}\n' >"$K/CARD.md"
  run "$KB_BIN/kb" build "$K" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID"
  [ "$status" -eq 1 ]
  [[ "$output" == *"error: CARD.md: $K/CARD.md:1: \`{% if %}\` is never closed"* ]]
  [ ! -e "$K/build/CARD.md" ]
}

@test "kb upload to a local hub puts README.md on main and the variants on v1" {
  HUB="$BATS_TEST_TMPDIR/hub"
  export KB_HUB="local:$HUB"
  run "$KB_BIN/kb" upload "$KERNEL" --allow-nonportable --output-json "$BATS_TEST_TMPDIR/result.json"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Card uploaded: acme/tiny-card@main README.md"* ]]
  REPO="$HUB/acme/tiny-card.git"
  [ "$(git --git-dir "$REPO" show main:README.md)" = "$(cat "$KERNEL/build/CARD.md")" ]
  [ "$(git --git-dir "$REPO" ls-tree -r --name-only main)" = "README.md" ]
  run git --git-dir "$REPO" ls-tree -r --name-only v1
  [[ "$output" == *"build/torch"*"-cpu-"*"/metadata.json"* ]]
  [[ "$output" == *"benchmarks/benchmark.py"* ]]
  [[ "$output" != *"README.md"* ]]
  [[ "$output" != *"CARD.md"* ]]
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["readme"] == {"branch": "main", "path": "README.md", "changed": True}, d' \
    "$BATS_TEST_TMPDIR/result.json"

  # Publishing again changes nothing, README included.
  main_before=$(git --git-dir "$REPO" rev-parse main)
  run "$KB_BIN/kb" upload "$KERNEL" --allow-nonportable
  [ "$status" -eq 0 ]
  [[ "$output" == *"No changes to upload."* ]]
  [[ "$output" != *"Card uploaded"* ]]
  [ "$(git --git-dir "$REPO" rev-parse main)" = "$main_before" ]
}

@test "kb build-and-upload builds strictly, then uploads with the upload options" {
  HUB="$BATS_TEST_TMPDIR/hub"
  # Without --allow-nonportable the build is strict: a native build fails
  # and nothing is published.
  run "$KB_BIN/kb" build-and-upload "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" --hub "local:$HUB" \
    --target native
  [ "$status" -eq 1 ]
  [[ "$output" == *"not portable"* ]]
  [ ! -e "$HUB/acme" ]

  # The default (portable) build of the same sources publishes without the flag.
  cp -r "$KERNEL" "$BATS_TEST_TMPDIR/portable" && rm -rf "$BATS_TEST_TMPDIR/portable/build"
  run "$KB_BIN/kb" build-and-upload "$BATS_TEST_TMPDIR/portable" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" \
    --hub "local:$HUB" --repo-id acme/portable -q
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  run git --git-dir "$HUB/acme/portable.git" ls-tree -r --name-only v1
  [[ "$output" == *"build/torch"*"-cpu-"*".abi3.so"* ]]

  run "$KB_BIN/kb" build-and-upload "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" \
    --hub "local:$HUB" --allow-nonportable --branch dev --repo-id acme/other -q --target native
  [ "$status" -eq 0 ]
  [[ "$output" == *"kb build: tiny-card v1"* ]]
  [[ "$output" != *"Kernel uploaded"* ]]  # -q reached kb-upload
  REPO="$HUB/acme/other.git"
  [ "$(git --git-dir "$REPO" show main:README.md)" = "$(cat "$KERNEL/build/CARD.md")" ]
  run git --git-dir "$REPO" ls-tree -r --name-only dev
  [[ "$output" == *"build/torch"*"-cpu-"*"/metadata.json"* ]]
  run "$KB_BIN/kb" build-and-upload "$KERNEL" "$KERNEL"
  [ "$status" -eq 2 ]
  [[ "$output" == *"takes one kernel directory"* ]]
}

@test "kb upload judges a variant by the verdict kb-checkabi recorded for it" {
  [ "$(cat "$BATS_FILE_TMPDIR/build.code")" -eq 0 ]
  HUB="$BATS_TEST_TMPDIR/hub"
  # kb build checked against manylinux_2_28 and recorded that beside build/<variant>.
  compgen -G "$KERNEL/build/.kb-abi/torch*-cpu-*.json" >/dev/null
  run --separate-stderr "$KB_BIN/kb" upload "$KERNEL" --hub "local:$HUB"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"checked against manylinux_2_28, abi3 3.9, macOS 15.0"* ]]

  # Checked against the policy of this machine's glibc, the same objects pass.
  "$KB_BIN/kb-checkabi" --manylinux manylinux_2_36 "$KERNEL" >/dev/null
  run --separate-stderr "$KB_BIN/kb" upload "$KERNEL" --hub "local:$HUB"
  [ "$status" -eq 0 ] || { echo "$stderr" >&2; return 1; }
  run git --git-dir "$HUB/acme/tiny-card.git" ls-tree -r --name-only v1
  [[ "$output" == *"/metadata.json"* && "$output" != *".kb-abi"* ]]

  "$KB_BIN/kb-checkabi" "$KERNEL" >/dev/null || true  # back to the default verdict
}

#!/usr/bin/env bats
# kb cache ls: the kernel versions in a Hugging Face-layout cache, as a table
# or JSON, with kb's check of each version's files against the hashes they
# are stored under. The cache is laid out by hand here, as the hub cache is:
# blobs named by their git blob id, snapshot symlinks, refs/v<N>.
# KB_BIN names the directory of the kb executables.

bats_require_minimum_version 1.5.0

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  C="$BATS_TEST_TMPDIR/cache"
  COMMIT=0123456789abcdef0123456789abcdef01234567
  VARIANT=torch28-cxx11-cpu-x86_64-linux
  export COLUMNS=300
  unset KERNELS_CACHE HF_HUB_CACHE HUGGINGFACE_HUB_CACHE
  export HF_HOME="$BATS_TEST_TMPDIR/hf-home"
}

# add_file REPO_DIR PATH CONTENT: stores CONTENT as a blob named by its git
# blob id and links snapshots/$COMMIT/PATH to it.
add_file() {
  local repo=$1 path=$2 content=$3
  local id
  id=$(printf '%s' "$content" | git hash-object --stdin)
  mkdir -p "$repo/blobs" "$(dirname "$repo/snapshots/$COMMIT/$path")"
  printf '%s' "$content" >"$repo/blobs/$id"
  ln -sfn "$(realpath --relative-to="$(dirname "$repo/snapshots/$COMMIT/$path")" "$repo/blobs/$id")" \
    "$repo/snapshots/$COMMIT/$path"
}

make_kernel() {
  local repo="$C/kernels--acme--relu"
  add_file "$repo" README.md "relu"
  add_file "$repo" "build/$VARIANT/metadata.json" '{"name": "relu"}'
  add_file "$repo" "build/$VARIANT/__init__.py" "def relu(x): return x"
  mkdir -p "$repo/refs"
  printf '%s' "$COMMIT" >"$repo/refs/v1"
  printf '%s' "$COMMIT" >"$repo/refs/main"
}

json_eval() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

@test "kb cache ls prints one row per cached version with its variants and verification" {
  make_kernel
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$C"
  [ "$status" -eq 0 ]
  [ "$stderr" = "" ]
  # Unquoted: the words of the header, without the padding.
  [ "$(echo ${lines[0]})" = "ID SIZE LAST_ACCESSED LAST_MODIFIED VERSION VERIFIED VARIANTS" ]
  [ "${#lines[@]}" -eq 3 ]
  read -r -a row <<<"${lines[2]}"
  [ "${row[0]}" = "kernel/acme/relu" ]
  [ "${row[-3]}" = "v1" ]
  [ "${row[-2]}" = "yes" ]
  [ "${row[-1]}" = "$VARIANT" ]
}

@test "kb cache ls --json gives the listing with the verification of each version" {
  make_kernel
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$C" --json
  [ "$status" -eq 0 ]
  [ "$(json_eval 'd["cache_dir"]' <<<"$output")" = "$C" ]
  [ "$(json_eval '[r["repo_id"] for r in d["repos"]]' <<<"$output")" = "['acme/relu']" ]
  [ "$(json_eval '[(v["version"], v["variants"]) for v in d["repos"][0]["versions"]]' <<<"$output")" = \
    "[('v1', ['$VARIANT'])]" ]
  [ "$(json_eval 'd["repos"][0]["versions"][0]["verification"]["status"]' <<<"$output")" = "verified" ]
  # README (4 bytes) + metadata.json (16) + __init__.py (21).
  [ "$(json_eval 'd["repos"][0]["size_on_disk"]' <<<"$output")" = "41" ]
}

@test "a cached file changed after download is reported by name" {
  make_kernel
  blob=$(readlink -f "$C/kernels--acme--relu/snapshots/$COMMIT/build/$VARIANT/__init__.py")
  echo "import os" >>"$blob"
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$C"
  [ "$status" -eq 0 ]
  read -r -a row <<<"${lines[2]}"
  [ "${row[-2]}" = "NO" ]
  [[ "$stderr" == *"kernel/acme/relu v1: cached files differ from the hashes they were stored under: build/$VARIANT/__init__.py"* ]]
}

@test "the cache comes from KERNELS_CACHE, else the Hugging Face variables" {
  make_kernel
  run --separate-stderr env KERNELS_CACHE="$C" "$KB_BIN/kb" cache ls --json
  [ "$(json_eval 'len(d["repos"])' <<<"$output")" = "1" ]
  mkdir -p "$HF_HOME"
  mv "$C" "$HF_HOME/hub"
  run --separate-stderr "$KB_BIN/kb" cache ls --json
  [ "$(json_eval 'd["cache_dir"]' <<<"$output")" = "$HF_HOME/hub" ]
  [ "$(json_eval 'len(d["repos"])' <<<"$output")" = "1" ]
}

@test "an empty or missing cache has no versions; a file is an error; inconsistencies are warnings" {
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$C"
  [ "$status" -eq 0 ]
  [ "$output" = "No cached kernel versions found in $C." ]
  [ ! -e "$C" ]
  mkdir -p "$C/kernels--acme--broken/snapshots/$COMMIT" "$C/kernels--acme--broken/refs"
  ln -s ../../blobs/missing "$C/kernels--acme--broken/snapshots/$COMMIT/README.md"
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$C"
  [ "$status" -eq 0 ]
  [ "$stderr" = 'Warning: Found 1 cache inconsistencies. Re-run with `--show-warnings` to display them.' ]
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$C" --show-warnings
  [[ "$stderr" == "Warning: Blob missing (broken symlink): "*"Repo ignored." ]]
  touch "$BATS_TEST_TMPDIR/file"
  run --separate-stderr "$KB_BIN/kb" cache ls --cache-dir "$BATS_TEST_TMPDIR/file"
  [ "$status" -eq 1 ]
  [[ "$stderr" == "Cannot scan kernel cache: Scan cache expects a directory but found a file"* ]]
}

@test "kb cache needs a subcommand" {
  run "$KB_BIN/kb" cache
  [ "$status" -eq 2 ]
}

@test "kb cache verify finds a changed blob, exits 1, and --repair removes it and its entry" {
  make_kernel
  run "$KB_BIN/kb" cache verify --cache-dir "$C"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Verified 3 blobs"*"in 1 repository"*"no problems."* ]]
  id=$(printf '%s' "def relu(x): return x" | git hash-object --stdin)
  printf 'tampered' >"$C/kernels--acme--relu/blobs/$id"
  run "$KB_BIN/kb" cache verify --cache-dir "$C"
  [ "$status" -eq 1 ]
  [[ "$output" == *"kernels--acme--relu/blobs/$id: corrupt blob: content hashes to git-sha1"*"used by 1 snapshot file"* ]]
  [[ "$output" == *"Run again with --repair"* ]]
  [ -f "$C/kernels--acme--relu/blobs/$id" ]
  run "$KB_BIN/kb" cache verify --cache-dir "$C" --repair --json
  [ "$status" -eq 0 ]
  [[ "$output" == *'"kind": "corrupt blob"'* && "$output" == *'"repaired": true'* ]]
  [ ! -e "$C/kernels--acme--relu/blobs/$id" ]
  [ ! -L "$C/kernels--acme--relu/snapshots/$COMMIT/build/$VARIANT/__init__.py" ]
  run "$KB_BIN/kb" cache verify --cache-dir "$C"
  [ "$status" -eq 0 ]
  [[ "$output" == *"no problems."* ]]
}

@test "kernels cache verify is the same command" {
  [ -n "${KB_TEST_PYTHON:-}" ] || skip "no Python with torch"
  # The sanitizer tree builds no Python extension (KB_BUILD_PYTHON=OFF).
  compgen -G "$KB_BIN/../python/kernels/_core*.so" >/dev/null || skip "this build tree has no Python package"
  make_kernel
  printf 'x' >"$C/kernels--acme--relu/blobs/notes.txt"
  run env PYTHONPATH="$KB_BIN/../python" "$KB_TEST_PYTHON" -m kernels cache verify --cache-dir "$C"
  [ "$status" -eq 1 ]
  [[ "$output" == *"kernels--acme--relu/blobs/notes.txt: unknown blob: not named by a 40 or 64 hex digit hash"* ]]
  run env PYTHONPATH="$KB_BIN/../python" "$KB_TEST_PYTHON" -m kernels cache verify --cache-dir "$C" --repair
  [ "$status" -eq 0 ]
  [[ "$output" == *"1 problem, all repaired."* ]]
}

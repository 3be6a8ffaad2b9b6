#!/usr/bin/env bats
# kb lock / kb download (kb-lock): pyproject.toml -> kernels.lock against a
# local hub, then locked downloads into the cache, each verified against the
# lock. The hub's repositories are made with the git CLI, independently of
# kb's own publishing; expected hashes are computed with Python's hashlib.
#
# Needs KB_BIN (directory of the kb executables), git and python3.

bats_require_minimum_version 1.5.0

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg-cache"
  export KERNELS_CACHE="$BATS_TEST_TMPDIR/cache"
  # The variant picked for this system must not depend on the machine: an
  # interpreter without torch, and the cpu backend, select torch-cpu.
  export KB_PYTHON=/usr/bin/python3
  unset HF_HUB_OFFLINE
  HUB="$BATS_TEST_TMPDIR/hub"
  export KB_HUB="local:$HUB"
  P="$BATS_TEST_TMPDIR/project"
  mkdir -p "$P"

  SRC="$BATS_TEST_TMPDIR/src/relu"
  mkdir -p "$SRC/build/torch-cpu/sub" "$SRC/build/torch-universal" "$SRC/build/tvm-ffi01-cpu-x86_64-linux"
  printf '# relu\n' >"$SRC/README.md"
  printf "BACKEND = 'cpu'\n" >"$SRC/build/torch-cpu/__init__.py"
  printf 'data' >"$SRC/build/torch-cpu/sub/data.txt"
  printf "BACKEND = 'universal'\n" >"$SRC/build/torch-universal/__init__.py"
  printf 'tvm\n' >"$SRC/build/tvm-ffi01-cpu-x86_64-linux/__init__.py"
  SHA=$(publish acme/relu v1 "$SRC")
}

# publish REPO BRANCH DIR: commits DIR and pushes it to branches BRANCH and
# main of the hub's bare repository; prints the commit.
publish() {
  local bare="$HUB/$1.git"
  [ -d "$bare" ] || git init -q --bare "$bare"
  git -C "$3" init -q
  git -C "$3" add -A
  git -C "$3" -c user.name=t -c user.email=t@example.com commit -qm upload
  git -C "$3" push -q "$bare" "HEAD:refs/heads/$2" "HEAD:refs/heads/main"
  git -C "$3" rev-parse HEAD
}

deps() {
  printf '[project]\nname = "app"\n\n[tool.kernels.dependencies]\n%s\n' "$1" >"$P/pyproject.toml"
}

# The git_lfs_concat hash of a directory's files (no LFS here: git blob ids).
expected_hash() {
  python3 - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
entries = []
for d, _, files in os.walk(root):
    for f in files:
        full = os.path.join(d, f)
        data = open(full, "rb").read()
        sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        entries.append((os.path.relpath(full, root).encode(), sha1))
m = hashlib.sha256()
for name, h in sorted(entries):
    m.update(name + bytes.fromhex(h))
print("sha256-" + m.hexdigest())
PY
}

# Prints a Python expression over the JSON document in file $1 (`d`).
json_file() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# The events of type $1 in the stdout of the last `run --separate-stderr`, one per line.
events() {
  printf '%s\n' "$output" | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        e = json.loads(line)
        if e["event"] == sys.argv[1]:
            print(json.dumps(e, sort_keys=True))' "$1"
}

@test "kb lock writes the structured kernels.lock by default: the version's commit" {
  deps '"acme/relu" = 1'
  run --separate-stderr "$KB_BIN/kb" lock "$P"
  [ "$status" -eq 0 ]
  # kernels 0.17+: one entry per kernel, the pin asked for and the commit;
  # indent 2, no trailing newline.
  expected=$(printf '[\n  {\n    "dependency": {\n      "repo-id": "acme/relu",\n      "version": 1\n    },\n    "lock": {\n      "commit": "%s"\n    }\n  }\n]' "$SHA")
  [ "$(cat "$P/kernels.lock")" = "$expected" ]
  [ "$(tail -c 1 "$P/kernels.lock")" = "]" ]
  locked=$(events kernel-locked)
  [[ "$locked" == *'"repo_id": "acme/relu"'* ]]
  [[ "$locked" == *"\"sha\": \"$SHA\""* ]]
  [[ "$locked" == *'"version": 1'* ]]
  [[ "$locked" != *'"variants"'* ]]
  [[ "$stderr" == *"Locked acme/relu v1 at $SHA"$'\n'* ]]
  [[ "$stderr" == *"Wrote $P/kernels.lock (1 kernel(s))"* ]]
}

@test "kb lock --format legacy writes the version's commit and every torch variant's hash" {
  deps '"acme/relu" = 1'
  run --separate-stderr "$KB_BIN/kb" lock --format legacy "$P"
  [ "$status" -eq 0 ]
  [ "$(json_file "$P/kernels.lock" 'd[0]["repo_id"]')" = acme/relu ]
  [ "$(json_file "$P/kernels.lock" 'd[0]["sha"]')" = "$SHA" ]
  [ "$(json_file "$P/kernels.lock" 'list(d[0]["variants"])')" = "['torch-cpu', 'torch-universal']" ]
  [ "$(json_file "$P/kernels.lock" 'd[0]["variants"]["torch-cpu"]["hash"]')" = "$(expected_hash "$SRC/build/torch-cpu")" ]
  [ "$(json_file "$P/kernels.lock" 'd[0]["variants"]["torch-universal"]["hash_type"]')" = git_lfs_concat ]
  # The formatting of kernels <= 0.16: indent 2, no trailing newline.
  [ "$(head -c 5 "$P/kernels.lock")" = $'[\n  {' ]
  [ "$(tail -c 2 "$P/kernels.lock")" = $'\n]' ]
  locked=$(events kernel-locked)
  [[ "$locked" == *'"repo_id": "acme/relu"'* ]]
  [[ "$locked" == *"\"sha\": \"$SHA\""* ]]
  [[ "$locked" == *'"version": 1'* ]]
  [[ "$(events lock-written)" == *"\"path\": \"$P/kernels.lock\""* ]]
  [[ "$(events finished)" == *'"success": true'* ]]
  [[ "$stderr" == *"Locked acme/relu v1 at $SHA (2 variant(s))"* ]]
  [[ "$stderr" == *"Wrote $P/kernels.lock (1 kernel(s))"* ]]
}

@test "kb lock without [tool.kernels.dependencies] writes nothing and succeeds" {
  printf '[project]\nname = "app"\n' >"$P/pyproject.toml"
  run --separate-stderr "$KB_BIN/kb" lock "$P"
  [ "$status" -eq 0 ]
  [ ! -e "$P/kernels.lock" ]
  [[ "$stderr" == *"has no [tool.kernels.dependencies] table: nothing to lock"* ]]
  [[ "$(events finished)" == *'"kernels": 0'* ]]
}

@test "kb lock fails naming the key of a bad version, and a kernel the hub lacks" {
  deps '"acme/relu" = "1"'
  run --separate-stderr "$KB_BIN/kb-lock" "$P"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"pyproject.toml:5:15: [tool.kernels.dependencies] \"acme/relu\": the version must be a positive integer"* ]]
  [[ "$(events error)" == *'the version must be a positive integer'* ]]
  [[ "$(events finished)" == *'"success": false'* ]]

  deps '"acme/relu" = 1'
  "$KB_BIN/kb-lock" "$P" >/dev/null 2>&1
  before=$(cat "$P/kernels.lock")
  deps $'"acme/relu" = 1\n"acme/missing" = 1'
  run --separate-stderr "$KB_BIN/kb-lock" lock "$P"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"Error: Repository not found: acme/missing (local hub at $HUB)"* ]]
  [ "$(cat "$P/kernels.lock")" = "$before" ]

  run --separate-stderr "$KB_BIN/kb-lock" "$BATS_TEST_TMPDIR/nowhere"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"No pyproject.toml found in: $BATS_TEST_TMPDIR/nowhere"* ]]
}

@test "kb download fetches the variant for this system at the locked commit, verified" {
  deps '"acme/relu" = 1'
  "$KB_BIN/kb" lock "$P" >/dev/null 2>&1
  # A later v1 must not matter: the lock pins the commit.
  printf "BACKEND = 'changed'\n" >"$SRC/build/torch-cpu/__init__.py"
  publish acme/relu v1 "$SRC" >/dev/null
  run --separate-stderr "$KB_BIN/kb" download "$P" --backend cpu
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"Downloading \`acme/relu\` with SHA: $SHA"* ]]
  dir="$KERNELS_CACHE/kernels--acme--relu/snapshots/$SHA/build/torch-cpu"
  [[ "$(events kernel-downloaded)" == *"\"dir\": \"$dir\""*'"variant": "torch-cpu"'* ]]
  [ "$(cat "$dir/__init__.py")" = "BACKEND = 'cpu'" ]
  [ "$(cat "$dir/sub/data.txt")" = data ]
  [ ! -e "$KERNELS_CACHE/kernels--acme--relu/snapshots/$SHA/build/torch-universal" ]
}

@test "kb download --all-variants fetches every locked variant and no other" {
  deps '"acme/relu" = 1'
  "$KB_BIN/kb" lock --format legacy "$P" >/dev/null 2>&1
  run --separate-stderr "$KB_BIN/kb-lock" download "$P" --all-variants --hub "local:$HUB"
  [ "$status" -eq 0 ]
  build="$KERNELS_CACHE/kernels--acme--relu/snapshots/$SHA/build"
  [ "$(ls "$build")" = $'torch-cpu\ntorch-universal' ]
  [[ "$(events finished)" == *'"failed": 0'* ]]
}

@test "kb download fails on a lock hash the download does not match and keeps nothing" {
  deps '"acme/relu" = 1'
  "$KB_BIN/kb" lock --format legacy "$P" >/dev/null 2>&1
  sed -i 's/"hash": "sha256-[0-9a-f]*"/"hash": "sha256-0000000000000000000000000000000000000000000000000000000000000000"/' "$P/kernels.lock"
  run --separate-stderr "$KB_BIN/kb" download "$P" --backend cpu
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"variant torch-cpu of acme/relu"*"Lock file specifies kernel with hash sha256-0000"* ]]
  [[ "$(events error)" == *'"repo_id": "acme/relu"'* ]]
  [[ "$(events finished)" == *'"failed": 1'* ]]
  [ ! -e "$KERNELS_CACHE/kernels--acme--relu/snapshots/$SHA/build/torch-cpu" ]

  run --separate-stderr "$KB_BIN/kb" download "$P" --all-variants
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"nothing was downloaded"* ]]
  [ ! -e "$KERNELS_CACHE/kernels--acme--relu/snapshots/$SHA" ]
}

@test "kb download without kernels.lock, with a bad option, and --help" {
  run --separate-stderr "$KB_BIN/kb" download "$P"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"No kernels.lock file found in: $P"* ]]

  run "$KB_BIN/kb-lock" download "$P" --no-such-option
  [ "$status" -eq 2 ]

  run "$KB_BIN/kb-lock" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"kb-lock [lock] PROJECT_DIR"* ]]
  [[ "$output" == *"download"* ]]
  run "$KB_BIN/kb" --help
  [[ "$output" == *"download DIR"* ]]
}

@test "--hub overrides KB_HUB" {
  deps '"acme/relu" = 1'
  KB_HUB="local:$BATS_TEST_TMPDIR/empty-hub" run --separate-stderr "$KB_BIN/kb" lock "$P" --hub "local:$HUB"
  [ "$status" -eq 0 ]
  [ "$(json_file "$P/kernels.lock" 'd[0]["lock"]["commit"]')" = "$SHA" ]
}

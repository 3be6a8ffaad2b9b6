#!/usr/bin/env bats
# kb variants PATH: every variant of a local kernel, accepted or rejected with
# the reason, and the directory that would load. KB_BIN names the directory of
# the kb executables; KB_TEST_PYTHON an interpreter with torch (default: python3
# or /usr/bin/python3, the first that imports torch).

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  PY="${KB_TEST_PYTHON:-}"
  if [ -z "$PY" ]; then
    for candidate in python3 /usr/bin/python3; do
      if "$candidate" -c 'import torch' 2>/dev/null; then PY="$(command -v "$candidate")"; break; fi
    done
  fi
  [ -n "$PY" ] || skip "no Python with torch"
  export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
  K="$BATS_TEST_TMPDIR/kernel"
  # Variant names for this interpreter's torch, computed, not hard-coded.
  read -r TORCH MATCH OTHER BACKENDS DOTTED ABI3T PYVER < <("$PY" - <<'PY'
import platform, sys, torch
major, minor = (int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
abi = "cxx11" if torch.compiled_with_cxx11_abi() else "cxx98"
machine = platform.machine()
print(f"{major}.{minor}",
      f"torch{major}{minor}-{abi}-cpu-{machine}-linux",
      f"torch{major}{minor + 1}-{abi}-cpu-{machine}-linux",
      "cpu,cuda" if torch.version.cuda else "cpu",
      f"torch-{major}.{minor}-{abi}-cpu-cpython-3.9-abi3-{machine}-linux",
      f"torch-{major}.{minor}-{abi}-cpu-cpython-3.15-abi3t-{machine}-linux",
      f"{sys.version_info.major}.{sys.version_info.minor}")
PY
  )
}

make_variant() {
  mkdir -p "$K/build/$1"
  printf '{"name": "k", "id": "_k_cpu_abc1234", "version": 1, "license": "MIT", "python-depends": [], "backend": {"type": "cpu"}}\n' \
    > "$K/build/$1/metadata.json"
}

# Reads JSON from stdin and prints the value of a Python expression over it (`d`).
json_eval() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

@test "lists every variant with its reason and the one that would load" {
  make_variant "$MATCH"
  make_variant "$OTHER"
  make_variant torch-cuda
  run "$KB_BIN/kb" variants "$K" --python "$PY" --backend cpu
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "Environment: torch $TORCH, "*", cpu, "*"-linux ("* ]]
  [[ "$output" == *"Variants in $K/build:"* ]]
  [[ "$output" == *"  $MATCH compatible, preferred ✅"* ]]
  [[ "$output" == *"  $OTHER: Torch version ("*") does not match environment Torch version ($TORCH)"* ]]
  [[ "$output" == *"  torch-cuda: backend (cuda) does not match system backend (cpu) and is not universal"* ]]
  [[ "${lines[-1]}" == "Would load: $K/build/$MATCH" ]]
}

@test "exit 1 when no variant is compatible, each rejected with its reason" {
  make_variant "$OTHER"
  make_variant torch-metal
  run "$KB_BIN/kb" variants "$K/build" --python "$PY" --backend cpu
  [ "$status" -eq 1 ]
  [[ "$output" == *"$OTHER: Torch version"* ]]
  [[ "$output" == *"torch-metal: backend (metal) does not match system backend (cpu) and is not universal"* ]]
  [[ "$output" == *"No compatible variant: nothing would load"* ]]
  [[ "$output" != *"Would load"* ]]
}

@test "--json prints one object with the environment, every variant and the chosen one" {
  make_variant "$MATCH"
  make_variant "$OTHER"
  run bash -c '"$1" variants "$2" --python "$3" --backend cpu --json 2>/dev/null' _ "$KB_BIN/kb" "$K" "$PY"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | json_eval 'd["chosen"]')" = "$K/build/$MATCH" ]
  [ "$(echo "$output" | json_eval 'd["environment"]["torch"]')" = "$TORCH" ]
  [ "$(echo "$output" | json_eval 'd["environment"]["backend"]')" = "cpu" ]
  [ "$(echo "$output" | json_eval '[(v["variant"], v["accepted"]) for v in d["variants"]]')" = \
    "[('$MATCH', True), ('$OTHER', False)]" ]
  [[ "$(echo "$output" | json_eval 'd["variants"][1]["reason"]')" == "Torch version ("* ]]
  [ "$(echo "$output" | json_eval 'd["variants"][0]["reason"]')" = "None" ]
}

@test "--json with nothing compatible: chosen is null, exit 1" {
  make_variant "$OTHER"
  run bash -c '"$1" variants "$2" --python "$3" --json 2>/dev/null' _ "$KB_BIN/kb" "$K" "$PY"
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | json_eval 'd["chosen"]')" = "None" ]
  [[ "$(echo "$output" | json_eval 'd["error"]')" == "Cannot find a build variant for this system in $K"* ]]
}

@test "an invalid --backend is a usage error naming the supported backends" {
  make_variant "$MATCH"
  run "$KB_BIN/kb" variants "$K" --python "$PY" --backend x
  [ "$status" -eq 2 ]
  [[ "$output" == *"Invalid backend 'x', system supported backends: ${BACKENDS/,/, }"* ]]
}

@test "a missing path, a missing PATH argument or a bad --python are usage errors" {
  run "$KB_BIN/kb" variants "$K/missing" --python "$PY"
  [ "$status" -eq 2 ]
  [[ "$output" == *"Could not find kernel in $K/missing"* ]]
  run "$KB_BIN/kb" variants
  [ "$status" -eq 2 ]
  run "$KB_BIN/kb" variants "$K" --python /bin/true
  [ "$status" -eq 2 ]
  [[ "$output" == *"/bin/true"* ]]
}

@test "a variant directory loads as is" {
  make_variant "$OTHER"
  run "$KB_BIN/kb" variants "$K/build/$OTHER" --python "$PY"
  [ "$status" -eq 0 ]
  [[ "$output" == *"is a variant directory: it loads as is"* ]]
  [[ "$output" == *"Would load: $K/build/$OTHER"* ]]
}

@test "without a Python with torch only noarch variants can match, and it says so" {
  make_variant "$MATCH"
  make_variant torch-cpu
  KB_PYTHON=/bin/false run "$KB_BIN/kb" variants "$K"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Environment: no torch, cpu, "*"(no torch: only noarch variants can match)"* ]]
  [[ "$output" == *"no interpreter in KB_PYTHON can import torch"* ]]
  [[ "$output" == *"$MATCH: Torch version ($TORCH) does not match environment Torch version (None)"* ]]
  [[ "$output" == *"torch-cpu compatible, preferred ✅"* ]]
  [[ "${lines[-1]}" == "Would load: $K/build/torch-cpu" ]]
}

@test "dotted names resolve beside legacy ones; abi3t needs Python 3.15" {
  "$PY" -c 'import sys; sys.exit(sys.version_info >= (3, 15))' || skip "written for a Python before 3.15"
  make_variant "$MATCH"
  make_variant "$DOTTED"
  make_variant "$ABI3T"
  make_variant torch-cpu
  run "$KB_BIN/kb" variants "$K" --python "$PY" --backend cpu
  [ "$status" -eq 0 ]
  [[ "$output" == *"  $DOTTED compatible, preferred ✅"* ]]
  [[ "$output" == *"  $MATCH compatible, preferred ✅"* ]]  # the same build as $DOTTED
  [[ "$output" == *"  $ABI3T: Python 3.15 or later is required, system Python version is $PYVER"* ]]
  [[ "${lines[-1]}" == "Would load: $K/build/$DOTTED" ]]
}

@test "--only-compatible lists only what fits, and says so when nothing does" {
  make_variant "$MATCH"
  make_variant "$OTHER"
  make_variant torch-cpu
  run "$KB_BIN/kb" variants "$K" --python "$PY" --backend cpu --only-compatible
  [ "$status" -eq 0 ]
  [[ "$output" == *"  $MATCH compatible, preferred ✅"* ]]
  [[ "$output" == *"  torch-cpu compatible ✅"* ]]
  [[ "$output" != *"$OTHER"* ]]
  rm -r "$K/build/$MATCH" "$K/build/torch-cpu"
  run "$KB_BIN/kb" variants "$K" --python "$PY" --backend cpu --only-compatible
  [ "$status" -eq 1 ]
  [[ "$output" == *"  No compatible variants found."* ]]
  [[ "$output" != *"$OTHER"* ]]
  run bash -c '"$1" variants "$2" --python "$3" --only-compatible --json 2>/dev/null' _ "$KB_BIN/kb" "$K" "$PY"
  [ "$(echo "$output" | json_eval 'd["variants"]')" = "[]" ]
}

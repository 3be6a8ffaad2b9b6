#!/usr/bin/env bats
# kb-metadata standalone and in stream mode. KB_BIN names the directory of the
# kb executables.

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  TOOL="$KB_BIN/kb-metadata"
  K="$BATS_TEST_TMPDIR/kernel"
  V="$K/build/torch-cpu"
  mkdir -p "$V"
  cat > "$V/metadata.json" <<'JSON'
{
  "name": "relu",
  "id": "_relu_cpu_abc1234",
  "version": 1,
  "license": "Apache-2.0",
  "python-depends": [],
  "backend": {"type": "cpu"}
}
JSON
  printf 'from ._ops import ops\n' > "$V/__init__.py"
  cat > "$V/_ops.py" <<'PY'
import torch
ops = torch.ops._relu_cpu_abc1234

def add_op_namespace_prefix(op_name: str):
    return f"_relu_cpu_abc1234::{op_name}"

@torch.library.custom_op(add_op_namespace_prefix("relu"), mutates_args=())
def relu(x):
    return x
PY
  mkdir -p "$V/__pycache__"
  printf 'bytecode' > "$V/__pycache__/_ops.cpython-311.pyc"
}

# Reads JSON from stdin and prints the value of a Python expression over it (`d`).
json_eval() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# Event names of a JSON Lines stream on stdin, space-separated.
event_names() {
  python3 -c 'import json, sys; print(" ".join(json.loads(l)["event"] for l in sys.stdin if l.strip()))'
}

# Runs kb-metadata in stream mode with $1 (JSON Lines) on stdin; stdout only.
run_stream() {
  run bash -c 'printf "%s\n" "$1" | "$2" 2>/dev/null' _ "$1" "$TOOL"
}

add_bad_registration() {
  cat >> "$V/_ops.py" <<'PY'

@torch.library.custom_op("myns::bad", mutates_args=())
def bad(x):
    return x
PY
}

@test "--help describes the modes and exits 0" {
  run "$TOOL" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--check-builds"* ]]
  [[ "$output" == *"--lint-only"* ]]
  [[ "$output" == *"variant-packaged"* ]]
}

@test "unknown option is a usage error (exit 2)" {
  run "$TOOL" --no-such-option "$K"
  [ "$status" -eq 2 ]
}

@test "standalone: finalizes every variant with digest and provenance" {
  run "$TOOL" "$K"
  [ "$status" -eq 0 ]
  [[ "$output" == *'Packaging variant `torch-cpu`...'* ]]
  [ ! -e "$V/__pycache__" ]
  [ "$(json_eval 'd["digest"]["algorithm"]' < "$V/metadata.json")" = "sha256" ]
  [ "$(json_eval 'sorted(d["digest"]["files"])' < "$V/metadata.json")" = "['__init__.py', '_ops.py']" ]
  expected=$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$V/_ops.py")
  [ "$(json_eval 'd["digest"]["files"]["_ops.py"]' < "$V/metadata.json")" = "$expected" ]
  [[ "$(json_eval 'd["provenance"]["kernel-builder"]["version"]' < "$V/metadata.json")" == "kb "* ]]
  # The written file is what check-builds accepts.
  run "$TOOL" --check-builds "$K"
  [ "$status" -eq 0 ]
}

@test "standalone: records the kernel's git commit" {
  git -C "$K" init -q
  printf 'build\n' > "$K/.gitignore"
  git -C "$K" add .gitignore
  git -C "$K" -c user.name=t -c user.email=t@example.invalid commit -q -m init
  run "$TOOL" "$K"
  [ "$status" -eq 0 ]
  [ "$(json_eval 'd["provenance"]["kernel"]["commit"]' < "$V/metadata.json")" = "$(git -C "$K" rev-parse HEAD)" ]
  [ "$(json_eval 'd["provenance"]["kernel"]["dirty"]' < "$V/metadata.json")" = "False" ]
}

@test "standalone: an unprefixed registration fails and leaves metadata.json alone" {
  add_bad_registration
  before=$(cat "$V/metadata.json")
  run "$TOOL" "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *'Found Torch library registrations that do not use `add_op_namespace_prefix`:'* ]]
  [[ "$output" == *"$V/_ops.py:11 function bad"* ]]
  [ "$(cat "$V/metadata.json")" = "$before" ]
}

@test "standalone: a missing directory or no variants is an error" {
  run "$TOOL" "$BATS_TEST_TMPDIR/missing"
  [ "$status" -eq 1 ]
  [[ "$output" == *'is not a directory'* ]]
  mkdir -p "$BATS_TEST_TMPDIR/empty"
  run "$TOOL" "$BATS_TEST_TMPDIR/empty"
  [ "$status" -eq 1 ]
  [[ "$output" == *'No build variants found in `'"$BATS_TEST_TMPDIR"'/empty/result`'* ]]
}

@test "--check-builds rejects invalid metadata and changes nothing" {
  run "$TOOL" --check-builds "$K"
  [ "$status" -eq 0 ]
  [ -e "$V/__pycache__" ]
  python3 - "$V/metadata.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["backend"]["type"] = "gpu"
json.dump(d, open(sys.argv[1], "w"))
PY
  run "$TOOL" --check-builds "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Failed to parse metadata: $V/metadata.json"* ]]
  [[ "$output" == *'`backend.type`: unknown backend `gpu`'* ]]
}

@test "--lint-only checks a source tree" {
  run "$TOOL" --lint-only "$V"
  [ "$status" -eq 0 ]
  add_bad_registration
  run "$TOOL" --lint-only "$V"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$V/_ops.py:11 function bad"* ]]
  printf 'def broken(:\n' > "$V/broken.py"
  run "$TOOL" --lint-only "$V"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Cannot parse Python file \`$V/broken.py\`"* ]]
}

@test "stream: forwards every event in order and packages built variants" {
  events=$(cat <<EVENTS
{"event":"project","tool":"kb-genproject","kernel_dir":"$K","name":"relu"}
{"event":"variant-planned","tool":"kb-genproject","variant":"torch-cpu"}
{"event":"abi-checked","tool":"kb-checkabi","variant":"torch-cpu","ok":true,"portable":true}
{"event":"variant-built","tool":"kb-compile","variant":"torch-cpu","kind":"arch","dir":"$V","kernel_dir":"$K"}
{"event":"finished","tool":"kb-compile","success":true}
EVENTS
)
  run_stream "$events"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | event_names)" = "project variant-planned abi-checked variant-built variant-packaged finished finished" ]
  # Forwarded events are unchanged.
  [ "$(printf '%s\n' "$output" | sed -n 2p)" = '{"event":"variant-planned","tool":"kb-genproject","variant":"torch-cpu"}' ]
  packaged=$(printf '%s\n' "$output" | sed -n 5p)
  [ "$(json_eval 'd["tool"], d["variant"], d["dir"], d["portable"]' <<< "$packaged")" = "('kb-metadata', 'torch-cpu', '$V', True)" ]
  [ "$(json_eval 'sorted(d["metadata"]["digest"]["files"])' <<< "$packaged")" = "['__init__.py', '_ops.py']" ]
  last=$(printf '%s\n' "$output" | tail -n 1)
  [ "$(json_eval 'd["tool"], d["success"], d["variants"], d["failed"]' <<< "$last")" = "('kb-metadata', True, 1, 0)" ]
  [ "$(json_eval 'd["digest"]["algorithm"]' < "$V/metadata.json")" = "sha256" ]
}

@test "stream: a project with build_layout zip packages each variant's Python package into <id>.zip" {
  printf 'fake' > "$V/_relu_cpu_abc1234.abi3.so"
  events=$(cat <<EVENTS
{"event":"project","tool":"kb-genproject","kernel_dir":"$K","name":"relu","build_layout":"zip"}
{"event":"variant-built","tool":"kb-compile","variant":"torch-cpu","kind":"arch","dir":"$V","kernel_dir":"$K"}
EVENTS
)
  run_stream "$events"
  [ "$status" -eq 0 ]
  [ "$(ls "$V" | tr '\n' ' ')" = "_relu_cpu_abc1234.abi3.so _relu_cpu_abc1234.zip metadata.json " ]
  [ "$(unzip -Z1 "$V/_relu_cpu_abc1234.zip" | tr '\n' ' ')" = "__init__.py _ops.py " ]
  [ "$(json_eval 'd["build-layout"], d["kernels-minver"], sorted(d["digest"]["files"])' < "$V/metadata.json")" = "('zip', '0.19.0', ['_relu_cpu_abc1234.abi3.so', '_relu_cpu_abc1234.zip'])" ]
  # Standalone again (kb hash): the archive is checked and kept byte for byte.
  before=$(sha256sum < "$V/_relu_cpu_abc1234.zip")
  run "$TOOL" "$K"
  [ "$status" -eq 0 ]
  [ "$(sha256sum < "$V/_relu_cpu_abc1234.zip")" = "$before" ]
}

@test "stream: an unknown build_layout in the project event is named" {
  run_stream '{"event":"project","tool":"kb-genproject","kernel_dir":"'"$K"'","build_layout":"tar"}'
  [ "$status" -eq 1 ]
  [[ "$output" == *'field \"build_layout\" must be \"files\" or \"zip\", got string \"tar\"'* ]]
}

@test "stream: a variant without an ABI check is not portable" {
  run_stream '{"event":"variant-built","tool":"kb-compile","variant":"torch-cpu","kind":"arch","dir":"'"$V"'"}'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | sed -n 2p | json_eval 'd["portable"]')" = "False" ]
}

@test "stream: a failing variant becomes an error event and exit 1" {
  add_bad_registration
  run_stream '{"event":"variant-built","tool":"kb-compile","variant":"torch-cpu","kind":"arch","dir":"'"$V"'"}'
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | event_names)" = "variant-built error finished" ]
  error=$(printf '%s\n' "$output" | sed -n 2p)
  [ "$(json_eval 'd["variant"]' <<< "$error")" = "torch-cpu" ]
  [[ "$(json_eval 'd["message"]' <<< "$error")" == *"_ops.py:11 function bad"* ]]
  [ "$(printf '%s\n' "$output" | tail -n 1 | json_eval 'd["success"], d["failed"]')" = "(False, 1)" ]
}

@test "stream: a malformed line is an error event and exit 1" {
  run bash -c 'printf "not json\n" | "$1" 2>/dev/null' _ "$TOOL"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | event_names)" = "error finished" ]
}

#!/usr/bin/env bats
# Every stream tool reads events through typed readers: a field of the wrong
# type or a missing one is an "error" event naming the event, the field and
# the type expected, then finished{success:false} and exit 1 — never an
# abort. Usage errors exit 2 in every tool. KB_BIN names the executables.

bats_require_minimum_version 1.5.0

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  export KB_SCRATCH_DIR="$BATS_FILE_TMPDIR/scratch"
}

# run_tool TOOL EVENT-LINE...: the tool over those lines, stdout in $output.
run_tool() {
  local tool="$1"
  shift
  run --separate-stderr bash -c 'printf "%s\n" "${@:2}" | "$1"' _ "$KB_BIN/$tool" "$@"
}

# The last two stdout lines are the error and a failed finished event.
assert_reported() {
  local tool="$1" message="$2"
  [ "$status" -eq 1 ]
  [ "$status" -ne 134 ]
  local error finished
  error=$(printf '%s\n' "$output" | grep '"event":"error"')
  finished=$(printf '%s\n' "$output" | tail -n 1)
  [[ "$error" == *"\"message\":\"$message\""* ]] || { echo "error event: $error" >&2; return 1; }
  [[ "$error" == *"\"tool\":\"$tool\""* ]]
  [[ "$finished" == *'"event":"finished"'* && "$finished" == *'"success":false'* && "$finished" == *"\"tool\":\"$tool\""* ]]
}

@test "kb-metadata: wrong-typed and missing fields are named" {
  run_tool kb-metadata '{"event":"variant-built","variant":5}'
  assert_reported kb-metadata 'variant-built event: field \"variant\" must be a string, got number 5'
  run_tool kb-metadata '{"event":"abi-checked","variant":"v","portable":"yes"}'
  assert_reported kb-metadata 'abi-checked event: field \"portable\" must be a boolean, got string \"yes\"'
  run_tool kb-metadata '{"event":"variant-built","variant":"v"}'
  assert_reported kb-metadata 'variant-built event lacks the field \"dir\" (a non-empty string)'
  run_tool kb-metadata '{"event":"project","kernel_dir":["a"]}'
  assert_reported kb-metadata 'project event: field \"kernel_dir\" must be a string, got array [\"a\"]'
}

@test "kb-checkabi: a variant-built without dir is not checked in the current directory" {
  run_tool kb-checkabi '{"event":"variant-built","variant":"torch-x"}'
  assert_reported kb-checkabi 'variant-built event lacks the field \"dir\" (a non-empty string)'
  run_tool kb-checkabi '{"event":"project","strict":"yes"}'
  assert_reported kb-checkabi 'project event: field \"strict\" must be a boolean, got string \"yes\"'
}

@test "kb-compile: a variant-planned with a wrong-typed field fails that variant only" {
  run_tool kb-compile '{"event":"variant-planned","variant":[1,2]}'
  [ "$status" -eq 1 ]
  [[ "$output" == *'"message":"variant-planned event lacks the field \"kernel_dir\" (a non-empty string)"'* ]]
  run_tool kb-compile '{"event":"variant-planned","kernel_dir":"/k","variant":"torch-cpu","backend":"cpu","module":"m","kind":"noarch","cmake_args":"-DX"}'
  [ "$status" -eq 1 ]
  [[ "$output" == *'field \"cmake_args\" must be an array of strings, got string \"-DX\"'* ]]
  [[ "$(printf '%s\n' "$output" | tail -n 1)" == *'"success":false'* ]]
}

@test "unknown events are forwarded unchanged; a truncated line is an error" {
  run_tool kb-metadata '{"event":"something-new","x":[1]}'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | head -n 1)" = '{"event":"something-new","x":[1]}' ]
  run_tool kb-checkabi '{"event":"variant-bu'
  [ "$status" -eq 1 ]
  [[ "$output" == *'"event":"error"'*'not a JSON event'* ]]
}

@test "every tool exits 2 on a usage error" {
  for tool in kb-genproject kb-compile kb-checkabi kb-metadata kb-init kb-card kb-upload kb-lock kb-variants; do
    run --separate-stderr "$KB_BIN/$tool" --no-such-option
    [ "$status" -eq 2 ] || { echo "$tool exited $status" >&2; return 1; }
  done
}

@test "the project event carries the event format version" {
  K="$BATS_TEST_TMPDIR/k"
  "$KB_BIN/kb-init" --name org/events-test --backends cpu "$K" >/dev/null 2>&1
  run --separate-stderr "$KB_BIN/kb-genproject" "$K"
  [ "$status" -eq 0 ]
  first=$(printf '%s\n' "$output" | head -n 1)
  [[ "$first" == *'"event":"project"'* && "$first" == *'"format":1,'* ]]
}

@test "every tool exits 0 after --help, and 2 on usage errors found after parsing" {
  for tool in kb kb-genproject kb-compile kb-checkabi kb-metadata kb-init kb-card kb-upload kb-lock kb-variants; do
    run --separate-stderr "$KB_BIN/$tool" --help
    [ "$status" -eq 0 ] || { echo "$tool --help exited $status" >&2; return 1; }
    [ -n "$output" ]
  done
  run --separate-stderr "$KB_BIN/kb-metadata" --lint-only a.py somedir
  [ "$status" -eq 2 ] && [[ "$stderr" == "Error: --lint-only takes its own PATH and no DIR" ]]
  run --separate-stderr "$KB_BIN/kb-lock" --quiet
  [ "$status" -eq 2 ] && [[ "$stderr" == "Error: PROJECT_DIR is required" ]]
  run --separate-stderr "$KB_BIN/kb-variants" "$BATS_TEST_TMPDIR/nowhere"
  [ "$status" -eq 2 ] && [[ "$stderr" == *"Could not find kernel in $BATS_TEST_TMPDIR/nowhere" ]]
  run --separate-stderr "$KB_BIN/kb" build --no-such-option
  [ "$status" -eq 2 ] && [[ "$stderr" == *"unknown option for kb build: --no-such-option"* ]]
}

@test "a failure after a stream tool started is reported in the stream: error, then finished{success:false}" {
  K="$BATS_TEST_TMPDIR/k"
  mkdir -p "$K"
  printf '[general]\nname = "broken"\nversion = "one"\n' >"$K/build.toml"
  run --separate-stderr "$KB_BIN/kb-genproject" "$K"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"Error: "*"build.toml"* ]]
  assert_reported kb-genproject "$(printf '%s\n' "$output" | grep '"event":"error"' | sed 's/.*"message":"\(.*\)","tool".*/\1/')"
  # kb-compile planning with kb-genproject forwards the failure and exits 1.
  run --separate-stderr "$KB_BIN/kb-compile" "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *'"event":"error"'*'"tool":"kb-genproject"'* ]]
  [[ "$output" == *'"event":"finished","success":false,"tool":"kb-genproject"'* ]]
  run --separate-stderr "$KB_BIN/kb-lock" download "$BATS_TEST_TMPDIR"
  assert_reported kb-lock "No kernels.lock file found in: $BATS_TEST_TMPDIR"
}

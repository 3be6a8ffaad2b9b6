#!/usr/bin/env bats
# kb-checkabi standalone and in stream mode, on shared objects compiled here
# with gcc. KB_BIN names the directory of the kb executables.

bats_require_minimum_version 1.5.0

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  TOOL="$KB_BIN/kb-checkabi"
  [ -x "$TOOL" ] || { echo "$TOOL is not executable" >&2; return 1; }
  K="$BATS_TEST_TMPDIR/kernel"
  CLEAN="$K/build/torch-clean"
  BAD="$K/build/torch-bad"
  mkdir -p "$CLEAN" "$BAD"
  echo '{}' > "$CLEAN/metadata.json"
  echo '{}' > "$BAD/metadata.json"
  cat > "$BATS_TEST_TMPDIR/clean.c" <<'C'
#include <string.h>
extern void* PyLong_FromLong(long);
void* f(char* d, const char* s, unsigned long n) { memcpy(d, s, n); return PyLong_FromLong((long)n); }
C
  # pthread_create is versioned GLIBC_2.34 on glibc >= 2.34: beyond manylinux_2_28.
  cat > "$BATS_TEST_TMPDIR/bad.c" <<'C'
#include <pthread.h>
static void* run(void* p) { return p; }
int start(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }
C
  gcc -shared -fPIC -O2 -o "$CLEAN/_ops.abi3.so" "$BATS_TEST_TMPDIR/clean.c"
  gcc -shared -fPIC -O2 -o "$BAD/_ops.abi3.so" "$BATS_TEST_TMPDIR/bad.c"
}

# The "event" names of a JSON Lines stream, one per line.
event_names() {
  python3 -c 'import json, sys; [print(json.loads(l)["event"]) for l in sys.stdin if l.strip()]'
}

# Prints the value of a Python expression over the JSON events `ev` (a list).
events_eval() {
  python3 -c 'import json, sys; ev = [json.loads(l) for l in sys.stdin if l.strip()]; print(eval(sys.argv[1]))' "$1"
}

@test "a clean variant passes with exit 0" {
  run "$TOOL" "$CLEAN"
  [ "$status" -eq 0 ]
  [[ "$output" == *"🐍 Checking $CLEAN/_ops.abi3.so (ELF, "*") for manylinux_2_28 and Python ABI 3.9"* ]]
  [[ "$output" == *"✅ No compatibility issues found"* ]]
  [[ "$output" != *"⛔"* ]]
}

@test "a violating variant fails with exit 1 and names the symbol" {
  run "$TOOL" "$BAD"
  [ "$status" -eq 1 ]
  [[ "$output" == *"⛔ Symbols incompatible with manylinux_2_28:"* ]]
  [[ "$output" == *"pthread_create@GLIBC_2.34"* ]]
  [[ "$output" == *"ABI compatibility issues found in 1 of 1 variant(s)"* ]]
}

@test "a stripped violating library is still rejected" {
  strip --strip-all "$BAD/_ops.abi3.so"
  [ -z "$(readelf -S "$BAD/_ops.abi3.so" | grep '\.symtab')" ]
  run "$TOOL" "$BAD/_ops.abi3.so"
  [ "$status" -eq 1 ]
  [[ "$output" == *"pthread_create@GLIBC_2.34"* ]]
}

@test "a kernel directory checks every discovered variant" {
  run "$TOOL" "$K"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$CLEAN/_ops.abi3.so"* ]]
  [[ "$output" == *"$BAD/_ops.abi3.so"* ]]
  [[ "$output" == *"in 1 of 2 variant(s)"* ]]
}

@test "a newer policy accepts what manylinux_2_28 rejects" {
  run "$TOOL" --manylinux manylinux_2_34 "$BAD"
  [ "$status" -eq 0 ]
}

@test "--warn-only reports but exits 0" {
  run "$TOOL" --warn-only "$BAD"
  [ "$status" -eq 0 ]
  [[ "$output" == *"pthread_create@GLIBC_2.34"* ]]
}

@test "--json prints abi-checked and finished events on stdout" {
  run --separate-stderr "$TOOL" --json "$K"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | event_names | tr '\n' ' ')" = "abi-checked abi-checked finished " ]
  [ "$(printf '%s\n' "$output" | events_eval '[e["variant"] for e in ev[:2]]')" = "['torch-bad', 'torch-clean']" ]
  [ "$(printf '%s\n' "$output" | events_eval 'ev[0]["files"][0]["violations"][0]["symbol"]')" = "pthread_create@GLIBC_2.34" ]
  [ "$(printf '%s\n' "$output" | events_eval '(ev[0]["ok"], ev[1]["ok"], ev[2]["success"], ev[2]["variants"])')" = "(False, True, False, 2)" ]
  [[ "$stderr" == *"⛔ Symbols incompatible with manylinux_2_28:"* ]]
}

@test "usage errors exit 2" {
  run "$TOOL" --manylinux manylinux_2_99 "$K"
  [ "$status" -eq 2 ]
  [[ "$output" == *"Unknown manylinux policy \`manylinux_2_99\`"* ]]
  [[ "$output" == *"known policies: manylinux_2_5,"* ]]
  run "$TOOL" --python-abi three "$K"
  [ "$status" -eq 2 ]
  run "$TOOL" "$BATS_TEST_TMPDIR/does-not-exist"
  [ "$status" -eq 2 ]
  run "$TOOL" --no-such-flag
  [ "$status" -eq 2 ]
}

@test "a directory without variants is an error" {
  mkdir -p "$BATS_TEST_TMPDIR/empty"
  run "$TOOL" "$BATS_TEST_TMPDIR/empty"
  [ "$status" -eq 1 ]
  [[ "$output" == *"No build variants found in \`$BATS_TEST_TMPDIR/empty/result\`, \`$BATS_TEST_TMPDIR/empty/build\`, or \`$BATS_TEST_TMPDIR/empty\`"* ]]
}

stream() {
  local strict="$1" dir="$2"
  printf '%s\n' \
    "{\"event\":\"project\",\"tool\":\"kb-genproject\",\"name\":\"k\",\"strict\":$strict}" \
    '{"event":"variant-planned","tool":"kb-genproject","variant":"torch-bad"}' \
    "{\"event\":\"variant-built\",\"tool\":\"kb-compile\",\"variant\":\"torch-bad\",\"dir\":\"$dir\",\"artifacts\":[\"_ops.abi3.so\"],\"seconds\":1,\"up_to_date\":false}" \
    '{"event":"finished","tool":"kb-compile","success":true}'
}

@test "stream: abi-checked precedes the forwarded variant-built; non-strict violations warn" {
  run --separate-stderr bash -c "$(declare -f stream); stream false '$BAD' | '$TOOL'"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | event_names | tr '\n' ' ')" = \
    "project variant-planned abi-checked warning variant-built finished finished " ]
  [ "$(printf '%s\n' "$output" | events_eval 'ev[2]["dir"] == "'"$BAD"'" and ev[2]["portable"] is False')" = "True" ]
  [ "$(printf '%s\n' "$output" | events_eval 'ev[3]["message"]')" = \
    "variant torch-bad is not portable: 1 symbol(s) beyond manylinux_2_28" ]
  # Forwarded events keep their content.
  [ "$(printf '%s\n' "$output" | events_eval 'ev[4]["tool"], ev[4]["artifacts"], ev[5]["tool"]')" = \
    "('kb-compile', ['_ops.abi3.so'], 'kb-compile')" ]
  [ "$(printf '%s\n' "$output" | events_eval '(ev[6]["tool"], ev[6]["success"], ev[6]["variants"])')" = \
    "('kb-checkabi', True, 1)" ]
  [[ "$stderr" == *"pthread_create@GLIBC_2.34"* ]]
}

@test "stream: strict projects turn violations into an error and exit 1" {
  run --separate-stderr bash -c "$(declare -f stream); stream true '$BAD' | '$TOOL'"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | event_names | tr '\n' ' ')" = \
    "project variant-planned abi-checked error variant-built finished finished " ]
  [ "$(printf '%s\n' "$output" | events_eval '(ev[3]["variant"], ev[6]["success"])')" = "('torch-bad', False)" ]
  # --warn-only downgrades the error to a warning.
  run --separate-stderr bash -c "$(declare -f stream); stream true '$BAD' | '$TOOL' --warn-only"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | event_names | sed -n 4p)" = "warning" ]
}

@test "stream: a clean variant emits abi-checked ok and no warning" {
  run --separate-stderr bash -c "$(declare -f stream); stream true '$CLEAN' | '$TOOL'"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | event_names | tr '\n' ' ')" = \
    "project variant-planned abi-checked variant-built finished finished " ]
  [ "$(printf '%s\n' "$output" | events_eval '(ev[2]["ok"], ev[2]["policy"], ev[2]["python_abi"], ev[2]["files"][0]["file"])')" = \
    "(True, 'manylinux_2_28', '3.9', '_ops.abi3.so')" ]
}

@test "stream: a malformed line is an error event and exit 1" {
  run --separate-stderr bash -c "printf '%s\n' '{\"event\":\"project\",\"strict\":false}' 'not json' | '$TOOL'"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | event_names | tr '\n' ' ')" = "project error finished " ]
  [[ "$(printf '%s\n' "$output" | events_eval 'ev[1]["message"]')" == *"not a JSON event"* ]]
}

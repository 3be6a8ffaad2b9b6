#!/usr/bin/env bats
# The build pipeline: kb-genproject | kb-compile | kb-checkabi | kb-metadata,
# and `kb build` over it. One small cpu + rocm kernel is scaffolded and built
# once per file (the rocm backend has no toolchain here and must be skipped);
# the tests then read the events and the build/ tree it left.
#
# Needs KB_BIN (directory of the kb executables) and an interpreter with torch
# (KB_TEST_PYTHON, default /usr/bin/python3).

setup_file() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  export KB_TEST_PYTHON="${KB_TEST_PYTHON:-/usr/bin/python3}"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  # kb's generated project and CMake trees (see scratch.bats), out of ~/.cache.
  export KB_SCRATCH_DIR="$BATS_FILE_TMPDIR/scratch"
  export KERNEL="$BATS_FILE_TMPDIR/tiny"
  "$KB_BIN/kb-init" --name acme/tiny --backends cpu rocm "$KERNEL" >/dev/null
  # A fixed op id keeps the compiler cache useful between runs.
  export UNIQUE_ID=t35t1d
  pipeline "$BATS_FILE_TMPDIR/first"
}

# Runs the four tools on $KERNEL; writes <prefix>.jsonl (stdout),
# <prefix>.err (stderr) and <prefix>.codes (the four exit codes).
pipeline() {
  local prefix=$1
  shift
  set +e
  {
    "$KB_BIN/kb-genproject" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" "$@" "$KERNEL" |
      "$KB_BIN/kb-compile" -j 2 | "$KB_BIN/kb-checkabi" | "$KB_BIN/kb-metadata" >"$prefix.jsonl"
    echo "${PIPESTATUS[*]}" >"$prefix.codes"
  } 2>"$prefix.err"
  set -e
}

load event_query

variant() {
  events "$BATS_FILE_TMPDIR/first.jsonl" \
    '[e["variant"] for e in events if e["event"] == "variant-built"][0]'
}

@test "every tool of the pipeline exits 0" {
  [ "$(cat "$BATS_FILE_TMPDIR/first.codes")" = "0 0 0 0" ]
}

@test "the stream holds project, skip, abi check, build, package and four finished events in order" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  [ "$(events "$F" '[e["event"] for e in events][0]')" = "project" ]
  # Each tool's own finished event, in pipeline order and successful.
  [ "$(events "$F" '[(e["tool"], e["success"]) for e in events if e["event"] == "finished"]')" = \
    "[('kb-genproject', True), ('kb-compile', True), ('kb-checkabi', True), ('kb-metadata', True)]" ]
  # The checker reports on a variant before forwarding its variant-built; the
  # packager follows it.
  order='[e["event"] for e in events if e["event"] in ("abi-checked", "variant-built", "variant-packaged")]'
  [ "$(events "$F" "$order")" = "['abi-checked', 'variant-built', 'variant-packaged']" ]
  # kb-compile consumes the plan.
  [ "$(events "$F" 'sum(e["event"] == "variant-planned" for e in events)')" = "0" ]
}

@test "project event describes the kernel" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  [ "$(events "$F" '[(e["name"], e["module"], e["version"], e["backends"], e["unique_id"], e["strict"], e["kernel_dir"]) for e in events if e["event"] == "project"]')" = \
    "[('tiny', 'tiny', 1, ['cpu', 'rocm'], 't35t1d', False, '$KERNEL')]" ]
  # The generated project is in the kernel's scratch directory, not in it.
  scratch=$("$KB_BIN/kb" scratch-dir "$KERNEL")
  [ "$(events "$F" '[(e["project_dir"], e["scratch_dir"]) for e in events if e["event"] == "project"]')" = \
    "[('$scratch/project', '$scratch')]" ]
  [ -f "$scratch/project/CMakeLists.txt" ] && [ ! -e "$KERNEL/CMakeLists.txt" ]
}

@test "the backend without a toolchain is skipped with a reason and the rest builds" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  [ "$(events "$F" '[(e["backend"], e["reason"]) for e in events if e["event"] == "variant-skipped"]')" = \
    "[('rocm', 'no ROCm build of torch found on this machine')]" ]
  [ "$(variant)" = "torch113-cxx11-cpu-x86_64-linux" ]
  grep -q "skipped rocm: no ROCm build of torch" "$BATS_FILE_TMPDIR/first.err"
}

@test "variant-built names the installed directory and its artifacts" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  V=$(variant)
  [ "$(events "$F" '[(e["dir"], e["backend"], e["kind"], e["up_to_date"]) for e in events if e["event"] == "variant-built"]')" = \
    "[('$KERNEL/build/$V', 'cpu', 'arch', False)]" ]
  [ "$(events "$F" '[sorted(e["artifacts"]) for e in events if e["event"] == "variant-built"][0]')" = \
    "['__init__.py', '_ops.py', '_tiny_cpu_t35t1d.abi3.so', 'metadata.json']" ]
}

@test "build/<variant> has exactly the flat layout of a kernel variant" {
  V=$(variant)
  run ls -A "$KERNEL/build/$V"
  [ "$output" = "$(printf '%s\n' __init__.py _ops.py _tiny_cpu_t35t1d.abi3.so metadata.json)" ]
  grep -q 'torch.ops._tiny_cpu_t35t1d' "$KERNEL/build/$V/_ops.py"
  # Nothing of the out-of-tree build leaks into build/; beside the variant
  # only kb-checkabi's verdict on it (build/.kb-abi, never published).
  [ "$(ls -A "$KERNEL/build")" = "$(printf '%s\n' .kb-abi "$V")" ]
  [ "$(ls -A "$KERNEL/build/.kb-abi")" = "$V.json" ]
}

@test "the default build is linked for manylinux_2_28 and the ABI check finds it portable" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  [ "$(events "$F" '[e["target"] for e in events if e["event"] == "project"]')" = "['manylinux_2_28']" ]
  [ "$(events "$F" '[(e["ok"], e["portable"], e["policy"]) for e in events if e["event"] == "abi-checked"]')" = \
    "[(True, True, 'manylinux_2_28')]" ]
  [ "$(events "$F" '[e["message"] for e in events if e["event"] == "warning"]')" = "[]" ]
  # libstdc++ is private (only operator new/delete are taken from the shared
  # one, at GLIBCXX_3.4) and the flag it reads from glibc 2.32 is defined
  # inside the library instead of imported.
  so="$KERNEL/build/$(variant)/_tiny_cpu_t35t1d.abi3.so"
  run readelf --dyn-syms -W "$so"
  [ "$status" -eq 0 ]
  [[ "$output" != *"GLIBCXX_3.4."* ]]
  [[ "$output" != *"UND __libc_single_threaded"* ]]
}

@test "--target native links plainly: the ABI check reports the toolchain's glibc symbol, non-portable" {
  pipeline "$BATS_FILE_TMPDIR/native" --target native
  F="$BATS_FILE_TMPDIR/native.jsonl"
  [ "$(cat "$BATS_FILE_TMPDIR/native.codes")" = "0 0 0 0" ]
  [ "$(events "$F" '[(e["ok"], e["portable"], e["policy"]) for e in events if e["event"] == "abi-checked"]')" = \
    "[(False, False, 'manylinux_2_28')]" ]
  run events "$F" '[v["symbol"] for e in events if e["event"] == "abi-checked" for f in e["files"] for v in f["violations"]]'
  [[ "$output" == *"__libc_single_threaded@GLIBC_2.32"* ]]
  [ "$(events "$F" '[e["message"] for e in events if e["event"] == "warning"]')" = \
    "['variant $(variant) is not portable: 1 symbol(s) beyond manylinux_2_28']" ]
  # Back to the default for the tests that follow.
  pipeline "$BATS_FILE_TMPDIR/restored"
  [ "$(cat "$BATS_FILE_TMPDIR/restored.codes")" = "0 0 0 0" ]
}

@test "an unknown --target is refused with the accepted values" {
  run "$KB_BIN/kb-genproject" --python "$KB_TEST_PYTHON" --target manylinux_9_99 "$KERNEL"
  [ "$status" -ne 0 ]
  [[ "$output" == *"--target manylinux_9_99: expected \`native\` or a manylinux policy"* ]]
}

@test "variant-packaged carries the metadata.json written to disk, digest included" {
  F="$BATS_FILE_TMPDIR/first.jsonl"
  V=$(variant)
  [ "$(events "$F" '[e for e in events if e["event"] == "variant-packaged"][0]["metadata"] == json.load(open("'"$KERNEL/build/$V/metadata.json"'"))')" = "True" ]
  [ "$(events "$F" '[(e["portable"], e["metadata"]["id"], e["metadata"]["backend"], sorted(e["metadata"]["digest"]["files"])) for e in events if e["event"] == "variant-packaged"]')" = \
    "[(True, '_tiny_cpu_t35t1d', {'type': 'cpu'}, ['__init__.py', '_ops.py', '_tiny_cpu_t35t1d.abi3.so'])]" ]
  # The digest matches the files.
  run "$KB_BIN/kb-metadata" --check-builds "$KERNEL"
  [ "$status" -eq 0 ]
}

@test "the built variant imports and its op adds one" {
  V=$(variant)
  run "$KB_TEST_PYTHON" - "$KERNEL/build/$V" <<'EOF'
import importlib.util, sys, torch
from pathlib import Path
path = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("tiny_t35t1d", path / "__init__.py",
                                              submodule_search_locations=[str(path)])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
x = torch.arange(6, dtype=torch.float32) - 3
print(module.tiny(x).tolist())
EOF
  [ "$status" -eq 0 ]
  [ "$output" = "[-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]" ]
}

@test "a second run finds the variant up to date and leaves its files alone" {
  V=$(variant)
  before=$(stat -c %Y.%i "$KERNEL/build/$V/_tiny_cpu_t35t1d.abi3.so")
  pipeline "$BATS_FILE_TMPDIR/second"
  [ "$(cat "$BATS_FILE_TMPDIR/second.codes")" = "0 0 0 0" ]
  [ "$(events "$BATS_FILE_TMPDIR/second.jsonl" '[e["up_to_date"] for e in events if e["event"] == "variant-built"]')" = "[True]" ]
  [ "$(stat -c %Y.%i "$KERNEL/build/$V/_tiny_cpu_t35t1d.abi3.so")" = "$before" ]
}

@test "kb build prints a summary and exits 0; --strict turns the ABI violation of a native build into a failure" {
  run "$KB_BIN/kb" build "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID"
  [ "$status" -eq 0 ]
  [[ "$output" == *"kb build: tiny v1"* ]]
  [[ "$output" == *"$(variant)"*"up to date"* ]]
  [[ "$output" != *"NOT PORTABLE"* ]]
  [[ "$output" == *"rocm: skipped, no ROCm build of torch found on this machine"* ]]
  run "$KB_BIN/kb" build "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" --target native
  [ "$status" -eq 0 ]
  [[ "$output" == *"$(variant)"*"NOT PORTABLE (1 ABI violation)"* ]]
  run "$KB_BIN/kb" build "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" --target native --strict
  [ "$status" -eq 1 ]
  [[ "$output" == *"is not portable"* ]]
  run "$KB_BIN/kb" build "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" --strict
  [ "$status" -eq 0 ]
}

@test "kb build --json writes the event stream on stdout" {
  out="$BATS_FILE_TMPDIR/json.out"
  "$KB_BIN/kb" build "$KERNEL" --python "$KB_TEST_PYTHON" --unique-id "$UNIQUE_ID" --json >"$out" 2>/dev/null
  [ "$(events "$out" '[e["event"] for e in events][0]')" = "project" ]
  [ "$(events "$out" 'sum(e["event"] == "variant-packaged" for e in events)')" = "1" ]
}

@test "a compile error fails the variant, names it, and keeps the previous build" {
  V=$(variant)
  before=$(sha256sum <"$KERNEL/build/$V/_tiny_cpu_t35t1d.abi3.so")
  src="$KERNEL/tiny_cpu/tiny_cpu.cpp"
  cp "$src" "$BATS_FILE_TMPDIR/good.cpp"
  echo "this is not C++;" >>"$src"
  pipeline "$BATS_FILE_TMPDIR/broken"
  cp "$BATS_FILE_TMPDIR/good.cpp" "$src"
  [ "$(cat "$BATS_FILE_TMPDIR/broken.codes")" = "0 1 1 1" ]
  F="$BATS_FILE_TMPDIR/broken.jsonl"
  [ "$(events "$F" '[(e["tool"], e["variant"]) for e in events if e["event"] == "error"]')" = "[('kb-compile', '$V')]" ]
  run events "$F" '[e["message"] for e in events if e["event"] == "error"][0]'
  [[ "$output" == *"kb-build.log"* ]]
  [[ "$output" == *"tiny_cpu.cpp"* ]]
  [ "$(events "$F" '[(e["tool"], e["success"]) for e in events if e["event"] == "finished"]')" = \
    "[('kb-genproject', True), ('kb-compile', False), ('kb-checkabi', True), ('kb-metadata', True)]" ]
  [ "$(sha256sum <"$KERNEL/build/$V/_tiny_cpu_t35t1d.abi3.so")" = "$before" ]
}

@test "a malformed build.toml is an error at its position and writes nothing" {
  K="$BATS_TEST_TMPDIR/bad"
  mkdir -p "$K"
  printf '[general]\nname = "bad"\nlicense = "MIT"\nbackends = ["cuda"]\nversion = 1\nedition = 5\n\n[torch]\nsrc = []\n\n[kernel.x]\nbackend = "cuda"\nsrc = ["x.cu"]\ncuda-capabilites = ["8.0"]\n' >"$K/build.toml"
  run bash -c "'$KB_BIN/kb-genproject' --python '$KB_TEST_PYTHON' '$K' 2>/dev/null | '$KB_BIN/kb-compile' |
    '$KB_BIN/kb-checkabi' | '$KB_BIN/kb-metadata' >'$BATS_TEST_TMPDIR/out.jsonl'; echo \${PIPESTATUS[*]}"
  # Downstream tools fail too, so a pipeline without pipefail still fails.
  [ "$output" = "1 1 1 1" ]
  run events "$BATS_TEST_TMPDIR/out.jsonl" '[e["message"] for e in events if e["event"] == "error"][0]'
  [[ "$output" == *"build.toml:14:1"* ]]
  [[ "$output" == *'did you mean "cuda-capabilities"'* ]]
  [ "$(ls -A "$K")" = "build.toml" ]
}

@test "a kernel whose only backend has no toolchain is a clean skip" {
  K="$BATS_TEST_TMPDIR/rocmonly"
  "$KB_BIN/kb-init" --name acme/rocmonly --backends rocm "$K" >/dev/null
  run "$KB_BIN/kb" build "$K" --python "$KB_TEST_PYTHON"
  [ "$status" -eq 0 ]
  [[ "$output" == *"rocm: skipped, no ROCm build of torch found on this machine"* ]]
  [[ "$output" == *"nothing to build on this machine"* ]]
  [ ! -e "$K/build" ]
}

@test "kb-compile builds standalone from a kernel directory" {
  run "$KB_BIN/kb-compile" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"KERNEL_DIR"* ]]
  out="$BATS_TEST_TMPDIR/standalone.jsonl"
  KB_PYTHON="$KB_TEST_PYTHON" "$KB_BIN/kb-compile" "$KERNEL" >"$out" </dev/null 2>/dev/null
  [ "$(events "$out" '[(e["tool"], e["variant"]) for e in events if e["event"] == "variant-built"]')" = "[('kb-compile', '$(variant)')]" ]
  [ "$(events "$out" '[e["tool"] for e in events if e["event"] == "finished"]')" = "['kb-genproject', 'kb-compile']" ]
}

@test "a malformed event line is an error naming the line; an upstream failure is forwarded and fails the tool" {
  for tool in kb-compile kb-checkabi kb-metadata; do
    run bash -c "printf '{\"event\":\"project\"}\nnot json\n' | '$KB_BIN/$tool'"
    [ "$status" -eq 1 ]
    [[ "$output" == *'"event":"error","message":"<stdin>:2: not a JSON event: not json"'* ]]
    [[ "$output" == *'"event":"finished"'*'"success":false'* ]]
    run bash -c "printf '{\"event\":\"finished\",\"success\":false,\"tool\":\"up\"}\n' | '$KB_BIN/$tool'"
    [ "$status" -eq 1 ]
    [[ "$output" == *'"tool":"up"'* ]]
  done
}

@test "unknown --variant is an error that lists what this machine builds" {
  run "$KB_BIN/kb-genproject" --python "$KB_TEST_PYTHON" --variant torch999-cxx11-cpu-x86_64-linux "$KERNEL"
  [ "$status" -eq 1 ]
  [[ "$output" == *"--variant torch999-cxx11-cpu-x86_64-linux is not a variant this machine can build (it builds: torch113-cxx11-cpu-x86_64-linux)"* ]]
}

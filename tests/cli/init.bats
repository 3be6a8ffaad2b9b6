#!/usr/bin/env bats
# kb-init: scaffolding a kernel project. KB_BIN names the directory of the kb
# executables.

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  TOOL="$KB_BIN/kb-init"
  WORK="$BATS_TEST_TMPDIR/work"
  mkdir -p "$WORK"
  cd "$WORK"
  # Keep the user's git configuration out of the repositories we inspect.
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
}

# Files staged in the repository at $1, one per line, sorted.
staged() {
  git -C "$1" diff --cached --name-only | sort
}

@test "--help describes the options and exits 0" {
  run "$TOOL" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--name"* ]]
  [[ "$output" == *"--backends"* ]]
  [[ "$output" == *"--license"* ]]
  [[ "$output" == *"--overwrite"* ]]
  [[ "$output" == *"OWNER/REPO"* ]]
}

@test "--name alone scaffolds into ./<display name> and stages everything" {
  run "$TOOL" --name acme/my_relu --backends cpu CUDA
  [ "$status" -eq 0 ]
  [ "$output" = "Initialized \`acme/my-relu\` at $WORK/my-relu" ]
  D="$WORK/my-relu"
  [ -f "$D/build.toml" ]
  [ -f "$D/my_relu_cpu/my_relu_cpu.cpp" ]
  [ -f "$D/my_relu_cuda/my_relu.cu" ]
  [ ! -e "$D/my_relu_metal" ]
  [ -f "$D/torch-ext/my_relu/__init__.py" ]
  [ -f "$D/tests/test_my_relu.py" ]
  [ -f "$D/Makefile" ]
  [ ! -e "$D/flake.nix" ]
  grep -qx 'name = "my-relu"' "$D/build.toml"
  grep -qx 'backends = \["cpu", "cuda"\]' "$D/build.toml"
  grep -qx 'repo-id = "acme/my-relu"' "$D/build.toml"
  grep -qx '\[kernel.my_relu_cpu\]' "$D/build.toml"
  grep -qx '\[kernel.my_relu\]' "$D/build.toml"
  # Every file is staged and nothing is committed.
  [ "$(staged "$D")" = "$(cd "$D" && find . -path ./.git -prune -o -type f -print | sed 's|^\./||' | sort)" ]
  run git -C "$D" rev-parse --verify HEAD
  [ "$status" -ne 0 ]
}

@test "PATH with --name writes into PATH" {
  run "$TOOL" some/dir --name acme/relu --license MIT
  [ "$status" -eq 0 ]
  [ "$output" = "Initialized \`acme/relu\` at $WORK/some/dir" ]
  grep -qx 'license = "MIT"' "$WORK/some/dir/build.toml"
  [ -f "$WORK/some/dir/relu_cuda/relu.cu" ]  # cuda is the default backend
}

@test "a PATH of the form OWNER/REPO names the kernel" {
  run "$TOOL" acme/fast_gelu
  [ "$status" -eq 0 ]
  [ "$output" = "Initialized \`acme/fast-gelu\` at $WORK/fast-gelu" ]
  [ -f "$WORK/fast-gelu/torch-ext/fast_gelu/__init__.py" ]
  grep -q 'class FastGeluBenchmark' "$WORK/fast-gelu/benchmarks/benchmark.py"
}

@test "--backends all lists eight backends and writes five kernels" {
  run "$TOOL" --name acme/relu --backends all
  [ "$status" -eq 0 ]
  grep -qx 'backends = \["cann", "cpu", "cuda", "metal", "neuron", "rocm", "tpu", "xpu"\]' "$WORK/relu/build.toml"
  [ "$(grep -c '^\[kernel\.' "$WORK/relu/build.toml")" -eq 5 ]
  [ -f "$WORK/relu/relu_metal/relu.metal" ]
  [ -f "$WORK/relu/relu_xpu/relu.cpp" ]
}

@test "the card template is written raw" {
  run "$TOOL" --name acme/relu
  [ "$status" -eq 0 ]
  grep -q '{{ repo_id }}' "$WORK/relu/CARD.md"
  grep -q 'license: {{ license }}' "$WORK/relu/CARD.md"
}

@test "without an owner it fails and asks for --name" {
  run "$TOOL" relu
  [ "$status" -eq 1 ]
  [[ "$output" == "Error: "*"--name <owner>/<repo>"* ]]
  [ ! -e "$WORK/relu" ]

  mkdir "$WORK/here" && cd "$WORK/here"
  run "$TOOL"
  [ "$status" -eq 1 ]
  [[ "$output" == *"--name <owner>/<repo>"* ]]
  [ -z "$(ls -A "$WORK/here")" ]
}

@test "a malformed --name is an error" {
  run "$TOOL" --name acme/relu/x
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: `acme/relu/x` must be <owner>/<repo>' ]
  run "$TOOL" --name /relu
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: `/relu` must be <owner>/<repo>' ]
}

@test "usage errors exit 2" {
  run "$TOOL" --name acme/relu --backends cpu gpu
  [ "$status" -eq 2 ]
  [[ "$output" == *"Unknown backend: gpu"* ]]
  [ ! -e "$WORK/relu" ]
  run "$TOOL" --name acme/relu --frobnicate
  [ "$status" -eq 2 ]
  run "$TOOL" --name
  [ "$status" -eq 2 ]
}

@test "existing files are listed and nothing is written" {
  mkdir -p "$WORK/relu/torch-ext"
  echo "# mine" > "$WORK/relu/build.toml"
  echo "// mine" > "$WORK/relu/torch-ext/torch_binding.cpp"
  run "$TOOL" --name acme/relu
  [ "$status" -eq 1 ]
  [[ "$output" == *"build.toml, torch-ext/torch_binding.cpp"* ]]
  [[ "$output" == *"--overwrite"* ]]
  [ "$(cat "$WORK/relu/build.toml")" = "# mine" ]
  [ "$(find "$WORK/relu" -type f | wc -l)" -eq 2 ]
  [ ! -e "$WORK/relu/.git" ]
}

@test "--overwrite replaces scaffold files and keeps the others" {
  mkdir -p "$WORK/relu"
  echo "# mine" > "$WORK/relu/build.toml"
  echo "notes" > "$WORK/relu/NOTES.txt"
  run "$TOOL" --name acme/relu --overwrite
  [ "$status" -eq 0 ]
  grep -qx 'edition = 5' "$WORK/relu/build.toml"
  [ "$(cat "$WORK/relu/NOTES.txt")" = "notes" ]
  staged "$WORK/relu" | grep -qx NOTES.txt
}

@test "running again in an existing repository keeps its history" {
  run "$TOOL" --name acme/relu --backends cpu
  [ "$status" -eq 0 ]
  git -C "$WORK/relu" -c user.name=t -c user.email=t@example.com commit -qm first
  run "$TOOL" --name acme/relu --backends cpu cuda --overwrite
  [ "$status" -eq 0 ]
  [ "$(git -C "$WORK/relu" rev-list --count HEAD)" -eq 1 ]
  [ "$(git -C "$WORK/relu" diff --cached --name-only | sort | tr '\n' ' ')" = "build.toml relu_cuda/relu.cu " ]
}

@test "the project path may follow the --backends values" {
  run "$TOOL" --name acme/relu --backends cpu cuda mykernel
  [ "$status" -eq 0 ]
  [ "$output" = "Initialized \`acme/relu\` at $WORK/mykernel" ]
  grep -qx 'backends = \["cpu", "cuda"\]' "$WORK/mykernel/build.toml"
  run "$TOOL" --name acme/other --backends cpu --backends rocm,cuda
  [ "$status" -eq 0 ]
  grep -qx 'backends = \["cpu", "rocm", "cuda"\]' "$WORK/other/build.toml"
}

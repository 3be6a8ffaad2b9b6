#!/usr/bin/env bash
# GPU checks of kb on a machine with an NVIDIA GPU, CUDA's nvcc and a CUDA
# build of torch, but none of kb's build dependencies (not part of
# `make test`, not registered with ctest).
#
#   on the build machine:  tests/gpu/prepare-carry.sh   # kb tools, libkb.a, .so's, headers -> .devcarry/
#   on the GPU machine:    bash tests/gpu/run-on-device.sh
#                          (in a copy of the checkout that includes .devcarry/)
#
# Checks, in order (each prints PASS/FAIL/SKIP/BLOCKED; a failure does not
# stop the others; summary at the end):
#   toolchain     g++, nvcc, cmake, ninja, the interpreter's torch, the GPU
#   carry-libs    every carried kb tool resolves its libraries
#   kb-build      `kb build` of a scratch copy of examples/relu for this torch
#                 -> torchXY-cxx11-cuNNN-x86_64-linux (and the cpu variant);
#                 kb-checkabi's verdict per variant is printed
#   core-build    kernels._core compiled here for this interpreter against the
#                 carried libkb.a; `import kernels`
#   py-local      get_local_kernel(<copy>) picks the CUDA variant, relu on CUDA
#                 tensors == torch.relu (tests/gpu/check_relu_gpu.py)
#   py-pytest     the example's own tests (examples/relu/tests) on that build,
#                 through LOCAL_KERNELS: the CUDA tests must run and pass
#   py-hub        `kb upload` to a local hub, get_kernel("kb-examples/relu",
#                 version=1) fetches the CUDA variant into a fresh cache, relu on CUDA
#   cpp-build     runtime/src/runtime.cpp + tests/gpu/relu_cuda_app.cpp +
#                 examples/cpp-app/main.cpp against this torch's libtorch
#   cpp-local     relu_cuda_app loads the build (load_local_kernel), CUDA tensors
#   cpp-hub       relu_cuda_app through kb::runtime::get_kernel from the local hub
#   cpp-app-cpu   examples/cpp-app on the cpu variant (CPU tensors)
#   stable-abi    `kb build` of tests/fixtures/kernels/relu-stable-abi for this
#                 torch (>= 2.11, else SKIP) -> torch-stable-abi211-cuNNN, loaded
#                 and run on CUDA tensors (tests/gpu/check_stable_abi_gpu.py)
#
# Environment:
#   PY                interpreter with torch (default python3)
#   OUT               where gpu-check.log and the other results go (default /tmp/kb-gpu-out)
#   KB_GPU_REHEARSAL  1: no GPU here; skip only the checks on CUDA tensors
#   KB_GPU_WORK       scratch directory (default /tmp/kb-gpu-work, emptied first)
#   KB_GPU_CARRY      the carried directory (default <repo>/.devcarry)
#   KB_GPU_EXTRA_PYTHONPATH  appended to PYTHONPATH (e.g. pytest for a rehearsal)
#   CXX               C++ compiler (default g++)
# Exit status: 0 all passed, 1 a check failed, 77 nothing failed but no GPU
# was visible (outside a rehearsal: the CUDA tensor checks were skipped).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CARRY=$(cd "${KB_GPU_CARRY:-$REPO/.devcarry}" 2>/dev/null && pwd || echo "${KB_GPU_CARRY:-$REPO/.devcarry}")
PY=${PY:-python3}
OUT=${OUT:-/tmp/kb-gpu-out}
WORK=${KB_GPU_WORK:-/tmp/kb-gpu-work}
REHEARSAL=${KB_GPU_REHEARSAL:-0}
CXX=${CXX:-g++}
JOBS=$(nproc 2>/dev/null || echo 4)
START=$SECONDS
mkdir -p "$OUT"

declare -a SUMMARY=()
FAILED=0
NO_GPU=0
declare -A OK=()

result() {  # STATUS NAME [DETAIL]
  local line
  line=$(printf '%-8s %-12s %s' "$1" "$2" "${3:-}")
  SUMMARY+=("$line")
  echo "=== $line   [t=$((SECONDS - START))s]"
  case $1 in PASS) OK[$2]=1 ;; FAIL | BLOCKED) FAILED=$((FAILED + 1)) ;; esac
}

# compile_all OBJDIR FLAGS... -- SOURCES...: every source at once, OBJDIR/<name>.o.
compile_all() {
  local dir=$1 flags=() pids=() src rc=0 t0=$SECONDS
  shift
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  for src in "$@"; do
    local obj=$dir/$(basename "$src" .cpp).o
    timeout 400 "$CXX" "${flags[@]}" -c "$src" -o "$obj" >"$obj.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  for src in "$@"; do
    local obj=$dir/$(basename "$src" .cpp).o
    echo "compiled $(basename "$src"): $([ -f "$obj" ] && echo ok || echo FAILED)"
    head -c 6000 "$obj.log"
  done
  echo "($((SECONDS - t0))s)"
  return $rc
}

section() { echo; echo "##### $* [t=$((SECONDS - START))s]"; }

# needs NAME PREREQ...: BLOCKED unless every prerequisite passed.
needs() {
  local name=$1 p
  shift
  for p in "$@"; do
    if [ -z "${OK[$p]:-}" ]; then
      result BLOCKED "$name" "needs $p"
      return 1
    fi
  done
}

# For an exit status of a check that may skip on a machine without a GPU.
gpu_status() {  # NAME STATUS DETAIL
  case $2 in
    0) result PASS "$1" "$3" ;;
    77) NO_GPU=1; OK[$1]=1; result SKIP "$1" "no CUDA device visible; $3" ;;
    *) result FAIL "$1" "exit $2; $3" ;;
  esac
}

main() {
  echo "kb GPU checks: repo $REPO, carry $CARRY, work $WORK, out $OUT, rehearsal=$REHEARSAL, jobs $JOBS"
  [ -f "$CARRY/PROVENANCE" ] && sed 's/^/carry: /' "$CARRY/PROVENANCE"
  rm -rf "$WORK"
  mkdir -p "$WORK"
  # No state of this machine's user: caches, git config, hub tokens.
  export XDG_CACHE_HOME=$WORK/xdg-cache HF_HOME=$WORK/hf KERNELS_CACHE=$WORK/kernels-cache
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
  local ORIG_PYTHONPATH=${PYTHONPATH:-}
  unset LOCAL_KERNELS KB_HUB HF_HUB_OFFLINE KB_PYTHON PYTHONPATH
  local KB=$CARRY/bin/kb

  # ------------------------------------------------------------ toolchain
  section toolchain
  uname -a
  (. /etc/os-release 2>/dev/null && echo "os: $PRETTY_NAME")
  ldd --version 2>&1 | head -1
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  # The image's interpreter with torch, if python3 on PATH is another one.
  if ! "$PY" -c 'import torch' 2>/dev/null && [ -x /opt/torch/.venv/bin/python3 ]; then
    echo "$PY cannot import torch: using /opt/torch/.venv/bin/python3"
    PY=/opt/torch/.venv/bin/python3
  fi
  PY=$(command -v "$PY" || echo "$PY")
  # cmake and ninja may be pip packages beside the interpreter; nvcc in /usr/local/cuda.
  export PATH="$PATH:$(dirname "$PY")"
  command -v nvcc >/dev/null || [ ! -x /usr/local/cuda/bin/nvcc ] || export PATH="$PATH:/usr/local/cuda/bin"
  local missing=()
  command -v "$CXX" >/dev/null || missing+=("$CXX (C++ compiler)")
  for tool in nvcc cmake ninja; do command -v $tool >/dev/null || missing+=($tool); done
  "$CXX" --version 2>&1 | head -1
  nvcc --version 2>&1 | tail -2 | head -1
  cmake --version 2>&1 | head -1
  echo "ninja $(ninja --version 2>&1)"
  local facts
  if ! facts=$("$PY" - <<'EOF'
import os, platform, sys, sysconfig
import torch
cuda = torch.version.cuda
abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
major, minor = torch.__version__.split("+")[0].split(".")[:2]
variant = f"torch{major}{minor}-{'cxx11' if abi else 'cxx98'}-cu{cuda.replace('.', '') if cuda else 'NONE'}-{platform.machine()}-linux"
cpu_variant = f"torch{major}{minor}-{'cxx11' if abi else 'cxx98'}-cpu-{platform.machine()}-linux"
print(f"TORCH_DIR={os.path.dirname(torch.__file__)}")
print(f"TORCH_ABI={abi}")
print(f"CUDA_VARIANT={variant}")
print(f"CPU_VARIANT={cpu_variant}")
print(f"EXT_SUFFIX={sysconfig.get_config_var('EXT_SUFFIX')}")
print(f"PY_INCLUDE={sysconfig.get_paths()['include']}")
print(f"GPU={int(torch.cuda.is_available())}")
print(f"# python {sys.version.split()[0]} at {sys.executable}; torch {torch.__version__} cuda {cuda} "
      f"cxx11abi {abi}; cuda available {torch.cuda.is_available()}"
      + (f"; {torch.cuda.get_device_name()} cc {torch.cuda.get_device_capability()}" if torch.cuda.is_available() else ""))
EOF
  ); then
    missing+=("$PY with torch")
  fi
  echo "$facts"
  eval "$(grep -v '^#' <<<"$facts")"
  : "${TORCH_DIR:=} ${CUDA_VARIANT:=} ${CPU_VARIANT:=} ${EXT_SUFFIX:=} ${PY_INCLUDE:=} ${GPU:=0} ${TORCH_ABI:=1}"
  [ -x "$KB" ] || missing+=("$KB (run tests/gpu/prepare-carry.sh and carry .devcarry)")
  if [ "$REHEARSAL" != 1 ] && [ "$GPU" != 1 ]; then
    echo "WARNING: torch sees no CUDA device: the CUDA tensor checks will be skipped"
  fi
  if [ ${#missing[@]} = 0 ]; then
    result PASS toolchain "expect variant $CUDA_VARIANT"
  else
    result FAIL toolchain "missing: ${missing[*]}"
  fi
  # Only the kernels._core build needs the interpreter's headers.
  if [ -f "$PY_INCLUDE/Python.h" ]; then
    OK[python-dev]=1
  else
    result FAIL python-dev "no Python.h in '$PY_INCLUDE' (python3.X-dev missing?)"
  fi

  # ----------------------------------------------------------- carry-libs
  section carry-libs
  local unresolved
  unresolved=$(for f in "$CARRY"/bin/*; do ldd "$f" 2>&1 | sed -n "s#^\s*\(.*not found\)#$(basename "$f"): \1#p"; done)
  if [ -x "$KB" ] && [ -z "$unresolved" ] && "$KB" --version; then
    result PASS carry-libs
  else
    echo "$unresolved"
    result FAIL carry-libs "unresolved libraries"
  fi

  # -------------------------------------------- background: core + C++ objects
  # They do not depend on the kernel build: compiled while it runs.
  local PKG=$WORK/python DEFS
  local version api
  version=$(sed -n 's/^project(kb VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
  api=$(sed -n 's/^set(KB_KERNELS_API_VERSION \([0-9.]*\))/\1/p' "$REPO/CMakeLists.txt")
  DIST_VERSION="$api+kb.$version"
  DEFS=(-DKB_VERSION=\"$version\" -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1)
  # kb's third-party headers come from the carry only (-I before the system dirs).
  local INCS=(-I"$REPO" -I"$CARRY/include")
  local PYBIND_INCS
  if PYBIND_INCS=$("$PY" -m pybind11 --includes 2>/dev/null); then
    echo "pybind11: $("$PY" -m pybind11 --version 2>/dev/null) ($PYBIND_INCS)"
  else
    # torch bundles pybind11's headers.
    PYBIND_INCS="-isystem $PY_INCLUDE -isystem $TORCH_DIR/include"
    echo "pybind11 module not in $PY: using torch's bundled headers ($PYBIND_INCS)"
  fi
  local PYBIND=()
  read -r -a PYBIND <<<"$PYBIND_INCS"
  local CORE_FLAGS=(-std=c++20 -O2 -fPIC -fvisibility=hidden "${DEFS[@]}"
    -DKB_KERNELS_DIST_VERSION=\"$DIST_VERSION\" "${INCS[@]}" "${PYBIND[@]}")
  local CPP_FLAGS=(-std=c++20 -O1 -fPIC -D_GLIBCXX_USE_CXX11_ABI="$TORCH_ABI" "${DEFS[@]}"
    -DKB_DEFAULT_KERNEL=\"$WORK/relu\" -I"$REPO/runtime/include" "${INCS[@]}"
    -isystem "$TORCH_DIR/include" -isystem "$TORCH_DIR/include/torch/csrc/api/include")
  mkdir -p "$WORK/obj/core" "$WORK/obj/cpp" "$PKG"
  echo "core flags: $CXX ${CORE_FLAGS[*]}"
  echo "cpp flags: $CXX ${CPP_FLAGS[*]}"
  compile_all "$WORK/obj/core" "${CORE_FLAGS[@]}" -- "$REPO"/python/src/*.cpp >"$WORK/core-compile.log" 2>&1 &
  local core_pid=$!
  compile_all "$WORK/obj/cpp" "${CPP_FLAGS[@]}" -- "$REPO/runtime/src/runtime.cpp" \
    "$REPO/tests/gpu/relu_cuda_app.cpp" "$REPO/examples/cpp-app/main.cpp" >"$WORK/cpp-compile.log" 2>&1 &
  local cpp_pid=$!

  # -------------------------------------------------------------- kb-build
  section kb-build
  local W=$WORK/relu
  # The tracked files of examples/relu (what a copy of the checkout holds).
  cp -r "$REPO/examples/relu" "$W"
  (cd "$W" && rm -rf build _cmake_build CMakeLists.txt setup.py pyproject.toml cmake metadata-*.json \
    torch-ext/registration.h torch-ext/relu/_ops.py && find . -name __pycache__ -prune -exec rm -rf {} +)
  # kb build's generated project and CMake trees (logs included).
  export KB_SCRATCH_DIR="$WORK/scratch"
  if needs kb-build toolchain carry-libs; then
    local rc
    timeout 420 "$KB" build "$W" --python "$PY" -j 2 --json >"$OUT/kb-build.jsonl" 2>"$WORK/kb-build.err"
    rc=$?
    cat "$WORK/kb-build.err"
    "$PY" - "$OUT/kb-build.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    ev = e.get("event")
    if ev == "abi-checked":
        v = [f"{f.get('file')}: {x.get('symbol')} ({x.get('detail')})" for f in e.get("files", []) for x in f.get("violations", [])]
        print(f"checkabi verdict: {e.get('variant')}: {'portable' if e.get('portable') else 'NOT PORTABLE'} "
              f"(policy {e.get('policy')}, python abi {e.get('python_abi')}){': ' if v else ''}{'; '.join(v)[:600]}")
    elif ev in ("variant-skipped", "error", "warning"):
        print(f"{ev}: {json.dumps({k: v for k, v in e.items() if k not in ('event',)})[:400]}")
    elif ev in ("variant-built", "variant-packaged", "finished"):
        print(f"{ev}: {e.get('tool', '')} {e.get('variant', '')} success={e.get('success', '')}")
EOF
    ls "$W/build" 2>/dev/null
    if [ $rc = 0 ] && [ -f "$W/build/$CUDA_VARIANT/metadata.json" ] && ls "$W/build/$CUDA_VARIANT"/*.so >/dev/null 2>&1; then
      result PASS kb-build "$CUDA_VARIANT built"
      cp "$W/build/$CUDA_VARIANT/metadata.json" "$OUT/metadata-cuda.json"
    else
      result FAIL kb-build "exit $rc; $CUDA_VARIANT $( [ -d "$W/build/$CUDA_VARIANT" ] && echo incomplete || echo missing)"
      for log in "$WORK"/scratch/*/cmake/*/*.log; do
        [ -f "$log" ] && { echo "--- tail $log"; tail -40 "$log"; }
      done
    fi
    [ -f "$W/build/$CPU_VARIANT/metadata.json" ] && OK[cpu-variant]=1
    (cd "$WORK" && tar czf "$OUT/kb-build-logs.tar.gz" scratch/*/cmake/*/*.log relu/build/CARD.md 2>/dev/null)
    echo "--- kb variants $W"
    KB_PYTHON=$PY timeout 60 "$KB" variants "$W" 2>&1 | head -30
  fi

  # ------------------------------------------------------------ core-build
  section core-build
  wait $core_pid
  local core_rc=$?
  cat "$WORK/core-compile.log"
  if needs core-build toolchain python-dev; then
    mkdir -p "$PKG/kernels-$DIST_VERSION.dist-info"
    cp -r "$REPO/python/kernels" "$PKG/"
    printf 'Metadata-Version: 2.1\nName: kernels\nVersion: %s\nSummary: Load compute kernels for PyTorch built by kb\n' \
      "$DIST_VERSION" >"$PKG/kernels-$DIST_VERSION.dist-info/METADATA"
    printf 'kernels\n' >"$PKG/kernels-$DIST_VERSION.dist-info/top_level.txt"
    local CORE=$PKG/kernels/_core$EXT_SUFFIX
    local LINK_LIBS=("$CARRY/lib/libkb.a" "$CARRY/lib/libtomlplusplus.so.3" "$CARRY/lib/libcrypto.so.3"
      "$CARRY/lib/libcurl.so.4" "$CARRY/lib/libgit2.so.1.5" "$CARRY/lib/libLIEF.so.0")
    local stage=compile undefined
    if [ $core_rc = 0 ] && stage=link &&
      "$CXX" -shared -o "$CORE" "$WORK"/obj/core/*.o -Wl,--as-needed "${LINK_LIBS[@]}" \
        -Wl,-rpath,"$CARRY/lib" -Wl,-rpath-link,"$CARRY/lib" -pthread &&
      stage=ldd && ldd "$CORE" && ! ldd "$CORE" | grep 'not found' &&
      stage="libkb symbols" && undefined=$(nm -D --undefined-only "$CORE" | c++filt | grep ' kb::' | head -5 || true) &&
      { [ -z "$undefined" ] || { echo "undefined in $CORE: $undefined"; false; }; } &&
      stage=import && PYTHONPATH=$PKG "$PY" -c 'import kernels, kernels._core as c; print("import kernels", kernels.__version__, c.__file__)'; then
      result PASS core-build "$(basename "$CORE")"
    else
      local hint=""
      [ "$stage" = "libkb symbols" ] && hint=": the carried libkb.a is older than python/src (rebuild, rerun prepare-carry.sh)"
      result FAIL core-build "failed at $stage$hint"
    fi
  fi
  export PYTHONPATH=$PKG${KB_GPU_EXTRA_PYTHONPATH:+:$KB_GPU_EXTRA_PYTHONPATH}${ORIG_PYTHONPATH:+:$ORIG_PYTHONPATH}

  # -------------------------------------------------------------- py-local
  section py-local
  if needs py-local kb-build core-build; then
    timeout 180 "$PY" "$REPO/tests/gpu/check_relu_gpu.py" local "$W" "$CUDA_VARIANT"
    gpu_status py-local $? "get_local_kernel -> $CUDA_VARIANT"
  fi

  # ------------------------------------------------------------- py-pytest
  section py-pytest
  if needs py-pytest kb-build core-build; then
    if ! "$PY" -c 'import pytest' 2>/dev/null; then
      result SKIP py-pytest "pytest is not importable by $PY"
    else
      local log=$WORK/pytest.log rc passed
      LOCAL_KERNELS="kb-examples/relu=$W" timeout 300 "$PY" -m pytest -q -p no:cacheprovider -rs "$W/tests" 2>&1 | tee "$log" | tail -25
      rc=${PIPESTATUS[0]}
      passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | cut -d' ' -f1)
      if [ $rc != 0 ]; then
        result FAIL py-pytest "exit $rc: $(tail -1 "$log")"
      elif [ "$REHEARSAL" = 1 ] || [ "$GPU" != 1 ]; then
        [ "$GPU" != 1 ] && [ "$REHEARSAL" != 1 ] && NO_GPU=1
        result PASS py-pytest "no GPU: $(tail -1 "$log")"
      elif [ "${passed:-0}" -ge 25 ]; then
        result PASS py-pytest "$(tail -1 "$log")"
      else
        result FAIL py-pytest "too few CUDA tests ran: $(tail -1 "$log")"
      fi
    fi
  fi

  # ---------------------------------------------------------------- py-hub
  section py-hub
  local HUB=local:$WORK/hub
  if needs py-hub kb-build core-build; then
    if KB_HUB=$HUB timeout 120 "$KB" upload "$W" --allow-nonportable -q; then
      OK[upload]=1
      find "$WORK/hub" -maxdepth 2 | sed 's/^/hub: /'
      KB_HUB=$HUB KERNELS_CACHE=$WORK/cache-py timeout 180 \
        "$PY" "$REPO/tests/gpu/check_relu_gpu.py" get kb-examples/relu "$CUDA_VARIANT"
      local rc=$?
      if [ $rc = 0 ] || [ $rc = 77 ]; then
        find "$WORK/cache-py" -maxdepth 6 -name "torch*" -type d | sed 's/^/cached: /'
        if ! find "$WORK/cache-py" -type d -name "$CUDA_VARIANT" | grep -q .; then
          rc=1
          echo "$CUDA_VARIANT is not in the cache $WORK/cache-py"
        fi
      fi
      gpu_status py-hub $rc "kb upload + get_kernel(kb-examples/relu, version=1) -> $CUDA_VARIANT"
    else
      result FAIL py-hub "kb upload to $HUB failed"
    fi
  fi

  # ------------------------------------------------------------- cpp-build
  section cpp-build
  wait $cpp_pid
  local cpp_rc=$?
  cat "$WORK/cpp-compile.log"
  local APP=$WORK/relu_cuda_app CPPAPP=$WORK/kb-cpp-app-example
  if needs cpp-build toolchain; then
    local TORCH_LIBS=(-L"$TORCH_DIR/lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10)
    [ -f "$TORCH_DIR/lib/libtorch_cuda.so" ] && TORCH_LIBS+=(-ltorch_cuda -lc10_cuda)
    local LINK=("$WORK/obj/cpp/runtime.o" "$CARRY/lib/libkb.a" "$CARRY/lib/libtomlplusplus.so.3"
      "$CARRY/lib/libcrypto.so.3" "$CARRY/lib/libcurl.so.4" "$CARRY/lib/libgit2.so.1.5" "$CARRY/lib/libLIEF.so.0"
      "${TORCH_LIBS[@]}" -Wl,--as-needed -ldl -pthread -Wl,--allow-shlib-undefined
      -Wl,-rpath,"$TORCH_DIR/lib:$CARRY/lib" -Wl,-rpath-link,"$CARRY/lib")
    if [ $cpp_rc = 0 ] &&
      "$CXX" -o "$APP" "$WORK/obj/cpp/relu_cuda_app.o" "${LINK[@]}" &&
      "$CXX" -o "$CPPAPP" "$WORK/obj/cpp/main.o" "${LINK[@]}" &&
      ! ldd "$APP" | grep 'not found'; then
      result PASS cpp-build "relu_cuda_app, kb-cpp-app-example"
    else
      result FAIL cpp-build "compile exit $cpp_rc (see above)"
    fi
  fi
  local NOGPU=()
  [ "$REHEARSAL" = 1 ] && NOGPU=(--no-gpu)

  # ------------------------------------------------------------- cpp-local
  section cpp-local
  if needs cpp-local cpp-build kb-build; then
    timeout 120 "$APP" --path "$W" --expect "$CUDA_VARIANT" "${NOGPU[@]}"
    gpu_status cpp-local $? "load_local_kernel -> $CUDA_VARIANT"
  fi

  # --------------------------------------------------------------- cpp-hub
  section cpp-hub
  if needs cpp-hub cpp-build upload; then
    KB_HUB=$HUB KERNELS_CACHE=$WORK/cache-cpp timeout 120 \
      "$APP" --hub kb-examples/relu --version 1 --expect "$CUDA_VARIANT" "${NOGPU[@]}"
    gpu_status cpp-hub $? "kb::runtime::get_kernel(kb-examples/relu, version 1) -> $CUDA_VARIANT"
  fi

  # ----------------------------------------------------------- cpp-app-cpu
  section cpp-app-cpu
  if needs cpp-app-cpu cpp-build cpu-variant; then
    if timeout 120 "$CPPAPP" "$W/build/$CPU_VARIANT"; then
      result PASS cpp-app-cpu "$CPU_VARIANT on CPU tensors"
    else
      result FAIL cpp-app-cpu "exit $?"
    fi
  fi

  # ------------------------------------------------------------ stable-abi
  section stable-abi
  if needs stable-abi core-build; then
    # torchXY-cxx11-cuNNN-<cpu>-linux -> torch-stable-abi211-cuNNN-<cpu>-linux
    local SW=$WORK/relu-stable-abi stable_variant="torch-stable-abi211-${CUDA_VARIANT#*-cxx11-}"
    if ! "$PY" -c 'import sys, torch; sys.exit(0 if tuple(map(int, torch.__version__.split("+")[0].split(".")[:2])) >= (2, 11) else 1)'; then
      result SKIP stable-abi "torch is older than the stable ABI 2.11"
    else
      cp -r "$REPO/tests/fixtures/kernels/relu-stable-abi" "$SW"
      if timeout 600 "$KB" build "$SW" --python "$PY" --backend cuda -j "$JOBS"; then
        timeout 180 "$PY" "$REPO/tests/gpu/check_stable_abi_gpu.py" "$SW" "$stable_variant"
        gpu_status stable-abi $? "$stable_variant on CUDA tensors"
      else
        result FAIL stable-abi "kb build of relu-stable-abi failed"
      fi
    fi
  fi

  # --------------------------------------------------------------- summary
  section summary
  printf '%s\n' "${SUMMARY[@]}" | tee "$OUT/summary.txt"
  local verdict
  if [ $FAILED -gt 0 ]; then
    verdict="FAILED ($FAILED not passed)"
  elif [ $NO_GPU = 1 ]; then
    verdict="PASSED, but no GPU was visible: CUDA tensor checks skipped"
  elif [ "$REHEARSAL" = 1 ]; then
    verdict="PASSED (rehearsal: CUDA tensor checks skipped)"
  else
    verdict="PASSED"
  fi
  echo "kb GPU checks: $verdict in $((SECONDS - START))s" | tee -a "$OUT/summary.txt"
  [ $FAILED -gt 0 ] && return 1
  [ $NO_GPU = 1 ] && return 77
  return 0
}

main 2>&1 | tee "$OUT/gpu-check.log"
exit "${PIPESTATUS[0]}"

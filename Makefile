# kb — top-level entry points. `make demo` and `make test` work on a fresh
# Debian 12 machine: they install what is missing, build, then run.
PREFIX ?= /usr/local
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps cuda-torch tvm-ffi test-tools configure build install test test-unit test-cli test-examples test-asan test-tsan fuzz-build test-fuzz fuzz demo clean

all: build

deps:
	@scripts/install-deps.sh

# A CUDA build of torch from PyPI in a cached virtual environment, so the CUDA
# variants compile and link here (no GPU needed). Never reinstalled when present.
cuda-torch:
	@scripts/setup-cuda-torch.sh

# PyPI's apache-tvm-ffi (pinned) and numpy in a cached, torch-free virtual
# environment: kb builds tvm-ffi kernels with it and the tests load them in it.
tvm-ffi:
	@scripts/setup-tvm-ffi-venv.sh

# The real Hugging Face clients (huggingface_hub, the PyPI kernels package),
# pinned, in cached virtual environments for the compatibility tests (kernels
# 0.17.2 with auditwheel, 0.16.2, and 0.19.1 over the CUDA torch environment),
# transformers over the CUDA torch environment for the torch 2.x layer tests,
# and PyPI sigstore for the signature agreement tests; test-only, never a
# dependency of kb. Never reinstalled when present.
test-tools: cuda-torch
	@scripts/setup-test-tools.sh
	@scripts/setup-sigstore-venv.sh
	@scripts/setup-transformers-venv.sh
	@KB_TEST_TOOLS_VENV=$(HOME)/.cache/kb/kernels-0.16-venv KB_TEST_TOOLS_KERNELS_VERSION=0.16.2 \
	  KB_TEST_TOOLS_AUDITWHEEL_VERSION= scripts/setup-test-tools.sh
	@KB_TEST_TOOLS_VENV=$(HOME)/.cache/kb/kernels-0.19-venv KB_TEST_TOOLS_KERNELS_VERSION=0.19.1 \
	  KB_TEST_TOOLS_AUDITWHEEL_VERSION= KB_TEST_TOOLS_TORCH_VENV=$(HOME)/.cache/kb/cuda-torch-venv scripts/setup-test-tools.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DKB_WERROR=ON $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# Every suite: unit (GoogleTest), CLI (bats), Python (pytest) and the example
# kernels, all through ctest so one summary closes the run. The environments
# come before the build: configuring finds tvm-ffi in its environment (the
# tvm-ffi C++ runtime and its tests are built only then).
test: deps cuda-torch tvm-ffi build test-tools
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)
	@$(MAKE) --no-print-directory test-fuzz

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

test-cli: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L cli

test-examples: build cuda-torch
	cd $(BUILD_DIR) && ctest --output-on-failure -L example

# The unit, CLI and runtime suites again, every kb target built with
# AddressSanitizer and UndefinedBehaviorSanitizer in its own tree (no Python
# extension: an uninstrumented interpreter cannot load it). A finding fails
# its test. The runtime tests on examples/relu use the build `make test` made
# (skipped without it); the installed-package test links an uninstrumented
# program and is left out, and so is cli/init-build, which loads the kernels
# it builds through the Python package this tree does not have.
ASAN_BUILD_DIR ?= build-asan
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DKB_WERROR=ON -DKB_SANITIZE=ON -DKB_BUILD_PYTHON=OFF >/dev/null
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|cli|runtime' -E '^example/|installed-package|cli/init-build' \
	    -FS 'example_.*' $(CTEST_FLAGS)

# The libFuzzer targets (fuzz/) in their own clang tree, every kb object built
# with coverage, AddressSanitizer and UBSan. `make test` runs each target's committed inputs
# (tests/fuzz/<target>/) and a FUZZ_SMOKE_SECONDS fuzzing run of each; `make
# fuzz` fuzzes each for FUZZ_SECONDS, growing the corpus kept in
# $(FUZZ_BUILD_DIR)/fuzz/corpus/. Findings land in $(FUZZ_BUILD_DIR)/fuzz/findings/.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_SECONDS ?= 300
fuzz-build: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DKB_FUZZ=ON -DKB_BUILD_TESTS=OFF \
	  -DKB_BUILD_PYTHON=OFF -DKB_FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) >/dev/null
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target kb_fuzz_targets

test-fuzz: fuzz-build
	cd $(FUZZ_BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L fuzz
	@cat $(FUZZ_BUILD_DIR)/fuzz/reports/*.txt

fuzz: fuzz-build
	@status=0; for seeds in $(FUZZ_BUILD_DIR)/fuzz/*.seeds; do \
	  name=$$(basename $$seeds .seeds); \
	  KB_FUZZ_DIR=$(CURDIR)/$(FUZZ_BUILD_DIR)/fuzz KB_FUZZ_INPUTS=$(CURDIR)/tests/fuzz/$$name \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
	    fuzz/run-target.sh $$name $(FUZZ_SECONDS) || status=1; \
	done; exit $$status

# ThreadSanitizer over the concurrent parts: the cache (blob locks, parallel
# stores), parallel downloads, the HTTP client, the work queue and kb-compile's
# workers, in a tree of their own (GCC, -O1).
TSAN_BUILD_DIR ?= build-tsan
TSAN_TESTS ?= WorkQueue*:Cache*:Install*:HttpClient*:LockHubTest*:Compile*:RepoFolder*
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DKB_SANITIZE_THREAD=ON -DKB_BUILD_PYTHON=OFF \
	  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 >/dev/null
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target kb_unit_tests kb-compile
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  $(TSAN_BUILD_DIR)/bin/kb_unit_tests --gtest_filter='$(TSAN_TESTS)'

demo: build cuda-torch
	scripts/demo.sh

# The examples' scratch directories (generated projects, CMake trees) go too.
clean:
	for d in examples/*/build.toml; do \
	  d=$${d%/build.toml}; rm -rf "$$d/build"; \
	  if [ -x $(BUILD_DIR)/bin/kb ]; then s=$$($(BUILD_DIR)/bin/kb scratch-dir "$$d") && rm -rf "$$s"; fi; \
	done
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR) $(TSAN_BUILD_DIR)

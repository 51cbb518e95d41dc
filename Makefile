# vector_ops: the two commands of the quick start, and a few more.
#
#   make demo    install what is missing, build, run the semantic-search demo
#   make test    install what is missing, build, run every C++ and Python test
#
# Both are safe to run again. What they install, and from where, is in
# mk/bootstrap.mk; this file builds and tests.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

include mk/bootstrap.mk
include mk/packaging.mk
include mk/platforms.mk

BUILD ?= build
BUILDTYPE ?= release
# Warnings are errors in CI (CI=true), not on users' machines.
WERROR := $(if $(filter true 1 yes,$(CI)),true,false)

# The library and the uninstalled Python package of a build directory
# (meson puts the package in <build>/python).
py_env = VECTOR_OPS_LIBRARY="$(abspath $(1))/src/libvector_ops.so.0" PYTHONPATH="$(abspath $(1))/python"
DEMO_ENV := $(call py_env,$(BUILD))

.PHONY: help build test demo lint format clean

help:
	@echo "make demo   - install what is missing, build, run the demo"
	@echo "make test   - install what is missing, build, run all C++ and Python tests"
	@echo "make lint   - clang-format and ruff checks"
	@echo "make bench  - benchmarks against numpy, scikit-learn, faiss, NumKong (bench/)"
	@echo "make test-simd-levels - the Python suite once per SIMD level this CPU runs"
	@echo "make test-asan - the C++ and Python suites under ASan+UBSan"
	@echo "make fuzz   - libFuzzer over the C API for FUZZ_SECONDS (default 60)"
	@echo "make valgrind - the doctest suite under valgrind memcheck"
	@echo "make format - apply clang-format and ruff format"
	@echo "make abi-check / abi-baseline / deb / test-deb - packaging (README: For packagers)"
	@echo "make test-aarch64 - cross-build for aarch64, run the C++ tests under qemu-user (QEMU_CPUS)"
	@echo "make wheel  - manylinux_2_28 wheels (x86_64, aarch64) in dist/, checked by auditwheel"
	@echo "make test-wheel-compat - pytest against the wheel in Debian 11 and 13 chroots (root)"
	@echo "make clean  - remove the build directory (keeps .venv)"

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

demo: build
	$(DEMO_ENV) "$(VENV_BIN)/python" examples/semantic_search.py

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
# e.g. make bench BENCH_ARGS=--quick. EMBEDDINGS: a directory of real
# embeddings (base.npy, queries.npy) for the recall of the lowp family; by
# default ../shared/data/minilm-pypi when it exists (a user's clone has none:
# the recall is then left out).
BENCH_ARGS ?=
EMBEDDINGS ?= $(wildcard ../shared/data/minilm-pypi)

.PHONY: bench

bench: build $(BENCH_STAMP)
	unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; \
	  $(DEMO_ENV) VO_BENCH="$(abspath $(BUILD))/bench/vo_bench" \
	  "$(VENV_BIN)/python" bench/run.py --build-dir "$(BUILD)" \
	  $(if $(EMBEDDINGS),--embeddings "$(EMBEDDINGS)") $(BENCH_ARGS)

# ---- reliability: sanitizers, fuzzing, valgrind --------------------------------
# make test-asan  $(ASAN_BUILD): AddressSanitizer + UndefinedBehaviorSanitizer
#                 (GCC, -fno-sanitize-recover). Runs the doctest suite, the
#                 fuzz harness over its seed corpus and generated inputs, and the
#                 pytest suite with the sanitized library preloaded (CPython
#                 leaks by design: leak checks are off there only).
# make fuzz       $(FUZZ_BUILD): libFuzzer (the clang Debian provides) over the
#                 C API for FUZZ_SECONDS; new inputs collect in
#                 $(FUZZ_BUILD)/corpus, a failing input lands in
#                 $(FUZZ_BUILD)/artifacts/. Seeded with tests/fuzz/corpus,
#                 not corpus-big (inputs with several threads' work, replayed
#                 by test and test-asan: seeded, their mutants took most of
#                 the time); -entropic_scale_per_exec_time=1 has libFuzzer
#                 mutate slow inputs less often (a big input costs hundreds
#                 of small ones; small shapes are where the bugs are).
# make valgrind   memcheck of the doctest binary of $(BUILD). Valgrind 3.19
#                 does not advertise AVX-512, so the library runs AVX2 there by
#                 itself. Its x87 emulation computes long double in double
#                 precision: the doctest cases whose references need the
#                 80-bit range (VALGRIND_EXCLUDE: the cdist special rows, and
#                 the f16/bf16 rows whose sums exceed float range) are skipped.
#                 --fair-sched=yes: valgrind runs one thread at a time, and its
#                 default lock lets a busy thread re-take it at once, so the
#                 fork-while-computing case could starve its forking thread
#                 until the timeout (CI, 2026-12-02); the ticket lock is fair.
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_GENERATED ?= 4000
VALGRIND_EXCLUDE ?= cdist special rows*,f16 and bf16 edge rows*
SANITIZE_ARGS := -fno-sanitize-recover=all
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
	  tests/fuzz/corpus-big --generated $(FUZZ_GENERATED)
	@echo "pytest with $(ASAN_BUILD)/src/libvector_ops.so.0 and libasan preloaded"
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
	  ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(call py_env,$(ASAN_BUILD)) \
	  "$(VENV_BIN)/python" -m pytest tests/python -q -p no:cacheprovider

$(FUZZ_BUILD)/build.ninja: | $(DEPS_STAMP)
	CC=clang CXX=clang++ meson setup "$(FUZZ_BUILD)" --buildtype=debugoptimized -Dfuzz=true \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dexamples=false -Dpython=disabled \
	  -Dcpp_args="['-fsanitize=fuzzer-no-link','$(SANITIZE_ARGS)']" \
	  -Dc_args="['-fsanitize=fuzzer-no-link','$(SANITIZE_ARGS)']"

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-deps
	@$(MAKE) --no-print-directory "$(FUZZ_BUILD)/build.ninja"
	meson compile -C "$(FUZZ_BUILD)" tests/fuzz/fuzz_api
	@mkdir -p "$(FUZZ_BUILD)/corpus" "$(FUZZ_BUILD)/artifacts"
	"$(FUZZ_BUILD)/tests/fuzz/fuzz_api" "$(FUZZ_BUILD)/corpus" tests/fuzz/corpus \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
	  -entropic_scale_per_exec_time=1 \
	  -artifact_prefix="$(FUZZ_BUILD)/artifacts/" 2>&1 | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'

valgrind: build
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES=valgrind
	timeout 900 valgrind --fair-sched=yes --error-exitcode=1 -q "$(BUILD)/tests/cpp/vo_doctest" \
	  --test-case-exclude="$(VALGRIND_EXCLUDE)"

# ---- every SIMD level ---------------------------------------------------------
# make test-simd-levels: the pytest suite (without the slow packaging tests)
# once per SIMD level, forced with VECTOR_OPS_SIMD. The levels come from the
# library: those it was built with, run when this CPU can, a SKIPPED line for
# each it cannot. About a minute per level on 2 cores. PYTEST_ARGS passes
# options to pytest.
PYTEST_ARGS ?=

.PHONY: test-simd-levels

test-simd-levels: build
	@levels() { $(DEMO_ENV) "$(VENV_BIN)/python" -c \
	    "import vector_ops_ffi as vo; print(*vo.simd_levels($${1-}))"; }; \
	built=$$(levels); runnable=$$(levels runnable=True); \
	echo "SIMD levels built: $$built; this CPU runs: $$runnable"; \
	rc=0; \
	for level in $$built; do \
	  case " $$runnable " in *" $$level "*) ;; \
	    *) echo "SKIPPED: VECTOR_OPS_SIMD=$$level (this CPU cannot run $$level)"; continue;; esac; \
	  got=$$(VECTOR_OPS_SIMD=$$level $(DEMO_ENV) "$(VENV_BIN)/python" -c \
	    'import vector_ops_ffi as vo; print(vo.simd_level())'); \
	  if [ "$$got" != "$$level" ]; then \
	    echo "FAILED: VECTOR_OPS_SIMD=$$level runs as $$got"; rc=1; continue; \
	  fi; \
	  echo "== VECTOR_OPS_SIMD=$$level"; \
	  VECTOR_OPS_SIMD=$$level $(DEMO_ENV) "$(VENV_BIN)/python" -m pytest tests/python \
	    -m "not slow" -q -p no:cacheprovider $(PYTEST_ARGS) || rc=1; \
	done; \
	exit $$rc

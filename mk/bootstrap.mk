# Bootstrap: what `make demo` and `make test` install when it is missing.
# Debian/Ubuntu packages come from apt (as root; otherwise the exact command
# is printed), Python packages from PyPI into $(VENV). The Python list is
# pyproject.toml's (scripts/requirements.py reads it): the pip step reruns when
# that file changes, not when a Makefile does. Nothing else is downloaded.

VENV ?= .venv
PYTHON ?= python3

APT_PACKAGES := g++ gcc pkg-config libxsimd-dev doctest-dev clang-format python3-venv
# Groups of pyproject.toml: build = [build-system].requires,
# runtime = [project].dependencies, the rest are extras.
PIP_GROUPS := build runtime test dask dev

VENV_BIN := $(abspath $(VENV))/bin
export PATH := $(VENV_BIN):$(PATH)
DEPS_STAMP := $(VENV)/.vector_ops-deps
BENCH_STAMP := $(VENV)/.vector_ops-bench-deps
REQUIREMENTS := scripts/requirements.py

.PHONY: deps apt-deps fuzz-deps

# make apt-deps APT_PACKAGES="..." installs (or names) those that are missing.
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

$(DEPS_STAMP): pyproject.toml $(REQUIREMENTS)
	@$(MAKE) --no-print-directory apt-deps
	@if [ ! -x "$(VENV_BIN)/python" ]; then $(PYTHON) -m venv "$(VENV)"; fi
	"$(VENV_BIN)/python" -m pip install -q --disable-pip-version-check \
	  $$("$(VENV_BIN)/python" $(REQUIREMENTS) $(PIP_GROUPS))
	@touch "$@"

# apt-deps runs every time: a system package removed since the stamp is noticed.
deps: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory apt-deps

$(BENCH_STAMP): pyproject.toml $(REQUIREMENTS) $(DEPS_STAMP)
	"$(VENV_BIN)/python" -m pip install -q --disable-pip-version-check \
	  $$("$(VENV_BIN)/python" $(REQUIREMENTS) bench)
	@touch "$@"

# libFuzzer comes with the clang Debian provides: install clang, read its major
# version, then the matching runtime (bookworm: clang 14, libclang-rt-14-dev;
# trixie: 19). Without root, the one command is printed, the version read from
# apt's clang package when clang is not installed yet.
fuzz-deps:
	@if [ "$$(id -u)" != 0 ]; then \
	  major=$$(clang -dumpversion 2>/dev/null | cut -d. -f1); \
	  [ -n "$$major" ] || major=$$(apt-cache depends clang 2>/dev/null \
	    | sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$$/\1/p' | head -n 1); \
	  $(MAKE) --no-print-directory apt-deps APT_PACKAGES="clang libclang-rt-$${major:-<major>}-dev"; \
	else \
	  $(MAKE) --no-print-directory apt-deps APT_PACKAGES=clang; \
	  major=$$(clang -dumpversion | cut -d. -f1); \
	  $(MAKE) --no-print-directory apt-deps APT_PACKAGES="libclang-rt-$$major-dev"; \
	fi

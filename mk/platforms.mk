# Platforms (issue 14): aarch64 under emulation, manylinux wheels, and the
# wheel tested on an older and a newer Debian than the build host.
#
# make test-aarch64  Cross-builds $(AARCH64_BUILD) with Debian's cross
#                    toolchain (cross/aarch64-linux-gnu.ini) and runs the
#                    doctest suite and the C example under
#                    qemu-aarch64 once per CPU model of QEMU_CPUS, printing the
#                    CPU features each model has and the SIMD level the
#                    library picks. The doctest suite runs every kernel and
#                    element type at every level the CPU runs, so new kernels
#                    and levels are covered without touching this file.
#                    The fork cases of test_pool.cpp are skipped under qemu-user
#                    (its TCG asserts in a child forked from a threaded process).
# make wheel         The release wheels, py3-none-manylinux_$(MANYLINUX_GLIBC)
#                    for WHEEL_ARCHES, in $(WHEEL_DIR)/: built with Zig's
#                    glibc-versioned targets and static libc++, repaired by
#                    auditwheel (x86_64; the aarch64 wheel, which auditwheel
#                    repair refuses on an x86_64 host, is retagged by the
#                    script) and shown by auditwheel (scripts/build_wheel.py).
# make test-wheel-compat
#                    Installs the x86_64 wheel into Debian chroots
#                    (COMPAT_SUITES, made once by debootstrap in $(CHROOT_DIR):
#                    Python, no compiler) and runs the pytest suite there.
#                    Needs root.

AARCH64_BUILD ?= build-aarch64
AARCH64_CROSS := cross/aarch64-linux-gnu.ini
AARCH64_SYSROOT := /usr/aarch64-linux-gnu
AARCH64_APT := crossbuild-essential-arm64 qemu-user
# cortex-a53: ARMv8.0, NEON only (the baseline); neoverse-n1 (AWS Graviton2):
# ARMv8.2 + fp16, dotprod; max: every feature qemu emulates (SVE2, bf16, i8mm).
QEMU_CPUS ?= cortex-a53 neoverse-n1 max
# The fuzz replay (fuzz-corpus) exceeds its 600 s timeout under emulation on
# 2 loaded cores; add it with AARCH64_TESTS="doctest example-c fuzz-corpus".
AARCH64_TESTS ?= doctest example-c

WHEEL_DIR ?= dist
WHEEL_BUILD ?= build-wheel
WHEEL_ARCHES ?= x86_64 aarch64
MANYLINUX_GLIBC ?= 2.28
WHEEL_STAMP := $(VENV)/.vector_ops-wheel-deps
WHEEL_X86_64 = $(WHEEL_DIR)/vector_ops_ffi-$(shell cat VERSION)-py3-none-manylinux_$(subst .,_,$(MANYLINUX_GLIBC))_x86_64.whl

CHROOT_DIR ?= /var/cache/vector_ops/chroots
COMPAT_SUITES ?= bullseye trixie
DEBIAN_MIRROR ?= http://deb.debian.org/debian
# What the suite imports, from pyproject.toml (runtime comes with the wheel).
COMPAT_PIP_GROUPS := test dask
# Known failures, per suite (pytest arguments such as --deselect): none
# today. COMPAT_PYTEST_ARGS_<suite> ?= ... adds them.

.PHONY: test-aarch64 wheel test-wheel-compat
rparen := )

test-aarch64: deps
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES="$(AARCH64_APT)"
	@if [ ! -f "$(AARCH64_BUILD)/build.ninja" ]; then \
	  echo "meson setup $(AARCH64_BUILD) --cross-file $(AARCH64_CROSS)"; \
	  meson setup "$(AARCH64_BUILD)" --cross-file "$(AARCH64_CROSS)" --buildtype=$(BUILDTYPE) \
	    -Dwerror=$(WERROR) -Dpython=disabled; \
	fi
	meson compile -C "$(AARCH64_BUILD)"
	aarch64-linux-gnu-gcc -O1 -o "$(AARCH64_BUILD)/aarch64_hwcaps" scripts/aarch64_hwcaps.c
	@rc=0; for cpu in $(QEMU_CPUS); do \
	  echo "== QEMU_CPU=$$cpu: $$(QEMU_CPU=$$cpu qemu-aarch64 -L $(AARCH64_SYSROOT) "$(AARCH64_BUILD)/aarch64_hwcaps")"; \
	  QEMU_CPU=$$cpu VECTOR_OPS_EMULATOR=qemu-user qemu-aarch64 -L $(AARCH64_SYSROOT) \
	    "$(AARCH64_BUILD)/examples/normalize_and_compare" | head -n 1; \
	  QEMU_CPU=$$cpu meson test -C "$(AARCH64_BUILD)" --no-rebuild --print-errorlogs \
	    $(AARCH64_TESTS) || rc=1; \
	  grep -h -o '\[doctest\] test cases:.*' "$(AARCH64_BUILD)/meson-logs/testlog.txt" | tail -n 1 || true; \
	  grep -h -o '\[vo_doctest\] VECTOR_OPS_EMULATOR=.*' "$(AARCH64_BUILD)/meson-logs/testlog.txt" | head -n 1 || true; \
	done; exit $$rc

$(WHEEL_STAMP): pyproject.toml $(REQUIREMENTS) $(DEPS_STAMP)
	"$(VENV_BIN)/python" -m pip install -q --disable-pip-version-check \
	  $$("$(VENV_BIN)/python" $(REQUIREMENTS) wheel)
	@touch "$@"

wheel: deps $(WHEEL_STAMP)
	"$(VENV_BIN)/python" scripts/build_wheel.py --out "$(WHEEL_DIR)" --work "$(WHEEL_BUILD)" \
	  --glibc $(MANYLINUX_GLIBC) $(foreach a,$(WHEEL_ARCHES),--arch $(a))

# One chroot per suite, made once (about 2 minutes each): minbase plus
# python3-venv, so no compiler. Built in <suite>.tmp and renamed when done.
$(CHROOT_DIR)/%/.vector_ops-chroot:
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES=debootstrap
	rm -rf "$(CHROOT_DIR)/$*.tmp"
	mkdir -p "$(CHROOT_DIR)"
	debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
	  $* "$(CHROOT_DIR)/$*.tmp" $(DEBIAN_MIRROR) >"$(CHROOT_DIR)/$*.log"
	rm -rf "$(CHROOT_DIR)/$*" && mv "$(CHROOT_DIR)/$*.tmp" "$(CHROOT_DIR)/$*"
	touch "$@"

test-wheel-compat: deps $(foreach s,$(COMPAT_SUITES),$(CHROOT_DIR)/$(s)/.vector_ops-chroot)
	@if [ ! -f "$(WHEEL_X86_64)" ]; then \
	  $(MAKE) --no-print-directory wheel WHEEL_ARCHES=x86_64; fi
	@rc=0; for suite in $(COMPAT_SUITES); do \
	  start=$$SECONDS; \
	  args=""; case $$suite in $(foreach s,$(COMPAT_SUITES),$(s)$(rparen) args="$(COMPAT_PYTEST_ARGS_$(s))";;) esac; \
	  COMPAT_PYTEST_ARGS="$$args" scripts/test_wheel_compat.sh "$(CHROOT_DIR)/$$suite" "$(WHEEL_X86_64)" . \
	    $$("$(VENV_BIN)/python" $(REQUIREMENTS) $(COMPAT_PIP_GROUPS)) || rc=1; \
	  echo "== $$suite: $$((SECONDS - start)) s"; \
	done; exit $$rc

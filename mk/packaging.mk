# Packaging: the ABI baseline, the Debian packages, the chroot smoke test.
# Included by the Makefile; README.md "For packagers" is the manual.
#
# make abi-check     build the library with debug info in $(ABI_BUILD) and
#                    compare its public ABI with abi/vector_ops.abi (abidiff):
#                    additions pass, removals and changes fail unless the
#                    soname moved. Installs abigail-tools when missing.
# make abi-baseline  record the ABI of $(ABI_BUILD) in abi/vector_ops.abi and
#                    add new symbols to the Debian symbols file (with the
#                    version in VERSION). Run it after adding functions.
# make deb           the source package and the three binary packages in
#                    $(DEB_DIR), with dpkg-buildpackage (the library's tests
#                    run in dh_auto_test), then lintian (errors fail).
#                    DEB_SOURCE=worktree (default): the orig tarball holds the
#                    files of the working tree that git tracks or would track
#                    (uncommitted edits included); DEB_SOURCE=HEAD: `git
#                    archive HEAD`, the committed tree (for a release).
# make test-deb      install the debs of $(DEB_DIR) in a clean Debian 12
#                    chroot (debootstrap, cached in $(CHROOT_CACHE)) and build
#                    and run a C program through pkg-config and a CMake one
#                    through find_package, and import vector_ops_ffi, which
#                    must find the system soname. Needs root.

ABI_BUILD ?= build-abi
ABI_BASELINE := abi/vector_ops.abi
ABI_HEADERS := include $(ABI_BUILD)/include
ABI_LIB = $(ABI_BUILD)/src/libvector_ops.so.$(shell sed -n 's/^abi_version = \([0-9]*\)$$/\1/p' meson.build)
DEB_DIR ?= build-deb
DEB_SOURCE ?= worktree
DEB_VERSION := $(shell cat VERSION)
DEB_ORIG := $(DEB_DIR)/vector-ops_$(DEB_VERSION).orig.tar.xz
DEB_TREE := $(DEB_DIR)/vector-ops-$(DEB_VERSION)
CHROOT_CACHE ?= /var/cache/vector_ops/chroots
CHROOT_SUITE ?= bookworm
DEBIAN_MIRROR ?= http://deb.debian.org/debian
# dpkg-buildpackage runs with the system's tools only (meson, python3 and
# cmake from apt, not .venv or pyenv), without the make jobserver or the
# variables that point the tests at another library. DEB_BUILD_OPTIONS is the
# caller's (nocheck, noopt, ...), parallel=2 where it is unset.
DEB_BUILD_OPTIONS ?= parallel=2
DEB_ENV := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u VECTOR_OPS_LIBRARY -u PYTHONPATH \
  -u VIRTUAL_ENV -u PYTHONHOME PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)"

APT_PACKAGES += cmake

.PHONY: abi-deps abi-lib abi-check abi-baseline deb deb-deps test-deb

abi-deps:
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES=abigail-tools

# Only the shared library, optimized as released, with DWARF for abidw.
$(ABI_BUILD)/build.ninja: | $(DEPS_STAMP)
	meson setup "$(ABI_BUILD)" --buildtype=release -Ddebug=true -Dtests=false \
	  -Dexamples=false -Dpython=disabled -Dcmake_package=disabled

abi-lib: deps $(ABI_BUILD)/build.ninja
	meson compile -C "$(ABI_BUILD)" src/vector_ops:shared_library

abi-check: abi-deps abi-lib
	abi/abi.sh check "$(ABI_LIB)" "$(ABI_BASELINE)" $(ABI_HEADERS)

abi-baseline: abi-deps abi-lib
	abi/abi.sh dump "$(ABI_LIB)" "$(ABI_BASELINE)" $(ABI_HEADERS)
	packaging/update-symbols.sh "$(ABI_BASELINE)" packaging/debian/libvector-ops0.symbols "$(DEB_VERSION)"

deb-deps:
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES="dpkg-dev debhelper lintian fakeroot"

deb: deb-deps
	packaging/make-deb.sh "$(DEB_DIR)" "$(DEB_SOURCE)" $(DEB_ENV)

test-deb:
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES=debootstrap
	packaging/smoke-test.sh "$(DEB_DIR)" "$(CHROOT_CACHE)/$(CHROOT_SUITE)" "$(CHROOT_SUITE)" "$(DEBIAN_MIRROR)"

#!/usr/bin/env bash
# Install a wheel into a Debian chroot (made by debootstrap: Python, no
# compiler) and run the pytest suite there against the installed package.
# The test dependencies come from PyPI into a venv inside the chroot.
# `make test-wheel-compat` runs it once per chroot (mk/platforms.mk).
#
# Usage (as root): test_wheel_compat.sh CHROOT WHEEL SOURCE_DIR PACKAGE...
set -euo pipefail
root=$(cd "$1" && pwd)
wheel=$2
source_dir=$3
shift 3
packages=("$@")
name=$(basename "$root")
fail() {
  echo "FAILED ($name): $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root (chroot, mount)"
[ -f "$wheel" ] || fail "no wheel $wheel"

# /proc, /sys and a private /dev/shm (multiprocessing, Dask); debootstrap made the
# device nodes. Unmounted whatever happens.
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" || true; done
}
trap cleanup EXIT
mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc" && mounted+=("$root/proc"); }
mountpoint -q "$root/sys" || { mount -t sysfs sysfs "$root/sys" && mounted+=("$root/sys"); }
mkdir -p "$root/dev/shm"
mountpoint -q "$root/dev/shm" || { mount -t tmpfs -o mode=1777 shm "$root/dev/shm" && mounted+=("$root/dev/shm"); }
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# pip inside trusts what the build host trusts (a proxy's CA, for one).
cp -L "${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}" "$root/opt/vo-host-ca.crt"

# The tests as an installed user has them: not a source tree (the tests that
# need one, e.g. building a wheel, skip), the package only from the wheel.
rm -rf "$root/opt/vo-tests" "$root/opt/vo-wheel"
mkdir -p "$root/opt/vo-tests/tests" "$root/opt/vo-wheel"
cp -r "$source_dir/tests/python" "$root/opt/vo-tests/tests/"
cp "$source_dir/pyproject.toml" "$root/opt/vo-tests/" # pytest's markers
find "$root/opt/vo-tests" -name __pycache__ -prune -exec rm -rf {} +
cp "$wheel" "$root/opt/vo-wheel/"

in_chroot() {
  env -i PATH=/opt/vo-venv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_CERT=/opt/vo-host-ca.crt PIP_DEFAULT_TIMEOUT=60 \
    chroot "$root" "$@"
}
for compiler in cc gcc g++ c++ clang; do
  if in_chroot sh -c "command -v $compiler" >/dev/null; then
    fail "$compiler is installed in the chroot: this test needs a machine without a toolchain"
  fi
done
os=$(in_chroot sh -c '. /etc/os-release && echo "$PRETTY_NAME"')
glibc=$(in_chroot sh -c 'ldd --version | head -n 1 | sed "s/.* //"')
python=$(in_chroot python3 -c 'import platform; print(platform.python_version())')
echo "== $name: $os, glibc $glibc, Python $python, no compiler"

if [ ! -x "$root/opt/vo-venv/bin/python" ]; then
  in_chroot python3 -m venv /opt/vo-venv
fi
in_chroot python -m pip install -q --disable-pip-version-check --upgrade pip
in_chroot python -m pip uninstall -q -y vector-ops-ffi 2>/dev/null || true
in_chroot python -m pip install -q --disable-pip-version-check --only-binary=:all: \
  "/opt/vo-wheel/$(basename "$wheel")" "${packages[@]}"
in_chroot sh -c 'cd / && python -c "import json, vector_ops_ffi as vo; print(json.dumps(vo.info()))"'
# COMPAT_PYTEST_ARGS: extra pytest arguments (mk/platforms.mk deselects known
# failures per suite, each with its reason, printed here).
[ -z "${COMPAT_PYTEST_ARGS:-}" ] || echo "== $name: pytest $COMPAT_PYTEST_ARGS"
in_chroot sh -c "cd /opt/vo-tests && python -m pytest tests/python -q -p no:cacheprovider -ra ${COMPAT_PYTEST_ARGS:-}" ||
  fail "pytest against the installed wheel"
echo "== $name: passed"

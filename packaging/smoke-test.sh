#!/usr/bin/env bash
# make test-deb: the debs of DEB_DIR in a clean Debian chroot (as root).
# The base chroot (debootstrap --variant=minbase, plus gcc, pkg-config, cmake
# and g++ to build the consumers) is made once and cached in CHROOT; each run
# works in a throw-away overlay of it (a copy when overlayfs cannot be
# mounted), so the base stays clean. Inside, apt installs the three debs and
# what they depend on from the Debian archive, then:
#  1. the C example builds with `pkg-config --cflags --libs vector_ops` and runs;
#  2. tests/install/cmake_consumer builds with find_package(vector_ops) and runs;
#  3. python3 -c "import vector_ops_ffi" loads /usr/lib/<triplet>/libvector_ops.so.0
#     through the soname (found_by == "soname"), and vector-ops --version runs.
# Usage: smoke-test.sh DEB_DIR CHROOT SUITE MIRROR
set -euo pipefail
deb_dir=$(cd "$1" && pwd) base=$2 suite=$3 mirror=$4
cd "$(dirname "$0")/.."
fail() {
  echo "FAILED: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "the chroot smoke test needs root (debootstrap, chroot, mount)"
debs=("$deb_dir"/*.deb)
[ -e "${debs[0]}" ] || fail "no .deb in $deb_dir: run make deb first"

if [ ! -f "$base/etc/debian_version" ]; then
  echo "debootstrap $suite into $base (once; about 5 minutes)"
  rm -rf "$base.tmp"
  mkdir -p "$(dirname "$base")"
  debootstrap --variant=minbase --include=gcc,g++,libc6-dev,pkg-config,cmake,make \
    "$suite" "$base.tmp" "$mirror" >"$(dirname "$base")/debootstrap-$suite.log" 2>&1 ||
    fail "debootstrap (log: $(dirname "$base")/debootstrap-$suite.log)"
  mv "$base.tmp" "$base"
fi

work=$(mktemp -d /tmp/vector-ops-smoke.XXXXXX)
root=$work/root
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  umount "$root" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/upper" "$work/work" "$root"
if ! mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$root" 2>/dev/null; then
  echo "(overlayfs not available: copying the base chroot)"
  cp -a "$base/." "$root/"
fi
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/smoke/debs"
cp "${debs[@]}" "$root/smoke/debs/"
cp examples/normalize_and_compare.c "$root/smoke/"
cp -r tests/install/cmake_consumer "$root/smoke/"
version=$(cat VERSION)

cat >"$root/smoke/run.sh" <<'INNER'
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
cd /smoke
apt-get update -qq
# Dpkg::Use-Pty=0: nothing is mounted on the chroot's /dev/pts, where apt would
# open a pseudo-terminal for dpkg (it then prints "E: Can not write log" and
# carries on).
apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 ./debs/*.deb >/dev/null
dpkg-query -W -f='installed: ${Package} ${Version}\n' libvector-ops0 libvector-ops-dev python3-vector-ops-ffi

# 1. pkg-config
read -r -a flags <<<"$(pkg-config --cflags --libs vector_ops)"
echo "pkg-config: ${flags[*]}"
gcc -std=c99 -Wall -Wextra -Werror -o consumer normalize_and_compare.c "${flags[@]}"
./consumer >/dev/null
echo "C program through pkg-config: built and ran"

# 2. CMake
cmake -S cmake_consumer -B cmake-build -DVO_REQUEST="${VERSION%.*}" >cmake.log 2>&1 || { cat cmake.log; exit 1; }
cmake --build cmake-build >>cmake.log 2>&1 || { cat cmake.log; exit 1; }
out=$(./cmake-build/consumer)
[ "$out" = "$VERSION 32" ] || { echo "the CMake consumer printed '$out'"; exit 1; }
echo "C++ program through find_package(vector_ops ${VERSION%.*}): built and ran ($(grep -o 'vector_ops .* from .*' cmake.log))"

# 3. Python: the system soname, found by the dynamic linker
cd /
python3 -c "import vector_ops_ffi" 
python3 - <<'PY'
import vector_ops_ffi as vo
info = vo.info()
print("python3: vector_ops_ffi", vo.__version__, "loaded", info["library"], "found by", info["found_by"])
assert info["found_by"] == "soname", info
import os
assert os.path.realpath(info["library"]).startswith("/usr/lib/"), info  # /lib is /usr/lib
import numpy as np
x = vo.batch_normalize(np.array([[3.0, 4.0]], dtype=np.float32))
assert np.allclose(x, [[0.6, 0.8]]), x
PY
vector-ops --version
INNER
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root VERSION="$version" \
  /bin/bash /smoke/run.sh || fail "the smoke test in the $suite chroot"
echo "smoke test in a clean $suite chroot: OK"

#!/usr/bin/env bash
# The distribution path: `meson install --destdir` into a scratch tree, then
# build the C example against that tree with nothing but pkg-config and run it.
# Usage: check_installed_tree.sh BUILD_DIR SOURCE_DIR CC...
set -euo pipefail
build_dir=$1
source_dir=$2
shift 2
cc=("$@")

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build_dir" --no-rebuild --quiet --destdir "$stage/root" --tags runtime,devel

pc=$(find "$stage/root" -name vector_ops.pc -print -quit)
[ -n "$pc" ] || { echo "vector_ops.pc was not installed" >&2; exit 1; }
lib=$(find "$stage/root" -name 'libvector_ops.so.0' -print -quit)
[ -n "$lib" ] || { echo "libvector_ops.so.0 was not installed" >&2; exit 1; }
[ -f "$(dirname "$lib")/libvector_ops.so" ] || { echo "no development symlink libvector_ops.so" >&2; exit 1; }
find "$stage/root" -name vector_ops.h -print -quit | grep -q . || { echo "header not installed" >&2; exit 1; }

export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR="$stage/root"
read -r -a flags <<<"$(pkg-config --cflags --libs vector_ops)"
echo "pkg-config: ${flags[*]}"

"${cc[@]}" -std=c99 -Wall -Wextra -Werror -o "$stage/consumer" \
  "$source_dir/examples/normalize_and_compare.c" "${flags[@]}"
LD_LIBRARY_PATH=$(dirname "$lib") "$stage/consumer"

# The installed library exports only the public API and carries its soname.
if nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^vo_' | grep -q .; then
  echo "symbols other than vo_* exported:" >&2
  nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^vo_' >&2
  exit 1
fi
readelf -d "$lib" | grep -q 'SONAME.*\[libvector_ops\.so\.0\]' || { echo "wrong soname" >&2; exit 1; }
echo "installed tree OK"

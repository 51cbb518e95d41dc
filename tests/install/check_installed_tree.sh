#!/usr/bin/env bash
# The two ways to build a C program against vector_ops, each with nothing but
# pkg-config, plus what a distribution's `meson install` must put in place:
#  1. `meson install --destdir` (runtime and devel tags) into a scratch tree:
#     the library, its soname and symlink, both headers side by side, the .pc;
#     the C example built against that tree and run; only vo_* exported,
#     each in the symbol version node VECTOR_OPS_<ABI major>.
#  2. the build tree's own pkg-config file (meson-uninstalled/), as a
#     developer uses it before installing: the C example built and run.
#  3. a plain `meson install`: the vector-ops script in bindir when the Python
#     package is built (SKIPPED, with the reason, when it is not).
# Usage: check_installed_tree.sh BUILD_DIR SOURCE_DIR CC...
set -euo pipefail
build_dir=$(cd "$1" && pwd)
source_dir=$2
shift 2
cc=("$@")
example=$source_dir/examples/normalize_and_compare.c

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# ---- 1. the installed tree ----
meson install -C "$build_dir" --no-rebuild --quiet --destdir "$stage/root" --tags runtime,devel

pc=$(find "$stage/root" -name vector_ops.pc -print -quit)
[ -n "$pc" ] || fail "vector_ops.pc was not installed"
lib=$(find "$stage/root" -name 'libvector_ops.so.0' -print -quit)
[ -n "$lib" ] || fail "libvector_ops.so.0 was not installed"
[ -f "$(dirname "$lib")/libvector_ops.so" ] || fail "no development symlink libvector_ops.so"
header=$(find "$stage/root" -name vector_ops.h -print -quit)
[ -n "$header" ] || fail "vector_ops.h was not installed"
# vector_ops.h includes it: a header installed anywhere else breaks every consumer.
[ -f "$(dirname "$header")/vector_ops_version.h" ] ||
  fail "vector_ops_version.h is not installed next to $header"

(
  export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR="$stage/root"
  PKG_CONFIG_PATH=$(dirname "$pc")
  read -r -a flags <<<"$(pkg-config --cflags --libs vector_ops)"
  echo "installed pkg-config: ${flags[*]}"
  "${cc[@]}" -std=c99 -Wall -Wextra -Werror -o "$stage/consumer" "$example" "${flags[@]}"
)
LD_LIBRARY_PATH=$(dirname "$lib") "$stage/consumer" >/dev/null || fail "the example built against the installed tree"

# The installed library exports only the public API, every function in the
# version node VECTOR_OPS_<ABI> of src/vector_ops.map (nm lists the node
# itself as an absolute symbol), and carries its soname.
node=VECTOR_OPS_$(sed -n 's/^abi_version = \([0-9]*\)$/\1/p' "$source_dir/meson.build")
exported=$(nm -D --defined-only "$lib" | awk -v node="$node" '!($2 == "A" && $3 == node) {print $3}')
if grep -v '^vo_' <<<"$exported" | grep -q .; then
  echo "symbols other than vo_* exported:" >&2
  grep -v '^vo_' <<<"$exported" >&2
  exit 1
fi
if grep -v "@@$node\$" <<<"$exported" | grep -q .; then
  echo "exported symbols outside the version node $node:" >&2
  grep -v "@@$node\$" <<<"$exported" >&2
  exit 1
fi
readelf -d "$lib" | grep -q 'SONAME.*\[libvector_ops\.so\.0\]' || fail "wrong soname"
echo "installed tree OK"

# ---- 2. the build tree's uninstalled pkg-config file ----
uninstalled=$build_dir/meson-uninstalled
[ -f "$uninstalled/vector_ops-uninstalled.pc" ] || fail "no $uninstalled/vector_ops-uninstalled.pc"
(
  export PKG_CONFIG_PATH="$uninstalled"
  unset PKG_CONFIG_SYSROOT_DIR
  read -r -a flags <<<"$(pkg-config --cflags --libs vector_ops)"
  echo "uninstalled pkg-config: ${flags[*]}"
  "${cc[@]}" -std=c99 -Wall -Wextra -Werror -o "$stage/consumer-uninstalled" "$example" "${flags[@]}"
) || fail "the example does not build with $uninstalled/vector_ops-uninstalled.pc"
LD_LIBRARY_PATH=$build_dir/src "$stage/consumer-uninstalled" >/dev/null ||
  fail "the example built against the build tree"
echo "build tree's pkg-config OK"

# ---- 3. the vector-ops script of a plain meson install ----
if ! meson introspect --install-plan "$build_dir" | grep -q 'vector_ops_ffi/__init__.py'; then
  echo "SKIPPED: vector-ops script: this build does not install the Python package (-Dpython=disabled)"
  exit 0
fi
meson install -C "$build_dir" --no-rebuild --quiet --destdir "$stage/full"
bindir=$(meson introspect --buildoptions "$build_dir" |
  python3 -c 'import json, sys; o = {x["name"]: x["value"] for x in json.load(sys.stdin)}; print(o["prefix"] + "/" + o["bindir"] if not o["bindir"].startswith("/") else o["bindir"])')
script=$stage/full$bindir/vector-ops
[ -x "$script" ] || fail "meson install put no executable vector-ops in $bindir"
init=$(find "$stage/full" -path '*/vector_ops_ffi/__init__.py' -print -quit)
full_lib=$(find "$stage/full" -name 'libvector_ops.so.0' -print -quit)
version=$(env -u VECTOR_OPS_LIBRARY PYTHONPATH="$(dirname "$(dirname "$init")")" \
  LD_LIBRARY_PATH="$(dirname "$full_lib")" "$script" --version) || fail "the installed vector-ops --version"
grep -qF "$(cat "$source_dir/VERSION")" <<<"$version" ||
  fail "vector-ops --version says '$version', VERSION is $(cat "$source_dir/VERSION")"
echo "vector-ops script OK: $bindir/vector-ops ($version)"

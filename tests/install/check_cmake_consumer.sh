#!/usr/bin/env bash
# find_package(vector_ops) from a `meson install --destdir` tree, as a C++
# project using CMake sees it:
#  1. vector_opsConfig.cmake and vector_opsConfigVersion.cmake are installed
#     in <libdir>/cmake/vector_ops/;
#  2. find_package(vector_ops <this major.minor> REQUIRED) succeeds and
#     vector_ops::vector_ops builds and links tests/install/cmake_consumer,
#     which runs against the installed library and checks its version;
#  3. find_package refuses a version the installed one is not compatible
#     with (the next minor while the major is 0, else the next major).
# SKIPPED (exit 77) when cmake is missing or the build does not install the
# CMake files (-Dcmake_package=disabled, or auto without cmake).
# Usage: check_cmake_consumer.sh BUILD_DIR SOURCE_DIR [CMAKE]
set -euo pipefail
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
cmake=${3:-cmake}
fail() {
  echo "FAILED: $*" >&2
  exit 1
}
if ! command -v "$cmake" >/dev/null; then
  echo "SKIPPED: cmake is not installed"
  exit 77
fi
if ! meson introspect --install-plan "$build_dir" | grep -q 'vector_opsConfig.cmake'; then
  echo "SKIPPED: this build does not install the CMake package files (-Dcmake_package)"
  exit 77
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# A plain install, as a distribution runs it: meson's cmake module gives its
# files no install tag (so they stay out of the wheel's runtime,python-runtime).
meson install -C "$build_dir" --no-rebuild --quiet --destdir "$stage/root"

# ---- 1. the files ----
config=$(find "$stage/root" -name vector_opsConfig.cmake -print -quit)
[ -n "$config" ] || fail "vector_opsConfig.cmake was not installed"
[ "$(basename "$(dirname "$config")")" = vector_ops ] && [ "$(basename "$(dirname "$(dirname "$config")")")" = cmake ] ||
  fail "$config is not in <libdir>/cmake/vector_ops/"
[ -f "$(dirname "$config")/vector_opsConfigVersion.cmake" ] || fail "no vector_opsConfigVersion.cmake next to $config"
lib=$(find "$stage/root" -name 'libvector_ops.so.0' -print -quit)
[ -n "$lib" ] || fail "libvector_ops.so.0 was not installed"
echo "installed: ${config#"$stage/root"}"

# The prefix of the staged tree: the config file is <prefix>/<libdir>/cmake/vector_ops/.
prefix=$(meson introspect --buildoptions "$build_dir" |
  python3 -c 'import json, sys; print({o["name"]: o["value"] for o in json.load(sys.stdin)}["prefix"])')
staged_prefix=$stage/root$prefix

version=$(cat "$source_dir/VERSION")
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}

configure() { # configure DIR REQUEST: the consumer against the staged prefix only
  "$cmake" -S "$source_dir/tests/install/cmake_consumer" -B "$1" -DVO_REQUEST="$2" \
    -DCMAKE_PREFIX_PATH="$staged_prefix" -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=Release
}

# ---- 2. find_package(vector_ops MAJOR.MINOR REQUIRED) and the imported target ----
configure "$stage/ok" "$major.$minor" >"$stage/ok.log" 2>&1 || {
  cat "$stage/ok.log" >&2
  fail "find_package(vector_ops $major.$minor REQUIRED) against the installed tree"
}
grep -F -- "-- vector_ops $version from $staged_prefix/" "$stage/ok.log" ||
  fail "find_package did not take vector_ops $version from $staged_prefix: $(grep -F 'vector_ops' "$stage/ok.log")"
"$cmake" --build "$stage/ok" >"$stage/build.log" 2>&1 || {
  cat "$stage/build.log" >&2
  fail "building the consumer with vector_ops::vector_ops"
}
# The consumer's include path and link line come from the target: the staged tree's.
include_dir=$(dirname "$(find "$stage/root" -path '*/include/vector_ops.h' -print -quit)")
grep -rqF -- "-I$include_dir" "$stage/ok/CMakeFiles" || grep -rqF -- "-isystem $include_dir" "$stage/ok/CMakeFiles" ||
  fail "the consumer was not compiled with the installed include directory $include_dir"
out=$(LD_LIBRARY_PATH=$(dirname "$lib") "$stage/ok/consumer") || fail "the consumer ran: $out"
[ "$out" = "$version 32" ] || fail "the consumer printed '$out', expected '$version 32'"
echo "find_package(vector_ops $major.$minor REQUIRED): consumer built and ran ($out)"

# ---- 3. an incompatible request is refused ----
if [ "$major" = 0 ]; then refused="0.$((minor + 1))"; else refused="$((major + 1)).0"; fi
if configure "$stage/refused" "$refused" >"$stage/refused.log" 2>&1; then
  fail "find_package(vector_ops $refused REQUIRED) accepted version $version"
fi
grep -q 'compatible with requested version' "$stage/refused.log" || fail "find_package($refused) failed for another reason: $(cat "$stage/refused.log")"
echo "find_package(vector_ops $refused REQUIRED) refused: the installed version is $version"

#!/usr/bin/env bash
# The public ABI of libvector_ops, with libabigail (Debian's abigail-tools).
#
#   abi.sh dump  LIB OUT HEADER_DIR...       write LIB's ABI to OUT (abixml)
#   abi.sh check LIB BASELINE HEADER_DIR...  compare LIB against BASELINE
#
# LIB must carry DWARF (a -Ddebug=true build). Only what the public headers
# (HEADER_DIR: include/ and the build's include/ with vector_ops_version.h)
# declare is recorded: abidw --headers-dir with --drop-private-types.
#
# The check passes when the ABI is unchanged or only grew (added functions or
# variables, added enumerators), and fails on anything else under the same
# soname: a removed function, a changed argument or return type, a changed
# struct or enum layout. abidiff's exit status is a bit field (1: error,
# 2: usage error, 4: ABI change, 8: incompatible change); additions alone set
# bit 4, so the decision is taken on a second run with --no-added-syms, where
# any bit set is a failure. When the soname differs from the baseline's (the
# ABI version in meson.build moved, and the soname with it), incompatible
# changes are what that bump announces: the check reports them and passes,
# and `make abi-baseline` records the new ABI.
set -euo pipefail

usage() {
  echo "usage: $0 dump LIB OUT HEADER_DIR... | check LIB BASELINE HEADER_DIR..." >&2
  exit 2
}
[ $# -ge 4 ] || usage
mode=$1 lib=$2 file=$3
shift 3
for tool in abidw abidiff; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: install abigail-tools (apt-get install abigail-tools)" >&2
    exit 1
  }
done
[ -f "$lib" ] || {
  echo "no library $lib" >&2
  exit 1
}
headers=()
for dir in "$@"; do headers+=(--headers-dir "$dir"); done

# The abixml of $lib on stdout. The translation units' paths are made relative
# to the source tree (src/...), so the file does not depend on where the
# build directory was.
dump() {
  local raw
  raw=$(mktemp)
  abidw "${headers[@]}" --drop-private-types --exported-interfaces-only --no-show-locs \
    --no-corpus-path --no-comp-dir-path --out-file "$raw" "$lib"
  sed -E "s#path='[^']*/(src|include)/#path='\\1/#" "$raw"
  rm -f "$raw"
}

soname_of() { sed -n "s/^<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$1" | head -n 1; }

case $mode in
  dump)
    dump >"$file.tmp"
    mv "$file.tmp" "$file"
    echo "ABI of $(soname_of "$file"): $(grep -c '<elf-symbol ' "$file") symbols -> $file"
    ;;
  check)
    [ -f "$file" ] || {
      echo "no ABI baseline $file: run make abi-baseline" >&2
      exit 1
    }
    current=$(mktemp)
    trap 'rm -f "$current"' EXIT
    dump >"$current"
    old=$(soname_of "$file") new=$(soname_of "$current")
    rc=0
    abidiff "$file" "$current" || rc=$?
    if [ "$old" != "$new" ]; then
      echo "ABI check: the soname moved ($old -> $new): the changes above are allowed."
      echo "Record the new ABI with: make abi-baseline"
      exit 0
    fi
    if [ $((rc & 3)) -ne 0 ]; then
      echo "ABI check: abidiff failed (status $rc)" >&2
      exit 1
    fi
    strict=0
    abidiff --no-added-syms "$file" "$current" >/dev/null || strict=$?
    if [ "$strict" -ne 0 ]; then
      echo "ABI check FAILED: an incompatible change under the soname $new (abidiff status $strict," \
        "without additions). Revert it, or raise abi_version in meson.build (the soname follows)" \
        "and run make abi-baseline." >&2
      exit 1
    fi
    if [ "$rc" -ne 0 ]; then
      echo "ABI check passed: compatible additions only (record them with make abi-baseline)."
    else
      echo "ABI check passed: $new unchanged against $file."
    fi
    ;;
  *) usage ;;
esac

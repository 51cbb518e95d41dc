#!/usr/bin/env bash
# Bring the Debian symbols file in line with the ABI baseline (make abi-baseline).
# Every symbol of the baseline keeps the version already recorded for it (the
# release that added it: dpkg-shlibdeps then asks for the oldest library that
# has every symbol a program uses); a symbol new to the baseline gets VERSION.
# A symbol gone from the baseline is dropped with a warning: under the same
# soname that is an incompatible change, which make abi-check refuses.
# Usage: update-symbols.sh BASELINE.abi SYMBOLS_FILE VERSION
set -euo pipefail
baseline=$1 symbols=$2 version=$3
soname=$(sed -n "s/^<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)
[ -n "$soname" ] || {
  echo "no soname in $baseline" >&2
  exit 1
}
# libvector_ops.so.0 -> libvector-ops0 (Debian's name for the runtime package).
abi=${soname##*.so.}
package=libvector-ops$abi
header="$soname $package #MINVER#"
declare -A known=()
if [ -f "$symbols" ]; then
  if [ "$(head -n 1 "$symbols")" != "$header" ]; then
    echo "$symbols is for '$(head -n 1 "$symbols")', the baseline is $soname: the soname moved;" \
      "the runtime package is now $package (rename it in packaging/debian/), starting a new symbols file" >&2
  else
    while read -r name ver; do known[$name]=$ver; done < <(sed -n 's/^ \([^ ]*\) \(.*\)$/\1 \2/p' "$symbols")
  fi
fi
# <elf-symbol name='vo_x' [version='VECTOR_OPS_0' is-default-version='yes'] ...>
mapfile -t names < <(sed -n "s/^ *<elf-symbol name='\([^']*\)'\( version='\([^']*\)'\)\{0,1\}.*/\1@\3/p" "$baseline" |
  sed 's/@$/@Base/' | sort -u)
# dpkg-gensymbols also lists each version node as a symbol of its own (NODE@NODE).
mapfile -t nodes < <(printf '%s\n' "${names[@]}" | sed -n 's/^.*@\(VECTOR_OPS_[^@]*\)$/\1@\1/p' | sort -u)
names=("${nodes[@]}" "${names[@]}")
tmp=$(mktemp)
{
  echo "$header"
  echo "* Build-Depends-Package: libvector-ops-dev"
  for name in "${names[@]}"; do echo " $name ${known[$name]:-$version}"; done
} >"$tmp"
for name in "${!known[@]}"; do
  grep -q "^ $name " "$tmp" || echo "warning: $name left the ABI and the symbols file" >&2
done
mv "$tmp" "$symbols"
echo "$symbols: ${#names[@]} symbols of $soname"

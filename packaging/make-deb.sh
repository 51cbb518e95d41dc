#!/usr/bin/env bash
# make deb: the Debian source package and its binary packages, from this
# checkout, in DEB_DIR (see mk/packaging.mk and README.md "For packagers").
#  1. the orig tarball vector-ops_<VERSION>.orig.tar.xz, reproducible (sorted,
#     owner 0, mtime of the HEAD commit) from SOURCE:
#       worktree  the files git tracks or would track (not ignored), as they
#                 are on disk: what you test is what you package;
#       HEAD      `git archive HEAD`: the committed tree, for a release;
#  2. unpacked into DEB_DIR/vector-ops-<VERSION> with packaging/debian as debian/;
#  3. the build dependencies installed with apt (as root; on Debian 12 meson
#     comes from bookworm-backports when that suite is configured);
#  4. dpkg-buildpackage -us -uc (source and binaries; dh_auto_test runs the
#     library's tests), run through ENV... (a clean environment);
#  5. lintian on the .changes (errors fail), and each package's file list,
#     in DEB_DIR/lintian.txt and DEB_DIR/contents.txt.
# Usage: make-deb.sh DEB_DIR SOURCE ENV...
set -euo pipefail
deb_dir=$1 source=$2
shift 2
run_env=("$@")
cd "$(dirname "$0")/.."
version=$(cat VERSION)
tree=$deb_dir/vector-ops-$version
orig=$deb_dir/vector-ops_$version.orig.tar.xz
fail() {
  echo "make deb: $*" >&2
  exit 1
}

changelog_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
[ "${changelog_version%-*}" = "$version" ] ||
  fail "packaging/debian/changelog is at $changelog_version, VERSION is $version: add a changelog entry (dch -v $version-1)"

# ---- 1. the orig tarball ----
rm -rf "$deb_dir"
mkdir -p "$deb_dir"
mtime=$(git log -1 --format=%cI HEAD)
case $source in
  HEAD)
    git archive --format=tar --prefix="vector-ops-$version/" HEAD | xz -T1 -6 >"$orig"
    ;;
  worktree)
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --create --null --files-from=- --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime="$mtime" --transform="s,^,vector-ops-$version/," | xz -T1 -6 >"$orig"
    ;;
  *) fail "DEB_SOURCE must be worktree or HEAD, not '$source'" ;;
esac
echo "orig tarball ($source): $orig ($(du -h "$orig" | cut -f1))"

# ---- 2. the source tree ----
tar -xf "$orig" -C "$deb_dir"
rm -rf "$tree/debian"
cp -r packaging/debian "$tree/debian"

# ---- 3. build dependencies ----
if ! (cd "$tree" && dpkg-checkbuilddeps) 2>"$deb_dir/builddeps.txt"; then
  cat "$deb_dir/builddeps.txt" >&2
  if [ "$(id -u)" != 0 ]; then
    fail "missing build dependencies: run as root: apt-get build-dep $(realpath "$tree")"
  fi
  release=()
  if [ "$(cut -d. -f1 /etc/debian_version 2>/dev/null)" = 12 ]; then
    apt-cache policy | grep -q 'bookworm-backports' ||
      fail "Debian 12's meson is 1.0.1 and the build needs >= 1.1: enable bookworm-backports (deb http://deb.debian.org/debian bookworm-backports main) and run make deb again"
    release=(-t bookworm-backports)
  fi
  DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq "${release[@]}" "$(realpath "$tree")" >/dev/null
fi

# ---- 4. dpkg-buildpackage ----
start=$SECONDS
(cd "$tree" && "${run_env[@]}" dpkg-buildpackage -us -uc) >"$deb_dir/build.log" 2>&1 || {
  tail -n 60 "$deb_dir/build.log" >&2
  fail "dpkg-buildpackage failed: the whole log is $deb_dir/build.log"
}
echo "dpkg-buildpackage: $((SECONDS - start)) s (log: $deb_dir/build.log)"
grep -E '^(Ok|Fail|Skipped|Expected Fail|Unexpected Pass|Timeout):' "$deb_dir/build.log" | sed 's/^/  tests: /' || true

# ---- 5. lintian and the file lists ----
changes=$(ls "$deb_dir"/vector-ops_"$version"-*_"$(dpkg --print-architecture)".changes)
lintian_rc=0
lintian --fail-on error --display-info --pedantic "$changes" >"$deb_dir/lintian.txt" 2>&1 || lintian_rc=$?
# Only the tag lines ("W: package: tag ...") count: lintian also writes its own
# notices there (as root: "running with root privileges is not recommended!").
echo "lintian ($(grep -cE '^[A-Z]: ' "$deb_dir/lintian.txt" || true) tags; accepted ones: README.md \"For packagers\"):"
sed 's/^/  /' "$deb_dir/lintian.txt"
: >"$deb_dir/contents.txt"
for deb in "$deb_dir"/*.deb; do
  {
    echo "== $(basename "$deb")"
    dpkg-deb -c "$deb" | awk '{print $6}' | grep -v '/$'
  } >>"$deb_dir/contents.txt"
done
[ "$lintian_rc" = 0 ] || fail "lintian reported errors (status $lintian_rc)"
echo "packages in $deb_dir (file lists: $deb_dir/contents.txt):"
ls -1 "$deb_dir"/*.deb "$deb_dir"/*.dsc | sed 's/^/  /'

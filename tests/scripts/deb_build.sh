#!/bin/sh
# Build the Debian packages from a copy of this tree (never in it: dpkg-buildpackage
# writes its results into the parent directory).  Usage: deb_build.sh OUTDIR
# The copy is the tracked and untracked-but-not-ignored files (git), or the tree without
# build directories; the .deb files and the lintian report land in OUTDIR.
set -eu
out=$1
ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
rm -rf "$out"; mkdir -p "$out/src/cpupolicy-$ver"
src="$out/src/cpupolicy-$ver"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -co --exclude-standard -z | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -cf - -T - | tar -xf - -C "$src"
else
    tar --exclude='./build' --exclude='./build-*' -cf - . | tar -xf - -C "$src"
fi
(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc 2>/dev/null || echo 2)") >"$out/build.log" 2>&1 || {
    tail -40 "$out/build.log"; echo "deb_build: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/ 2>/dev/null || true
ls "$out"/*.deb
if command -v lintian >/dev/null 2>&1; then
    lintian --tag-display-limit 0 "$out"/*.changes >"$out/lintian.txt" 2>&1 || true
    cat "$out/lintian.txt"
fi

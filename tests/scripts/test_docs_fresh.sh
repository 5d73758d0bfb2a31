#!/bin/sh
# docs/features.md is generated from the feature table (`make docs`); a stale copy
# would document features, masks or edges the code no longer has.  Regenerate into a
# temporary file and fail on any difference.  Run from the repo root by `make check`.
set -u
gen="${CPUPOLICY_BUILD:-build}/docs/gen-features"
doc=docs/features.md

if [ ! -x "$gen" ]; then
    echo "FAIL: generator $gen not built (make BUILD=... tests)"
    exit 1
fi
if [ ! -f "$doc" ]; then
    echo "FAIL: $doc missing; run make docs"
    exit 1
fi
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
if ! "$gen" > "$tmp"; then
    echo "FAIL: $gen exited with status $?"
    exit 1
fi

. tests/scripts/lib.sh
# One row per feature: the generator must not silently drop any (287 in the reference).
rows=$(grep -c '^| [0-9][0-9]* | [0-9][0-9]* | [0-9][0-9]* | `' "$tmp")
if [ "$rows" -ne 287 ]; then
    echo "FAIL: expected 287 feature rows in generated docs, got $rows"
    fail=1
fi
if ! diff -u "$doc" "$tmp"; then
    echo "FAIL: $doc is stale: run 'make docs' and commit the result"
    fail=1
fi
[ $fail -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
echo "docs/features.md is fresh ($rows feature rows); 1 passed, 0 failed"

#!/bin/sh
# The binary seeds of tests/fuzz/corpus/ (protocol frames, wire entries) are generated
# by tests/fuzz/make_seeds.cpp (and the state files).  Regenerate them into a temporary directory and fail on
# any difference, so a protocol or wire-format change cannot leave the fuzzers starting
# from frames the decoders now refuse at their first check (docs/robustness.md).
set -u
build=${CPUPOLICY_BUILD:-build}
gen="$build/tests/fuzz/make_seeds"
if [ ! -x "$gen" ]; then
    echo "FAIL: generator $gen not built (make BUILD=... tests)"; echo "0 passed, 1 failed"; exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fuzz_protocol" "$tmp/fuzz_deserialise" "$tmp/fuzz_state_file"
if ! "$gen" "$tmp" >"$tmp/log" 2>&1; then
    cat "$tmp/log"; echo "0 passed, 1 failed"; exit 1
fi
. tests/scripts/lib.sh
for d in fuzz_protocol fuzz_deserialise fuzz_state_file; do
    for f in "$tmp/$d"/*; do
        name=${f#"$tmp/"}
        if cmp -s "$f" "tests/fuzz/corpus/$name"; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1)); echo "FAIL: tests/fuzz/corpus/$name is stale or missing; run 'make fuzz-seeds'"
        fi
    done
    # A committed seed the generator no longer writes is stale too.
    for f in tests/fuzz/corpus/$d/*; do
        [ -e "$tmp/$d/${f##*/}" ] || { fail=$((fail + 1)); echo "FAIL: $f is not generated any more; delete it"; }
    done
done
finish

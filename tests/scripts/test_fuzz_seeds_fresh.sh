#!/bin/sh
# The binary seeds of tests/fuzz/corpus/ (protocol frames, wire entries) are generated
# by tests/fuzz/make_seeds.cpp (and the state files).  Regenerate them into a temporary directory and fail on
# any difference, so a protocol or wire-format change cannot leave the fuzzers starting
# from frames the decoders now refuse at their first check (docs/robustness.md).  Inputs
# libFuzzer found (`make fuzz-merge`) sit beside them, named by their SHA-1.
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
    # A committed seed the generator no longer writes is stale too - unless it is an
    # input libFuzzer found and `make fuzz-merge` kept, named by the SHA-1 of its bytes
    # (a found input stays a valid test when the format moves on: the harness must
    # still refuse it cleanly).
    for f in tests/fuzz/corpus/$d/*; do
        [ -e "$tmp/$d/${f##*/}" ] && continue
        base=${f##*/}
        case $base in
        *[!0-9a-f]*) ;;
        *)
            if [ ${#base} -eq 40 ] && [ "$(sha1sum <"$f" | cut -c1-40)" = "$base" ]; then
                pass=$((pass + 1)); continue
            fi ;;
        esac
        fail=$((fail + 1)); echo "FAIL: $f is neither generated nor named by its SHA-1; delete it"
    done
done
finish

#!/bin/sh
# Runs every test program and script given; prints one line per test and the closing
# "N passed, N failed" line.  Output of a failing test is shown in full.
set -u
export CPUPOLICY_DUMPS="${CPUPOLICY_DUMPS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/cpuid-dumps}"
[ -d "$CPUPOLICY_DUMPS" ] || CPUPOLICY_DUMPS="$(pwd)/../shared/cpuid-dumps"
export CPUPOLICY_BUILD="${BUILD:-build}"
pass=0; fail=0; failed=""
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$@"; do
    start=$(date +%s)
    case "$t" in
        *.sh) sh "$t" >"$log" 2>&1 ;;
        *)    "$t" >"$log" 2>&1 ;;
    esac
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf 'PASS  %-50s %3ss  %s\n' "$t" "$secs" "$(tail -n 1 "$log")"
    else
        fail=$((fail + 1)); failed="$failed $t"
        printf 'FAIL  %-50s (exit %d)\n' "$t" "$rc"; sed 's/^/    | /' "$log"
    fi
done
[ -z "$failed" ] || echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/bin/sh
# Runs every test program and script given; prints one line per program or script, then
# one closing line "N passed, N failed, N skipped" that counts TESTS, not programs: each
# program's and script's own closing line ("N passed, N failed[, N skipped]", as every
# harness here prints it: tests/unit/harness.hpp, tests/check/check_common.h, CMocka,
# the scripts' tests/scripts/lib.sh) is added up.  A program that fails without such a
# line counts as one failed test.  Output of a failing program is shown in full.
set -u
export CPUPOLICY_DUMPS="${CPUPOLICY_DUMPS:-$(pwd)/tests/data/cpuid-dumps}"
export CPUPOLICY_BUILD="${BUILD:-build}"
pass=0; fail=0; skip=0; failed=""
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$@"; do
    start=$(date +%s)
    case "$t" in
        *.sh) sh "$t" >"$log" 2>&1 ;;
        *)    "$t" >"$log" 2>&1 ;;
    esac
    rc=$?
    secs=$(( $(date +%s) - start ))
    # The closing counts: the last line that has them (CMocka prints its summary
    # before its own trailing lines), "P F S" or empty.
    counts=$(sed -n 's/^\(.*[^0-9]\)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed\(, \([0-9][0-9]*\) skipped\)\{0,1\}$/\2 \3 \5/p' "$log" | tail -n 1)
    set -- $counts "" "" ""
    p=${1:-0}; f=${2:-0}; s=${3:-0}
    [ -n "$counts" ] || { p=0; f=0; s=0; }
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    if [ $rc -eq 0 ]; then
        printf 'PASS  %-50s %3ss  %s\n' "$t" "$secs" "$(tail -n 1 "$log")"
    else
        failed="$failed $t"
        printf 'FAIL  %-50s (exit %d)\n' "$t" "$rc"; sed 's/^/    | /' "$log"
    fi
done
[ -z "$failed" ] || echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ -z "$failed" ]

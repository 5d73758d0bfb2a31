# Shared by the test scripts (sourced, never run): one way to count and report.
#   ok [what]       a test passed
#   bad what        a test failed: printed as "FAIL: what"
#   skip what       a test that cannot run here: printed as "SKIP: what", counted
#   finish          the closing line "N passed, N failed, N skipped" and the exit status
# tests/run-tests.sh adds the closing lines of every script and program up.
pass=0; fail=0; skipped=0
ok()   { pass=$((pass + 1)); }
bad()  { fail=$((fail + 1)); echo "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $*"; }
finish()
{
    echo "$pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
}

# cpupolicy_setup NAME (the scripts that drive the cpupolicy command): BUILD, DUMPS, CP
# (the built cpupolicy; the script ends failed when it is missing) and T, a temporary
# directory /tmp/NAME.XXXXXX removed on exit unless KEEP=1.
cpupolicy_setup()
{
    BUILD=${CPUPOLICY_BUILD:-${BUILD:-build}}
    DUMPS=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
    CP="$(pwd)/$BUILD/bin/cpupolicy"
    [ -x "$CP" ] || { bad "no $CP (build first)"; finish; exit 1; }
    T=$(mktemp -d "/tmp/$1.XXXXXX")
    trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT INT TERM
}

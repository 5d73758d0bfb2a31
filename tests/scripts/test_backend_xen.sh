#!/bin/sh
# The "xen:" backend (libcpupolicy/src/backend_xen.hpp), from outside:
#  1. libcpupolicy.so does not depend on Xen's libraries: no DT_NEEDED libxen*, no
#     undefined xc_* / xtl_* symbol (they are dlopen()ed when "xen:" is opened), so the
#     library loads on machines without Xen;
#  2. the mapping of every Backend call onto libxc, against stand-in libraries
#     (tests/xen-stub/xen_stub.c built as libxenctrl.so.4.17 + libxenguest.so.4.17, first
#     on LD_LIBRARY_PATH): tests/xen-stub/client.c through the C ABI (featuresets, the
#     -ENOBUFS rule, policies through Xen's serialised form, errno translation, Xen's
#     error record, -EOPNOTSUPP for domain creation), libxc's message captured instead
#     of printed, and xen-cpuid --connect xen: info / -p / --levelling on the stub host;
#     and, with the real libraries where no Xen runs, -ENODEV through libcpupolicy.so;
#  3. where this is dom0 of a running Xen: the shared conformance suite
#     (tests/check/check_conformance, CPUPOLICY_URIS=xen:) and xen-cpuid --connect xen:
#     info / -p / --levelling; elsewhere that part is skipped, saying why.  The no-Xen
#     path (-ENODEV with a message, nothing on stderr) is tests/unit/test_backend_xen.
set -u

BUILD_DIR=${CPUPOLICY_BUILD:-${BUILD:-build}}
SO=$BUILD_DIR/lib/libcpupolicy.so
XC=$BUILD_DIR/bin/xen-cpuid
pass=0
fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

[ -r "$SO" ] || { echo "FAIL: $SO missing (make all)"; echo "0 passed, 1 failed"; exit 1; }

# --- 1. No link-time dependency on Xen ---------------------------------------------------
needed=$(readelf -d "$SO" | awk '/\(NEEDED\)/ { print $NF }' | tr -d '[]')
echo "$needed" | grep -q '^libxen' && bad "libcpupolicy.so links Xen libraries: $(echo "$needed" | tr '\n' ' ')" || ok
echo "$needed" | grep -q '^libc\.so' && ok || bad "readelf found no NEEDED entries at all (is readelf working?)"
und=$(nm -D --undefined-only "$SO" | awk '$NF ~ /^(xc_|xtl_|xencall_)/ { print $NF }')
[ -z "$und" ] && ok || bad "libcpupolicy.so has undefined Xen symbols: $und"
nm -D --undefined-only "$SO" | grep -qw dlopen && ok || bad "libcpupolicy.so does not import dlopen"

# --- 2. Against the stand-in libraries ---------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CC=${CC:-cc}
if $CC -shared -fPIC -O1 -Wall -Wextra -Werror -o "$tmp/libxenctrl.so.4.17" tests/xen-stub/xen_stub.c &&
   cp "$tmp/libxenctrl.so.4.17" "$tmp/libxenguest.so.4.17" &&
   $CC -std=c11 -Wall -Wextra -Werror -Ilibcpupolicy/include -o "$tmp/client" tests/xen-stub/client.c \
       -L"$BUILD_DIR/lib" -lcpupolicy -Wl,--enable-new-dtags -Wl,-rpath,"$(cd "$BUILD_DIR/lib" && pwd)"; then
    ok
    LD_LIBRARY_PATH="$tmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/client" >"$tmp/out" 2>&1; rc=$?
    last=$(tail -n 1 "$tmp/out")
    if [ $rc -eq 0 ]; then ok; echo "stub client: $last"; else bad "stub client (exit $rc):"; sed 's/^/    /' "$tmp/out"; fi

    # The real libraries (or none), through the shared library, where no Xen runs.
    if [ -r /proc/xen/capabilities ] && grep -q control_d /proc/xen/capabilities; then :; else
        "$tmp/client" no-xen 2>"$tmp/err" >"$tmp/out"; rc=$?
        [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok || { bad "client no-xen: exit $rc, stderr $(cat "$tmp/err")"; cat "$tmp/out"; }
    fi

    xs() { LD_LIBRARY_PATH="$tmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$XC" --connect xen: "$@"; }
    # info: the stub's six featuresets in Xen's order (word 0 = 0x1000 | index).
    xs info 2>"$tmp/err" | sed -n '/^Dynamic sets:$/,$p' | awk 'NR > 1 { print substr($NF, 1, 8) }' | tr '\n' ' ' >"$tmp/got"
    [ "$(cat "$tmp/got")" = "00001000 00001001 00001002 00001003 00001004 00001005 " ] && [ ! -s "$tmp/err" ] && ok ||
        bad "xen-cpuid --connect xen: info on the stub: word 0 of the dynamic sets: $(cat "$tmp/got") $(cat "$tmp/err")"
    # -p: leaf 7:0 ebx = 1 << policy index, in policy order; the stub's all-zero leaf 0x30
    # (beyond our policy object) dropped, not an error.
    xs -p | awk '$1 == "00000007:00000000" { split($3, r, ":"); print r[2] }' | tr '\n' ' ' >"$tmp/got"
    [ "$(cat "$tmp/got")" = "00000001 00000002 00000004 00000008 00000010 00000020 " ] && ok ||
        bad "xen-cpuid --connect xen: -p on the stub: leaf 7:0 ebx per policy: $(cat "$tmp/got")"
    xs -p 1 | head -1 | grep -q '^Domain 1 policy: ' && ok || bad "xen-cpuid --connect xen: -p 1 on the stub"
    xs --levelling | head -1 | grep -qx 'Levelling caps: 0000001f' && ok || bad "xen-cpuid --connect xen: --levelling on the stub"
    # A leaf our policy object cannot hold, carrying data: refused, not truncated.
    STUB_XEN_EXTRA=1 xs -p >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 3 ] && grep -qx 'xen-cpuid: system policy Raw: Numerical result out of range' "$tmp/err" && ok ||
        bad "stub with a non-zero leaf 0x30: exit $rc, $(cat "$tmp/err")"
    # xc_interface_open failing: libxc's message in ours, nothing of its own on stderr.
    STUB_XEN_NO_XEN=1 xs info >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
        grep -qx "xen-cpuid: cannot connect to 'xen:': xen: cannot open the Xen control interface (is this dom0 of a running Xen, and are you root?): xencall: Could not obtain handle on privileged command interface: No such file or directory (No such device)" "$tmp/err" &&
        ok || bad "stub without Xen: exit $rc, stderr: $(cat "$tmp/err")"
else
    bad "could not build the stand-in Xen libraries or their client"
fi

# --- 3. Against a real Xen --------------------------------------------------------------
if [ -r /proc/xen/capabilities ] && grep -q control_d /proc/xen/capabilities; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "skip: dom0 of a running Xen, but not root: the xen: backend needs /dev/xen/privcmd"
    else
        CONF=$BUILD_DIR/tests/check/check_conformance
        if [ -x "$CONF" ]; then
            CPUPOLICY_URIS=xen: "$CONF" && ok || bad "conformance suite against xen: failed"
        else
            echo "skip: $CONF not built: conformance not run against xen:"
        fi
        "$XC" --connect xen: info >/dev/null && ok || bad "xen-cpuid --connect xen: info"
        "$XC" --connect xen: -p | grep -c ' policy: ' | grep -qx 6 && ok || bad "xen-cpuid --connect xen: -p: not six policies"
        "$XC" --connect xen: --levelling | grep -q '^Levelling caps: ' && ok || bad "xen-cpuid --connect xen: --levelling"
    fi
else
    echo "skip: not dom0 of a running Xen (/proc/xen/capabilities lacks control_d): conformance and xen-cpuid not run against xen:"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

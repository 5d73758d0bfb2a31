#!/bin/sh
# xen-cpuid's live modes (issue 5 item 3) against simulated hosts booted on dumps
# (--connect "sim:dump=DUMP"), checked against the `cpupolicy` command, which derives
# the same policies offline through the C ABI (a second path to the same facts):
#   info/detail  the six dynamic sets in Xen's featureset order, each line exactly
#                `cpupolicy featureset --index I DUMP`;
#   -p [DOMID]   the six system policies in Xen's policy order, byte for byte
#                `cpupolicy policy --index I DUMP`; a domain's; an absent domain;
#   --diff       two dumps by feature name and by leaf, featuresets, system policies;
#   --masking  Sandy Bridge's masking MSRs, Genoa's CPUID faulting, Nehalem's subset;
#   unix:PATH    the same host served by cpupolicyd prints byte for byte the same;
#   errors       bad URI / --connect misuse / bad operands: exit 2, stderr, no stdout.
set -u

BUILD_DIR=${CPUPOLICY_BUILD:-${BUILD:-build}}
BIN=$BUILD_DIR/bin/xen-cpuid
CP=$BUILD_DIR/bin/cpupolicy
DUMPS=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
. tests/scripts/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT


for b in "$BIN" "$CP"; do
    [ -x "$b" ] || { echo "FAIL: $b missing (make all)"; echo "0 passed, 1 failed"; exit 1; }
done

SNB=$DUMPS/GenuineIntel00206D5_SandyBridgeEP.txt
SKX=$DUMPS/GenuineIntel0050654_SkylakeXeon.txt
NHM=$DUMPS/GenuineIntel00106A2_Nehalem-EP.txt
GENOA=$DUMPS/AuthenticAMD0A10F11_K19_Genoa_01.txt
for d in "$SNB" "$SKX" "$NHM" "$GENOA"; do
    [ -r "$d" ] || { echo "FAIL: dump $d missing"; echo "0 passed, 1 failed"; exit 1; }
done

# Featureset labels in Xen's featureset order, with cpupolicy's --index names.
FS_ORDER='Raw:raw Host:host PV_Default:pv-default HVM_Default:hvm-default PV_Max:pv-max HVM_Max:hvm-max'
# Policy order (XEN_SYSCTL_cpu_policy_*), as -p prints them.
POLICY_ORDER='raw host pv-max hvm-max pv-default hvm-default'

# --- info / detail ---------------------------------------------------------------------
for d in "$SNB" "$SKX" "$GENOA"; do
    n=$(basename "$d" .txt)
    "$BIN" --connect "sim:dump=$d" info >"$tmp/info" 2>"$tmp/err"; rc=$?
    [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "$n: info exit $rc: $(cat "$tmp/err")"
    # Exactly the six dynamic sets after "Dynamic sets:", in Xen's order, each the
    # featureset `cpupolicy featureset --index` derives from the same dump.
    sed -n '/^Dynamic sets:$/,$p' "$tmp/info" | tail -n +2 >"$tmp/dyn"
    : >"$tmp/want"
    for pair in $FS_ORDER; do
        label=$(echo "${pair%%:*}" | tr _ ' ')
        printf '%-24s        %s\n' "$label" "$("$CP" featureset --index "${pair#*:}" "$d")" >>"$tmp/want"
    done
    if cmp -s "$tmp/want" "$tmp/dyn"; then ok; else bad "$n: dynamic sets differ from cpupolicy featureset"; diff "$tmp/want" "$tmp/dyn" | head -6; fi
    # Raw, spelled out on its own (the line a script greps for).
    grep -qxF "$(printf '%-24s        %s' Raw "$("$CP" featureset "$d")")" "$tmp/info" && ok ||
        bad "$n: Raw line != cpupolicy featureset DUMP"
    # The static part is the machine-independent one: identical to the default connection's.
    sed '/^Dynamic sets:$/q' "$tmp/info" >"$tmp/static1"
    "$BIN" info | sed '/^Dynamic sets:$/q' | cmp -s - "$tmp/static1" && ok || bad "$n: static sets depend on the connection"

    "$BIN" --connect "sim:dump=$d" detail >"$tmp/detail"; rc=$?
    [ $rc -eq 0 ] && [ "$(grep -c '^  \[[0-9][0-9]\] ' "$tmp/detail")" -eq $((14 * 19)) ] && ok ||
        bad "$n: detail: exit $rc, $(grep -c '^  \[[0-9][0-9]\] ' "$tmp/detail") decode lines (expected 14 x 19)"
    "$BIN" -v --connect "sim:dump=$d" | cmp -s - "$tmp/detail" && ok || bad "$n: -v differs from detail"
done
# Decoded names are the dump's: avx512f in Skylake's Raw word 5, absent from Sandy Bridge's.
"$BIN" --connect "sim:dump=$SKX" detail | sed -n '/^Raw /,/^Host /p' |
    grep -q '^  \[05\] CPUID 0x00000007:0.ebx   .* avx512f ' && ok || bad "Skylake Raw: avx512f not decoded in word 5"
"$BIN" --connect "sim:dump=$SNB" detail | sed -n '/^Raw /,/^Host /p' | grep -q avx512f &&
    bad "Sandy Bridge Raw decodes avx512f" || ok

# Eight hex digits (awk regexes without interval expressions, for mawk).
H8='[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'

# --- -p / --policy -----------------------------------------------------------------------
for d in "$SNB" "$GENOA"; do
    n=$(basename "$d" .txt)
    "$BIN" --connect "sim:dump=$d" -p >"$tmp/p" 2>"$tmp/err"; rc=$?
    # cpupolicy policy ends with the importer's corrections to the dump (docs/import.md);
    # a hypervisor handle sees only the policies, so compare without them.
    for i in $POLICY_ORDER; do "$CP" policy --index "$i" "$d" | sed '/^ Import corrections:$/,$d'; done >"$tmp/want"
    if [ $rc -eq 0 ] && cmp -s "$tmp/want" "$tmp/p"; then ok; else
        bad "$n: -p (exit $rc) != cpupolicy policy --index ... for the six policies"; diff "$tmp/want" "$tmp/p" | head -6; fi
    # Parseable: every line is a title, a section/column header, or a row of the table.
    awk -v h="$H8" 'BEGIN { leaf = "^  " h ":" h " -> " h ":" h ":" h ":" h "$"; msr = "^  " h " -> " h h "$" }
         /^(Raw|Host|PV Max|HVM Max|PV Default|HVM Default) policy: [0-9]+ leaves, [0-9]+ MSRs$/ { t++; next }
         /^ CPUID:$/ || /^ MSRs:$/ || /^  leaf     subleaf  -> eax      ebx      ecx      edx     $/ ||
         /^  index    -> value           $/ { next }
         $0 ~ leaf {
             if ($4 == "00000000:00000000:00000000:00000000") { print "empty leaf printed: " $0; b = 1 } next }
         $0 ~ msr { next }
         { print "unparseable: " $0; b = 1 }
         END { if (t != 6) { print t " titles"; b = 1 } exit b }' "$tmp/p" >"$tmp/bad" && ok ||
        bad "$n: -p output not in Xen's print_policy layout: $(head -3 "$tmp/bad")"
    # Titles in Xen's policy order.
    grep ' policy: ' "$tmp/p" | sed 's/ policy: .*//' | tr '\n' , | grep -qx 'Raw,Host,PV Max,HVM Max,PV Default,HVM Default,' &&
        ok || bad "$n: -p titles/order"
    "$BIN" --connect "sim:dump=$d" --policy | cmp -s - "$tmp/p" && ok || bad "$n: --policy differs from -p"
done
# One domain: the control domain (0) is built from the PV default policy; "-p 0",
# "-p0", "--policy 0", "--policy=0x0" are the same request (Xen's optional argument).
"$CP" policy --index pv-default "$SNB" | sed -e '1s/^PV Default /Domain 0 /' -e '/^ Import corrections:$/,$d' >"$tmp/want"
for form in "-p 0" "-p0" "--policy 0" "--policy=0x0"; do
    # shellcheck disable=SC2086
    "$BIN" --connect "sim:dump=$SNB" $form >"$tmp/p" 2>"$tmp/err"; rc=$?
    [ $rc -eq 0 ] && cmp -s "$tmp/want" "$tmp/p" && ok || { bad "'$form': exit $rc"; diff "$tmp/want" "$tmp/p" | head -4; }
done
"$BIN" --connect "sim:dump=$SNB" -p 5 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 3 ] && [ ! -s "$tmp/out" ] && grep -qx 'xen-cpuid: policy of domain 5: No such process' "$tmp/err" &&
    ok || bad "-p 5 (no such domain): exit $rc, stderr $(cat "$tmp/err")"
for badid in x 0x7ff0 -1 1.5; do
    "$BIN" --policy="$badid" >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "^xen-cpuid: --policy: bad domain id '$badid'" "$tmp/err" &&
        ok || bad "--policy=$badid: exit $rc, stderr $(head -1 "$tmp/err")"
done

# --- --diff ------------------------------------------------------------------------------
"$BIN" --diff "$SKX" "$SNB" >"$tmp/d" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ ! -s "$tmp/err" ] && ok || bad "--diff SKX SNB: exit $rc (expected 1: they differ)"
sed -n 1,2p "$tmp/d" | cmp -s - <<EOF && ok || bad "--diff operand lines: $(sed -n 1,2p "$tmp/d")"
A: $SKX (policy)
B: $SNB (policy)
EOF
grep '^Features only in A ' "$tmp/d" | tr ' ' '\n' >"$tmp/onlya"
for f in avx512f avx512bw avx2 bmi2 rtm xsaves; do
    grep -qx "$f" "$tmp/onlya" && ok || bad "--diff SKX SNB: '$f' not among the features only in A"
done
grep -qx 'Features only in B (0):' "$tmp/d" && ok || bad "--diff SKX SNB: Sandy Bridge has no feature Skylake lacks"
# The count matches the names, and equals the bits of (A and not B) in the featuresets.
na=$(grep '^Features only in A ' "$tmp/d" | sed 's/^Features only in A (\([0-9]*\)):.*/\1/')
[ "$na" -eq "$(grep '^Features only in A ' "$tmp/d" | cut -d: -f2- | wc -w)" ] && ok || bad "--diff: count != names"
popcount_and_not() {  # popcount_and_not FS_A FS_B: number of bits in A and not in B
    c=0; i=1
    for wa in $(echo "$1" | tr : ' '); do
        wb=$(echo "$2" | cut -d: -f$i); v=$(( 0x$wa & ~0x$wb & 0xffffffff ))
        while [ $v -ne 0 ]; do c=$((c + (v & 1))); v=$((v >> 1)); done
        i=$((i + 1))
    done
    echo $c
}
want=$(popcount_and_not "$("$CP" featureset "$SKX")" "$("$CP" featureset "$SNB")")
[ "$want" -eq "$na" ] && [ "$na" -gt 30 ] && ok || bad "--diff: $na features only in A, the featuresets say $want"
# By leaf: leaf 7:0 ebx is where avx512f lives (SDM vol. 2A, CPUID leaf 7); the '-' row
# is Skylake's raw leaf as `cpupolicy policy` prints it.
skx7=$("$CP" policy "$SKX" | awk '$1 == "00000007:00000000" { print $3 }')
grep -qx -- "- 00000007:00000000 -> $skx7" "$tmp/d" && ok || bad "--diff: no '-' row for leaf 7:0 = $skx7"
grep -q '^Leaves that differ ([1-9][0-9]*):$' "$tmp/d" && ok || bad "--diff: no leaf section"
# Swapped operands swap the sides.
"$BIN" --diff "$SNB" "$SKX" | grep '^Features only in B ' | tr ' ' '\n' | sed 1,4d | sort >"$tmp/onlyb"
sed 1,4d "$tmp/onlya" | sort | cmp -s - "$tmp/onlyb" && ok || bad "--diff B A is not the mirror of --diff A B"
# A dump against itself: identical, exit 0.
"$BIN" --diff "$SNB" "$SNB" >"$tmp/d"; rc=$?
[ $rc -eq 0 ] && grep -qx 'Features only in A (0):' "$tmp/d" && grep -qx 'Leaves that differ (0):' "$tmp/d" &&
    grep -qx 'MSRs that differ (0):' "$tmp/d" && ok || bad "--diff X X: exit $rc"
# Featuresets: features only; exact output.
printf 'A: 1:2 (featureset)\nB: 1:3 (featureset)\nFeatures only in A (0):\nFeatures only in B (1): sse3\n' >"$tmp/want"
"$BIN" --diff 1:2 1:3 >"$tmp/d"; rc=$?
[ $rc -eq 1 ] && cmp -s "$tmp/want" "$tmp/d" && ok || { bad "--diff 1:2 1:3: exit $rc"; diff "$tmp/want" "$tmp/d"; }
# System policies of one host: HVM max offers vmx and CPUID faulting (PLATFORM_INFO bit
# 31, virtualised for HVM guests) that PV max does not.
"$BIN" --connect "sim:dump=$SNB" --diff sys:pv-max sys:hvm-max >"$tmp/d"; rc=$?
[ $rc -eq 1 ] && grep '^Features only in B ' "$tmp/d" | grep -qw vmx && ok || bad "--diff sys:pv-max sys:hvm-max: vmx"
grep -qx '+ 000000ce -> 0000000080000000' "$tmp/d" && ok || bad "--diff sys:pv-max sys:hvm-max: PLATFORM_INFO row"
# A policy against its own featureset: features only, identical.
"$BIN" --connect "sim:dump=$SNB" --diff sys:raw "$("$CP" featureset "$SNB")" >"$tmp/d"; rc=$?
[ $rc -eq 0 ] && ! grep -q '^Leaves' "$tmp/d" && ok || bad "--diff sys:raw FEATURESET: exit $rc"
# dom:0 is the PV default policy.
"$BIN" --connect "sim:dump=$SNB" --diff dom:0 sys:pv-default >/dev/null; rc=$?
[ $rc -eq 0 ] && ok || bad "--diff dom:0 sys:pv-default: exit $rc"

# --- --masking -------------------------------------------------------------------------
# Sandy Bridge: the third generation of Intel masking MSRs (0x132 leaf 1, 0x133 leaf
# 0x80000001, 0x134 leaf 0xd:1 eax), no CPUID faulting (Ivy Bridge brought it).
cat >"$tmp/want" <<'EOF'
Levelling caps: 0000003e
  faulting     no   CPUID faulting: every CPUID of a PV guest traps
  ecx          yes  masking of CPUID 0x00000001.ecx
  edx          yes  masking of CPUID 0x00000001.edx
  extd_ecx     yes  masking of CPUID 0x80000001.ecx
  extd_edx     yes  masking of CPUID 0x80000001.edx
  xsave_eax    yes  masking of CPUID 0x0000000d:1.eax
  thermal_ecx  no   masking of CPUID 0x00000006.ecx
  l7s0_eax     no   masking of CPUID 0x00000007:0.eax
  l7s0_ebx     no   masking of CPUID 0x00000007:0.ebx
PV levelling: partial, by masking 5 registers
EOF
"$BIN" --connect "sim:dump=$SNB" --masking >"$tmp/l" 2>"$tmp/err"; rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/want" "$tmp/l" && ok || { bad "--masking Sandy Bridge: exit $rc"; diff "$tmp/want" "$tmp/l"; }
# Nehalem: the second generation (0x130/0x131) has no leaf 0xd:1 mask.
"$BIN" --connect "sim:dump=$NHM" --masking | awk '$2 == "yes" { print $1 }' | tr '\n' ' ' |
    grep -qx 'ecx edx extd_ecx extd_edx ' && ok || bad "--masking Nehalem: expected ecx edx extd_ecx extd_edx"
# Genoa: CPUID faulting (AMD CpuidUserDis, HWCR[35]).
"$BIN" --connect "sim:dump=$GENOA" --masking >"$tmp/l"
grep -qx '  faulting     yes  CPUID faulting: every CPUID of a PV guest traps' "$tmp/l" &&
    grep -qx 'PV levelling: complete, by faulting' "$tmp/l" && ok || bad "--masking Genoa: faulting"

# --- The same host through cpupolicyd ("unix:PATH"): identical output -----------------------
D=$BUILD_DIR/sbin/cpupolicyd
if [ -x "$D" ]; then
    "$D" --socket "$tmp/snb.sock" --dump "$SNB" >"$tmp/d.log" 2>&1 &
    dpid=$!
    i=0; while [ ! -S "$tmp/snb.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    for m in info detail -p "-p 0" --masking; do
        # shellcheck disable=SC2086
        "$BIN" --connect "unix:$tmp/snb.sock" $m >"$tmp/u" 2>&1
        # shellcheck disable=SC2086
        "$BIN" --connect "sim:dump=$SNB" $m | cmp -s - "$tmp/u" && ok || bad "unix: and sim: differ for '$m': $(head -2 "$tmp/u")"
    done
    kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
else
    echo "note: $D not built: xen-cpuid over unix: not compared"
fi

# --- Errors: exit 2, a message, nothing on stdout ----------------------------------------------
# expect_fail NAME STATUS STDERR-REGEX ARGS...
expect_fail() {
    name=$1; want_rc=$2; re=$3; shift 3
    "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc -eq "$want_rc" ] && [ ! -s "$tmp/out" ] && grep -q -- "$re" "$tmp/err"; then ok; else
        bad "$name: exit $rc (expected $want_rc), stdout $(wc -c <"$tmp/out") bytes"
        sed 's/^/    stderr: /' "$tmp/err" | head -3
    fi
}
expect_fail "unknown URI scheme" 2 "^xen-cpuid: cannot connect to 'bogus:x': unsupported URI scheme 'bogus'" --connect bogus:x
expect_fail "unknown URI scheme (-p)" 2 "^xen-cpuid: cannot connect to 'bogus:x'" --connect bogus:x -p
expect_fail "sim: without dump=" 2 "^xen-cpuid: cannot connect to 'sim:': sim: URI needs dump=PATH" --connect sim: info
expect_fail "sim: unreadable dump" 2 "^xen-cpuid: cannot connect to 'sim:dump=$tmp/none.txt'" --connect "sim:dump=$tmp/none.txt" --masking
if [ -r /proc/xen/capabilities ] && grep -q control_d /proc/xen/capabilities; then
    echo "note: this is dom0 of a running Xen; the no-Xen error of --connect xen: is not checked"
else
    expect_fail "xen: without a Xen" 2 "^xen-cpuid: cannot connect to 'xen:': xen: cannot open the Xen control interface" --connect xen: info
fi
expect_fail "--connect with decode" 2 "^xen-cpuid: --connect applies to info, detail, --policy, --diff and --masking, not to decoding" --connect "" 1:2
expect_fail "--connect with --list" 2 "not to --list" --connect "" --list
expect_fail "--diff with one operand" 2 "^xen-cpuid: --diff needs two operands, A and B (got 1)" --diff 1:2
expect_fail "--diff bad system policy" 2 "^xen-cpuid: --diff operand 'sys:hvm': unknown system policy" --diff sys:hvm 1
expect_fail "--diff bad domain" 2 "^xen-cpuid: --diff operand 'dom:x': bad domain id" --diff 1 dom:x
expect_fail "--diff absent domain" 3 "^xen-cpuid: --diff operand 'dom:9': No such process" --diff dom:9 1
expect_fail "--diff unreadable operand" 2 "^xen-cpuid: --diff operand '$tmp/none' is neither a featureset" --diff 1 "$tmp/none"
expect_fail "--masking takes no argument" 2 "^xen-cpuid: unexpected argument 'x' after --masking" --masking x
expect_fail "-p conflicts with --diff" 2 "^xen-cpuid: --diff conflicts with --policy" -p --diff 1 2
# An empty operand is refused, not read as this machine's CPU (issue 11, item 9).
expect_fail "--diff empty operand" 2 "^xen-cpuid: --diff operand is empty" --diff '' 1
expect_fail "--diff empty second operand" 2 "^xen-cpuid: --diff operand is empty" --diff 1 ''
# Output that cannot be written is an error (issue 11, item 6).
if [ -w /dev/full ]; then
    "$BIN" --list >/dev/full 2>"$tmp/full.err"; rc=$?
    [ $rc -eq 2 ] && grep -q '^xen-cpuid: writing standard output failed' "$tmp/full.err" && ok ||
        bad "--list > /dev/full: exit $rc, '$(cat "$tmp/full.err")' (expected 2 and a message)"
else
    skip "no writable /dev/full here"
fi

finish

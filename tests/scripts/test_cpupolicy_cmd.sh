#!/bin/sh
# The `cpupolicy` command end to end (issue 3 item 9), over the real dumps:
#   featureset  19 words; Granite Rapids' raw words computed here from the dump text with
#               awk (independently of the importer); every --index; --boot-options
#               clearing avx2 and its dependents (and leaving raw alone, as on Xen)
#   policy      xen-cpuid -p's layout: title, " CPUID:", column header, sorted rows with
#               empty leaves skipped, " MSRs:", MSR header and rows; exact rows from the dump
#   compare     exit 0 compatible / 1 incompatible with the first failing leaf and the
#               missing feature names / 2 bad input
#   level       the levelled featureset, then one "loses:" line per host
#   masking     a simulated host's masking/faulting caps and what it cannot level for a PV
#               domain, grouped by CPUID register: Sandy Bridge-EP (masking, no faulting)
#               leaks itsc and loses hypervisor/arch-caps (exit 1); Haswell-EP (faulting)
#               is complete (exit 0); Milan (AMD overrides) loses nothing and leaks only in
#               registers no mask covers; a GUEST dump levelled onto the host (dropped
#               features named; masked ones do not leak); vendor mismatch and bad input
#               exit 2
#   errors      exit 2 with a message naming the file (and line), the bad index, option,
#               command or boot option, or the dump whose vendor differs
set -u

BIN=${CPUPOLICY_BUILD:-${BUILD:-build}}/bin/cpupolicy
D=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
GNR=$D/GenuineIntel00A06D1_GraniteRapids_03.txt
SNB=$D/GenuineIntel00206D5_SandyBridgeEP.txt
HSW=$D/GenuineIntel00306F2_HaswellEP.txt
GENOA=$D/AuthenticAMD0A10F11_K19_Genoa_01.txt
TURIN=$D/AuthenticAMD0B00F21_K20_Turin_01.txt
MILAN=$D/AuthenticAMD0A00F11_K19_Milan_02.txt
NHM=$D/GenuineIntel00106A2_Nehalem-EP.txt
. tests/scripts/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$BIN" ] || { echo "FAIL: $BIN missing (make all)"; echo "0 passed, 1 failed"; exit 1; }
[ -r "$GNR" ] || { echo "FAIL: $GNR missing (CPUPOLICY_DUMPS)"; echo "0 passed, 1 failed"; exit 1; }


# run ARGS...: stdout -> $tmp/out, stderr -> $tmp/err, exit status -> $rc
run() { "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

# check NAME WANT_RC: exit status, and an empty stderr on success / stdout on exit 2
check_rc() {
    if [ "$rc" -ne "$2" ]; then
        bad "$1: exit $rc (expected $2)"; sed 's/^/    stderr: /' "$tmp/err" | head -3; return 1
    fi
    if [ "$2" -eq 0 ] && [ -s "$tmp/err" ]; then
        bad "$1: stderr not empty on success"; sed 's/^/    stderr: /' "$tmp/err" | head -3; return 1
    fi
    if [ "$2" -eq 2 ] && [ -s "$tmp/out" ]; then
        bad "$1: stdout not empty on error"; return 1
    fi
    return 0
}
# has FILE NAME STRING: FILE contains STRING (fixed string)
has() {
    if grep -qF -- "$3" "$1"; then ok; else bad "$2: expected '$3' in:"; sed 's/^/    | /' "$1" | head -8; fi
}
hasnt() {
    if grep -qF -- "$3" "$1"; then bad "$2: did not expect '$3'"; else ok; fi
}
# eq NAME EXPECTED ACTUAL
eq() {
    if [ "$2" = "$3" ]; then ok; else bad "$1"; echo "    expected: $2"; echo "    actual:   $3"; fi
}
WORDS19='^[0-9a-f]\{8\}\(:[0-9a-f]\{8\}\)\{18\}$'
is19() { if printf '%s\n' "$2" | grep -q "$WORDS19"; then ok; else bad "$1: not 19 words: '$2'"; fi; }
# bit WORDS FEATURE-NUMBER -> 0/1 (feature f = bit f%32 of word f/32)
bit() {
    w=$(printf '%s\n' "$1" | cut -d: -f$(($2 / 32 + 1)))
    echo $(( (0x$w >> ($2 % 32)) & 1 ))
}
# Feature numbers (Xen's cpufeatureset.h): hypervisor 1.ecx[31], fma 1.ecx[12], avx2
# 7:0.ebx[5], avx512f 7:0.ebx[16], avx512bw 7:0.ebx[30], avx512-vnni 7:0.ecx[11],
# vaes 7:0.ecx[9], avx-vnni 7:1.eax[4], sse4.2 1.ecx[20], aesni 1.ecx[25].
F_HYPERVISOR=63 F_FMA=44 F_AVX2=165 F_AVX512F=176 F_AVX512BW=190 F_AVX512VNNI=203
F_VAES=201 F_AVXVNNI=324 F_SSE42=52 F_AESNI=57 F_AVX=60

# --- featureset: Granite Rapids raw, from the dump text --------------------------------
# First logical CPU's CPUID block (up to "Logical CPU #1"), subleaf from the [SL nn] tag;
# MSR 0x10a from the first MSR block.  Word order: Xen's featureset words 0..18.
expected_gnr=$(awk '
    { sub(/\r$/, "") }
    /Logical CPU #1/ { cpu1 = 1 }
    /^CPUID / && !cpu1 {
        leaf = tolower(substr($2, 1, 8)); sl = ""
        if ( match($0, /\[SL [0-9A-Fa-f]+\]/) ) sl = tolower(substr($0, RSTART + 4, RLENGTH - 5))
        n = split($3, r, "-")
        key = leaf ":" sl
        if ( !(key in A) ) { A[key] = tolower(r[1]); B[key] = tolower(r[2]); C[key] = tolower(r[3]); D[key] = tolower(r[4]) }
    }
    /^MSR 0000010A:/ && msr == "" { split($3, m, "-"); msr = tolower(m[1] m[2] ":" m[3] m[4]) }
    function g(arr, key) { return (key in arr) ? arr[key] : "00000000" }
    END {
        split(msr, mm, ":"); if ( msr == "" ) { mm[1] = "00000000"; mm[2] = "00000000" }
        printf "%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s:%s\n",
            g(D, "00000001:"), g(C, "00000001:"), g(D, "80000001:"), g(C, "80000001:"),
            g(A, "0000000d:01"), g(B, "00000007:00"), g(C, "00000007:00"), g(D, "80000007:"),
            g(B, "80000008:"), g(D, "00000007:00"), g(A, "00000007:01"), g(A, "80000021:"),
            g(B, "00000007:01"), g(D, "00000007:02"), g(C, "00000007:01"), g(D, "00000007:01"),
            mm[2], mm[1], g(C, "80000021:")
    }' "$GNR")
# The dump was taken by a 32-bit process: Intel reports SYSCALL (0x80000001 EDX bit 11)
# only to 64-bit code, and the importer gives what a 64-bit hypervisor reads (docs/import.md
# "Corrections"): word 2 with bit 11 set when long mode (bit 29) is.
w2=$(printf '%s\n' "$expected_gnr" | cut -d: -f3)
eq "GNR's dump text shows SYSCALL clear beside LM" "2c100000" "$w2"
if [ $(( (0x$w2 >> 29) & 1 )) -eq 1 ]; then
    expected_gnr=$(printf '%s\n' "$expected_gnr" |
        awk -F: -v w="$(printf '%08x' $((0x$w2 | 0x800)))" 'BEGIN { OFS = ":" } { $3 = w; print }')
fi
# Spot-check the awk against values read by eye from the file, so that a broken awk
# cannot agree with a broken importer: 1.edx BFEBFBFF, 7:0.ebx F3BFBFFB, ARCH_CAPS lo 2DA9FDEB.
eq "awk reads GNR words 0/5/16" "bfebfbff f3bfbffb 2da9fdeb" \
   "$(printf '%s\n' "$expected_gnr" | cut -d: -f1,6,17 | tr : ' ')"
run featureset "$GNR"
check_rc "featureset GNR" 0 && { is19 "featureset GNR" "$(cat "$tmp/out")"; ok; }
eq "featureset GNR (raw) equals the dump's words" "$expected_gnr" "$(cat "$tmp/out")"
eq "featureset prints exactly one line" 1 "$(wc -l <"$tmp/out" | tr -d ' ')"
run featureset --index raw "$GNR"
eq "--index raw is the default" "$expected_gnr" "$(cat "$tmp/out")"

# --- featureset --index -----------------------------------------------------------------
for idx in raw host pv-max hvm-max pv-default hvm-default; do
    run featureset --index "$idx" "$GNR"
    check_rc "featureset --index $idx" 0 && ok
    is19 "featureset --index $idx" "$(cat "$tmp/out")"
    eval "fs_$(echo $idx | tr - _)=\$(cat \"\$tmp/out\")"
done
eq "raw has no hypervisor bit" 0 "$(bit "$fs_raw" $F_HYPERVISOR)"
eq "host has no hypervisor bit" 0 "$(bit "$fs_host" $F_HYPERVISOR)"
for idx in pv_max hvm_max pv_default hvm_default; do
    eval "v=\$fs_$idx"
    eq "$idx sets the hypervisor bit" 1 "$(bit "$v" $F_HYPERVISOR)"
done
run featureset -i hvm-max "$GNR"
eq "-i is --index" "$fs_hvm_max" "$(cat "$tmp/out")"

# --- featureset --boot-options ------------------------------------------------------------
run featureset --boot-options no-avx2 "$GNR"
check_rc "--boot-options no-avx2" 0 && ok
noavx2=$(cat "$tmp/out")
eq "GNR host has avx2" 1 "$(bit "$fs_host" $F_AVX2)"
eq "GNR host has avx512f" 1 "$(bit "$fs_host" $F_AVX512F)"
for f in $F_AVX2 $F_AVX512F $F_AVX512BW $F_AVX512VNNI $F_VAES $F_AVXVNNI; do
    eq "no-avx2 clears feature $f (avx2 or a dependent)" 0 "$(bit "$noavx2" $f)"
done
for f in $F_FMA $F_SSE42 $F_AESNI; do
    eq "no-avx2 keeps feature $f (not a dependent)" "$(bit "$fs_host" $f)" "$(bit "$noavx2" $f)"
done
eq "no-avx2 leaves words 0-4 alone" "$(printf '%s\n' "$fs_host" | cut -d: -f1-5)" \
   "$(printf '%s\n' "$noavx2" | cut -d: -f1-5)"
run featureset --index host --boot-options cpuid=no-avx2 "$GNR"
eq "cpuid=no-avx2 == no-avx2 (and no --index means host)" "$noavx2" "$(cat "$tmp/out")"
run featureset --index raw --boot-options no-avx2 "$GNR"
eq "boot options do not change raw (as on Xen)" "$expected_gnr" "$(cat "$tmp/out")"
run featureset --index hvm-default --boot-options no-avx2 "$GNR"
eq "no-avx2 reaches hvm-default" 0 "$(bit "$(cat "$tmp/out")" $F_AVX2)"

# --- policy: xen-cpuid -p layout ------------------------------------------------------------
run policy "$GNR"
check_rc "policy GNR" 0 && ok
out=$tmp/out
first=$(sed -n 1p "$out")
if printf '%s\n' "$first" | grep -q '^Raw policy: [0-9]\{1,\} leaves, 2 MSRs$'; then ok; else bad "policy title: '$first'"; fi
nleaves=$(printf '%s\n' "$first" | sed 's/^Raw policy: \([0-9]*\) leaves.*/\1/')
eq "policy line 2" " CPUID:" "$(sed -n 2p "$out")"
eq "policy CPUID column header" "$(printf '  %-8s %-8s -> %-8s %-8s %-8s %-8s' leaf subleaf eax ebx ecx edx)" \
   "$(sed -n 3p "$out")"
msrline=$(grep -n '^ MSRs:$' "$out" | cut -d: -f1)
# After the MSRs, what the importer corrected: GNR's line 89 is
# "CPUID 80000001: 00000000-00000000-00000121-2C100000" (SYSCALL clear, LM set).
noteline=$(grep -n '^ Import corrections:$' "$out" | cut -d: -f1)
if [ -n "$noteline" ]; then ok; else bad "policy GNR: no ' Import corrections:' line"; noteline=$(($(wc -l <"$out") + 1)); fi
eq "policy GNR: the SYSCALL correction, with the dump line and the SDM" \
   "  80000001:00000000 edx bit 11 -> 1 (line 89): SYSCALL set: Intel reports it only to 64-bit code (SDM Vol. 2A, CPUID 80000001H EDX bit 11) and long mode is set, so the dump was taken by a 32-bit process; a 64-bit hypervisor reads it set" \
   "$(sed -n "$((noteline + 1)),\$p" "$out")"
eq "GNR line 89 is the 0x80000001 record as dumped" "CPUID 80000001: 00000000-00000000-00000121-2C100000" \
   "$(sed -n 89p "$GNR" | tr -d '\r' | cut -c1-51)"
has "$out" "policy GNR: row 0x80000001 with SYSCALL set" "  80000001:ffffffff -> 00000000:00000000:00000121:2c100800"
if [ -n "$msrline" ]; then ok; else bad "policy: no ' MSRs:' line"; msrline=9999; fi
sed -n "4,$((msrline - 1))p" "$out" >"$tmp/rows"
bad_rows=$(grep -vc '^  [0-9a-f]\{8\}:[0-9a-f]\{8\} -> [0-9a-f]\{8\}:[0-9a-f]\{8\}:[0-9a-f]\{8\}:[0-9a-f]\{8\}$' "$tmp/rows")
eq "policy: every CPUID row is '  LLLLLLLL:SSSSSSSS -> A:B:C:D'" 0 "$bad_rows"
eq "policy: empty leaves are skipped (as xen-cpuid)" 0 "$(grep -c -- '-> 00000000:00000000:00000000:00000000$' "$tmp/rows")"
nrows=$(wc -l <"$tmp/rows" | tr -d ' ')
if [ "$nrows" -gt 40 ] && [ "$nrows" -le "$nleaves" ]; then ok; else bad "policy: $nrows rows for $nleaves leaves"; fi
sort -c "$tmp/rows" 2>/dev/null && ok || bad "policy: rows not sorted by leaf:subleaf"
# Rows from the dump text: CPUID 00000000 / 00000001 / 00000007 [SL 00] / 0000000D [SL 01].
has "$tmp/rows" "policy row leaf 0" "  00000000:ffffffff -> 00000024:756e6547:6c65746e:49656e69"
has "$tmp/rows" "policy row leaf 1" "  00000001:ffffffff -> 000a06d1:00800800:7ffefbff:bfebfbff"
has "$tmp/rows" "policy row 7:0" "  00000007:00000000 -> 00000002:f3bfbffb:bb417fee:ffdd4430"
has "$tmp/rows" "policy row d:1" "  0000000d:00000001 -> 0000001f:00002a80:0001dd00:00000000"
eq "policy MSR header" "$(printf '  %-8s -> %-16s' index value)" "$(sed -n "$((msrline + 1))p" "$out")"
# MSR 000000CE: 0405-082C-F080-1E00 -> only bit 31 (CPUID faulting) is policy content;
# MSR 0000010A: 0000-0000-2DA9-FDEB.
eq "policy MSR rows" "  000000ce -> 0000000080000000
  0000010a -> 000000002da9fdeb" "$(sed -n "$((msrline + 2)),$((noteline - 1))p" "$out")"
run policy "$D/GenuineIntel0050657_CascadeLakeXeon.txt"
hasnt "$tmp/out" "policy CLX (dumped in 64-bit mode): no corrections" "Import corrections"
run policy --index hvm-default "$SNB"
check_rc "policy --index hvm-default" 0 && ok
if sed -n 1p "$tmp/out" | grep -q '^HVM Default policy: [0-9]* leaves, 2 MSRs$'; then ok; else bad "hvm-default title: $(sed -n 1p "$tmp/out")"; fi
run policy --index pv-max "$SNB"
if sed -n 1p "$tmp/out" | grep -q '^PV Max policy: '; then ok; else bad "pv-max title: $(sed -n 1p "$tmp/out")"; fi
has "$tmp/out" "pv-max shows Xen's leaf limit 0x40000005" "  40000000:ffffffff -> 40000005:00000000:00000000:00000000"

# --- compare ----------------------------------------------------------------------------------
run compare "$GNR" "$GNR"
check_rc "compare GNR GNR" 0 && ok
has "$tmp/out" "compare GNR GNR" "compatible:"
run compare "$GNR" "$SNB"
check_rc "compare: SNB guest on GNR host" 0 && ok
run compare "$SNB" "$GNR"
check_rc "compare: GNR guest on SNB host" 1 && ok
has "$tmp/out" "compare exit 1" "incompatible:"
has "$tmp/out" "compare names the first failing leaf" "first failure: leaf 0x1"
grep '^host lacks ' "$tmp/out" >"$tmp/lacks"
for f in avx512f avx2 fma avx512bw; do
    if grep -q " $f\( \|$\)" "$tmp/lacks"; then ok; else bad "compare: '$f' not named missing: $(cat "$tmp/lacks")"; fi
done
run compare --index pv-max "$GENOA" "$TURIN"
check_rc "compare --index pv-max Genoa Turin" 1 && ok
has "$tmp/out" "Turin on Genoa names 7:0" "first failure: leaf 0x7 subleaf 0"
has "$tmp/out" "Turin on Genoa lacks movdiri" "movdiri"
run compare "$GNR" "$GENOA"
check_rc "compare across vendors" 1 && ok
has "$tmp/out" "vendor differs at leaf 0" "first failure: leaf 0"
run compare "$GNR" "$tmp/no-such-guest.txt"
check_rc "compare, missing guest file" 2 && ok
has "$tmp/err" "compare names the missing file" "no-such-guest.txt"
run compare "$GNR"
check_rc "compare with one dump" 2 && ok

# --- level --------------------------------------------------------------------------------------
run level "$SNB" "$HSW" "$GNR"
check_rc "level SNB HSW GNR" 0 && ok
eq "level: 4 lines (featureset + 3 hosts)" 4 "$(wc -l <"$tmp/out" | tr -d ' ')"
lvl=$(sed -n 1p "$tmp/out")
is19 "level first line" "$lvl"
eq "level: one loses line per host, in order" "$SNB loses:
$HSW loses:
$GNR loses:" "$(sed -n '2,$p' "$tmp/out" | sed 's/loses:.*/loses:/')"
eq "levelled set lacks avx2 (SNB has none)" 0 "$(bit "$lvl" $F_AVX2)"
eq "levelled set lacks aesni (the HSW dump has it disabled: 1.ecx 7DFEFBFF)" 0 "$(bit "$lvl" $F_AESNI)"
eq "levelled set keeps sse4.2" 1 "$(bit "$lvl" $F_SSE42)"
if grep "^$HSW loses:" "$tmp/out" | grep -q ' avx2\( \|$\)'; then ok; else bad "HSW should lose avx2"; fi
if grep "^$SNB loses:" "$tmp/out" | grep -q ' aesni\( \|$\)'; then ok; else bad "SNB should lose aesni"; fi
if grep "^$GNR loses:" "$tmp/out" | grep -q ' avx512f '; then ok; else bad "GNR should lose avx512f"; fi
run level "$GNR"
check_rc "level of one" 0 && ok
eq "level of one loses nothing" "$GNR loses: (nothing)" "$(sed -n 2p "$tmp/out")"
run level "$HSW" "$GENOA"
check_rc "level Intel + AMD" 2 && ok
has "$tmp/err" "level names the AMD dump" "$GENOA"
hasnt "$tmp/err" "level: no usage text on a vendor error" "Usage:"

# --- masking ------------------------------------------------------------------------------------
# section FILE TITLE: the lines of one "TITLE: N" block (the title line and its indented
# "  LABEL: names" lines).
section() { awk -v t="$2" 'index($0, t ": ") == 1 { on = 1; print; next } on && /^  / { print; next } { on = 0 }' "$1"; }
# Sandy Bridge-EP: masking MSRs 0x132-0x134 (caps 0x3e, docs/hypervisor.md), PLATFORM_INFO
# bit 31 clear.  Its PV default's gap (check_sim proves it against simulated native CPUID):
# itsc leaks through 0x80000007.edx, which no MSR masks; an AND mask cannot add
# hypervisor; 7:0.edx (arch-caps, synthesised) is not masked and SNB's leaf 7 is zeros.
run masking "$SNB"
check_rc "levelling SNB" 1 && ok
eq "levelling SNB: stderr empty" "" "$(cat "$tmp/err")"
has "$tmp/out" "levelling SNB: caps" "Levelling caps: 0000003e"
has "$tmp/out" "levelling SNB: no faulting" "  faulting     no   CPUID faulting"
has "$tmp/out" "levelling SNB: leaf 1 ecx masked" "  ecx          yes  masking of CPUID 0x00000001.ecx"
has "$tmp/out" "levelling SNB: 5 masks" "PV levelling: partial, by masking 5 registers"
has "$tmp/out" "levelling SNB: guest" "Guest: pv-default of the host, PV domain 1"
eq "levelling SNB: leaked, by register" "Leaked (seen by the guest, not in its policy): 1
  CPUID 0x80000007.edx: itsc" "$(section "$tmp/out" "Leaked (seen by the guest, not in its policy)")"
eq "levelling SNB: lost, by register" "Lost (in its policy, not seen by the guest): 2
  CPUID 0x00000001.ecx: hypervisor
  CPUID 0x00000007:0.edx: arch-caps" "$(section "$tmp/out" "Lost (in its policy, not seen by the guest)")"
eq "levelling SNB: verdict" "Levelling: incomplete, 1 leaked, 2 lost" "$(tail -n 1 "$tmp/out")"
# The simulated host's pv-default is the offline derivation of the same dump.
snb_pvdef=$("$BIN" featureset --index pv-default "$SNB")
eq "levelling SNB: guest featureset = cpupolicy featureset --index pv-default" \
   "Guest featureset: $snb_pvdef" "$(grep '^Guest featureset: ' "$tmp/out")"
eq "levelling SNB: nothing dropped from its own default" "Dropped (beyond the host's pv-max): 0" \
   "$(section "$tmp/out" "Dropped (beyond the host's pv-max)")"

# Boot options reach the simulated host (bare list = its cpuid= option): no avx in the
# guest, as the offline derivation with the same options says; the gap is unchanged
# (avx sits in leaf 1 ecx, which SNB masks).
run masking --boot-options no-avx "$SNB"
check_rc "levelling --boot-options no-avx SNB" 1 && ok
has "$tmp/out" "levelling boot options shown" "Host: $SNB (boot options 'no-avx')"
g=$(sed -n 's/^Guest featureset: //p' "$tmp/out")
eq "levelling no-avx: guest lacks avx" 0 "$(bit "$g" $F_AVX)"
eq "levelling no-avx: guest = offline pv-default with the options" \
   "$("$BIN" featureset --index pv-default --boot-options no-avx "$SNB")" "$g"
eq "levelling no-avx: same gap" "Levelling: incomplete, 1 leaked, 2 lost" "$(tail -n 1 "$tmp/out")"
run masking --boot-options cpuid=no-avx "$SNB"
check_rc "levelling --boot-options cpuid=no-avx" 1 && ok
eq "levelling cpuid=no-avx: same guest" "$g" "$(sed -n 's/^Guest featureset: //p' "$tmp/out")"

# Haswell-EP: PLATFORM_INFO bit 31 set, so CPUID faulting (caps 0x1): every CPUID of a
# PV guest traps and is answered from its policy - nothing leaks, nothing is lost.
run masking "$HSW"
check_rc "levelling HSW (faulting)" 0 && ok
has "$tmp/out" "levelling HSW: caps" "Levelling caps: 00000001"
has "$tmp/out" "levelling HSW: faulting" "PV levelling: complete, by faulting"
has "$tmp/out" "levelling HSW: no leaks" "Leaked (seen by the guest, not in its policy): 0"
has "$tmp/out" "levelling HSW: nothing lost" "Lost (in its policy, not seen by the guest): 0"
eq "levelling HSW: verdict" "Levelling: complete, exact by CPUID faulting" "$(tail -n 1 "$tmp/out")"

# Milan: AMD override MSRs for 1.ecx/edx, 0x80000001.ecx/edx and 7:0 eax/ebx (caps
# 0x19e), no CpuidUserDis.  An override can add hypervisor, so nothing is lost; what
# leaks sits only in registers no MSR covers (0xd:1.eax - AMD has no xsave mask -,
# 7:0.ecx, 0x80000007.edx, 0x80000008.ebx), e.g. xsaves (HVM-only, 0xd:1.eax) and itsc.
run masking "$MILAN"
check_rc "levelling Milan" 1 && ok
has "$tmp/out" "levelling Milan: caps" "Levelling caps: 0000019e"
has "$tmp/out" "levelling Milan: no xsave mask" "  xsave_eax    no   masking of CPUID 0x0000000d:1.eax"
has "$tmp/out" "levelling Milan: 6 masks" "PV levelling: partial, by masking 6 registers"
eq "levelling Milan: nothing lost" "Lost (in its policy, not seen by the guest): 0" \
   "$(section "$tmp/out" "Lost (in its policy, not seen by the guest)")"
leaks=$(section "$tmp/out" "Leaked (seen by the guest, not in its policy)")
eq "levelling Milan: leaks only in unmasked registers" "CPUID 0x00000007:0.ecx CPUID 0x0000000d:1.eax CPUID 0x80000007.edx CPUID 0x80000008.ebx" \
   "$(printf '%s\n' "$leaks" | sed -n 's/^  \(CPUID [^:]*\(:[0-9]\.[a-z]*\)\{0,1\}\):.*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')"
if printf '%s\n' "$leaks" | grep -q '^  CPUID 0x0000000d:1.eax: .*xsaves'; then ok; else bad "levelling Milan: xsaves should leak in 0xd:1.eax"; fi
if printf '%s\n' "$leaks" | grep -q '^  CPUID 0x80000007.edx: .*itsc'; then ok; else bad "levelling Milan: itsc should leak in 0x80000007.edx"; fi
case $(tail -n 1 "$tmp/out") in
    "Levelling: incomplete, "*" leaked, 0 lost") ok ;;
    *) bad "levelling Milan: verdict '$(tail -n 1 "$tmp/out")'" ;;
esac

# A guest from another host, levelled onto SNB: Haswell's pv-default features SNB's
# pv-max lacks are dropped (and named), the rest set; the gap is SNB's own.
run masking "$SNB" "$HSW"
check_rc "levelling SNB with a Haswell guest" 1 && ok
has "$tmp/out" "levelling guest named" "Guest: $HSW (pv-default), levelled onto the host, PV domain 1"
drop=$(section "$tmp/out" "Dropped (beyond the host's pv-max)")
if printf '%s\n' "$drop" | grep -q '^  CPUID 0x00000007:0.ebx: .*avx2'; then ok; else bad "levelling: avx2 should be dropped in 7:0.ebx: $drop"; fi
if printf '%s\n' "$drop" | grep -q '^  CPUID 0x00000001.ecx: fma '; then ok; else bad "levelling: fma should be dropped in 1.ecx: $drop"; fi
g=$(sed -n 's/^Guest featureset: //p' "$tmp/out")
eq "levelled Haswell guest lacks avx2" 0 "$(bit "$g" $F_AVX2)"
eq "levelled Haswell guest lacks fma" 0 "$(bit "$g" $F_FMA)"
eq "levelled Haswell guest keeps sse4.2" 1 "$(bit "$g" $F_SSE42)"
eq "levelling SNB + Haswell guest: SNB's gap" "Levelling: incomplete, 1 leaked, 2 lost" "$(tail -n 1 "$tmp/out")"
# An older guest (Nehalem-EP: no avx, no aesni) on SNB: nothing dropped; SNB has avx
# and aesni, but leaf 1 ecx is masked, so they do not leak - only itsc does.
run masking "$SNB" "$NHM"
check_rc "levelling SNB with a Nehalem guest" 1 && ok
eq "levelling Nehalem guest: nothing dropped" "Dropped (beyond the host's pv-max): 0" \
   "$(section "$tmp/out" "Dropped (beyond the host's pv-max)")"
g=$(sed -n 's/^Guest featureset: //p' "$tmp/out")
eq "levelled Nehalem guest lacks avx" 0 "$(bit "$g" $F_AVX)"
eq "levelled Nehalem guest lacks aesni" 0 "$(bit "$g" $F_AESNI)"
eq "levelling Nehalem guest: masked avx/aesni do not leak" "Leaked (seen by the guest, not in its policy): 1
  CPUID 0x80000007.edx: itsc" "$(section "$tmp/out" "Leaked (seen by the guest, not in its policy)")"
# --index picks the guest's policy; a faulting host levels it completely.  The Haswell
# dump has aesni disabled (1.ecx 7DFEFBFF), so SNB's pv-max aesni is dropped there.
run masking --index pv-max "$HSW" "$SNB"
check_rc "levelling HSW with an SNB pv-max guest" 0 && ok
has "$tmp/out" "levelling --index names the index" "Guest: $SNB (pv-max), levelled onto the host"
eq "levelling HSW: SNB's aesni dropped" "Dropped (beyond the host's pv-max): 1
  CPUID 0x00000001.ecx: aesni" "$(section "$tmp/out" "Dropped (beyond the host's pv-max)")"
eq "levelling HSW + SNB guest: complete" "Levelling: complete, exact by CPUID faulting" "$(tail -n 1 "$tmp/out")"
# This machine's CPU as the host: whatever it is, the command answers 0 or 1.
run masking native
if [ "$rc" -le 1 ] && grep -q '^Levelling caps: [0-9a-f]\{8\}$' "$tmp/out"; then ok; else bad "levelling native: exit $rc"; cat "$tmp/err"; fi

# Errors: exit 2, nothing on stdout, a message naming what is wrong.
run masking "$SNB" "$MILAN"
check_rc "levelling an AMD guest onto an Intel host" 2 && ok
has "$tmp/err" "levelling vendor error names both" "$MILAN is AuthenticAMD but $SNB is GenuineIntel"
# A vendor string with a control character (ESC in leaf 0's EBX) is printed with '?' in
# its place, never raw to the terminal.
sed 's/^CPUID 00000000: 0000000D-756E6547-/CPUID 00000000: 0000000D-756E651B-/' "$SNB" >"$tmp/esc-vendor.txt"
run masking "$SNB" "$tmp/esc-vendor.txt"
check_rc "levelling a guest whose vendor holds ESC" 2 && ok
has "$tmp/err" "levelling vendor error: ESC shown as ?" "esc-vendor.txt is ?enuineIntel but"
if LC_ALL=C grep -q "$(printf '\033')" "$tmp/err"; then bad "levelling vendor error: raw ESC on stderr"; else ok; fi
run masking "$tmp/no-such-host.txt"
check_rc "levelling, missing host dump" 2 && ok
has "$tmp/err" "levelling names the missing host" "no-such-host.txt"
run masking "$SNB" "$tmp/no-such-guest.txt"
check_rc "levelling, missing guest dump" 2 && ok
has "$tmp/err" "levelling names the missing guest" "no-such-guest.txt"
run masking --boot-options no-frobnicate "$SNB"
check_rc "levelling, unknown feature in boot options" 2 && ok
has "$tmp/err" "levelling quotes the bad boot option" "frobnicate"
run masking --boot-options no-avx native
check_rc "levelling, boot options on the native host" 2 && ok
mkdir -p "$tmp/a,b" && cp "$SNB" "$tmp/a,b/snb.txt"
run masking "$tmp/a,b/snb.txt"
check_rc "levelling, comma in the host path" 2 && ok
has "$tmp/err" "levelling explains the comma" "cannot contain ','"
run masking --index bogus "$SNB"
check_rc "levelling --index bogus" 2 && ok
run levelling
check_rc "levelling without a host" 2 && ok
run masking "$SNB" "$HSW" "$NHM"
check_rc "levelling with three dumps" 2 && ok

# --- errors --------------------------------------------------------------------------------------
run featureset "$tmp/missing-dump.txt"
check_rc "missing file" 2 && ok
has "$tmp/err" "missing file is named" "$tmp/missing-dump.txt"
eq "missing file: one message line" 1 "$(wc -l <"$tmp/err" | tr -d ' ')"
printf 'CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\r\nCPUID 00000001: 000206D5-00200800-1FBEE3FF-BFEBFBFF\r\nCPUID 00000002: 76035A01-00F0B2FF-0000\r\n' >"$tmp/bad.txt"
run policy "$tmp/bad.txt"
check_rc "malformed dump" 2 && ok
has "$tmp/err" "malformed dump names file:line" "$tmp/bad.txt:3"
# Bounded reads: a device, a directory, a FIFO are refused at once (never read), a file
# over 16 MiB before it is read; each message names the file.
mkfifo "$tmp/fifo"
for f in /dev/zero "$tmp" "$tmp/fifo"; do
    run featureset "$f"
    check_rc "featureset $f" 2 && ok
    has "$tmp/err" "featureset $f: named, not a regular file" "cpupolicy: $f: not a regular file"
done
truncate -s 17M "$tmp/big.txt"
run policy "$tmp/big.txt"
check_rc "policy of a 17 MiB file" 2 && ok
eq "policy of a 17 MiB file: refused by size" "cpupolicy: $tmp/big.txt: file has 17825792 bytes; the limit is 16777216" "$(cat "$tmp/err")"
# A conflicting duplicate leaf is refused at the later line (the later silently won before).
printf 'CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nCPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFF\nCPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFE\n' >"$tmp/dup.txt"
run policy "$tmp/dup.txt"
check_rc "conflicting duplicate leaf" 2 && ok
has "$tmp/err" "conflicting duplicate names file:line and the earlier line" "$tmp/dup.txt:3: leaf 0x00000001 is not subleaf-indexed (one answer whatever ECX), but its values differ from line 2"
run featureset --index bogus "$GNR"
check_rc "unknown --index" 2 && ok
has "$tmp/err" "unknown --index named" "bogus"
run featureset --frobnicate "$GNR"
check_rc "unknown option" 2 && ok
run frobnicate "$GNR"
check_rc "unknown command" 2 && ok
has "$tmp/err" "unknown command named" "frobnicate"
run featureset --boot-options no-frobnicate "$GNR"
check_rc "unknown feature in boot options" 2 && ok
has "$tmp/err" "bad boot option quoted" "no-frobnicate"
has "$tmp/err" "the unknown feature itself is named" "boot option 'no-frobnicate' at offset 0: 'frobnicate' is not a feature name"
run featureset --boot-options "tsx=0 cpuid=no-avx2,sse9,no-rtm" "$GNR"
check_rc "unknown feature among several boot options" 2 && ok
has "$tmp/err" "the first unknown item of cpuid= is named" "boot option 'cpuid=no-avx2,sse9,no-rtm' at offset 6: 'sse9' is not a feature name"
run featureset --boot-options tsx=maybe "$GNR"
check_rc "malformed boot options" 2 && ok
has "$tmp/err" "a bad boolean names the option, its offset and the accepted values" \
    "boot option 'tsx=maybe' at offset 0: 'maybe' is not a boolean (accepted: 1/0, yes/no, on/off, true/false, enable/disable)"
hasnt "$tmp/err" "no errno text after a named boot option" "(Invalid argument)"
# Control characters from the command line are quoted escaped, never raw.
run featureset --boot-options "$(printf 'cpuid=no-\033[2Jx')" "$GNR"
check_rc "boot option with an escape sequence" 2 && ok
has "$tmp/err" "the escape sequence is quoted as \\x1b" "'\\x1b[2Jx' is not a feature name"
if grep -q "$(printf '\033')" "$tmp/err"; then bad "a raw ESC reached stderr"; else ok; fi
# The masking host is a sim: URI: options pasted into boot= cannot add cpus=.
run masking --boot-options "no-avx,cpus=64" "$SNB"
check_rc "a URI option inside the boot options" 2 && ok
has "$tmp/err" "cpus= inside boot= is named and refused" "'cpus=64' at offset"
run masking --boot-options "cpuid=no-bogus" "$SNB"
check_rc "masking, unknown feature" 2 && ok
has "$tmp/err" "masking names the option" "boot option 'cpuid=no-bogus' at offset 0: 'bogus' is not a feature name"
hasnt "$tmp/err" "no errno text after an unknown feature" "No such file"
run featureset --cpu 5 "$GNR"
check_rc "--cpu beyond the file" 2 && ok
has "$tmp/err" "--cpu error names the file" "$GNR"
run featureset --cpu 1 "$GNR"
check_rc "--cpu 1" 0 && ok
eq "--cpu 1: same features as CPU 0" "$expected_gnr" "$(cat "$tmp/out")"
run featureset
check_rc "featureset without a dump" 2 && ok
run featureset "$GNR" "$SNB"
check_rc "featureset with two dumps" 2 && ok
run --help
check_rc "--help" 0 && ok
has "$tmp/out" "--help lists the commands" "level DUMP..."
has "$tmp/out" "--help lists masking" "masking HOST [GUEST]"

# --- output errors (issue 11, item 6) -------------------------------------------------------
if [ -w /dev/full ]; then
    for args in "policy $HSW" "featureset $HSW" "model list"; do
        # shellcheck disable=SC2086
        "$BIN" $args >/dev/full 2>"$tmp/full.err"; rc=$?
        [ $rc -eq 2 ] && grep -q '^cpupolicy: writing standard output failed' "$tmp/full.err" && ok ||
            bad "$args > /dev/full: exit $rc, '$(cat "$tmp/full.err")' (expected 2 and a message)"
    done
else
    skip "no writable /dev/full here"
fi

# --- the main --help lists every command and group ----------------------------------------
# A group is listed when `cpupolicy GROUP --help` is its own usage; every group the
# dispatcher knows must be both.
"$BIN" --help >"$tmp/help" 2>&1
for g in featureset policy compare level masking model pool vm; do
    grep -qE "^  $g( |\$)" "$tmp/help" && ok || bad "cpupolicy --help does not list '$g'"
done
for g in model pool vm; do
    "$BIN" $g --help 2>&1 | head -n 1 | grep -q "^Usage: cpupolicy $g" && ok ||
        bad "cpupolicy $g --help is not the group's own usage"
    grep -qF "(cpupolicy $g --help)" "$tmp/help" && ok || bad "cpupolicy --help does not point at '$g --help'"
done

finish
[ "$fail" -eq 0 ]

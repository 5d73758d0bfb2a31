#!/bin/sh
# xen-cpuid's own contract, as exact output: the header and per-word layout of Xen's
# xen-cpuid, the word labels, unnamed bits as <bit>, ':' and '-' separators, several
# featuresets per call, short and over-long featuresets, unparseable input (exit 2, a
# message naming the argument and offset, nothing on stdout), --list, --canonical,
# --help against the getopt table, and info/detail against the default connection (the
# embedded simulated hypervisor on this CPU: static sets derived from --list's
# attributes, six dynamic sets, this CPU's raw words against the `cpuid` tool).  The
# live modes against dumps are tests/scripts/test_xen_cpuid_live.sh.
set -u

BIN=${CPUPOLICY_BUILD:-${BUILD:-build}}/bin/xen-cpuid
SRC=xen-cpuid/xen-cpuid.cpp
. tests/scripts/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$BIN" ] || { echo "FAIL: $BIN missing (make all)"; echo "0 passed, 1 failed"; exit 1; }


# expect NAME STATUS ARGS...   (expected stdout on stdin; stderr must be empty on 0)
expect() {
    name=$1; want_rc=$2; shift 2
    cat >"$tmp/want"
    "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq "$want_rc" ] && cmp -s "$tmp/want" "$tmp/out" &&
       { [ "$want_rc" -ne 0 ] || [ ! -s "$tmp/err" ]; }; then
        ok
    else
        bad "$name: xen-cpuid $*: exit $rc (expected $want_rc)"
        diff "$tmp/want" "$tmp/out" | sed 's/^/    /' | head -20
        sed 's/^/    stderr: /' "$tmp/err" | head -5
    fi
}

# expect_err NAME STATUS EXPECTED-STDERR ARGS...   (stdout must be empty)
expect_err() {
    name=$1; want_rc=$2; want_err=$3; shift 3
    printf '%s\n' "$want_err" >"$tmp/want"
    "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq "$want_rc" ] && [ ! -s "$tmp/out" ] && cmp -s "$tmp/want" "$tmp/err"; then
        ok
    else
        bad "$name: exit $rc (expected $want_rc), stdout $(wc -c <"$tmp/out") bytes"
        echo "    expected stderr: $want_err"
        sed 's/^/    actual stderr:   /' "$tmp/err"
    fi
}

# Xen's layout, spelled out independently of the program: name column 24 wide, then 8
# spaces; "  [NN] " + label column 24 wide.
hdr()  { printf '%-24s        %s\n' "$1" "$2"; }
line() { printf '  [%02d] %-24s%s\n' "$1" "$2" "$3"; }

# The 19 word labels (issue 2 / Xen's xen-cpuid), in featureset order.
LABELS='CPUID 0x00000001.edx
CPUID 0x00000001.ecx
CPUID 0x80000001.edx
CPUID 0x80000001.ecx
CPUID 0x0000000d:1.eax
CPUID 0x00000007:0.ebx
CPUID 0x00000007:0.ecx
CPUID 0x80000007.edx
CPUID 0x80000008.ebx
CPUID 0x00000007:0.edx
CPUID 0x00000007:1.eax
CPUID 0x80000021.eax
CPUID 0x00000007:1.ebx
CPUID 0x00000007:2.edx
CPUID 0x00000007:1.ecx
CPUID 0x00000007:1.edx
MSR_ARCH_CAPS.lo
MSR_ARCH_CAPS.hi
CPUID 0x80000021.ecx'
label() { printf '%s\n' "$LABELS" | sed -n "$(($1 + 1))p"; }
zeros() { awk -v n="$1" 'BEGIN { s = "0"; for (i = 1; i < n; i++) s = s ":0"; print s }'; }

# --- Decode layout ---------------------------------------------------------------------
# An AMD K10 (Istanbul) leaf 1: edx 178bfbff, ecx 00802009 (SDM/APM bit meanings).
{
    hdr Raw 178bfbff:00802009
    line 0 "$(label 0)" " fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 htt"
    line 1 "$(label 1)" " sse3 monitor cx16 popcnt"
} | expect "header and canonical names (Istanbul leaf 1)" 0 178bfbff:00802009

{
    hdr Raw "$(zeros 19 | sed 's/0/00000000/g')"
    i=0; while [ $i -lt 19 ]; do line $i "$(label $i)" ""; i=$((i + 1)); done
} | expect "all 19 labels, empty words keep the padded label column" 0 "$(zeros 19)"

# Reserved bits have no feature: printed as <bit>.  1.edx[10] and [20] are reserved
# (SDM vol. 2A table 3-11), 7:0.ebx[22] is unassigned in the table.
{
    hdr Raw 00100401:00000000:00000000:00000000:00000000:00400001
    line 0 "$(label 0)" " fpu <10> <20>"
    for i in 1 2 3 4; do line $i "$(label $i)" ""; done
    line 5 "$(label 5)" " fsgsbase <22>"
} | expect "unnamed bits print as <bit>" 0 00100401:0:0:0:0:00400001

{
    hdr Raw 178bfbff:7ed8320b
    line 0 "$(label 0)" " fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 htt"
    line 1 "$(label 1)" " sse3 pclmulqdq monitor ssse3 fma cx16 sse4-1 sse4-2 movbe popcnt aesni xsave osxsave avx f16c rdrand"
} >"$tmp/zen"
expect "':' separators" 0 178bfbff:7ed8320b <"$tmp/zen"
expect "'-' separators" 0 178bfbff-7ed8320b <"$tmp/zen"
expect "upper-case hex" 0 178BFBFF:7ED8320B <"$tmp/zen"

{
    hdr Raw 00000001:00000002:00000003
    line 0 "$(label 0)" " fpu"
    line 1 "$(label 1)" " pclmulqdq"
    line 2 "$(label 2)" " fpu vme"
} | expect "short words and mixed separators" 0 1-2:3

# Word 2 (0x80000001.edx): the bits AMD mirrors from 1.edx (APM Fn8000_0001_EDX; Xen's
# CPUID_COMMON_1D_FEATURES, 0183f3ff) are named as in word 0, as current Xen's xen-cpuid
# does; bits 10, 18, 19, 21 and 28 have no name in either word.
{
    hdr Raw 00000000:00000000:ffffffff
    line 0 "$(label 0)" ""
    line 1 "$(label 1)" ""
    line 2 "$(label 2)" " fpu vme de pse tsc msr pae mce cx8 apic <10> syscall mtrr pge mca cmov pat pse36 <18> <19> nx <21> mmxext mmx fxsr ffxsr page1gb rdtscp <28> lm 3dnowext 3dnow"
} | expect "word 2 names the AMD-mirrored bits as word 0 does" 0 0:0:ffffffff
{
    hdr Raw 00000000:00000000:00000400
    line 0 "$(label 0)" ""
    line 1 "$(label 1)" ""
    line 2 "$(label 2)" " <10>"
} | expect "word 2 bit 10 (mirrors nothing, sep is word 0 bit 11) stays <10>" 0 0:0:400

{
    hdr Raw 00000001
    line 0 "$(label 0)" " fpu"
    hdr Raw 00000000:00000800
    line 0 "$(label 0)" ""
    line 1 "$(label 1)" " sdbg"
} | expect "several featuresets, decoded in order" 0 1 0:800

# Longer than this build's 19 words: zero words are shown and accepted ...
{
    hdr Raw "$(zeros 20 | sed 's/0/00000000/g')"
    i=0; while [ $i -lt 19 ]; do line $i "$(label $i)" ""; i=$((i + 1)); done
    line 19 "(unknown word) 00000000" ""
} | expect "extra zero word: shown, exit 0" 0 "$(zeros 20)"

# ... a set bit in an unknown word is shown as <bit> and exits 1 with a note.
{
    hdr Raw "$(zeros 19 | sed 's/0/00000000/g'):80000004"
    i=0; while [ $i -lt 19 ]; do line $i "$(label $i)" ""; i=$((i + 1)); done
    line 19 "(unknown word) 80000004" " <2> <31>"
} | expect "extra nonzero word: shown, exit 1" 1 "$(zeros 19):80000004"
"$BIN" "$(zeros 19):80000004" 2>&1 >/dev/null |
    grep -qx "xen-cpuid: featureset argument 1: word 19 (80000004) is beyond the 19 words this build knows" &&
    ok || bad "extra nonzero word: stderr note"

# --- Unparseable input: exit 2, stderr names argument and offset, stdout empty ----------
expect_err "letter where a word starts" 2 \
    "xen-cpuid: featureset argument 1 '12:zz': unexpected character 'z' at offset 3 (expected a hex digit)" 12:zz
expect_err "letter after digits" 2 \
    "xen-cpuid: featureset argument 1 '12g': unexpected character 'g' at offset 2 (expected a hex digit, ':' or '-')" 12g
expect_err "empty word" 2 \
    "xen-cpuid: featureset argument 1 '1::2': word 1 is empty (offset 2)" 1::2
expect_err "trailing separator" 2 \
    "xen-cpuid: featureset argument 1 '1:': word 1 is empty (offset 2)" 1:
expect_err "nine hex digits" 2 \
    "xen-cpuid: featureset argument 1 '123456789': word 0 has more than 8 hex digits (offset 8)" 123456789
expect_err "empty argument" 2 \
    "xen-cpuid: featureset argument 1 '': empty featureset" ""
expect_err "0x prefix is not accepted (Xen's sscanf would)" 2 \
    "xen-cpuid: featureset argument 1 '0x1': unexpected character 'x' at offset 1 (expected a hex digit, ':' or '-')" 0x1
expect_err "space" 2 \
    "xen-cpuid: featureset argument 1 '1 2': unexpected character ' ' at offset 1 (expected a hex digit, ':' or '-')" "1 2"
# A bad argument among good ones: the second is named, and nothing at all is decoded.
expect_err "bad second argument: nothing decoded" 2 \
    "xen-cpuid: featureset argument 2 'info': unexpected character 'i' at offset 0 (expected a hex digit)" 1 info

# --- Options ---------------------------------------------------------------------------
"$BIN" --bogus >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "^Try 'xen-cpuid --help' for more information.$" "$tmp/err" &&
    ok || bad "unknown option: exit $rc, expected 2 and a hint on stderr"
"$BIN" --list --info >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^xen-cpuid: --info conflicts with --list$" "$tmp/err" &&
    ok || bad "conflicting modes: exit $rc, expected 2: $(cat "$tmp/err")"
expect_err "info takes no argument" 2 \
    "xen-cpuid: unexpected argument '1' after info
Try 'xen-cpuid --help' for more information." info 1
expect_err "--list takes no argument" 2 \
    "xen-cpuid: unexpected argument 'x' after --list
Try 'xen-cpuid --help' for more information." --list x

# --help: generated from the getopt table, so every long and short option of the table
# (read from the source) appears, and every option --help names is accepted.
"$BIN" --help >"$tmp/help" 2>"$tmp/err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && head -1 "$tmp/help" | grep -q '^Usage: xen-cpuid ' &&
    ok || bad "--help: exit $rc, no usage line"
"$BIN" -h | cmp -s - "$tmp/help" && ok || bad "-h differs from --help"
sed -n 's/^ *{ "\([a-z-]*\)", *\(no\|required\|optional\)_argument, *\(.\{3\}\).*/\1 \3/p' "$SRC" >"$tmp/table"
[ "$(wc -l <"$tmp/table")" -ge 6 ] && ok || bad "could not read the option table from $SRC"
while read -r long short; do
    grep -q -- "--$long\\b" "$tmp/help" && ok || bad "--help does not mention --$long"
    case "$short" in
        "'"?"'") s=$(echo "$short" | cut -c2)
                 grep -q -- "-$s, --$long\\b" "$tmp/help" && ok || bad "--help does not pair -$s with --$long" ;;
    esac
done <"$tmp/table"
grep -o -- '--[a-z][a-z-]*' "$tmp/help" | sort -u | while read -r opt; do
    grep -q "^${opt#--} " "$tmp/table" || echo "$opt"
done >"$tmp/extra"
[ ! -s "$tmp/extra" ] && ok || bad "--help names options that are not in the table: $(cat "$tmp/extra")"
for opt in $(grep -o -- '--[a-z][a-z-]*' "$tmp/help" | sort -u); do
    "$BIN" "$opt" fpu >/dev/null 2>"$tmp/err"
    grep -q 'unrecognized option' "$tmp/err" && bad "--help names $opt but getopt rejects it" || ok
done

# --- --canonical ---------------------------------------------------------------------
printf 'sse4-1\nsse3\nlahf-lm\ntsc-deadline\nmonitorx\namd-ppin\n' |
    expect "--canonical maps Xen 4.17, Linux and QEMU spellings" 0 --canonical sse41 pni lahf_lm tsc-dl MWAITX amd-ppin
printf 'fpu\n' >"$tmp/want"
"$BIN" -c fpu ppin >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && cmp -s "$tmp/want" "$tmp/out" && grep -qx "xen-cpuid: unknown feature name 'ppin'" "$tmp/err" &&
    ok || bad "--canonical with an ambiguous/unknown name: exit $rc, $(cat "$tmp/err")"
expect_err "--canonical without a name" 2 "xen-cpuid: --canonical needs at least one NAME
Try 'xen-cpuid --help' for more information." --canonical

# --- --list ----------------------------------------------------------------------------
"$BIN" --list >"$tmp/list" || bad "--list exited $?"
head -1 "$tmp/list" | grep -q '^#  *num  *word  *bit  *name  *attrs  *prerequisites$' && ok ||
    bad "--list header: $(head -1 "$tmp/list")"
# Every feature of the reference table, one line each, six columns, num = word*32+bit.
n=$(grep -vc '^#' "$tmp/list")
[ "$n" -eq 287 ] && ok || bad "--list: $n features, expected 287"
awk '!/^#/ && (NF != 6 || $1 != $2 * 32 + $3 || $3 > 31) { print; b = 1 } END { exit b }' "$tmp/list" >"$tmp/badl" &&
    ok || bad "--list lines with wrong columns: $(head -3 "$tmp/badl")"
[ "$(awk '!/^#/ { print $4 }' "$tmp/list" | sort | uniq -d | wc -l)" -eq 0 ] && ok || bad "--list: duplicate names"
# Exact lines (facts: shared/reference/features.tsv and deps.tsv).
for want in \
    '     0    0   0  fpu                      A     -' \
    '   165    5   5  avx2                     A     avx' \
    '    93    2  29  lm                       A     pae,sse2' \
    '    59    1  27  osxsave                  !     -' \
    '    21    0  21  ds                       -     -'
do
    grep -qxF -- "$want" "$tmp/list" && ok || bad "--list lacks the line |$want|"
done
grep -q '^ *[0-9]* *[0-9]* *[0-9]*  avx512-vbmi  *A  *avx512bw$' "$tmp/list" && ok || bad "--list: avx512-vbmi needs avx512bw"
[ "$(awk '($2 == 16 || $2 == 17) && ("," $6 ",") !~ /,arch-caps,/' "$tmp/list" | wc -l)" -eq 0 ] &&
    grep -qxF '   513   16   1  eibrs                    A     ibrsb,arch-caps' "$tmp/list" &&
    ok || bad "--list: every MSR_ARCH_CAPS feature lists arch-caps among its prerequisites"

# --- info / detail (default connection: this CPU) ------------------------------------------
"$BIN" >"$tmp/info" 2>"$tmp/err"; rc=$?
"$BIN" info | cmp -s - "$tmp/info" && "$BIN" -i | cmp -s - "$tmp/info" && ok ||
    bad "no argument, 'info' and -i print different things"
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "info: exit $rc, stderr $(cat "$tmp/err")"
{
    echo "nr_features: 19"
    printf '       %24s ' KEY
    for k in 1d 1c e1d e1c Da1 7b0 7c0 e7d e8b 7d0 7a1 e21a 7b1 7d2 7c1 7d1 m10Al m10Ah e21c; do printf '%-8s ' $k; done
    printf '\n\nStatic sets:\n'
} >"$tmp/want"
head -4 "$tmp/info" | cmp -s - "$tmp/want" && ok || { bad "info preamble (nr_features, KEY line)"; head -4 "$tmp/info" | diff "$tmp/want" - | head; }
sed -n '5,12p' "$tmp/info" | cut -c1-32 | sed 's/ *$//' >"$tmp/got"
printf '%s\n' Known Special "PV Max" "PV Default" "HVM Shadow Max" "HVM Shadow Default" "HVM Hap Max" "HVM Hap Default" |
    cmp -s - "$tmp/got" && ok || bad "info: static set names/order: $(tr '\n' , <"$tmp/got")"
sed -n '13,15p' "$tmp/info" | head -2 | tr '\n' '|' | grep -q '^|Dynamic sets:|$' && ok || bad "info: Dynamic sets section"
# The six dynamic sets, in Xen's XEN_SYSCTL_cpu_featureset_* order, right after the header.
sed -n '15,20p' "$tmp/info" | cut -c1-32 | sed 's/ *$//' >"$tmp/got"
printf '%s\n' Raw Host "PV Default" "HVM Default" "PV Max" "HVM Max" | cmp -s - "$tmp/got" &&
    [ "$(wc -l <"$tmp/info")" -eq 20 ] && ok || bad "info: dynamic set names/order: $(tr '\n' , <"$tmp/got")"
[ "$(grep -c '^  \[[0-9][0-9]\] ' "$tmp/info")" -eq 0 ] && ok || bad "info decodes words (only detail does, as Xen's)"

# The static sets are the masks derived from --list's attribute letters (Xen's rule:
# pv_def = A, pv_max = A|a, hvm_shadow_* adds S(s), hvm_hap_* adds H(h); special = '!').
mask() {  # mask LETTERS -> 19 words
    awk -v letters="$1" '!/^#/ { for (i = 1; i <= length(letters); i++) if (index($5, substr(letters, i, 1)) || letters == "*") { print $2, $3; break } }' "$tmp/list" |
    { set -- 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
      while read -r w b; do
          i=0; out=""
          for v in "$@"; do [ $i -eq "$w" ] && v=$((v | (1 << b))); out="$out $v"; i=$((i + 1)); done
          # shellcheck disable=SC2086
          set -- $out
      done
      s=""; for v in "$@"; do s="$s${s:+:}$(printf '%08x' "$v")"; done; echo "$s"; }
}
for pair in "Known:*" "Special:!" "PV Max:Aa" "PV Default:A" "HVM Shadow Max:AaSs" \
            "HVM Shadow Default:AS" "HVM Hap Max:AaSsHh" "HVM Hap Default:ASH"; do
    nm=${pair%%:*}; letters=${pair#*:}
    want=$(mask "$letters")
    got=$(sed -n '5,12p' "$tmp/info" | awk -v n="$nm" 'substr($0, 1, 24) ~ "^" n " *$" { print $NF }')
    [ "$want" = "$got" ] && ok || { bad "info: $nm"; echo "    expected $want"; echo "    actual   $got"; }
done

# This CPU's raw words against the `cpuid` tool (a second reader of the instruction),
# for every CPUID-sourced word; leaves above the maximum read as 0.
if command -v cpuid >/dev/null 2>&1; then
    raw=$(awk '/^Raw / { print $2 }' "$tmp/info")
    rd() { cpuid -1 -r -l "$1" -s "$2" | awk -v r="$3" '/0x/ { for (i = 1; i <= NF; i++) if ($i ~ "^" r "=") { sub(/^e..=0x/, "", $i); print $i } }'; }
    maxb=$(rd 0 0 eax); maxe=$(rd 0x80000000 0 eax); max7=$(rd 7 0 eax)
    i=0
    printf '%s\n' "$LABELS" | while read -r lab; do
        case "$lab" in
            CPUID*) leaf=$(echo "$lab" | cut -c7-16); rest=${lab#CPUID 0x????????}
                    sub=0; case "$rest" in :*) sub=${rest#:}; sub=${sub%%.*} ;; esac
                    reg=${rest##*.}
                    want=$(rd "$leaf" "$sub" "$reg")
                    if [ $((leaf & 0x80000000)) -ne 0 ]; then [ $((leaf)) -le $((0x$maxe)) ] || want=00000000
                    else [ $((leaf)) -le $((0x$maxb)) ] || want=00000000; fi
                    [ "$leaf" = 0x00000007 ] && [ "$sub" -gt $((0x$max7)) ] && want=00000000
                    got=$(echo "$raw" | cut -d: -f$((i + 1)))
                    [ "$want" = "$got" ] && echo ok || echo "bad word $i ($lab): cpuid says $want, we say $got" ;;
        esac
        i=$((i + 1))
    done >"$tmp/rawcmp"
    n_ok=$(grep -c '^ok$' "$tmp/rawcmp")
    [ "$n_ok" -eq 17 ] && ok || { bad "raw words vs the cpuid tool ($n_ok/17 agree)"; grep -v '^ok$' "$tmp/rawcmp"; }
else
    bad "the cpuid tool is missing (mk/ensure-deps.sh installs it)"
fi

# detail: every static and dynamic set decoded word by word, no KEY line.
"$BIN" detail >"$tmp/detail"; rc=$?
"$BIN" -v | cmp -s - "$tmp/detail" && "$BIN" --detail | cmp -s - "$tmp/detail" && ok || bad "detail, -v, --detail differ"
[ $rc -eq 0 ] && [ "$(grep -c '^  \[[0-9][0-9]\] ' "$tmp/detail")" -eq $((14 * 19)) ] && ! grep -q KEY "$tmp/detail" &&
    ok || bad "detail: expected 14 x 19 decode lines (8 static + 6 dynamic sets) and no KEY line"
# The decoded Known set names every feature of --list exactly once.
sed -n '/^Known /,/^Special /p' "$tmp/detail" | grep '^  \[' | cut -c32- | tr ' ' '\n' | sed '/^$/d' | sort >"$tmp/kn"
awk '!/^#/ { print $4 }' "$tmp/list" | sort | cmp -s - "$tmp/kn" && ok || bad "detail: Known decode != --list names"

finish

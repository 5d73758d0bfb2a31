#!/bin/sh
# Differential test: our xen-cpuid against Debian's Xen 4.17 xen-cpuid, decoding the same
# featuresets.  Proves that, apart from the difference classes listed in KNOWN below
# (each with its reason), both print the same header line, the same word labels, and the
# same feature at every set bit once Xen 4.17's older spellings are mapped through our
# alias table (`xen-cpuid --canonical`).  Any other difference fails, and so does a listed
# difference that no longer occurs (the list must stay exact).
#
# Featuresets decoded: every single bit of every word Xen 4.17 knows (each bit alone),
# all-ones, the raw featuresets of the 20 real CPUs in $CPUPOLICY_DUMPS (built from their
# CPUID leaves and MSR_ARCH_CAPS, at the leaf/subleaf/register Xen 4.17's own labels
# name), this machine's raw featureset, Xen 4.17's and our static masks, and 40
# pseudo-random featuresets.  The `info` layout is compared too, with Xen 4.17 run under
# a small LD_PRELOAD stand-in for libxenctrl's hypervisor calls (no Xen is running here).
set -u

BIN=${CPUPOLICY_BUILD:-${BUILD:-build}}/bin/xen-cpuid
XEN=${XEN_CPUID_417:-/usr/lib/xen-4.17/bin/xen-cpuid}
DUMPS=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
CC=${CC:-cc}

. tests/scripts/lib.sh
tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] && echo "tmp: $tmp" || trap 'rm -rf "$tmp"' EXIT


for f in "$BIN" "$XEN"; do
    [ -x "$f" ] || { echo "FAIL: $f missing (make all; xen-utils-4.17 is installed by the build)"; echo "0 passed, 1 failed"; exit 1; }
done
[ -d "$DUMPS" ] || { echo "FAIL: no dumps directory $DUMPS"; echo "0 passed, 1 failed"; exit 1; }

# --- Known differences ---------------------------------------------------------------
# One line per difference: class, word:bit, what Xen 4.17 prints, what we print.
#
# mirror   CPUID 0x80000001.edx bits that AMD defines as copies of CPUID 1.edx (APM vol. 3,
#          CPUID Fn8000_0001_EDX; Xen's CPUID_COMMON_1D_FEATURES) are no features of the
#          featureset, but both Xen's xen-cpuid and ours name them as in word 0 ("fpu vme
#          de ..."), so they agree, except bit 16: Xen 4.17's own table says "fcmov" (a
#          K7-era name), current Xen and we say "pat", the word-0 name of the mirrored bit.
# retired  Names Xen 4.17's decoder carries for bits that are not features of Xen's
#          featureset (shared/reference/features.tsv) and so not of our table: psn
#          (1.edx[18], processor serial number, gone since Pentium III), ia64 (1.edx[30]),
#          cntx-id (1.ecx[10], L1 context ID), AMD's mp (0x80000001.edx[19], K7-era), tce, perfctr-core, perfctr-nb, perftsc, pcx-l2i (0x80000001.ecx:
#          performance-counter and cache extensions Xen never offers), pcommit
#          (7:0.ebx[22], withdrawn by Intel in 2016).  We print <bit>.
# newer    Bits Xen 4.17's decoder prints as <bit> and our table names: features added
#          to Xen's featureset after 4.17 (our table follows cpufeatureset.h as of 2026).
# ppin     Xen 4.17 prints the same name "ppin" for two features, AMD's PPIN
#          (0x80000008.ebx[23]) and Intel's (7:1.ebx[0]); one alias cannot name both, so
#          the alias table has no "ppin" and our canonical names differ by vendor.
KNOWN="$tmp/known"
cat >"$KNOWN" <<'EOF'
retired  0:18  psn      <18>
retired  0:30  ia64     <30>
retired  1:10  cntx-id  <10>
mirror   2:16  fcmov    pat
retired  2:19  mp       <19>
retired  3:17  tce      <17>
retired  3:23  perfctr-core <23>
retired  3:24  perfctr-nb <24>
retired  3:27  perftsc  <27>
retired  3:28  pcx-l2i  <28>
retired  5:22  pcommit  <22>
newer    3:30  <30>     addr-msk-ext
newer    4:4   <4>      xfd
newer    6:13  <13>     tme
newer    6:16  <16>     la57
newer    6:24  <24>     bld
newer    6:31  <31>     pks
newer    8:27  <27>     cppc
newer    9:1   <1>      sgx-keys
newer    9:5   <5>      uintr
newer    9:19  <19>     arch-lbr
newer    9:22  <22>     amx-bf16
newer    9:24  <24>     amx-tile
newer    9:25  <25>     amx-int8
newer    10:0  <0>      sha512
newer    10:1  <1>      sm3
newer    10:2  <2>      sm4
newer    10:6  <6>      lass
newer    10:7  <7>      cmpccxadd
newer    10:8  <8>      arch-perf-mon
newer    10:17 <17>     fred
newer    10:18 <18>     lkgs
newer    10:19 <19>     wrmsrns
newer    10:20 <20>     nmi-src
newer    10:21 <21>     amx-fp16
newer    10:23 <23>     avx-ifma
newer    10:26 <26>     lam
newer    10:27 <27>     msrlist
newer    10:30 <30>     no-invd
newer    10:31 <31>     movrs
newer    11:0  <0>      no-nest-bp
newer    11:1  <1>      fs-gs-ns
newer    11:10 <10>     amd-fsrs
newer    11:11 <11>     amd-fsrc
newer    11:17 <17>     cpuid-user-dis
newer    11:18 <18>     epsf
newer    11:19 <19>     fsrsc
newer    11:20 <20>     amd-prefetchi
newer    11:23 <23>     avx512-bmm
newer    13:3  <3>      ddp-ctrl
newer    13:6  <6>      uc-lock-dis
newer    15:4  <4>      avx-vnni-int8
newer    15:5  <5>      avx-ne-convert
newer    15:8  <8>      amx-complex
newer    15:10 <10>     avx-vnni-int16
newer    15:14 <14>     prefetchi
newer    15:17 <17>     uiret-uif
newer    15:24 <24>     slsm
newer    16:16 <16>     mcu-ext
newer    16:29 <29>     ign-umonitor
newer    16:30 <30>     mon-umon-mitg
newer    17:0  <0>      pb-opt-ctrl
ppin     8:23  ppin     amd-ppin
ppin     12:0  ppin     intel-ppin
EOF

# --- Featuresets ---------------------------------------------------------------------
# How many words Xen 4.17 reads: it stops at its nr_features.
xen_nr=$("$XEN" "$(printf '1:%.0s' $(seq 1 40))1" 2>/dev/null | awk '/^Raw/{print split($2, w, ":")}')
our_nr=$("$BIN" info | awk '/^nr_features:/ { print $2 }')
[ -n "$xen_nr" ] && [ "$xen_nr" -ge 1 ] || { bad "cannot tell how many words $XEN knows"; xen_nr=18; }
echo "Xen 4.17 xen-cpuid knows $xen_nr words; we know $our_nr"
if [ "$xen_nr" -lt "$our_nr" ]; then
    # Words Xen does not know are not compared (it would not print them at all).
    nr=$xen_nr
else
    nr=$our_nr
fi

SETS="$tmp/sets"
: >"$SETS"

# Every bit of every word, alone; the featureset is as long as needed (also exercises
# shorter-than-full featuresets).
w=0
while [ $w -lt $nr ]; do
    b=0
    while [ $b -lt 32 ]; do
        awk -v w=$w -v b=$b 'BEGIN {
            v = 1; for (i = 0; i < b; i++) v *= 2
            s = ""; for (i = 0; i < w; i++) s = s "00000000:"
            printf "%s%08x\n", s, v }' >>"$SETS"
        b=$((b + 1))
    done
    w=$((w + 1))
done
nr_single=$(wc -l <"$SETS")

awk -v n=$nr 'BEGIN { s = "ffffffff"; for (i = 1; i < n; i++) s = s ":ffffffff"; print s }' >>"$SETS"

# Where each word lives, from Xen 4.17's own labels (not from our table, which is what
# is under test): "CPUID 0x00000007:1.ebx" -> 00000007 1 b;  "MSR_ARCH_CAPS.lo" -> msr lo.
"$XEN" "$(awk -v n=$nr 'BEGIN { s = "0"; for (i = 1; i < n; i++) s = s ":0"; print s }')" |
    awk 'NR > 1 {
        lab = substr($0, 8)
        if (lab ~ /^CPUID 0x/) {
            leaf = toupper(substr(lab, 9, 8)); rest = substr(lab, 17)
            sub_ = "-"; if (rest ~ /^:/) { sub_ = rest; sub(/^:/, "", sub_); sub(/\..*/, "", sub_) }
            reg = rest; sub(/.*\.e/, "", reg); reg = substr(reg, 1, 1)
            print leaf, sub_, reg
        } else if (lab ~ /^MSR_ARCH_CAPS\.lo/) print "MSR", "0000010A", "lo"
        else if (lab ~ /^MSR_ARCH_CAPS\.hi/) print "MSR", "0000010A", "hi"
        else print "?", "?", "?"
    }' >"$tmp/wordsrc"
if grep -q '^?' "$tmp/wordsrc" || [ "$(wc -l <"$tmp/wordsrc")" -ne "$nr" ]; then
    bad "cannot read word sources from Xen 4.17's labels"; cat "$tmp/wordsrc"
fi

# The raw featureset of the first logical CPU of a dump.  The dumps come in several
# formats (see $DUMPS/README.md): "[SL nn]" tags or, without them, subleaves in order;
# MSR blocks follow the CPUID blocks, so the first MSR_ARCH_CAPS line is CPU 0's.
# Leaves above the CPU's maximum (and subleaves of 7 above 7:0.eax) read as 0.
dump_featureset() {
    awk -v srcs="$tmp/wordsrc" '
    { sub(/\r$/, "") }
    function hex(s,   i, v) { v = 0; s = toupper(s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1
        return v }
    function val(leaf, sl, reg,   k, r) {
        k = leaf SUBSEP sl
        if (!(k in R)) return "00000000"
        split(R[k], r, "-")
        return tolower(r[index("abcd", reg)])
    }
    /^CPUID [0-9A-Fa-f]+/ {
        leaf = toupper(substr($2, 1, 8))
        if (leaf == "00000000" && seen0++) done = 1  # the second logical CPU begins
        if (done) next
        regs = ""
        for (i = 3; i <= NF; i++)
            if ($i ~ /^[0-9A-Fa-f]+-[0-9A-Fa-f]+-[0-9A-Fa-f]+-[0-9A-Fa-f]+$/) { regs = toupper($i); break }
        if (regs == "") next
        if (match($0, /\[SL [0-9A-Fa-f]+\]/)) sl = hex(substr($0, RSTART + 4, RLENGTH - 5))
        else sl = cnt[leaf] + 0
        cnt[leaf]++
        if (!((leaf SUBSEP sl) in R)) R[leaf, sl] = regs
        next
    }
    /^MSR 0000010A/ && !msr_seen++ {
        v = $3; gsub(/-/, "", v); msr_hi = tolower(substr(v, 1, 8)); msr_lo = tolower(substr(v, 9, 8))
    }
    END {
        maxb = substr(R["00000000", 0], 1, 8)
        maxe = substr(R["80000000", 0], 1, 8); if (maxe !~ /^8000/) maxe = "80000000"
        max7 = hex(substr(R["00000007", 0], 1, 8))
        n = 0
        while ((getline line < srcs) > 0) {
            split(line, f, " ")
            if (f[1] == "MSR") w = (f[3] == "lo") ? msr_lo : msr_hi
            else {
                leaf = f[1]; sl = (f[2] == "-") ? 0 : f[2] + 0
                if ((leaf ~ /^8/) ? leaf > maxe : leaf > maxb) w = "00000000"
                else if (leaf == "00000007" && sl > max7) w = "00000000"
                else w = val(leaf, sl, f[3])
            }
            if (w == "") w = "00000000"
            out = out (n++ ? ":" : "") w
        }
        print out
    }' "$1"
}

nr_dumps=0
for d in "$DUMPS"/*.txt; do
    fs=$(dump_featureset "$d")
    case "$fs" in
        *[!0-9a-f:]*|"") bad "could not build a featureset from $d: '$fs'" ;;
        *) echo "$fs" >>"$SETS"; nr_dumps=$((nr_dumps + 1)) ;;
    esac
done

# This machine, and our static masks, as our `info` prints them (first $nr words).
"$BIN" info >"$tmp/our-info" || bad "xen-cpuid info exited $?"
awk -v n=$nr 'substr($0, 1, 1) ~ /[A-Z]/ && substr($0, 33) ~ /^[0-9a-f]+(:[0-9a-f]+)*$/ {
    k = split($NF, w, ":"); s = w[1]; for (i = 2; i <= n && i <= k; i++) s = s ":" w[i]; print s }' \
    "$tmp/our-info" >>"$SETS"

# Xen 4.17's own static masks, through a stand-in for the three libxenctrl calls that
# need a hypervisor (xc_get_static_cpu_featuremask is pure and comes from the real
# library).  The stand-in reports every dynamic featureset as unsupported.
cat >"$tmp/shim.c" <<'EOF'
#include <errno.h>
#include <stdint.h>
void *xc_interface_open(void *l, void *d, unsigned f) { (void)l; (void)d; (void)f; return (void *)16; }
int xc_interface_close(void *x) { (void)x; return 0; }
int xc_get_cpu_featureset(void *x, uint32_t idx, uint32_t *nr, uint32_t *fs)
{
    (void)x; (void)idx; (void)nr;
    if ( !fs )
        return 0;          /* size query: keep xc_get_cpu_featureset_size() */
    errno = EOPNOTSUPP;    /* "<name> featureset not supported by Xen" */
    return -1;
}
EOF
if $CC -shared -fPIC -o "$tmp/shim.so" "$tmp/shim.c" 2>"$tmp/cc.err"; then
    LD_PRELOAD="$tmp/shim.so" "$XEN" info >"$tmp/xen-info" 2>&1 || bad "Xen 4.17 info under the stand-in exited $?"
    LD_PRELOAD="$tmp/shim.so" "$XEN" detail >"$tmp/xen-detail" 2>&1
    "$BIN" detail >"$tmp/our-detail"
    awk 'substr($0, 1, 1) ~ /[A-Z]/ && substr($0, 33) ~ /^[0-9a-f]+(:[0-9a-f]+)*$/ { print $NF }' "$tmp/xen-info" >>"$SETS"

    # info layout: everything up to "Dynamic sets:" matches line for line, except the
    # mask values (Xen 4.17's masks are not ours): same name column, same word count.
    sed '/^Dynamic sets:/q' "$tmp/xen-info" >"$tmp/xi"
    sed '/^Dynamic sets:/q' "$tmp/our-info" >"$tmp/oi"
    if [ "$xen_nr" -eq "$our_nr" ]; then
        if cmp -s "$tmp/xi" "$tmp/oi" ||
           awk 'NR == FNR { x[FNR] = $0; n = FNR; next }
                { o[FNR] = $0; m = FNR }
                END {
                    if (n != m) { print "info: " n " lines from Xen 4.17 up to Dynamic sets, " m " from us"; exit 1 }
                    for (i = 1; i <= n; i++) {
                        xs = x[i]; os = o[i]
                        if (substr(xs, 1, 1) ~ /[A-Z]/ && substr(xs, 33) ~ /^[0-9a-f]+(:[0-9a-f]+)*$/) {
                            if (substr(xs, 1, 32) != substr(os, 1, 32) || length(xs) != length(os)) {
                                print "info line " i ":\n  expected |" xs "|\n  actual   |" os "|"; bad = 1 }
                        } else if (xs != os) { print "info line " i ":\n  expected |" xs "|\n  actual   |" os "|"; bad = 1 }
                    }
                    exit bad
                }' "$tmp/xi" "$tmp/oi"; then
            ok
        else
            bad "info layout differs from Xen 4.17's"
        fi
        # detail layout: the same lines with the per-word label column.
        sed '/^Dynamic sets:/q' "$tmp/xen-detail" | cut -c1-31 >"$tmp/xd"
        sed '/^Dynamic sets:/q' "$tmp/our-detail" | cut -c1-31 >"$tmp/od"
        if cmp -s "$tmp/xd" "$tmp/od"; then ok; else bad "detail layout (label column) differs from Xen 4.17's:"; diff "$tmp/xd" "$tmp/od" | head -20; fi
    else
        echo "note: info layout not compared (Xen knows $xen_nr words, we know $our_nr)"
    fi
else
    bad "cannot build the libxenctrl stand-in with $CC:"; cat "$tmp/cc.err"
fi

# Pseudo-random featuresets (fixed seed: reproducible).
awk -v n=$nr 'BEGIN { srand(417); for (k = 0; k < 40; k++) { s = ""
    for (i = 0; i < n; i++) s = s (i ? ":" : "") sprintf("%04x%04x", int(rand() * 65536), int(rand() * 65536))
    print s } }' >>"$SETS"

nr_sets=$(wc -l <"$SETS")
echo "featuresets: $nr_sets ($nr_single single-bit, $nr_dumps from dumps, the rest static masks, this CPU, all-ones, random)"

# --- Decode with both ----------------------------------------------------------------
# shellcheck disable=SC2046
"$XEN" $(cat "$SETS") >"$tmp/xen.out" 2>"$tmp/xen.err"
# shellcheck disable=SC2046
"$BIN" $(cat "$SETS") >"$tmp/our.out" 2>"$tmp/our.err"
rc=$?
[ $rc -eq 0 ] || { bad "our xen-cpuid exited $rc on valid featuresets"; head -5 "$tmp/our.err"; }
[ -s "$tmp/xen.err" ] && { bad "Xen 4.17 complained about an input:"; head -5 "$tmp/xen.err"; }
[ -s "$tmp/our.err" ] && { bad "we complained about an input:"; head -5 "$tmp/our.err"; }

# Xen 4.17's names through our alias table.
awk '/^  \[[0-9][0-9]\] / { n = split(substr($0, 32), t, " ")
    for (i = 1; i <= n; i++) if (t[i] !~ /^<[0-9]+>$/) print t[i] }' "$tmp/xen.out" | sort -u >"$tmp/xen-names"
: >"$tmp/map"
while read -r name; do
    canon=$("$BIN" --canonical "$name" 2>/dev/null) && [ -n "$canon" ] || canon="?"
    echo "$name $canon" >>"$tmp/map"
done <"$tmp/xen-names"
echo "Xen 4.17 names seen: $(wc -l <"$tmp/xen-names"), without an alias: $(grep -c ' ?$' "$tmp/map")"

# Our feature -> word:bit, to place a named difference.
"$BIN" --list | awk '!/^#/ { print $4, $2 ":" $3 }' >"$tmp/where"

awk -v knownf="$KNOWN" -v mapf="$tmp/map" -v wheref="$tmp/where" -v xenf="$tmp/xen.out" '
BEGIN {
    while ((getline l < knownf) > 0) { split(l, f, " "); key = f[2] " " f[3] " " f[4]; known[key] = f[1]; nknown++ }
    while ((getline l < mapf) > 0) { split(l, f, " "); map[f[1]] = f[2] }
    while ((getline l < wheref) > 0) { split(l, f, " "); where[f[1]] = f[2] }
    while ((getline l < xenf) > 0) X[++nx] = l
}
{ O[++no] = $0 }
function isbit(t) { return t ~ /^<[0-9]+>$/ }
function bitof(t) { return substr(t, 2, length(t) - 2) }
END {
    if (nx != no) { print "FAIL: Xen 4.17 printed " nx " lines, we printed " no; fails++ }
    for (i = 1; i <= nx && i <= no; i++) {
        x = X[i]; o = O[i]
        if (x ~ /^Raw /) {
            if (x != o) { print "FAIL: header line " i ":\n  expected |" x "|\n  actual   |" o "|"; fails++ }
            headers++; continue
        }
        if (substr(x, 1, 31) != substr(o, 1, 31)) {
            print "FAIL: label on line " i ":\n  expected |" substr(x, 1, 31) "|\n  actual   |" substr(o, 1, 31) "|"; fails++; continue
        }
        lines++
        w = substr(x, 4, 2) + 0
        nt = split(substr(x, 32), xt, " "); mt = split(substr(o, 32), ot, " ")
        if (nt != mt) { print "FAIL: line " i ": " nt " tokens from Xen 4.17, " mt " from us\n  expected |" x "|\n  actual   |" o "|"; fails++; continue }
        for (k = 1; k <= nt; k++) {
            tokens++
            xn = xt[k]; on = ot[k]
            mx = isbit(xn) ? xn : map[xn]
            if (mx == on) continue
            if (isbit(xn)) b = bitof(xn); else if (isbit(on)) b = bitof(on); else { split(where[on], wb, ":"); b = wb[2] }
            key = w ":" b " " xn " " on
            if (key in known) { seen[key]++; cls[known[key]]++; continue }
            if (!(key in reported)) {
                reported[key] = 1
                if (!isbit(xn) && map[xn] == "?")
                    print "FAIL: word " w " bit " b ": Xen 4.17 says \"" xn "\", which our alias table does not know (we say \"" on "\")"
                else
                    print "FAIL: word " w " bit " b ": Xen 4.17 says \"" xn "\" (= \"" mx "\" for us), we say \"" on "\""
                fails++
            }
        }
    }
    for (key in known) if (!(key in seen)) { print "FAIL: listed difference never seen (stale list?): " known[key] " " key; fails++ }
    printf "compared %d headers, %d word lines, %d bits; known differences:", headers, lines, tokens
    for (c in cls) printf " %s=%d", c, cls[c]
    printf "\n"
    exit fails ? 1 : 0
}' "$tmp/our.out" && ok || bad "decode differs from Xen 4.17 beyond the listed differences"

finish

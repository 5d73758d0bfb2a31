#!/bin/sh
# `cpupolicy pool report NAME --html FILE` (docs/toolstack.md, "The pool report"): a pool
# of sample hosts (simulated, sim:dump=...) with VMs, one host and one VM named with HTML
# in them; then the page: its title, every host, the matrix marks, the numeric fields,
# each VM's verdicts naming the blockers (the same as `vm migrate-check`), text escaped,
# nothing fetched from anywhere; the error paths (no pool, no --html, an unwritable
# place, nothing half-written left behind); and the page rendered by headless Chromium
# (Debian `chromium`): a screenshot that is a real picture, the DOM with the title and
# every host, with the network switched off.  Without chromium those checks SKIP.
set -u
. tests/scripts/lib.sh
cpupolicy_setup test_pool_report
S="$T/store.db"
c() { "$CP" "$@" --store "$S"; }

# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok; else bad "$1: expected '$2', got '$3'"; fi; }

# Names may hold any printable character but space, ':' and '/' (the store's rule).
EVIL_HOST='icx<script>alert("host")&co'
EVIL_VM="\"><script>alert('vm')"

# The pool: three hosts joined in order, two VMs, then an older host joined with --force
# so that the VMs cannot move there (their verdicts name blockers).
c pool create prod >/dev/null 2>"$T/err" || bad "pool create: $(cat "$T/err")"
while read -r name dump; do
    c pool join prod "sim:dump=$DUMPS/$dump" --host-name "$name" >/dev/null 2>"$T/err" ||
        bad "join $name: $(cat "$T/err")"
done <<EOF
spr GenuineIntel00806F8_SapphireRapids_05.txt
skx GenuineIntel0050654_SkylakeXeon.txt
EOF
c pool join prod "sim:dump=$DUMPS/GenuineIntel00606A6_ICX_04.txt" --host-name "$EVIL_HOST" \
    >/dev/null 2>"$T/err" || bad "join the host named with HTML: $(cat "$T/err")"
c vm create web --pool prod --on skx >/dev/null 2>"$T/err" || bad "vm create web: $(cat "$T/err")"
c vm create "$EVIL_VM" --pool prod --on spr >/dev/null 2>"$T/err" ||
    bad "vm create (named with HTML): $(cat "$T/err")"
c pool join prod "sim:dump=$DUMPS/GenuineIntel00306F2_HaswellEP.txt" --host-name hsw --force \
    >/dev/null 2>"$T/err" || bad "join hsw --force: $(cat "$T/err")"
c vm migrate-check web --to hsw --json >"$T/mc.json" 2>/dev/null
check "migrate-check web --to hsw (the oracle for the report) says no" 1 $?

H="$T/out/report.html"
mkdir "$T/out"
c pool report prod --html "$H" 2>"$T/err"
check "pool report exits 0" "0 " "$? $(cat "$T/err")"
[ -s "$H" ] && ok || bad "no report written at $H"
echo "report: $(wc -c <"$H") bytes"

# Table: what the page must contain (fixed strings, grep -F) and must not (grep -E).
while IFS='|' read -r what want pattern; do
    [ -n "$what" ] || continue
    case "$want" in
        has)  grep -qF -- "$pattern" "$H" && ok || bad "$what: '$pattern' not in the page" ;;
        none) n=$(grep -ciE -- "$pattern" "$H"); check "$what" 0 "$n" ;;
    esac
done <<'EOF'
the title names the pool|has|<title>cpupolicy pool prod</title>
a host header|has|<th>spr</th>
a host header|has|<th>skx</th>
a host header|has|<th>hsw</th>
the host named with HTML, escaped|has|<th>icx&lt;script&gt;alert(&quot;host&quot;)&amp;co</th>
the VM named with HTML, escaped|has|<th>&quot;&gt;&lt;script&gt;alert(&#39;vm&#39;)</th>
the VM placed on skx|has|<th>web</th>
a word group labelled as xen-cpuid labels it|has|CPUID 0x00000007:0.ebx (word 5)
a level feature every host has|has|<tr><td>sse2</td><td class="m lv"
a feature beyond the level (spr has it, the level not)|has|<tr><td>avx512-fp16</td><td class="m by"
the legend names the marks|has|the host has it beyond the pool level
maxphysaddr beside: spr 52, above the level|has|<td class="num diff">52 +</td>
the VM cannot move to hsw and says why|has|&#x2717; cannot
the missing features are named|has|avx512f
where a VM runs|has|runs here
a VM that can move|has|&#x2713; can move
no script element at all|none|<script
nothing fetched: no http(s) src/href|none|(src|href)[[:space:]]*=[[:space:]]*["']?[[:space:]]*(https?:)?//
nothing fetched: no stylesheet link, @import or url()|none|<link|@import|url\(
EOF

# The verdict in the page is migrate-check's: every feature it names for web -> hsw.
for f in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["verdict"]["missing_features"]))' "$T/mc.json"); do
    grep -qF " $f" "$H" || bad "web -> hsw: migrate-check names '$f', the page does not"
done
ok

# A pool named with HTML: its title escaped too.
c pool create "q<i>\"&'" >/dev/null 2>"$T/err" || bad "pool create (named with HTML): $(cat "$T/err")"
c pool report "q<i>\"&'" --html - >"$T/q.html" 2>"$T/err"
check "report of an empty pool exits 0" 0 $?
grep -qF "<title>cpupolicy pool q&lt;i&gt;&quot;&amp;&#39;</title>" "$T/q.html" && ok ||
    bad "the title of a pool named with HTML: $(grep -F '<title>' "$T/q.html")"
grep -qF "no members yet" "$T/q.html" && ok || bad "an empty pool says it has no members"

# Standard output with "-"; the same page.
c pool report prod --html - >"$T/stdout.html" 2>"$T/err"
check "--html - writes to stdout" 0 $?
cmp -s "$T/stdout.html" "$H" && ok || bad "--html - differs from the file"

# Rewriting replaces the file whole and leaves no temporary file beside it.
echo old >"$H"
c pool report prod --html "$H" 2>"$T/err"
check "rewrite exits 0" 0 $?
cmp -s "$T/stdout.html" "$H" && ok || bad "the rewritten file is not the page"
check "no temporary files left" "report.html" "$(ls "$T/out")"

# Error paths: exit 2, a message naming what is wrong, nothing written.
while IFS='|' read -r what args message; do
    [ -n "$what" ] || continue
    # shellcheck disable=SC2086
    eval "c $args" >"$T/o" 2>"$T/e"
    rc=$?
    check "$what: exit status" 2 "$rc"
    grep -qF -- "$message" "$T/e" && ok || bad "$what: expected '$message' on stderr, got '$(cat "$T/e")'"
done <<EOF
no such pool|pool report nosuch --html $T/out/x.html|nosuch
no --html|pool report prod|--html FILE is required
two pools|pool report prod prod --html $T/out/x.html|wrong number of arguments
a directory that does not exist|pool report prod --html $T/nodir/r.html|$T/nodir/r.html.
EOF
[ ! -e "$T/out/x.html" ] && ok || bad "a failed report left $T/out/x.html"
if [ "$(id -u)" -ne 0 ]; then
    chmod 0555 "$T/out"
    c pool report prod --html "$T/out/report.html" 2>"$T/e"
    check "a read-only directory: exit 2" 2 $?
    chmod 0755 "$T/out"
else
    skip "read-only directory (root ignores the mode)"
fi
if [ -w /dev/full ]; then
    c pool report prod --html - >/dev/full 2>"$T/e"
    check "stdout that cannot be written (/dev/full): exit 2" 2 $?
    grep -qF "writing standard output" "$T/e" && ok || bad "/dev/full: message '$(cat "$T/e")'"
fi

# Headless Chromium: the page renders, with no network.
CHROMIUM=""
for b in chromium chromium-browser; do
    command -v "$b" >/dev/null 2>&1 && { CHROMIUM=$(command -v "$b"); break; }
done
if [ -z "$CHROMIUM" ]; then
    for w in "screenshot rendered" "screenshot not one colour" "DOM title" "DOM hosts"; do
        skip "$w: chromium not installed (apt-get install chromium; mk/ensure-deps.sh lists it)"
    done
else
    # No network at all in a new user+net namespace when unshare works; chromium's own
    # switches besides, so that even with a network nothing would be fetched.
    NONET=""
    unshare -rn true 2>/dev/null && NONET="unshare -rn"
    # A profile and a home of our own: nothing of the user's is read or written.
    run_chromium() {
        HOME="$T/home" $NONET "$CHROMIUM" --headless --no-sandbox --disable-gpu \
            --no-first-run --disable-extensions --disable-background-networking \
            --disable-component-update --disable-sync --user-data-dir="$T/profile" \
            --proxy-server='http://127.0.0.1:9' --hide-scrollbars "$@" "file://$H"
    }
    mkdir -p "$T/home"
    run_chromium --screenshot="$T/shot.png" --window-size=1200,1600 >"$T/chrome.out" 2>&1
    size=$(wc -c <"$T/shot.png" 2>/dev/null || echo 0)
    echo "screenshot: $size bytes (chromium $("$CHROMIUM" --version 2>/dev/null | tr -cd '0-9.' | head -c 20), network: ${NONET:-not isolated})"
    [ "$size" -gt 20000 ] && ok || bad "screenshot rendered: $size bytes ($(tail -n 3 "$T/chrome.out"))"
    colours=$(python3 tests/scripts/png_colours.py "$T/shot.png" 2>&1)
    case "$colours" in
        *[!0-9]*|"") bad "screenshot not one colour: $colours" ;;
        *) echo "screenshot colours: $colours"
           [ "$colours" -ge 8 ] && ok || bad "screenshot not one colour: only $colours colours" ;;
    esac
    run_chromium --dump-dom >"$T/dom.html" 2>"$T/chrome.err"
    grep -qF "<title>cpupolicy pool prod</title>" "$T/dom.html" && ok ||
        bad "DOM title: not in the dumped DOM ($(head -c 200 "$T/dom.html"))"
    missing=""
    for h in spr skx hsw 'icx&lt;script&gt;alert("host")&amp;co'; do
        grep -qF "<th>$h</th>" "$T/dom.html" || missing="$missing $h"
    done
    check "DOM hosts: every host's header in the DOM" "" "$missing"
    # The DOM has no element Chromium built from a name (escaping held in the parser too).
    check "DOM: no script element" 0 "$(grep -ciE '<script' "$T/dom.html")"
fi
finish

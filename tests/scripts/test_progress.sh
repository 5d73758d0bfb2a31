#!/bin/sh
# Progress of long operations (docs/toolstack.md, "Progress"): joining several hosts,
# refreshing a pool, writing a pool report, loading the CPU models.  Not on a terminal
# (a pipe, a file, a log) they print nothing beyond their answer: standard error stays
# empty.  On a terminal (script(1) from util-linux gives them one) they show "[i/n] ..."
# on standard error, rewritten in place with carriage returns and erase-to-end-of-line,
# and erased before the answer; --quiet and --json turn it off there too.
set -u
. tests/scripts/lib.sh
cpupolicy_setup test_progress
S="$T/store.db"
SPR="sim:dump=$DUMPS/GenuineIntel00806F8_SapphireRapids_05.txt"
SKX="sim:dump=$DUMPS/GenuineIntel0050654_SkylakeXeon.txt"
ICX="sim:dump=$DUMPS/GenuineIntel00606A6_ICX_04.txt"
ESC=$(printf '\033')
CR=$(printf '\r')

"$CP" pool create a --store "$S" >/dev/null && "$CP" pool create b --store "$S" >/dev/null &&
    "$CP" pool create c --store "$S" >/dev/null || bad "pool create"

# Not a terminal: the answer on stdout, nothing at all on stderr.
while IFS='|' read -r what args; do
    [ -n "$what" ] || continue
    # shellcheck disable=SC2086
    eval "\"\$CP\" $args --store \"\$S\"" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/err" ]; then ok
    else bad "$what (not a terminal): exit $rc, stderr '$(cat -v "$T/err" | head -c 200)'"; fi
done <<EOF
join three hosts|pool join a $SPR $SKX $ICX
refresh every member|pool refresh a
a VM to report on|vm create web --pool a --on GenuineIntel0050654_SkylakeXeon
report|pool report a --html $T/a.html
load the CPU models|model list
EOF
"$CP" pool show a --store "$S" | grep -c '^  Genuine' >"$T/n"
[ "$(cat "$T/n")" = 3 ] && ok || bad "join of three URIs: $(cat "$T/n") members, expected 3"

if ! command -v script >/dev/null 2>&1; then
    skip "terminal cases: no script(1) (util-linux)"
    finish; exit $?
fi
# On a terminal: script -qc runs the command on a pseudo-terminal; its output (stdout and
# stderr both) lands in the typescript.
# Table: what | arguments | progress expected (yes/no) | text that must (yes) or must not
# (no) appear.
while IFS='|' read -r what args want text; do
    [ -n "$what" ] || continue
    script -qec "$CP $args --store $S" /dev/null >"$T/tty" 2>&1 </dev/null
    rc=$?
    [ $rc -eq 0 ] || { bad "$what (terminal): exit $rc: $(cat -v "$T/tty" | head -c 300)"; continue; }
    if [ "$want" = yes ]; then
        grep -qF -- "$text" "$T/tty" && ok || bad "$what (terminal): no '$text' in $(cat -v "$T/tty" | head -c 300)"
        # Rewritten in place: a carriage return before it, erase-to-end-of-line after.
        grep -q "$CR" "$T/tty" && grep -qF "$ESC[K" "$T/tty" && ok ||
            bad "$what (terminal): progress not rewritten in place: $(cat -v "$T/tty" | head -c 300)"
        # Erased at the end: the last progress line ("\r[...] ...ESC[K") is followed by
        # "\r ESC[K", which leaves the cursor at the start of an empty line.
        erased=$(python3 -c '
import re, sys
t = open(sys.argv[1], "rb").read()
steps = list(re.finditer(rb"\r[^\r\n]*?\x1b\[K", t))
last = [m for m in steps if m.group() != b"\r\x1b[K"][-1]
print("yes" if t[last.end():].startswith(b"\r\x1b[K") else "no")' "$T/tty" 2>&1)
        [ "$erased" = yes ] && ok || bad "$what (terminal): progress not erased before the answer ($erased)"
    else
        grep -qF -- "$text" "$T/tty" && bad "$what (terminal): '$text' shown: $(cat -v "$T/tty" | head -c 300)" || ok
        grep -qF "$ESC[K" "$T/tty" && bad "$what (terminal): terminal control codes written" || ok
    fi
done <<EOF
refresh: one step per host|pool refresh a|yes|[1/3] reading host GenuineIntel0050654_SkylakeXeon
refresh --quiet: none|pool refresh a --quiet|no|reading host
refresh -q: none|pool refresh a -q|no|reading host
refresh --json: none|pool refresh a --json|no|reading host
join two hosts: one step each|pool join b $SPR $SKX|yes|[1/2] joining sim:dump=
join one host: the host read|pool join c $ICX|yes|reading host GenuineIntel00606A6_ICX_04
report: one step per migrate-check|pool report a --html $T/b.html|yes|migrate-check web -> GenuineIntel00806F8_SapphireRapids_05
loading the CPU models|model list|yes|loading the CPU models
loading the CPU models --json: none|model list --json|no|loading the CPU models
EOF
finish

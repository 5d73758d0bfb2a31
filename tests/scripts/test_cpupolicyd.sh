#!/bin/sh
# cpupolicyd end to end (docs/cpupolicyd.md): two daemons on two dumps at once; the
# conformance suite through the unix backend against both; clients that vanish mid-request
# or send garbage, malformed, truncated and oversized frames, after which the daemon still
# answers; 200 concurrent clients; 500 domains on one host; permission refusals for a client running as `nobody`,
# who cannot take the slots reserved for root either;
# a restart with --state-dir keeping every domain's policy; SIGTERM exits 0 and removes
# the socket.  Every daemon is killed on exit.
set -u
BUILD=${CPUPOLICY_BUILD:-${BUILD:-build}}
DUMPS=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
CONF="$BUILD/tests/check/check_conformance"
. tests/scripts/cpupolicyd_lib.sh

# --- --socket-mode: only 0600 and 0660 ----------------------------------------------------
"$D" --socket "$T/bad.sock" --socket-mode 0666 >"$T/bad.out" 2>&1; rc=$?
check "--socket-mode 0666 refused (exit 2, naming the option)" "2 --socket-mode 0666: expected 0600 or 0660" \
    "$rc $(grep -o -- '--socket-mode.*' "$T/bad.out" | head -1)"
[ ! -e "$T/bad.sock" ] && ok "no socket after a refused --socket-mode" || bad "socket created despite a bad --socket-mode"

# --- Two daemons, two hosts -----------------------------------------------------------
start snb "$SNB" --cpus 2 --io-timeout 500
start milan "$MILAN" --cpus 2
check "socket created mode 0600" "srw-------" "$(ls -l "$T/snb.sock" | cut -c1-10)"
check "snb daemon serves an Intel host" "GenuineIntel" "$(C "$T/snb.sock" vendor)"
check "milan daemon serves an AMD host" "AuthenticAMD" "$(C "$T/milan.sock" vendor)"
# Host featureset word 0 (leaf 1 edx) as the dumps record it.
check "snb raw word 0 from the dump" "0 bfebfbff" "$(C "$T/snb.sock" featureset 0 | cut -c1-10)"
check "milan raw word 0 from the dump" "0 178bfbff" "$(C "$T/milan.sock" featureset 0 | cut -c1-10)"

# --- The conformance suite through the unix backend ---------------------------------------
if [ -x "$CONF" ]; then
    if CPUPOLICY_URIS="unix:$T/snb.sock;unix:$T/milan.sock" "$CONF" >"$T/conf.out" 2>&1; then
        ok "conformance suite on unix:snb;unix:milan: $(tail -n 1 "$T/conf.out")"
    else
        bad "conformance suite on unix:snb;unix:milan"; sed 's/^/    | /' "$T/conf.out"
    fi
else
    bad "conformance suite $CONF not built"
fi

# --- Clients that misbehave ---------------------------------------------------------------
C "$T/snb.sock" half; C "$T/snb.sock" half-header; C "$T/snb.sock" unread
check "garbage closes that connection" "closed" "$(C "$T/snb.sock" garbage)"
check "oversized frame: -EMSGSIZE, then closed" "-90 closed" "$(C "$T/snb.sock" oversized)"
check "other protocol version: -EPROTONOSUPPORT" "-93" "$(C "$T/snb.sock" badversion)"
C "$T/snb.sock" malformed >"$T/malformed.out" 2>&1
check "malformed frames answered on a live connection" "still answering" "$(tail -n 1 "$T/malformed.out")"
check "daemon answers after all that" "0 bfebfbff" "$(C "$T/snb.sock" featureset 1 | cut -c1-10)"
grep -q "client vanished in the middle of a request" "$T/snb.log" && ok "vanished client logged" \
    || bad "vanished client logged"
grep -q "refused a frame .*bad magic" "$T/snb.log" && ok "garbage logged" || bad "garbage logged"
grep -q "refused get_featureset .*Message too long" "$T/snb.log" && ok "oversized logged" \
    || bad "oversized logged"
check "client stalled mid-frame is closed after --io-timeout" "closed" "$(C "$T/snb.sock" stall 5)"
grep -q "timed out in the middle of a request" "$T/snb.log" && ok "stall logged" || bad "stall logged"
check "pipelined requests answered in order" "64 pipelined replies in order" \
    "$(C "$T/snb.sock" pipelined 64)"

# --- 200 concurrent clients -------------------------------------------------------------
check "200 concurrent clients" "200 clients, 1 distinct answer" "$(C "$T/snb.sock" concurrent 200)"
kill -0 "$(pid_of snb)" 2>/dev/null && ok "snb daemon alive" || bad "snb daemon alive"

# --- Capacity: as many domains as memory allows (the old pool held 16) -------------------
many=$(C "$T/milan.sock" create-many 1 500)
check "500 more domains on one host" "500 created" "${many%%,*}"
check "the last one (domid ${many##*..}) answers" "0" "$(C "$T/milan.sock" policy "${many##*..}" | sed -n 1p)"

# --- Permissions: a client running as nobody may read, not change -------------------------
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    NB() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" "$T/client.py" "$@"; }
    check "nobody cannot even connect to the 0600 socket" "EACCES" "$(NB "$T/snb.sock" probe)"
    # Open it up here only so that nobody can connect at all.
    chmod 0666 "$T/snb.sock"
    check "nobody reads the host featureset" "0 bfebfbff" "$(NB "$T/snb.sock" featureset 1 | cut -c1-10)"
    check "nobody: domain_create is -EPERM" "-1 -" "$(NB "$T/snb.sock" create 0)"
    check "nobody: domain_destroy is -EPERM" "-1" "$(NB "$T/snb.sock" destroy 1)"
    check "nobody: set_featureset is -EPERM" "-1" "$(NB "$T/snb.sock" clear-feature 1 0)"
    grep -q "refused domain_create (arg 0) from pid [0-9]* uid 65534: permission denied" "$T/snb.log" \
        && ok "refusal logged with its reason" || bad "refusal logged with its reason"
    check "root may still create" "0" "$(C "$T/snb.sock" create 0 | cut -d' ' -f1)"
    chmod 0600 "$T/snb.sock"
    # --socket-mode 0660 (Debian's unit, for the cpupolicy group): the daemon's group
    # connects and reads, may not change; others still cannot connect.
    start grp "$SNB" --socket-mode 0660
    check "--socket-mode 0660: socket mode" "srw-rw----" "$(ls -l "$T/grp.sock" | cut -c1-10)"
    GM() { setpriv --reuid=nobody --regid="$(id -g)" --clear-groups "$PY" "$T/client.py" "$@"; }
    check "a member of the daemon's group reads the featureset" "0 bfebfbff" "$(GM "$T/grp.sock" featureset 1 | cut -c1-10)"
    check "a member of the daemon's group: domain_create is -EPERM" "-1 -" "$(GM "$T/grp.sock" create 0)"
    check "others cannot connect to the 0660 socket" "EACCES" "$(NB "$T/grp.sock" probe)"
    stop grp
    # Reserved slots: nobody holds every slot it may take; root still gets in.
    start few "$SNB" --max-clients 6 --reserved-clients 2
    chmod 0666 "$T/few.sock"
    NB "$T/few.sock" hold 6 30 >"$T/hold.out" &
    holder=$!; PIDS="$PIDS $holder"
    i=0; while [ ! -s "$T/hold.out" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    check "nobody gets 4 of 6 slots (2 reserved)" "4 held" "$(cat "$T/hold.out")"
    check "root still connects with nobody holding its share" "0" "$(C "$T/few.sock" hello)"
    check "nobody's next connection is refused" "closed" "$(NB "$T/few.sock" hello)"
    grepok "refusal logged with the reserve" "of which 2 reserved for root" "$T/few.log"
    kill "$holder" 2>/dev/null; stop few
else
    skip "permission checks (need root and setpriv)"
fi

# --- SIGTERM ----------------------------------------------------------------------------
stop milan; rc=$?
check "SIGTERM exits 0" "0" "$rc"
[ -e "$T/milan.sock" ] && bad "socket removed on SIGTERM" || ok "socket removed on SIGTERM"

# --- Restart with --state-dir keeps every domain's policy --------------------------------
mkdir "$T/state"
start st "$SNB" --cpus 2 --state-dir "$T/state"
S="$T/st.sock"
d1=$(C "$S" create 0 | cut -d' ' -f2)       # PV, AVX (feature 1*32+28) cleared, not started
d2=$(C "$S" create 1 | cut -d' ' -f2)       # HVM, started
d3=$(C "$S" create 0 | cut -d' ' -f2)       # destroyed: leaves a gap in the domids
d4=$(C "$S" create 1 | cut -d' ' -f2)       # HVM, SSE4.2 (feature 1*32+20) cleared
check "domids" "1 2 3 4" "$d1 $d2 $d3 $d4"
check "clear avx on d1" "0" "$(C "$S" clear-feature "$d1" 60)"
check "start d2" "0" "$(C "$S" start "$d2")"
check "destroy d3" "0" "$(C "$S" destroy "$d3")"
check "clear sse4.2 on d4" "0" "$(C "$S" clear-feature "$d4" 52)"
for d in $d1 $d2 $d4; do C "$S" policy "$d"; done >"$T/before.txt"
[ -f "$T/state/domains.state" ] && ok "state file written" || bad "state file written"
[ -e "$T/state/domains.state.tmp" ] && bad "no temporary left behind" || ok "no temporary left behind"
stop st
start st "$SNB" --cpus 2 --state-dir "$T/state"
for d in $d1 $d2 $d4; do C "$S" policy "$d"; done >"$T/after.txt"
if cmp -s "$T/before.txt" "$T/after.txt" && [ "$(wc -l <"$T/before.txt")" -gt 60 ]; then
    ok "every domain's policy survives the restart ($(wc -l <"$T/after.txt") lines)"
else
    bad "every domain's policy survives the restart"; wc -l "$T/before.txt"; diff "$T/before.txt" "$T/after.txt" | head -20
fi
# leaf1_ecx_bit DOMID BIT: that bit of the domain's leaf 1 ECX, read over the socket.
leaf1_ecx_bit() {
    C "$S" policy "$1" | grep '^00000001:ffffffff' | "$PY" -c \
        "import sys; print(int(sys.stdin.read().split(':')[3], 16) >> $2 & 1)"
}
check "d1 still has AVX (leaf 1 ecx bit 28) cleared" "0" "$(leaf1_ecx_bit "$d1" 28)"
check "d2 (HVM default) has AVX" "1" "$(leaf1_ecx_bit "$d2" 28)"
check "d4 still has SSE4.2 (leaf 1 ecx bit 20) cleared" "0" "$(leaf1_ecx_bit "$d4" 20)"
check "d2 has SSE4.2" "1" "$(leaf1_ecx_bit "$d2" 20)"
check "d2 is still started (set refused)" "-17" "$(C "$S" clear-feature "$d2" 60)"
check "d3 is still gone" "-3" "$(C "$S" policy "$d3" | head -1)"
check "new domids continue above the restored ones" "0 5" "$(C "$S" create 0)"
grep -q "state: restored domain 2 (hvm, started)" "$T/st.log" && ok "restore logged" \
    || bad "restore logged"
# A corrupt state file is refused at start, not silently dropped (more in
# test_cpupolicyd_state.sh).
stop st
printf 'CPDSxxxx' >"$T/state/domains.state"
run_refused bad "$SNB" --state-dir "$T/state"
check "corrupt state file: daemon refuses to start (status 3)" "3" "$rc"
grepok "corrupt state file logged" "unsupported\|truncated\|version" "$T/bad.log"

# --- A second daemon on a live socket is refused -------------------------------------------
$TO "$D" --socket "$T/snb.sock" --dump "$SNB" --log "$T/dup.log" & dp=$!; PIDS="$PIDS $dp"; wait $dp
check "second daemon on a live socket exits 1" "1" "$?"
check "first daemon still answers" "0 bfebfbff" "$(C "$T/snb.sock" featureset 1 | cut -c1-10)"

# --- A bad --boot: named with its offset, escaped in the log, no errno text -----------------
run_refused badboot "$SNB" --boot "$(printf 'tsx=0 cpuid=no-\033[2Jx,no-avx')"
check "bad --boot: the daemon does not start (status 1)" "1" "$rc"
grepok "bad --boot names the option, its offset and the feature, escaped" \
    "cannot boot the simulated host: boot option 'cpuid=no-\\\\x1b\\[2Jx,no-avx' at offset 6: '\\\\x1b\\[2Jx' is not a feature name" \
    "$T/badboot.log"
if grep -q "$(printf '\033')" "$T/badboot.log"; then bad "a raw ESC reached the log"; else ok "no raw ESC in the log"; fi
if grep -q "No such file" "$T/badboot.log"; then bad "errno text after a named boot option"; else ok "no errno text after a named boot option"; fi
# A newline in what is logged cannot start a forged log line.
run_refused nldump "$(printf '%s/none\n2026-01-01T00:00:00Z cpupolicyd[1]: forged' "$T")"
check "a dump path with a newline is logged on one line" "1" "$(wc -l <"$T/nldump.log" | tr -d ' ')"
grepok "... with the newline escaped" "none\\\\x0a2026-01-01" "$T/nldump.log"

stop snb
check "snb SIGTERM exits 0" "0" "$?"
finish

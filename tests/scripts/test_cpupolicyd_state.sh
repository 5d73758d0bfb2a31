#!/bin/sh
# cpupolicyd's state directory keeps only what it acknowledged and refuses what it cannot
# trust (docs/cpupolicyd.md "State directory"; issue 11 robustness items 1, 2, 3, 7):
#   - a change the state file cannot take fails with the file's errno and is rolled back
#     in memory (create, set, start, destroy), and a daemon that cannot write its state
#     directory does not start;
#   - a second daemon on one state directory, or on one socket, refuses to start;
#   - a damaged state file (bit flips anywhere, truncation, trailing bytes) is refused
#     with a message naming what is wrong and moved aside intact; symlinks and FIFOs are
#     refused; a version-1 file (older daemons) is still read;
#   - domids are not reused across a restart.
set -u
BUILD=${CPUPOLICY_BUILD:-${BUILD:-build}}
DUMPS=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
. tests/scripts/cpupolicyd_lib.sh

ST="$T/state"
mkdir "$ST"
S="$T/st.sock"
start st "$SNB" --state-dir "$ST"

# --- 1. Acknowledged only once durable -------------------------------------------------------
check "create d1" "0 1" "$(C "$S" create 0)"
check "create d2" "0 2" "$(C "$S" create 1)"
# Something the daemon cannot remove sits where it writes its temporary file: every
# change must now fail (root ignores permissions, a non-empty directory still blocks).
mkdir -p "$ST/domains.state.tmp/blocker"
check "create while the state cannot be written fails with -EISDIR" "-21 -" "$(C "$S" create 0)"
check "clear avx on d1: fails" "-21" "$(C "$S" clear-feature 1 60)"
check "start d2: fails" "-21" "$(C "$S" start 2)"
check "destroy d1: fails" "-21" "$(C "$S" destroy 1)"
grepok "failed save logged with its step" "state: unlink of .*domains.state.tmp failed: Is a directory" "$T/st.log"
grepok "roll-back logged" "rolled back, the call fails with Is a directory" "$T/st.log"
# Memory went back to what the file says.
leaf1_ecx_bit() {
    C "$S" policy "$1" | grep '^00000001:ffffffff' | "$PY" -c \
        "import sys; print(int(sys.stdin.read().split(':')[3], 16) >> $2 & 1)"
}
check "d1 still exists with AVX (the failed set rolled back)" "1" "$(leaf1_ecx_bit 1 28)"
rm -rf "$ST/domains.state.tmp"
check "d2 not started (the failed start rolled back): its policy can still be set" "0" \
    "$(C "$S" clear-feature 2 60)"
check "the failed create's domid 3 is not handed out again" "0 4" "$(C "$S" create 0)"
check "domain 3 does not exist" "-3" "$(C "$S" policy 3 | sed -n 1p)"

# --- 7. Domids are not reused after a restart --------------------------------------------------
check "destroy d4 (the highest)" "0" "$(C "$S" destroy 4)"
stop st
start st "$SNB" --state-dir "$ST"
check "after a restart, the next domid is 5, not 4 again" "0 5" "$(C "$S" create 0)"
check "d2 kept its cleared AVX" "0" "$(leaf1_ecx_bit 2 28)"

# --- 2. One daemon per state directory, one per socket -----------------------------------------
run_refused st2 "$SNB" --state-dir "$ST"
check "second daemon on the same state dir exits 1" "1" "$rc"
grepok "it says who holds the state dir" "in use by another cpupolicyd (pid $(pid_of st)" "$T/st2.log"
check "the first daemon still serves, its domains intact" "0" "$(C "$S" policy 2 | sed -n 1p)"
# Simultaneous starts on one socket: exactly one serves, the others say why (the lock
# makes the live-socket check and the replacement one step).
for round in 1 2 3 4 5; do
    rm -f "$T/race.sock"
    pids=""
    for k in 1 2 3; do
        "$D" --socket "$T/race.sock" --dump "$SNB" --log "$T/race$round.log" & pids="$pids $!"
    done
    PIDS="$PIDS $pids"
    sleep 1.5
    alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    check "round $round: 3 daemons started at once on one socket, 1 keeps running" "1" "$alive"
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    wait $pids 2>/dev/null
done
grepok "the refused ones say another daemon serves the socket" "another cpupolicyd is serving it" "$T/race1.log"

# --- 3. Integrity of the state file --------------------------------------------------------------
stop st
cp "$ST/domains.state" "$T/good.state"
size=$(wc -c <"$T/good.state")
# flip OFFSET BIT: a copy of the good file with one bit flipped, installed as the state.
flip() {
    "$PY" - "$T/good.state" "$ST/domains.state" "$1" "$2" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 1 << int(sys.argv[4])
open(sys.argv[2], "wb").write(b)
PYEOF
}
# One flip in each field: magic, version, length, checksum, host id, next domid, a domid,
# a policy count, a leaf value near the end.
n=0
for spec in "0 0:not a cpupolicyd state file" "4 2:state file version 6" \
            "8 1:payload length" "12 7:checksum mismatch" "20 3:checksum mismatch" \
            "$((size - 60)) 5:checksum mismatch" "$((size - 1)) 7:checksum mismatch"; do
    pos=${spec%%:*}; want=${spec#*:}
    n=$((n + 1))
    rm -f "$ST"/domains.state.damaged-*
    flip $pos
    run_refused flip$n "$SNB" --state-dir "$ST"
    if [ "$want" = "state file version 6" ]; then
        # A newer version is not damage: refused, left in place.
        check "flip at byte ${pos% *}: refused (status 3)" "3" "$rc"
        grepok "flip at byte ${pos% *}: says '$want'" "$want" "$T/flip$n.log"
        [ -f "$ST/domains.state" ] && ok "flip at byte ${pos% *}: left in place" \
            || bad "flip at byte ${pos% *}: left in place"
        continue
    fi
    check "flip at byte ${pos% *} bit ${pos#* }: refused (status 3)" "3" "$rc"
    grepok "flip at byte ${pos% *}: says '$want'" "$want" "$T/flip$n.log"
    moved=$(ls "$ST"/domains.state.damaged-* 2>/dev/null | head -n 1)
    if [ -n "$moved" ] && [ ! -e "$ST/domains.state" ] && [ "$(wc -c <"$moved")" = "$size" ]; then
        ok "flip at byte ${pos% *}: moved aside intact"
    else
        bad "flip at byte ${pos% *}: moved aside intact ($moved)"
    fi
done
# Every single-bit flip of the file is refused (8 x size starts would take minutes: the
# decoder's own test covers every bit, tests/unit/test_state_file.cpp; here a sample).
truncated=$(head -c $((size - 3)) "$T/good.state" | tee "$ST/domains.state" | wc -c)
run_refused trunc "$SNB" --state-dir "$ST"
check "truncated file ($truncated bytes): refused" "3" "$rc"
grepok "truncated file: says so" "truncated" "$T/trunc.log"
{ cat "$T/good.state"; printf 'x'; } >"$ST/domains.state"
run_refused trail "$SNB" --state-dir "$ST"
check "trailing byte: refused" "3" "$rc"
grepok "trailing byte: says so" "trailing bytes" "$T/trail.log"
rm -f "$ST"/domains.state*
ln -s "$T/good.state" "$ST/domains.state"
run_refused link "$SNB" --state-dir "$ST"
check "a symlink as the state file: refused" "3" "$rc"
grepok "symlink: says so" "is a symbolic link" "$T/link.log"
rm -f "$ST/domains.state"
mkfifo "$ST/domains.state"
run_refused fifo "$SNB" --state-dir "$ST"
check "a FIFO as the state file: refused, without blocking" "3" "$rc"
grepok "FIFO: says so" "is not a regular file (a FIFO)" "$T/fifo.log"
rm -f "$ST/domains.state"
mkdir "$ST/domains.state"
run_refused dir "$SNB" --state-dir "$ST"
check "a directory as the state file: refused" "3" "$rc"
grepok "directory: says so" "is not a regular file (a directory)" "$T/dir.log"
rmdir "$ST/domains.state"
# Larger than any state this build writes: refused before it is read, kept aside.
truncate -s 4G "$ST/domains.state"
run_refused huge "$SNB" --state-dir "$ST"
check "an oversized state file: refused" "3" "$rc"
grepok "oversized: says how large and the limit" "file has 4294967296 bytes; the limit is" "$T/huge.log"
check "oversized: moved aside" "1" "$(ls "$ST" | grep -c 'domains.state.damaged-')"
rm -f "$ST"/domains.state*
cp "$T/good.state" "$ST/domains.state"
start st "$SNB" --state-dir "$ST"
check "the good file is restored" "0" "$(C "$S" policy 5 | sed -n 1p)"
stop st

# A version-1 file (written by older daemons: no checksum, no next domid) is read and
# rewritten as version 2.  Made from the good file: header and next domid dropped.
"$PY" - "$T/good.state" "$ST/domains.state" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
payload = b[16:]
idlen = struct.unpack("<I", payload[:4])[0]
v1 = struct.pack("<II", 0x53445043, 1) + payload[:4 + idlen] + payload[4 + idlen + 4:]
open(sys.argv[2], "wb").write(v1)
PYEOF
start st "$SNB" --state-dir "$ST"
grepok "version 1 file read and upgraded" "is version 1 (no checksum); rewriting it as version 2" "$T/st.log"
check "its domains are restored" "0" "$(C "$S" policy 5 | sed -n 1p)"
check "version 2 on disk now" "2" "$("$PY" -c "import struct,sys; print(struct.unpack('<I', open(sys.argv[1],'rb').read()[4:8])[0])" "$ST/domains.state")"
stop st

# --- 1 (startup). A state directory the daemon cannot write stops it at start ----------------
mkdir -p "$ST/domains.state.tmp/blocker"
run_refused blocked "$SNB" --state-dir "$ST"
check "state dir that cannot be written: daemon does not start" "1" "$rc"
grepok "it says why" "cannot write the state there" "$T/blocked.log"
rm -rf "$ST/domains.state.tmp"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    mkdir "$T/rootonly"; chmod 0755 "$T/rootonly"
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        $TO "$D" --socket "$T/nb.sock" --dump "$SNB" --state-dir "$T/rootonly" >"$T/nb.log" 2>&1
    check "state dir not writable by the daemon's user: does not start" "1" "$?"
    grepok "it names the directory" "rootonly" "$T/nb.log"
else
    echo "skip non-writable state dir check (need root and setpriv)"
fi
finish

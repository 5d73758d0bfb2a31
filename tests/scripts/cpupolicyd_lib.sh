# Shared by tests/scripts/test_cpupolicyd*.sh (sourced, not a test itself): counters,
# check(), a scratch directory $T everyone may enter, and start/stop of daemons that are
# all killed on exit.  Needs BUILD and DUMPS set, and sets D (the daemon), PY, SNB, MILAN.
D="$BUILD/sbin/cpupolicyd"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SNB="$DUMPS/GenuineIntel00206D5_SandyBridgeEP.txt"
MILAN="$DUMPS/AuthenticAMD0A00F11_K19_Milan_02.txt"

. tests/scripts/lib.sh
# check WHAT EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi; }
# grepok WHAT PATTERN FILE: the file holds a line matching the (basic) regex
grepok() { if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1: no '$2' in $3"; sed 's/^/    | /' "$3" | tail -n 5; fi; }

[ -x "$D" ] || { echo "no $D (build first)"; echo "0 passed, 1 failed"; exit 1; }

# A directory everyone may enter (so that `nobody` can reach the client script and, later,
# the socket), with the sockets and logs inside.
T=$(mktemp -d /tmp/test_cpupolicyd.XXXXXX)
chmod 0755 "$T"
cp tests/scripts/cpupolicyd_client.py "$T/client.py"
chmod 0755 "$T/client.py"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
C() { "$PY" "$T/client.py" "$@"; }

# start NAME DUMP [ARGS...]: run a daemon with socket $T/NAME.sock, log $T/NAME.log; wait
# until the socket is there (it appears already listening: bound under a temporary name).
start() {
    name=$1; dump=$2; shift 2
    "$D" --socket "$T/$name.sock" --dump "$dump" --log "$T/$name.log" "$@" &
    eval "PID_$name=$!"
    PIDS="$PIDS $!"
    i=0
    while [ ! -S "$T/$name.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    if [ ! -S "$T/$name.sock" ]; then
        # Nothing later can mean anything without it; stop here (the trap cleans up).
        bad "daemon $name started"; cat "$T/$name.log" 2>/dev/null
        finish
    fi
}
# Daemons expected to exit on their own are bounded, so a regression cannot hang the run.
TO="timeout -s KILL 20"
# run_refused NAME DUMP [ARGS...]: a daemon expected to exit by itself; sets $rc.
run_refused() {
    name=$1; dump=$2; shift 2
    $TO "$D" --socket "$T/$name.sock" --dump "$dump" --log "$T/$name.log" "$@" &
    bp=$!; PIDS="$PIDS $bp"; wait $bp; rc=$?
}
pid_of() { eval "echo \$PID_$1"; }
# stop NAME: SIGTERM, then wait for the exit status; a daemon that ignores SIGTERM is
# SIGKILLed after 5 s by a watchdog (exit status 137), so the run cannot hang.
stop() {
    p=$(pid_of "$1")
    kill -TERM "$p"
    ( sleep 5; kill -9 "$p" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
    wd=$!
    wait "$p"; st=$?
    kill "$wd" 2>/dev/null
    return $st
}

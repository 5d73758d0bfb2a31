#!/bin/sh
# The toolstack end to end (docs/toolstack.md), twice: once with the hosts as simulated
# hosts in-process (sim:dump=...), once as cpupolicyd daemons reached over ssh: through an
# sshd this script starts on 127.0.0.1 with a throw-away host key, user key and config.
# Each run: a pool of three hosts of different generations; VMs built from cpuid= strings
# (both xl forms) and feature policies, with parse errors and blockers refused before
# anything is created; a fourth, older host refused while VMs would strand and accepted
# with --force; migrate-checks with complete verdicts checked field by field in the JSON;
# a migration, one refused, one whose destination fails midway (nothing half-done); an
# eject refused while a VM runs there and one accepted; a second writer told "busy"; a
# cpupolicy process killed -9 inside its join transaction, after which the pool is exactly
# as before; compare over pool:, vm: and host URIs; the policy text form round-tripping.
set -u
BUILD=${CPUPOLICY_BUILD:-${BUILD:-build}}
DUMPS=${CPUPOLICY_DUMPS:-../shared/cpuid-dumps}
CP="$(pwd)/$BUILD/bin/cpupolicy"
DAEMON="$(pwd)/$BUILD/sbin/cpupolicyd"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SPR="$DUMPS/GenuineIntel00806F8_SapphireRapids_05.txt"
ICX="$DUMPS/GenuineIntel00606A6_ICX_04.txt"
SKX="$DUMPS/GenuineIntel0050654_SkylakeXeon.txt"
HSW="$DUMPS/GenuineIntel00306F2_HaswellEP.txt"

pass=0; fail=0
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi; }
# J FILE EXPR: evaluate a Python expression over the JSON document d in FILE.
J() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(" ".join(map(str,r)) if isinstance(r,list) else r)' "$1" "$2" 2>&1; }

for f in "$SPR" "$ICX" "$SKX" "$HSW"; do
    [ -r "$f" ] || { echo "missing dump $f"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$CP" ] || { echo "no $CP (build first)"; echo "0 passed, 1 failed"; exit 1; }

T=$(mktemp -d /tmp/test_toolstack.XXXXXX)
chmod 0755 "$T"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

# scenario MODE: $T/MODE.db; uri NAME gives the host URI of spr, icx, skx, hsw, gone.
scenario() {
    M=$1
    S="$T/$M.db"
    c() { "$CP" "$@" --store "$S"; }
    o="$T/$M.out"; e="$T/$M.err"

    c pool create prod >"$o" 2>"$e"; check "$M: pool create" 0 $?
    c pool create prod >"$o" 2>"$e"; check "$M: a second pool of the same name is refused" 2 $?
    grep -q "exists already" "$e" && ok "$M: ... saying it exists" || bad "$M: ... message: $(cat "$e")"

    c pool join prod "$(uri spr)" --host-name spr --json >"$T/j1" 2>"$e"
    check "$M: join spr" 0 $?
    check "$M: spr's identity: vendor, family, model, stepping" "GenuineIntel 6 143 8" \
        "$(J "$T/j1" '[d["host"]["vendor"], d["host"]["family"], d["host"]["model"], d["host"]["stepping"]]')"
    c pool join prod "$(uri icx)" --host-name icx --json >"$T/j2" 2>"$e"
    check "$M: join icx" 0 $?
    check "$M: icx: the level loses avx512-fp16 and serialize by name, maxphysaddr 52 -> 46" \
        "True True maxphysaddr 2147483656 None 52 46" \
        "$(J "$T/j2" '["avx512-fp16" in d["level"]["lost"]["features"], "serialize" in d["level"]["lost"]["features"]] + [x for f in d["level"]["lost"]["fields"] if f["name"] == "maxphysaddr" for x in (f["name"], f["leaf"], f["subleaf"], f["old"], f["new"])]')"
    c pool join prod "$(uri skx)" --host-name skx --json >"$T/j3" 2>"$e"
    check "$M: join skx" 0 $?
    check "$M: skx: the level loses gfni and vaes by name" "True True" \
        "$(J "$T/j3" '["gfni" in d["level"]["lost"]["features"], "vaes" in d["level"]["lost"]["features"]]')"
    check "$M: the join JSON is shape 1, kind pool-join, accepted" "1 pool-join True" \
        "$(J "$T/j3" '[d["cpupolicy"], d["kind"], d["accepted"]]')"

    # Domain builder.
    c vm create web --pool prod --on skx --cpuid 'host,avx2=0' --features '+rtm' --json >"$T/v1" 2>"$e"
    check "$M: vm create web (libxl cpuid= form)" 0 $?
    check "$M: web: -avx2 named, avx512f dropped with it and said so" "True True" \
        "$(J "$T/v1" '[any(x["feature"]=="avx2" and not x["set"] and x["named"] for x in d["changes"]), any(x["feature"]=="avx512f" and not x["set"] and not x["named"] and x["cause"]=="cpuid[0] avx2=0" for x in d["changes"])]')"
    c vm create db --pool prod --on spr --cpuid '0x00000007,0:ebx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0' \
        --features 'optional:avx512f,disable:rtm' >"$o" 2>"$e"
    check "$M: vm create db (legacy cpuid= form, libvirt policies)" 0 $?
    grep -q -- "-fsgsbase  by cpuid\[0\] 0x00000007,0" "$o" && ok "$M: db: fsgsbase cleared by bit 0 of 7:0.ebx" \
        || bad "$M: db: fsgsbase: $(cat "$o")"
    c vm create bad --pool prod --on skx --cpuid 'host,avx2=2' >"$o" 2>"$e"
    check "$M: a cpuid= parse error is bad input" 2 $?
    grep -q "column 11: '2': expected 0, 1, x, k or s for feature avx2" "$e" \
        && ok "$M: ... naming the column and what was expected" || bad "$M: ... message: $(cat "$e")"
    c vm create bad --pool prod --on skx --cpuid '0x7,0:ebx=xxxx' >"$o" 2>"$e"
    grep -q "column 11: ebx: expected 32 characters" "$e" && ok "$M: legacy form: short bit string named" \
        || bad "$M: legacy short: $(cat "$e")"
    c vm create bad --pool prod --on skx --features '+avx512f,wanted:sse2' >"$o" 2>"$e"
    grep -q "column 10: 'wanted': expected require, force, optional, disable or forbid" "$e" \
        && ok "$M: feature list: unknown policy named with its column" || bad "$M: policy: $(cat "$e")"
    c vm create bad --pool prod --on skx --features 'require:avx512-fp16,forbid:sse4-2' --json >"$T/v3" 2>"$e"
    check "$M: blockers refuse creation" 1 $?
    check "$M: every blocker listed: avx512-fp16 against host and level, forbid:sse4-2" \
        "avx512-fp16:host avx512-fp16:pool level sse4-2:forbid:sse4-2: the host has it" \
        "$(J "$T/v3" 'sorted(b["name"]+":"+b["detail"] for b in d["blockers"] if b["name"] in ("avx512-fp16","sse4-2"))')"
    # Named models (cpupolicy_models.h): applied to the level's default, then verified.
    c vm create bad --pool prod --on skx --model SkylakeXeon-v1 --json >"$T/v4" 2>"$e"
    check "$M: --model SkylakeXeon-v1 in a pool with Sapphire Rapids: mpx blocks (level)" "1 mpx:pool level" \
        "$? $(J "$T/v4" '[b["name"]+":"+b["detail"] for b in d["blockers"]]')"
    c vm create bad --pool prod --on skx --model NoSuchModel >"$o" 2>"$e"
    check "$M: an unknown model is bad input" 2 $?
    grep -q "no such model" "$e" && ok "$M: ... saying so" || bad "$M: unknown model: $(cat "$e")"
    c vm list --json >"$T/vl" 2>"$e"
    check "$M: nothing of the refused VMs was recorded" "db web" "$(J "$T/vl" '[v["name"] for v in d["vms"]]')"

    # A fourth, older host.
    c pool join prod "$(uri hsw)" --host-name hsw --json >"$T/j4" 2>"$e"
    check "$M: the older host is refused while VMs would strand" 1 $?
    check "$M: ... naming each VM" "db web" "$(J "$T/j4" 'sorted(v["vm"] for v in d["stranded"])')"
    check "$M: ... and what each would lose (web: xsaves; db: avx512f)" "True True" \
        "$(J "$T/j4" '["xsaves" in [v for s in d["stranded"] if s["vm"]=="web" for v in s["loses"]["features"]], "avx512f" in [v for s in d["stranded"] if s["vm"]=="db" for v in s["loses"]["features"]]]')"
    check "$M: ... and the pool is unchanged" "3" "$(c pool show prod --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["members"]))')"
    c pool join prod "$(uri hsw)" --host-name hsw --force >"$o" 2>"$e"
    check "$M: with --force it joins" 0 $?
    grep -q "these VMs no longer fit every member: db web" "$o" && ok "$M: ... printing the VM list" \
        || bad "$M: forced join output: $(cat "$o")"

    # Migration checks: complete verdicts.
    c vm migrate-check db --to icx --json >"$T/m1" 2>"$e"; rc=$?
    check "$M: migrate-check db -> icx: compatible, exit 0" "0 True" "$rc $(J "$T/m1" 'd["verdict"]["compatible"]')"
    c vm migrate-check db --to hsw --json >"$T/m2" 2>"$e"
    check "$M: migrate-check db -> hsw: incompatible, exit 1" 1 $?
    check "$M: verdict: Xen's first failing leaf is leaf 1 (aesni), no MSR" "False 1 None" \
        "$(J "$T/m2" '[d["verdict"]["compatible"], d["verdict"]["first_failure"]["leaf"], d["verdict"]["first_failure"]["msr"]]')"
    check "$M: verdict: every missing feature by name" "True True True" \
        "$(J "$T/m2" '[f in d["verdict"]["missing_features"] for f in ("aesni","avx512f","xsaves")]')"
    check "$M: verdict: XCR0 components with both values" "bits 13 0 743 7" \
        "$(J "$T/m2" '[x for f in d["verdict"]["fields"] if f["name"]=="XCR0 components 31:0" for x in (f["kind"], f["leaf"], f["subleaf"], f["guest"], f["host"])]')"
    check "$M: verdict: every numeric field has guest > host, every bit field guest outside host" "True" \
        "$(J "$T/m2" 'all((f["guest"] > f["host"]) if f["kind"]=="numeric" else (f["guest"] & ~f["host"]) != 0 for f in d["verdict"]["fields"] if f["kind"] in ("numeric","bits")) and len(d["verdict"]["fields"]) >= 4')"
    c vm migrate-check db --to hsw >"$o" 2>"$e"
    grep -q "xsave size, XCR0 in use (numeric, leaf 0xd subleaf 0): guest 2696, host 832" "$o" \
        && ok "$M: the text verdict names the field with both values" || bad "$M: text verdict: $(cat "$o")"

    # Migrations.
    c vm migrate db --to hsw >"$o" 2>"$e"
    check "$M: migrate db -> hsw is refused with the verdict" 1 $?
    check "$M: ... and db stays on spr" spr "$(c vm show db --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["vm"]["host"])')"
    src_domid=$(c vm show db --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["vm"]["domid"])')
    c vm migrate db --to icx --json >"$T/m3" 2>"$e"
    check "$M: migrate db -> icx" 0 $?
    check "$M: ... recorded on icx" "True icx" "$(J "$T/m3" '[d["migrated"], d["to"]]')"
    check "$M: vm show says icx" icx "$(c vm show db --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["vm"]["host"])')"
    after_migrate "$src_domid" "$(J "$T/m3" 'd["domid"]')"

    # A destination that fails midway: nothing half-done.
    c pool join prod "$(uri gone)" --host-name gone --force >"$o" 2>"$e"
    check "$M: join a host that will go away" 0 $?
    make_gone
    c vm migrate web --to gone >"$o" 2>"$e"
    check "$M: migration to a host that fails midway fails" 2 $?
    grep -q "the VM stays on skx" "$e" && ok "$M: ... undone, saying so" || bad "$M: ... $(cat "$e")"
    check "$M: ... web still on skx" skx "$(c vm show web --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["vm"]["host"])')"
    c pool eject prod gone >"$o" 2>"$e"; check "$M: eject the dead host" 0 $?

    # Eject.
    c pool eject prod icx --json >"$T/e1" 2>"$e"; rc=$?
    check "$M: eject icx refused while db runs there, naming it" "1 db" "$rc $(J "$T/e1" 'd["vms_on_host"]')"
    c pool eject prod hsw --json >"$T/e2" 2>"$e"; rc=$?
    check "$M: eject hsw: accepted, the level gains xsaves back" "0 True" "$rc $(J "$T/e2" '"xsaves" in d["level"]["gained"]')"

    # compare over pool:, vm: and host URIs.
    c compare pool:prod vm:web >"$o" 2>"$e"; check "$M: compare pool:prod vm:web" 0 $?
    c compare "$(uri hsw)" vm:db --json >"$T/c1" 2>"$e"; rc=$?
    check "$M: compare HOST-URI vm:db: incompatible, avx512f missing" "1 True" "$rc $(J "$T/c1" '"avx512f" in d["verdict"]["missing_features"]')"

    # Two writers, and kill -9 inside the join transaction.
    c pool show prod --json >"$T/before" 2>"$e"
    c pool history prod --json >"$T/hbefore" 2>"$e"
    rm -f "$T/hold"
    CPUPOLICY_TEST_HOLD_TXN="$T/hold" "$CP" pool join prod "$(uri hsw)" --host-name hsw2 --force --store "$S" >/dev/null 2>&1 &
    holder=$!
    PIDS="$PIDS $holder"
    i=0; while [ ! -f "$T/hold" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
    [ -f "$T/hold" ] && ok "$M: a join is inside its transaction" || bad "$M: the join never reached its commit"
    CPUPOLICY_STORE_BUSY_MS=200 "$CP" pool join prod "$(uri hsw)" --host-name hsw3 --force --store "$S" >"$o" 2>"$e"
    check "$M: a second writer meanwhile fails" 2 $?
    grep -q "busy: another cpupolicy process is changing this store" "$e" && ok "$M: ... with a clear busy error" \
        || bad "$M: busy message: $(cat "$e")"
    kill -9 "$holder"; wait "$holder" 2>/dev/null
    c pool show prod --json >"$T/after" 2>"$e"
    check "$M: after kill -9 mid-join the pool is exactly as before" "" "$(cmp "$T/before" "$T/after" 2>&1)"
    c pool history prod --json >"$T/hafter" 2>"$e"
    check "$M: ... and so is its history" "" "$(cmp "$T/hbefore" "$T/hafter" 2>&1)"
    if command -v sqlite3 >/dev/null 2>&1; then
        check "$M: ... and the database is intact" ok "$(sqlite3 "$S" 'PRAGMA integrity_check')"
    fi
    c pool join prod "$(uri hsw)" --host-name hsw2 --force >"$o" 2>"$e"
    check "$M: the same join then succeeds (no lock left behind)" 0 $?

    # History: every level with the event that made it.
    c pool history prod --json >"$T/h" 2>"$e"
    check "$M: history: create, joins, forced join, eject..." \
        "create join join join join join eject eject join" "$(J "$T/h" '[h["event"] for h in d["history"]]')"
    check "$M: history: the forced join recorded the stranded VMs" "db web" \
        "$(J "$T/h" 'sorted(v["vm"] for v in d["history"][4]["detail"]["stranded"])')"

    # The policy text form round-trips.
    c policy --format text vm:db >"$T/p1" 2>"$e"
    "$CP" policy --format text "text:$T/p1" >"$T/p2" 2>"$e"
    check "$M: policy text form round-trips exactly" "" "$(cmp "$T/p1" "$T/p2" 2>&1)"

    c vm destroy web >"$o" 2>"$e"; check "$M: vm destroy web" 0 $?
    check "$M: web is gone" "db" "$(c vm list --json | "$PY" -c 'import json,sys; print(" ".join(v["name"] for v in json.load(sys.stdin)["vms"]))')"
}

# --- sim: hosts ------------------------------------------------------------------------
cp "$ICX" "$T/gone.txt"
uri() {
    case $1 in
        spr) echo "sim:dump=$SPR" ;; icx) echo "sim:dump=$ICX" ;; skx) echo "sim:dump=$SKX" ;;
        hsw) echo "sim:dump=$HSW" ;; gone) echo "sim:dump=$T/gone.txt" ;;
    esac
}
make_gone() { rm -f "$T/gone.txt"; }
after_migrate() { :; }  # a sim: host's domains live as long as the process that made them
scenario sim

# A model that fits: a pool of the Skylake host alone takes SkylakeXeon-v1 (made from it).
"$CP" pool create solo --store "$T/solo.db" >/dev/null 2>&1
"$CP" pool join solo "sim:dump=$SKX" --host-name skx --store "$T/solo.db" >/dev/null 2>&1
"$CP" vm create m1 --pool solo --on skx --model SkylakeXeon-v1 --store "$T/solo.db" --json >"$T/m1.json" 2>"$T/m1.err"
check "--model SkylakeXeon-v1 on its own host: created, the model's features named" "0 True SkylakeXeon-v1 True" \
    "$? $(J "$T/m1.json" '[d["created"], d["config"]["model"], any(c["cause"]=="model SkylakeXeon-v1" and c["feature"]=="mpx" and c["set"] for c in d["changes"])]')"

# --- ssh: hosts ------------------------------------------------------------------------
SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    bad "ssh: openssh-server and openssh-client are needed (mk/ensure-deps.sh installs them)"
    echo "$pass passed, $fail failed"; exit 1
fi
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" && ssh-keygen -q -t ed25519 -N '' -f "$T/userkey"
cp "$T/userkey.pub" "$T/authorized_keys"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/hostkey
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
EOF
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/hostkey.pub")" >"$T/known_hosts"
cat >"$T/ssh_config" <<EOF
Host *
  IdentityFile $T/userkey
  IdentitiesOnly yes
  UserKnownHostsFile $T/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  LogLevel ERROR
EOF
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
"$SSHD" -D -e -f "$T/sshd_config" >"$T/sshd.log" 2>&1 &
PIDS="$PIDS $!"
i=0; while ! ssh -F "$T/ssh_config" -p "$PORT" -o BatchMode=yes 127.0.0.1 true 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.2; i=$((i + 1)); done
[ $i -lt 50 ] && ok "sshd on 127.0.0.1:$PORT takes the throw-away key" || { bad "sshd started"; cat "$T/sshd.log"; }
export CPUPOLICY_SSH_CONFIG="$T/ssh_config" CPUPOLICY_SSH_BRIDGE="$DAEMON --stdio-bridge"
ME=$(id -un)
daemon() {
    "$DAEMON" --socket "$T/$1.sock" --dump "$2" --log "$T/$1.log" &
    eval "PID_$1=$!"; PIDS="$PIDS $!"
    i=0; while [ ! -S "$T/$1.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}
daemon spr "$SPR"; daemon icx "$ICX"; daemon skx "$SKX"; daemon hsw "$HSW"; daemon gone "$ICX"
uri() { echo "ssh:$ME@127.0.0.1:$PORT$T/$1.sock"; }
make_gone() { kill -9 "$PID_gone"; rm -f "$T/gone.sock"; }
after_migrate() {
    # The hand-off happened on the daemons: gone from spr, on icx with the VM's policy.
    "$PY" tests/scripts/cpupolicyd_client.py "$T/spr.sock" policy "$1" >"$T/cl1" 2>&1
    check "ssh: the source domain $1 is destroyed on spr (-ESRCH)" "-3" "$(head -1 "$T/cl1")"
    "$PY" tests/scripts/cpupolicyd_client.py "$T/icx.sock" policy "$2" >"$T/cl2" 2>&1
    check "ssh: domain $2 runs on icx" "0" "$(head -1 "$T/cl2")"
}
"$CP" policy --format featureset "ssh:$ME@127.0.0.1:$PORT$T/nosuch.sock" >/dev/null 2>"$T/err"
grep -q "cannot reach cpupolicyd" "$T/err" && ok "ssh: a missing remote socket is named (the bridge's stderr)" \
    || bad "ssh: missing socket: $(cat "$T/err")"
"$CP" policy --format featureset "ssh:$ME@127.0.0.1:1$T/spr.sock" >/dev/null 2>"$T/err"
check "ssh: an unreachable sshd is an error" 2 $?
"$CP" policy --format featureset "ssh:127.0.0.1" >/dev/null 2>"$T/err"
grep -q "expected ssh:\[USER@\]HOST\[:PORT\]/SOCKET" "$T/err" && ok "ssh: a URI without a socket is refused with the form" \
    || bad "ssh: bad uri: $(cat "$T/err")"
check "ssh: the featureset over ssh equals the sim's" "$("$CP" policy --format featureset --index hvm-max "sim:dump=$HSW")" \
    "$("$CP" policy --format featureset --index hvm-max "$(uri hsw)" 2>&1)"
scenario ssh

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

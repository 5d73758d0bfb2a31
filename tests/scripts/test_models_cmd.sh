#!/bin/sh
# `cpupolicy model` end to end (issue 10), over the shipped models, libvirt's installed
# CPU map and simulated hosts booted on the real dumps:
#   list/show    sources, counts, --json shape (version 1, "featureset" in xen-cpuid form,
#                numeric fields, origin of a generated model, parent/unmapped of libvirt's)
#   check        exit 0 runnable / 1 not, EVERY blocker by name (features by number order,
#                numeric fields with the model's and the level's values, the vendor);
#                `--pool P` judges the pool's level (a pool of one host = that host)
#   tsx          SkylakeXeon-v1 is blocked (hle, rtm) on the same CPU after a TSX-removing
#                update, SkylakeXeon-v2 runs there, and v1 stays valid and published
#   suggest      the most capable runnable model of a host and the exact delta, checked
#                against `model show` and `featureset` of the host
#   export       libvirt XML valid against Debian libvirt's domain.rng (xmllint, libxml2),
#                QEMU -cpu string, xl cpuid= strings of 32 bit characters
#   from-dump    a generated model has its dump's featureset and records its origin
#   published    every shipped model file matches config/cpu-models/PUBLISHED.sha256
#                (a published version is never edited) and every listed file exists
#   errors       schema violations and unknown features name file and line; unknown
#                model, source, option: exit 2
set -u

BIN=${CPUPOLICY_BUILD:-${BUILD:-build}}/bin/cpupolicy
D=${CPUPOLICY_DUMPS:-tests/data/cpuid-dumps}
SKX=$D/GenuineIntel0050654_SkylakeXeon.txt
CLX=$D/GenuineIntel0050657_CascadeLakeXeon.txt
HSW=$D/GenuineIntel00306F2_HaswellEP.txt
MILAN=$D/AuthenticAMD0A00F11_K19_Milan_02.txt
MODELS=config/cpu-models
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$BIN" ] || { echo "FAIL: $BIN missing (make all)"; echo "0 passed, 1 failed"; exit 1; }
[ -r "$SKX" ] || { echo "FAIL: $SKX missing (CPUPOLICY_DUMPS)"; echo "0 passed, 1 failed"; exit 1; }

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect_rc RC what -- command...
expect_rc() {
    want=$1; what=$2; shift 3
    "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?
    [ "$rc" -eq "$want" ] && ok || { bad "$what: exit $rc, expected $want"; sed 's/^/    /' "$tmp/err" | head -5; }
}
# jq-like checks in python: py 'EXPR over j' FILE what
py() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$2" && ok || bad "$3"; }

# --- list / show -----------------------------------------------------------------------
expect_rc 0 "list builtin" -- "$BIN" model list --source builtin --json
cp "$tmp/out" "$tmp/builtin.json"
py "j['version'] == 1 and len(j['models']) == $(ls $MODELS/*-v*.xml | wc -l) and all(m['source'] == 'builtin' for m in j['models'])" \
   "$tmp/builtin.json" "model list --source builtin --json: one entry per shipped model"
expect_rc 0 "list all" -- "$BIN" model list --json
py "len([m for m in j['models'] if m['source'] == 'libvirt']) >= 50 and any(m['name'] == 'SkylakeXeon-v2' for m in j['models'])" \
   "$tmp/out" "model list --json: libvirt's models and ours"
expect_rc 0 "show v2" -- "$BIN" model show SkylakeXeon-v2 --json
cp "$tmp/out" "$tmp/v2.json"
py "j['version'] == 1 and j['model']['origin']['dump'] == 'GenuineIntel0050654_SkylakeXeon.txt' and j['model']['origin']['policy'] == 'max' \
    and j['model']['supersedes']['version'] == 1 and 'rtm' not in j['model']['features'] and j['model']['numeric']['phys-addr-bits'] == 46 \
    and j['model']['signature'] == {'family': 6, 'model': 85, 'stepping': 4}" "$tmp/v2.json" "model show SkylakeXeon-v2 --json: origin, supersedes, no rtm, fields, signature"
# The featureset member is the features, in xen-cpuid form: the max policy's featureset
# of the dump it came from, with the same boot options.
"$BIN" featureset --index hvm-max --boot-options "cpuid=no-hle,no-rtm" "$SKX" > "$tmp/skx.fs"
py "j['model']['featureset'] == open('$tmp/skx.fs').read().split()[-1]" "$tmp/v2.json" "featureset of v2 = its dump's hvm-max featureset"
py "all(len(w) == 8 for w in j['model']['featureset'].split(':')) and len(j['model']['featureset'].split(':')) == 19" \
   "$tmp/v2.json" "featureset in xen-cpuid form (19 words of 8 hex digits)"
expect_rc 0 "show libvirt" -- "$BIN" model show Icelake-Client --source libvirt --json
py "j['model']['libvirt']['removed'] == ['intel-pt'] and 'arat' in j['model']['libvirt']['unmapped'] and j['model']['vendor'] == 'GenuineIntel'" \
   "$tmp/out" "model show Icelake-Client: removed intel-pt, unmapped arat"
expect_rc 0 "show text" -- "$BIN" model show EPYC
grep -q "^Removed (libvirt policy='disable'): monitor$" "$tmp/out" && ok || bad "model show EPYC: removed monitor"

# --- check -----------------------------------------------------------------------------
expect_rc 0 "check own host" -- "$BIN" model check SkylakeXeon-v1 --host "sim:dump=$SKX"
grep -q "runnable$" "$tmp/out" && ok || bad "check on its own host: runnable"
expect_rc 1 "check v1 after TSX removal" -- "$BIN" model check SkylakeXeon-v1 --host "sim:dump=$SKX,boot=cpuid=no-hle,no-rtm" --json
py "j['runnable'] is False and {'hle', 'rtm'} <= {b['name'] for b in j['blockers'] if b['kind'] == 'feature'}" \
   "$tmp/out" "v1 blocked by hle and rtm after the update"
expect_rc 0 "check v2 after TSX removal" -- "$BIN" model check SkylakeXeon-v2 --host "sim:dump=$SKX,boot=cpuid=no-hle,no-rtm"
(cd $MODELS && sha256sum -c --quiet PUBLISHED.sha256 >/dev/null 2>&1) && ok || bad "published model files changed"
expect_rc 1 "check on another vendor" -- "$BIN" model check IceLakeXeon-v1 --host "sim:dump=$MILAN" --json
cp "$tmp/out" "$tmp/icx-milan.json"
py "j['blockers'][0] == {'kind': 'vendor', 'name': 'vendor', 'model': 'GenuineIntel', 'level': 'AuthenticAMD'}" \
   "$tmp/icx-milan.json" "vendor blocker first, both vendors named"
expect_rc 1 "check numeric" -- "$BIN" model check GenoaEPYC-v1 --host "sim:dump=$D/AuthenticAMD0800F12_K17_Zen.txt" --json
py "[b for b in j['blockers'] if b['kind'] == 'field'] == [
      {'kind': 'field', 'name': 'phys-addr-bits', 'model': 52, 'level': 48, 'compare': 'le'},
      {'kind': 'field', 'name': 'xcr0', 'model': 0x2e7, 'level': 0x7, 'compare': 'subset'}]" \
   "$tmp/out" "Genoa on Zen: phys-addr-bits 52 > 48 and xcr0 0x2e7 not within 0x7, with both values"
# Every blocker: the feature blockers are exactly the model's features the host lacks.
"$BIN" model check IceLakeXeon-v1 --host "sim:dump=$HSW" --json > "$tmp/icx-hsw.json"
"$BIN" model show IceLakeXeon-v1 --json > "$tmp/icx.json"
"$BIN" featureset --index hvm-max "$HSW" > "$tmp/hsw.fs"
python3 - "$tmp" <<'PY' && ok || bad "check lists exactly the missing features (model minus host featureset)"
import json, sys, re, subprocess
t = sys.argv[1]
chk = json.load(open(t + '/icx-hsw.json'))
model = json.load(open(t + '/icx.json'))['model']
host = [int(w, 16) for w in re.findall(r'[0-9a-f]{8}', open(t + '/hsw.fs').read().split('\n')[0].split()[-1])]
mw = [int(w, 16) for w in model['featureset'].split(':')]
missing = {n for n in [b['feature'] for b in chk['blockers'] if b['kind'] == 'feature']}
want = {w * 32 + b for w in range(len(mw)) for b in range(32) if mw[w] >> b & 1 and not (host[w] >> b & 1)}
# '|' features never block; they are few - allow only those to differ.
extra = want - missing
sys.exit(0 if missing <= want and len(extra) <= 3 and chk['runnable'] is False else 1)
PY
# --pool: a pool of one host levels to that host's max policy, so a model's verdict on
# the pool is its verdict on the host, blocker for blocker.
DB="$tmp/store.db"
expect_rc 0 "pool create" -- "$BIN" pool create --store "$DB" solo
expect_rc 0 "pool join SKX" -- "$BIN" pool join --store "$DB" solo "sim:dump=$SKX"
for m in SkylakeXeon-v1 SapphireRapidsXeon-v1 Haswell; do
    "$BIN" model check "$m" --pool solo --store "$DB" --json >"$tmp/pool.json" 2>"$tmp/err"; rp=$?
    "$BIN" model check "$m" --host "sim:dump=$SKX" --json >"$tmp/host.json" 2>>"$tmp/err"; rh=$?
    [ $rp -eq $rh ] && [ $rp -le 1 ] && ok || bad "check $m: --pool exit $rp, --host exit $rh"
    python3 -c "import json,sys; p=json.load(open(sys.argv[1])); h=json.load(open(sys.argv[2]));
sys.exit(0 if p['blockers'] == h['blockers'] and p['runnable'] == h['runnable'] and p['level']['kind'] == 'pool' and p['level']['pool'] == 'solo' else 1)" \
        "$tmp/pool.json" "$tmp/host.json" && ok || bad "check $m: --pool solo and --host SKX disagree"
done
expect_rc 0 "suggest --pool" -- "$BIN" model suggest --pool solo --store "$DB" --json
expect_rc 2 "check --pool of an unknown pool" -- "$BIN" model check SkylakeXeon-v1 --pool prod --store "$DB"
grep -q "pool 'prod'" "$tmp/err" && ok || bad "--pool prod: the error names the pool: $(cat "$tmp/err")"

# --- suggest ---------------------------------------------------------------------------
expect_rc 0 "suggest CLX" -- "$BIN" model suggest --host "sim:dump=$CLX" --json
cp "$tmp/out" "$tmp/sug.json"
py "j['runnable']['model'] == 'CascadeLakeXeon-v1' and j['runnable']['add'] == [] and j['runnable']['lacks'] == []" \
   "$tmp/sug.json" "suggest on Cascade Lake: its own model, nothing left"
expect_rc 0 "suggest builtin after TSX removal" -- "$BIN" model suggest --host "sim:dump=$SKX,boot=cpuid=no-hle,no-rtm" --source builtin --json
py "j['runnable']['model'] == 'SkylakeXeon-v2' and j['runnable']['blockers'] == []" "$tmp/out" "suggest after TSX removal: SkylakeXeon-v2"
expect_rc 0 "suggest libvirt on Cascade Lake" -- "$BIN" model suggest --host "sim:dump=$CLX" --source libvirt --json
cp "$tmp/out" "$tmp/sug-clx.json"
"$BIN" model show Cascadelake-Server --source libvirt --json > "$tmp/sug-model.json"
"$BIN" featureset --index hvm-max "$CLX" > "$tmp/clx.fs"
python3 - "$tmp" <<'PY' && ok || bad "suggest on Cascade Lake (libvirt): Cascadelake-Server, add = host featureset minus the model's"
import json, sys
t = sys.argv[1]
s = json.load(open(t + '/sug-clx.json'))['runnable']
m = json.load(open(t + '/sug-model.json'))['model']
host = [int(w, 16) for w in open(t + '/clx.fs').read().split()[-1].split(':')]
mw = [int(w, 16) for w in m['featureset'].split(':')]
n = sum(bin(h & ~x).count('1') for h, x in zip(host, mw))
ok = s['model'] == 'Cascadelake-Server' and s['lacks'] == [] and s['blockers'] == [] \
     and len(s['add']) == n and not (set(s['add']) & set(m['features'])) and 'pku' in s['add']
sys.exit(0 if ok else print(s['model'], len(s['add']), n) or 1)
PY
# Haswell-EP's dump lacks aesni (disabled by its firmware): libvirt's Haswell is the
# closest model, blocked by exactly that; the most capable runnable one is Nehalem.
expect_rc 0 "suggest libvirt on Haswell" -- "$BIN" model suggest --host "sim:dump=$HSW" --source libvirt --json
py "j['closest']['model'] == 'Haswell' and j['closest']['lacks'] == ['aesni'] and \
    [b['name'] for b in j['closest']['blockers']] == ['aesni'] and j['runnable']['model'] == 'Nehalem'" \
   "$tmp/out" "Haswell-EP: closest Haswell lacking aesni, runnable Nehalem"

# --- export ----------------------------------------------------------------------------
for m in SkylakeXeon-v2 GenoaEPYC-v1 EPYC Haswell-noTSX; do
    "$BIN" model export "$m" --to libvirt > "$tmp/cpu.xml" || { bad "export $m --to libvirt"; continue; }
    { printf "<domain type='kvm'><name>t</name><memory>1024</memory><os><type arch='x86_64'>hvm</type></os>\n"
      cat "$tmp/cpu.xml"; printf "</domain>\n"; } > "$tmp/dom.xml"
    xmllint --noout --relaxng /usr/share/libvirt/schemas/domain.rng "$tmp/dom.xml" > /dev/null 2>&1 \
        && ok || bad "export $m --to libvirt: not valid against domain.rng"
done
"$BIN" model export SkylakeXeon-v2 --to libvirt | grep -q "<cpu mode='custom' match='exact'" && ok || bad "libvirt export: custom/exact"
expect_rc 0 "export qemu" -- "$BIN" model export EPYC --to qemu
[ "$(head -n 1 "$tmp/out")" = "-cpu EPYC,-monitor" ] && ok || bad "qemu export of EPYC: '$(head -n 1 "$tmp/out")'"
expect_rc 0 "export xl" -- "$BIN" model export SkylakeXeon-v1 --to xl
grep -Eq '"0x00000007,0x00000000:ebx=[01x]{32},ecx=[01x]{32},edx=[01x]{32}"' "$tmp/out" && ok || bad "xl export: leaf 7 registers of 32 characters"
# rtm is 7:0.ebx bit 11: '1' in v1 (character 32-11 = 21), '0' in v2.
c1=$(grep -o '0x00000007,0x00000000:ebx=[01x]*' "$tmp/out" | cut -d= -f2 | cut -c21)
c2=$("$BIN" model export SkylakeXeon-v2 --to xl | grep -o '0x00000007,0x00000000:ebx=[01x]*' | cut -d= -f2 | cut -c21)
[ "$c1$c2" = "10" ] && ok || bad "xl export: rtm bit '$c1' in v1, '$c2' in v2 (expected 1, 0)"
expect_rc 2 "export bad format" -- "$BIN" model export EPYC --to vmware

# --- from-dump -------------------------------------------------------------------------
# A generated model is the dump's policy: its featureset is `cpupolicy featureset` of the
# same dump and policy.  (Shipped models are not compared with a regeneration: they are
# published and stay as they are when the importer or the derivations change.)
expect_rc 0 "from-dump v9" -- "$BIN" model from-dump "$CLX" --name Gen-v9 --boot-options "cpuid=no-avx512f" --output "$tmp/Gen-v9.xml"
expect_rc 0 "validate generated" -- "$BIN" model validate "$tmp/Gen-v9.xml"
mkdir -p "$tmp/gen" && cp "$tmp/Gen-v9.xml" "$tmp/gen/"
"$BIN" model show Gen-v9 --models-dir "$tmp/gen" --source builtin --json > "$tmp/gen.json"
"$BIN" featureset --index hvm-max --boot-options "cpuid=no-avx512f" "$CLX" > "$tmp/gen.fs"
py "j['model']['featureset'] == open('$tmp/gen.fs').read().split()[-1] and j['model']['origin'] == \
    {'dump': 'GenuineIntel0050657_CascadeLakeXeon.txt', 'policy': 'max', 'boot_options': 'cpuid=no-avx512f'} \
    and 'avx512f' not in j['model']['features'] and j['model']['version'] == 9" "$tmp/gen.json" \
   "from-dump: featureset = the dump's hvm-max featureset, origin recorded"
expect_rc 0 "from-dump raw" -- "$BIN" model from-dump "$CLX" --name Raw --policy raw
grep -q '<cpu-model name="Raw" version="1">' "$tmp/out" && grep -q 'policy="raw"' "$tmp/out" && ok || bad "from-dump --policy raw, version 1 by default"
expect_rc 2 "from-dump bad name" -- "$BIN" model from-dump "$SKX" --name "bad name"
expect_rc 2 "from-dump supersedes newer" -- "$BIN" model from-dump "$SKX" --name X-v2 --supersedes 3 --reason r

# --- published -------------------------------------------------------------------------
n_files=$(ls $MODELS/*-v*.xml | wc -l)
n_listed=$(wc -l < $MODELS/PUBLISHED.sha256)
[ "$n_files" -eq "$n_listed" ] && ok || bad "PUBLISHED.sha256 lists $n_listed files, $n_files shipped"

# --- errors ----------------------------------------------------------------------------
mkdir -p "$tmp/models"
cat > "$tmp/models/Bad-v1.xml" <<'X'
<?xml version="1.0"?>
<cpu-model name="Bad" version="1">
  <vendor>GenuineIntel</vendor>
  <features>
    <feature name="fpu"/>
    <feature name="hyperdrive"/>
  </features>
</cpu-model>
X
expect_rc 2 "unknown feature" -- "$BIN" model list --source builtin --models-dir "$tmp/models"
grep -q "Bad-v1.xml:6: unknown feature 'hyperdrive'" "$tmp/err" && ok || bad "unknown feature names file:line ($(cat "$tmp/err"))"
sed -i 's/<vendor>GenuineIntel<\/vendor>/<vendour>GenuineIntel<\/vendour>/; s/hyperdrive/fpu2/' "$tmp/models/Bad-v1.xml"
expect_rc 2 "schema violation" -- "$BIN" model validate "$tmp/models/Bad-v1.xml"
grep -Eq "Bad-v1.xml:[0-9]+: " "$tmp/err" && ok || bad "schema violation names file:line ($(cat "$tmp/err"))"
expect_rc 2 "validate --json" -- "$BIN" model validate --json "$MODELS/SkylakeXeon-v1.xml" "$tmp/models/Bad-v1.xml"
py "j['version'] == 1 and j['files'][0]['valid'] is True and j['files'][1]['valid'] is False and \
    j['files'][1]['error'].startswith('$tmp/models/Bad-v1.xml:')" "$tmp/out" "validate --json: per file, errors with file and line"
expect_rc 2 "broken cpu map" -- "$BIN" model list --source libvirt --cpu-map "$tmp/models"
grep -q "index.xml: no such file" "$tmp/err" && ok || bad "missing map: names index.xml"
expect_rc 2 "unknown model" -- "$BIN" model show NoSuchCPU
expect_rc 2 "unknown source" -- "$BIN" model list --source vmware
expect_rc 2 "check needs a level" -- "$BIN" model check EPYC

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# Every x86 model of the installed libvirt CPU map, as cpupolicy reads it, against
# libvirt's own expansion of the model (issue 10):
#   libvirt     `virsh -c test:///default cpu-baseline --features` on a CPU that is the
#               model: its policy='require' features are libvirt's expansion (the test
#               driver needs no daemon); policy='disable' ones are the model's removed
#               features
#   names       `cpupolicy model show M --json` lists exactly those features (libvirt.features)
#               and exactly the disabled ones as removed
#   featureset  an independent oracle (python, below) maps libvirt's names to bits through
#               x86_features.xml's CPUID/MSR definitions and this project's word table
#               (feature-table.hpp, read as text): our "featureset" must equal it, and
#               our "unmapped" list must be exactly the definitions with no named bit
set -u

BIN=${CPUPOLICY_BUILD:-${BUILD:-build}}/bin/cpupolicy
MAP=/usr/share/libvirt/cpu_map
TABLE=hypervisor/include/cpupolicy/feature-table.hpp
[ -r "$TABLE" ] || TABLE=hypervisor/core/include/cpupolicy/feature-table.hpp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$BIN" ] || [ ! -r "$MAP/index.xml" ] || ! command -v virsh >/dev/null; then
    echo "FAIL: needs $BIN, $MAP (libvirt0) and virsh (libvirt-clients)"
    echo "0 passed, 1 failed"
    exit 1
fi

# One virsh run for all models: an "echo" line before each expansion.
"$BIN" model list --source libvirt --json > "$tmp/list.json" || { echo "FAIL: model list"; echo "0 passed, 1 failed"; exit 1; }
python3 - "$tmp" "$MAP" <<'PY' > "$tmp/virsh.cmds"
import json, sys, xml.etree.ElementTree as ET
tmp, mapdir = sys.argv[1], sys.argv[2]
vendors = {v.get('string'): v.get('name') for v in ET.parse(mapdir + '/x86_vendors.xml').getroot()}
for m in json.load(open(tmp + '/list.json'))['models']:
    name = m['name']
    v = '<vendor>%s</vendor>' % vendors[m['vendor']] if m['vendor'] else ''
    open('%s/cpu-%s.xml' % (tmp, name), 'w').write(
        '<cpu><arch>x86_64</arch><model>%s</model>%s</cpu>\n' % (name, v))
    print('echo ==MODEL== %s ==; cpu-baseline --features %s/cpu-%s.xml;' % (name, tmp, name))
PY
virsh -q -c test:///default "$(cat "$tmp/virsh.cmds")" > "$tmp/virsh.out" 2> "$tmp/virsh.err"

for m in $(python3 -c "import json,sys; print(' '.join(x['name'] for x in json.load(open(sys.argv[1]))['models']))" "$tmp/list.json"); do
    "$BIN" model show "$m" --source libvirt --json > "$tmp/show-$m.json" 2>> "$tmp/show.err"
done

python3 - "$tmp" "$MAP" "$TABLE" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
tmp, mapdir, table = sys.argv[1:4]
passed = failed = 0
def bad(msg):
    global failed
    failed += 1
    print('FAIL: ' + msg)

# This project's words and named bits, read from the table's text.
src = open(table).read()
words = []
# Numbers are written as literals of the index types: 0x7_leaf, 1_subleaf, 0x10a_msr.
for m in re.finditer(r'WordSource::(cpuid|msr_half)\(([^)]*)\)', src):
    a = [re.sub(r'_(leaf|subleaf|msr)$', '', x.strip()) for x in m.group(2).split(',')]
    if m.group(1) == 'cpuid':
        words.append(('cpuid', int(a[0], 16), None if a[1] == 'kNoSubleaf' else int(a[1], 0), a[2].split('::')[1]))
    else:
        words.append(('msr', int(a[0], 16), int(a[1]), None))
feat_src = src[src.index('features[] = {'):]
named = {(int(w), int(b)) for w, b in re.findall(r'\{\s*(\d+),\s*(\d+),\s*"[^"]+"', feat_src)}
indexed = {0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x1f, 0x20, 0x23, 0x24,
           0x8000001d, 0x80000020, 0x80000026}

# libvirt's definitions -> (word, bit) or None.
defs = {}
for f in ET.parse(mapdir + '/x86_features.xml').getroot().iter('feature'):
    items = []
    for c in f:
        if c.tag == 'cpuid':
            leaf = int(c.get('eax_in'), 0)
            sub = int(c.get('ecx_in'), 0) if c.get('ecx_in') else None
            if leaf in indexed and sub is None: sub = 0
            if leaf not in indexed: sub = None
            for r in ('eax', 'ebx', 'ecx', 'edx'):
                if c.get(r) and int(c.get(r), 0):
                    items.append(('cpuid', leaf, sub, r, int(c.get(r), 0)))
        elif c.tag == 'msr':
            for half, r in ((0, 'eax'), (1, 'edx')):
                if c.get(r) and int(c.get(r), 0):
                    items.append(('msr', int(c.get('index'), 0), half, None, int(c.get(r), 0)))
    bit = None
    if len(items) == 1 and bin(items[0][4]).count('1') == 1:
        kind, leaf, sub, reg, mask = items[0]
        b = mask.bit_length() - 1
        for w, (wk, wl, ws, wr) in enumerate(words):
            if wk == kind and wl == leaf and ws == sub and (kind == 'msr' or wr == reg) and (w, b) in named:
                bit = (w, b)
    defs[f.get('name')] = bit

# libvirt's expansions.
expansions = {}
for chunk in open(tmp + '/virsh.out').read().split('==MODEL== ')[1:]:
    name, _, rest = chunk.partition(' ==')
    e = expansions[name] = {'require': set(), 'disable': set()}
    for pol, feat in re.findall(r"<feature policy='(\w+)' name='([^']+)'/>", rest):
        e.setdefault(pol, set()).add(feat)

models = json.load(open(tmp + '/list.json'))['models']
if len(models) < 50:
    bad('only %d libvirt models listed' % len(models))
for entry in models:
    name = entry['name']
    if name not in expansions:
        bad('%s: virsh gave no expansion' % name)
        continue
    try:
        ours = json.load(open('%s/show-%s.json' % (tmp, name)))['model']
    except Exception as e:
        bad('%s: model show --json: %s' % (name, e))
        continue
    want = expansions[name]['require']
    got = set(ours['libvirt']['features'])
    if got != want:
        bad('%s: features differ from libvirt: ours only %s, libvirt only %s' % (name, sorted(got - want), sorted(want - got)))
        continue
    # The disabled features of libvirt's answer are the model's removed ones (its own
    # baseline may pick another model name; then disable lists that model's extras,
    # which are not ours to compare).
    if ours['libvirt']['removed'] and not set(ours['libvirt']['removed']) <= expansions[name]['disable']:
        bad('%s: removed %s, libvirt disabled %s' % (name, ours['libvirt']['removed'], sorted(expansions[name]['disable'])))
        continue
    fs = [0] * len(words)
    unmapped = set()
    for n in want:
        if defs.get(n) is None:
            unmapped.add(n)
        else:
            w, b = defs[n]
            fs[w] |= 1 << b
    oracle = ':'.join('%08x' % x for x in fs)
    if ours['featureset'] != oracle:
        bad('%s: featureset\n  ours   %s\n  oracle %s' % (name, ours['featureset'], oracle))
        continue
    if set(ours['libvirt']['unmapped']) != unmapped:
        bad('%s: unmapped ours %s, oracle %s' % (name, sorted(ours['libvirt']['unmapped']), sorted(unmapped)))
        continue
    passed += 1
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
PY

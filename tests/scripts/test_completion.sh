#!/bin/sh
# Bash completion (docs/completion/) driven as bash drives it: COMP_WORDS and COMP_CWORD
# set, the completion function called, COMPREPLY compared with real candidates taken from
# the built commands - subcommands and options from their --help, feature names from the
# feature table (xen-cpuid --list), model names from `cpupolicy model list`, pool names
# from `cpupolicy pool list` when the pool commands exist.
# Each row: the function, the words (the last one is being completed), then "=" and the
# exact candidate list, or "+" and candidates that must be among them, or "-" and
# candidates that must not be.
set -u
build=${CPUPOLICY_BUILD:-build}
. tests/scripts/lib.sh
command -v bash >/dev/null 2>&1 || { skip "bash is not installed"; finish; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
PATH=$(pwd)/$build/bin:$(pwd)/$build/sbin:$PATH; export PATH

cat >"$tmp/table" <<'T'
_cpupolicy|cpupolicy ||+ featureset policy compare level masking model
_cpupolicy|cpupolicy mo||= model
_cpupolicy|cpupolicy model ||= check export from-dump list show suggest validate
_cpupolicy|cpupolicy model show SkylakeX||= SkylakeXeon-v1 SkylakeXeon-v2
_cpupolicy|cpupolicy model check --json Ice||+ IceLakeXeon-v1
_cpupolicy|cpupolicy model list --source b||= builtin
_cpupolicy|cpupolicy model export SkylakeXeon-v2 --to ||= libvirt qemu xl
_cpupolicy|cpupolicy model check SkylakeXeon-v2 --host sim:d||= sim:dump=
_cpupolicy|cpupolicy model --models||= --models-dir
_cpupolicy|cpupolicy model from-dump x --policy ||= default host max raw
_cpupolicy|cpupolicy featureset --index hvm||= hvm-default hvm-max
_cpupolicy|cpupolicy featureset -i p||= pv-default pv-max
_cpupolicy|cpupolicy featureset --||= --boot-options --cpu --help --index
_cpupolicy|cpupolicy level -b cpuid=no-avx512-vb||= cpuid=no-avx512-vbmi cpuid=no-avx512-vbmi2
_cpupolicy|cpupolicy level -b cpuid=no-avx2,no-rt||= cpuid=no-avx2,no-rtm cpuid=no-avx2,no-rtm-always-abort
_cpupolicy|cpupolicy level -b cpuid=no-avx2,no-rt||- cpuid=no-rtm
_cpupolicy|cpupolicy compare nat||= native
_xen|xen-cpuid --canonical sse4||= sse4-1 sse4-2 sse4a
_xen|xen-cpuid -c avx2 avx512-v||= avx512-vbmi avx512-vbmi2 avx512-vnni avx512-vp2intersect avx512-vpopcntdq
_xen|xen-cpuid --l||= --list
_xen|xen-cpuid --m||= --masking
_xen|xen-cpuid -||+ -c -d -h -i -l -p -v --connect --diff
_xen|xen-cpuid --diff sys:h||= sys:host sys:hvm-default sys:hvm-max
_xen|xen-cpuid --diff sys:raw sys:p||= sys:pv-default sys:pv-max
_xen|xen-cpuid de||= detail
_xen|xen-cpuid --connect un||= unix:
T
# The pool commands, where they exist: a pool in a throw-away store is completed by name.
if cpupolicy pool --help 2>/dev/null | head -1 | grep -q 'cpupolicy pool'; then
    if cpupolicy pool create --store "$tmp/db" completion-pool >/dev/null 2>&1; then
        echo "_cpupolicy|cpupolicy pool show --store $tmp/db completion-||= completion-pool" >>"$tmp/table"
        echo "_cpupolicy|cpupolicy pool report --store $tmp/db completion-||= completion-pool" >>"$tmp/table"
    else
        bad "cpupolicy pool create --store $tmp/db completion-pool failed"
    fi
    echo "_cpupolicy|cpupolicy poo||= pool" >>"$tmp/table"
    echo "_cpupolicy|cpupolicy pool re||= refresh report" >>"$tmp/table"
    echo "_cpupolicy|cpupolicy pool report x --ht||= --html" >>"$tmp/table"
    echo "_cpupolicy|cpupolicy po||= policy pool" >>"$tmp/table"
fi

cat >"$tmp/drive.bash" <<'B'
. docs/completion/cpupolicy.bash
. docs/completion/xen-cpuid.bash
fn=$1; shift
read -r -a COMP_WORDS <<<"$1"
# a trailing blank means an empty word being completed
[[ $1 == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
case $fn in _xen) _cpupolicy_xen_cpuid ;; *) $fn ;; esac
printf '%s\n' "${COMPREPLY[@]}" | sort -u
B
while IFS='|' read -r fn words rest; do
    [ -n "$fn" ] || continue
    op=${rest#|}; op=${op%% *}; want=${rest#|? }
    got=$(bash "$tmp/drive.bash" "$fn" "$words" 2>"$tmp/err")
    [ -s "$tmp/err" ] && { bad "'$words': bash printed: $(head -2 "$tmp/err")"; continue; }
    case $op in
        =)  w=$(printf '%s\n' $want | sort -u)
            [ "$got" = "$w" ] && ok || bad "'$words': got [$(echo $got)], expected exactly [$want]" ;;
        +)  miss=""
            for c in $want; do printf '%s\n' "$got" | grep -qxF -- "$c" || miss="$miss $c"; done
            [ -z "$miss" ] && ok || bad "'$words': missing [$miss] in [$(echo $got | cut -c1-200)]" ;;
        -)  extra=""
            for c in $want; do printf '%s\n' "$got" | grep -qxF -- "$c" && extra="$extra $c"; done
            [ -z "$extra" ] && ok || bad "'$words': offered [$extra]" ;;
    esac
done <"$tmp/table"
finish

# bash completion for cpupolicy                               -*- shell-script -*-
# Subcommands and options come from the command's own --help texts (the main one and each
# group's: `model --help`, `pool --help`, `vm --help` where the group exists), model names
# from `cpupolicy model list`, pool and VM names from `cpupolicy pool list` / `vm list`,
# feature names from xen-cpuid --list (the one feature table), so nothing here goes stale.
# Self-contained: needs no bash-completion helper.

# The first column of a listing, header line (all capitals) skipped; the --store of the
# command line being completed, if any, is the store listed.
_cpupolicy_names()
{
    local i store=()
    for (( i = 1; i < ${#COMP_WORDS[@]} - 1; i++ )); do
        [ "${COMP_WORDS[i]}" = --store ] && store=(--store "${COMP_WORDS[i+1]}")
    done
    [ "$2" = model ] && store=()
    "$@" "${store[@]}" 2>/dev/null | awk 'NR == 1 && $1 ~ /^[A-Z_]+$/ { next } NF { print $1 }'
}

# Subcommands of a group: the lines "  NAME ..." of its --help (the main --help: those
# under "Commands:"; a group's: every such line before "Options").
_cpupolicy_subcommands()
{
    local cmd=$1; shift
    "$cmd" "$@" --help 2>/dev/null |
        awk '/^Options/ { exit } /^Commands:/ { c = 1; next } (c || NR > 1) && /^  [a-z][a-z-]*( |$)/ { print $1 }'
}

_cpupolicy_features()
{
    local x
    for x in cpupolicy-xen-cpuid xen-cpuid; do
        if [ -x "$(dirname "$(type -P "$1" 2>/dev/null || echo .)")/$x" ]; then
            "$(dirname "$(type -P "$1")")/$x" --list 2>/dev/null | awk '!/^#/ { print $4 }'
            return
        fi
    done
}

_cpupolicy_uri()
{
    local cur=$1 scheme
    case $cur in
        sim:dump=*|unix:*)
            [[ $cur == sim:* ]] && scheme=sim:dump= || scheme=unix:
            COMPREPLY=($(compgen -f -P "$scheme" -- "${cur#"$scheme"}"))
            ;;
        *)  COMPREPLY=($(compgen -W "sim:dump= unix: xen: ssh:" -- "$cur")) ;;
    esac
    compopt -o nospace 2>/dev/null
}

_cpupolicy()
{
    local cmd=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()

    # The command word, the group's subcommand (model/pool/vm), the positional count.
    local i w group= sub= nargs=0 skip=0
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w=${COMP_WORDS[i]}
        if [ $skip = 1 ]; then skip=0; continue; fi
        case $w in
            --*=*) ;;
            -*) # an option with an argument swallows the next word
                case $w in --json|--force|--help|-h|-v|--verbose) ;; *) skip=1 ;; esac ;;
            *)  if [ -z "$group" ]; then group=$w
                elif [ -z "$sub" ] && [[ $group == model || $group == pool || $group == vm ]]; then sub=$w
                else nargs=$((nargs + 1)); fi ;;
        esac
    done

    case $prev in
        -i|--index)   COMPREPLY=($(compgen -W "raw host pv-max hvm-max pv-default hvm-default" -- "$cur")); return ;;
        --source)     COMPREPLY=($(compgen -W "libvirt builtin all" -- "$cur")); return ;;
        --to)         [ "$group" = model ] && COMPREPLY=($(compgen -W "libvirt qemu xl" -- "$cur"))
                      return ;;
        --type)       COMPREPLY=($(compgen -W "hvm pv" -- "$cur")); return ;;
        --policy)     COMPREPLY=($(compgen -W "raw host max default" -- "$cur")); return ;;
        --pool)       COMPREPLY=($(compgen -W "$(_cpupolicy_names "$cmd" pool list)" -- "$cur")); return ;;
        --model)      COMPREPLY=($(compgen -W "$(_cpupolicy_names "$cmd" model list)" -- "$cur")); return ;;
        --host)       _cpupolicy_uri "$cur"; return ;;
        -b|--boot-options)
            # cpuid=no-FEATURE,... : complete the last item of the list.
            local head=${cur%,*} f
            [ "$head" = "$cur" ] && head= || head=$head,
            local item=${cur##*,}
            local words=$(for f in $(_cpupolicy_features "$cmd"); do echo "no-$f"; done)
            if [ -z "$head" ] && [[ $item != cpuid=* ]]; then
                COMPREPLY=($(compgen -W "$(for f in $words; do echo "cpuid=$f"; done)" -- "$item"))
            else
                [[ $item == cpuid=* ]] && { head=cpuid=; item=${item#cpuid=}; }
                COMPREPLY=($(compgen -P "$head" -W "$words" -- "$item"))
            fi
            return ;;
        --features)   COMPREPLY=($(compgen -W "$(for f in $(_cpupolicy_features "$cmd"); do echo "+$f -$f"; done)" -- "$cur")); return ;;
        --models-dir|--cpu-map) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --output|--store|--html) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -c|--cpu|--name|--supersedes|--reason|--cpuid|--host-name|--on) return ;;
    esac

    if [[ $cur == -* ]]; then
        local help
        case $group in
            model|pool|vm) help=$("$cmd" "$group" --help 2>/dev/null) ;;
            *)             help=$("$cmd" --help 2>/dev/null) ;;
        esac
        COMPREPLY=($(compgen -W "$(grep -oE -- '(^|[ [|])--?[a-zA-Z][a-z0-9-]*' <<<"$help" | tr -d ' [|')" -- "$cur"))
        return
    fi
    if [ -z "$group" ]; then
        local groups=$(_cpupolicy_subcommands "$cmd") g
        for g in model pool vm; do
            # a group exists when its --help is its own (else the main usage answers)
            "$cmd" "$g" --help 2>/dev/null | head -1 | grep -q "cpupolicy $g" && groups="$groups $g"
        done
        COMPREPLY=($(compgen -W "$groups" -- "$cur"))
        return
    fi
    case $group in
        model|pool|vm)
            if [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "$(_cpupolicy_subcommands "$cmd" "$group")" -- "$cur"))
                return
            fi
            [ "$nargs" -gt 0 ] && { [ "$group/$sub" = pool/join ] && _cpupolicy_uri "$cur"; return; }
            case $group/$sub in
                model/show|model/check|model/export)
                    COMPREPLY=($(compgen -W "$(_cpupolicy_names "$cmd" model list)" -- "$cur")) ;;
                model/from-dump|model/validate)
                    COMPREPLY=($(compgen -f -- "$cur")) ;;
                pool/create|model/list|model/suggest|vm/list|vm/create) ;;
                pool/*)
                    COMPREPLY=($(compgen -W "$(_cpupolicy_names "$cmd" pool list)" -- "$cur")) ;;
                vm/*)
                    COMPREPLY=($(compgen -W "$(_cpupolicy_names "$cmd" vm list)" -- "$cur")) ;;
            esac ;;
        *)  # featureset, policy, compare, level, masking: dump files or "native"
            COMPREPLY=($(compgen -W "native" -- "$cur") $(compgen -f -- "$cur")) ;;
    esac
}

complete -F _cpupolicy cpupolicy

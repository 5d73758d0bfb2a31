# bash completion for xen-cpuid (cpupolicy's; Debian installs it as cpupolicy-xen-cpuid)
# -*- shell-script -*-
# Options come from the command's own --help, feature names from its --list (the one
# feature table), so nothing here goes stale.  Self-contained: needs no bash-completion
# helper, works when sourced by bash-completion's loader or by hand.

_cpupolicy_xen_cpuid()
{
    local cmd=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -c|--canonical)
            COMPREPLY=($(compgen -W "$("$cmd" --list 2>/dev/null | awk '!/^#/ { print $4 }')" -- "$cur"))
            return ;;
        --connect)
            _cpupolicy_xen_cpuid_uri "$cur"
            return ;;
        --diff)
            _cpupolicy_xen_cpuid_operand "$cur"
            return ;;
    esac
    # A second --diff operand, and every further --canonical name.
    if [ "$COMP_CWORD" -gt 1 ] && [ "${COMP_WORDS[COMP_CWORD-2]}" = --diff ]; then
        _cpupolicy_xen_cpuid_operand "$cur"
        return
    fi
    local w
    for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        case $w in -c|--canonical)
            COMPREPLY=($(compgen -W "$("$cmd" --list 2>/dev/null | awk '!/^#/ { print $4 }')" -- "$cur"))
            return ;;
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$cmd" --help 2>/dev/null | grep -oE -- '(^| )--?[a-zA-Z][a-z0-9-]*' | tr -d ' ')" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "info detail" -- "$cur"))
    fi
}

# A --diff operand: sys:NAME, dom:, or a dump file.
_cpupolicy_xen_cpuid_operand()
{
    local cur=$1
    COMPREPLY=($(compgen -W "sys:raw sys:host sys:pv-max sys:hvm-max sys:pv-default sys:hvm-default dom:" -- "$cur")
               $(compgen -f -- "$cur"))
}

# A connect URI: the schemes, then a file after sim:dump= or unix:.
_cpupolicy_xen_cpuid_uri()
{
    local cur=$1 scheme
    case $cur in
        sim:dump=*|unix:*)
            scheme=${cur%%[=:]*}
            [ "$scheme" = sim ] && scheme=sim:dump= || scheme=unix:
            COMPREPLY=($(compgen -f -P "$scheme" -- "${cur#"$scheme"}"))
            ;;
        *)  COMPREPLY=($(compgen -W "sim:dump= unix: xen: ssh:" -- "$cur")) ;;
    esac
    compopt -o nospace 2>/dev/null
}

complete -F _cpupolicy_xen_cpuid xen-cpuid cpupolicy-xen-cpuid

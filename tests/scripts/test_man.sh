#!/bin/sh
# The man pages (docs/man/*.md, generated into $BUILD/man by pandoc) against the
# commands they document:
#   every installed command has its page: cpupolicy(1), xen-cpuid(1), cpupolicyd(8),
#     and libcpupolicy(3), cpupolicy-models(5)
#   every generated page renders through groff without a warning (as lintian checks)
#   every option a command's --help prints (long and short) is in its page, and every
#     option the page documents (its definition-list terms) is in the command's --help;
#     cpupolicy's --help is the main one plus each subcommand group's (`model --help`,
#     and `pool`, `vm` where they exist)
#   libcpupolicy(3) lists every function the public headers declare, and no other
set -u
build=${CPUPOLICY_BUILD:-build}
. tests/scripts/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for p in cpupolicy.1 xen-cpuid.1 cpupolicyd.8 libcpupolicy.3 cpupolicy-models.5; do
    if [ -f "docs/man/$p.md" ] && [ -s "$build/man/$p" ]; then ok; else bad "man page $p: docs/man/$p.md or $build/man/$p (make man) missing"; fi
done
for page in "$build"/man/*.[0-9]; do
    [ -f "$page" ] || continue
    if LC_ALL=C.UTF-8 groff -t -man -ww -z -K utf8 "$page" >"$tmp/groff" 2>&1 && [ ! -s "$tmp/groff" ]; then
        ok
    else
        bad "$page: groff warns: $(head -3 "$tmp/groff")"
    fi
done

# Options in a --help text: long (--name) and short (-x followed by ',' or a blank).
help_opts()
{
    grep -oE -- '(^|[^a-zA-Z0-9-])--[a-z][a-z0-9-]*' "$1" | sed 's/^[^-]*//'
    grep -oE -- '(^|[ [|(])-[a-zA-Z]([,] |[ ]|$)' "$1" | sed 's/^[^-]*//; s/[, ]*$//'
}
# Options a page documents: the terms of its definition lists (the line before ": ").
page_opts()
{
    sed 's/\\//g' "$1" | awk 'prev != "" && /^:   / { print prev } { if ($0 != "") prev = $0 }' |
        grep -oE -- '\*\*--?[a-zA-Z][a-z0-9-]*' | sed 's/^\*\*//'
}
# check PAGE.md HELPFILE: both directions.
check_page()
{
    md=docs/man/$1.md
    help_opts "$2" | sort -u >"$tmp/help.opts"
    page_opts "$md" | sort -u >"$tmp/page.opts"
    sed 's/\\//g' "$md" >"$tmp/page.txt"
    while read -r o; do
        if grep -qF -- "**$o**" "$tmp/page.txt"; then ok; else bad "$1: option $o of its --help is not in $md"; fi
    done <"$tmp/help.opts"
    while read -r o; do
        if grep -qxF -- "$o" "$tmp/help.opts"; then ok; else bad "$1: option $o documented in $md is in no --help"; fi
    done <"$tmp/page.opts"
    [ -s "$tmp/help.opts" ] && ok || bad "$1: no option found in its --help (parser broken?)"
}

"$build/bin/xen-cpuid" --help >"$tmp/xen-cpuid.help" 2>&1 || bad "xen-cpuid --help failed"
check_page xen-cpuid.1 "$tmp/xen-cpuid.help"
"$build/sbin/cpupolicyd" --help >"$tmp/cpupolicyd.help" 2>&1 || bad "cpupolicyd --help failed"
check_page cpupolicyd.8 "$tmp/cpupolicyd.help"
"$build/bin/cpupolicy" --help >"$tmp/cpupolicy.help" 2>&1 || bad "cpupolicy --help failed"
"$build/bin/cpupolicy" model --help >>"$tmp/cpupolicy.help" 2>&1 || bad "cpupolicy model --help failed"
for group in pool vm; do
    # A group exists when its --help is its own (else the main usage answers).
    if "$build/bin/cpupolicy" "$group" --help >"$tmp/group.help" 2>/dev/null &&
       head -1 "$tmp/group.help" | grep -q "cpupolicy $group"; then
        cat "$tmp/group.help" >>"$tmp/cpupolicy.help"
        grep -q "^\*\*cpupolicy $group\*\*\|^\*\*$group\*\*\|\*\*$group [a-z-]*\*\*" docs/man/cpupolicy.1.md &&
            ok || bad "cpupolicy.1: the $group subcommands are not documented in docs/man/cpupolicy.1.md"
    fi
done
check_page cpupolicy.1 "$tmp/cpupolicy.help"

# libcpupolicy(3): every function of the public headers, and only those.
# A declaration starts in column 0 with its type (comments are indented by " * ").
awk '/^[A-Za-z_]/ && !/^(#|typedef|struct|enum|extern)/ && match($0, /cpupolicy_[a-z0-9_]+ *\(/) {
         n = substr($0, RSTART, RLENGTH); sub(/ *\($/, "", n); print n }' libcpupolicy/include/*.h |
    sort -u >"$tmp/header.fns"
grep -oE '^\*\*cpupolicy_[a-z0-9_]+\*\*\(\)' docs/man/libcpupolicy.3.md | sed 's/\*\*//g; s/()//' | sort -u >"$tmp/page.fns"
[ "$(wc -l <"$tmp/header.fns")" -gt 50 ] && ok || bad "libcpupolicy(3): found only $(wc -l <"$tmp/header.fns") functions in the headers (parser broken?)"
while read -r f; do
    grep -qxF "$f" "$tmp/page.fns" && ok || bad "libcpupolicy(3): $f (declared in libcpupolicy/include) is not in docs/man/libcpupolicy.3.md"
done <"$tmp/header.fns"
while read -r f; do
    grep -qxF "$f" "$tmp/header.fns" && ok || bad "libcpupolicy(3): $f is documented in docs/man/libcpupolicy.3.md but declared in no public header"
done <"$tmp/page.fns"
finish

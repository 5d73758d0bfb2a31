#!/bin/sh
# The layers are enforced by the compiler (mk/layers.mk, docs/layers.md): every module is
# compiled with only its own folder and the exported folders of the modules below it.
# This table holds, for each module, headers it must reach and headers it must NOT reach
# (a back-edge or a tool reaching into the library's private headers); each row compiles
# a one-line file with exactly the include flags the build gives that module.  A row
# that must fail and compiles means a back-edge would build: the layering is broken.
set -u
. tests/scripts/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
CXX=${CXX:-g++}
XMLFLAGS=$(pkg-config --cflags libxml-2.0 2>/dev/null)

flags_of() { make -s --no-print-directory print-layer-includes LAYER="$1"; }

# try MODULE HEADER yes|no
try()
{
    mod=$1; hdr=$2; want=$3
    printf '#include "%s"\n' "$hdr" >"$tmp/t.cpp"
    # shellcheck disable=SC2046
    if $CXX -std=c++20 -fsyntax-only $XMLFLAGS $(flags_of "$mod") "$tmp/t.cpp" >"$tmp/err" 2>&1; then got=yes; else got=no; fi
    if [ "$got" = "$want" ]; then ok
    elif [ "$want" = no ]; then bad "$mod reaches $hdr: a back-edge would compile"
    else bad "$mod cannot reach $hdr: $(grep -m1 error "$tmp/err")"; fi
}

while read -r mod hdr want; do
    case "$mod" in ''|'#'*) continue ;; esac
    try "$mod" "$hdr" "$want"
done <<'TABLE'
# module     header                          reachable
core         cpupolicy/policy.hpp            yes
core         import.hpp                      no
core         sim.hpp                         no
core         protocol.hpp                    no
core         cpupolicy.h                     no
core         backend.hpp                     no
import       cpupolicy/policy.hpp            yes
import       dump_policy.hpp                 yes
import       sim.hpp                         no
import       protocol.hpp                    no
import       cpupolicy.h                     no
protocol     protocol.hpp                    yes
protocol     import.hpp                      no
protocol     sim.hpp                         no
protocol     backend.hpp                     no
sim          sim.hpp                         yes
sim          import.hpp                      yes
sim          protocol.hpp                    no
sim          cpupolicy.h                     no
sim          backend.hpp                     no
lib          api.hpp                         yes
models       catalog.hpp                     yes
models       import.hpp                      no
models       cpupolicy.h                     no
cpupolicy    catalog.hpp                     no
lib          backend_embedded.hpp            yes
lib          protocol.hpp                    yes
xencpuid     cpupolicy.h                     yes
xencpuid     tool_print.hpp                  yes
xencpuid     api.hpp                         no
xencpuid     backend_xen.hpp                 no
xencpuid     sim.hpp                         no
xencpuid     import.hpp                      no
cpupolicy    cpupolicy.h                     yes
cpupolicy    cpupolicy_sim.h                 yes
cpupolicy    api.hpp                         no
cpupolicy    backend_unix.hpp                no
cpupolicy    protocol.hpp                    no
cpupolicy    dump_policy.hpp                 no
cpupolicyd   serve.hpp                       yes
cpupolicyd   backend_embedded.hpp            yes
cpupolicyd   api.hpp                         no
cpupolicyd   printable.hpp                   yes
cpupolicyd   backend_unix.hpp                no
TABLE

# No source walks around the include paths with "../".
make -s --no-print-directory check-layers >"$tmp/cl" 2>&1 && ok || { bad "check-layers: $(cat "$tmp/cl")"; }
# ... and check-layers itself catches one (it can fail).
mkdir -p "$tmp/fake/hypervisor/core/src"
printf '#include "../../../libcpupolicy/src/api.hpp"\n' >"$tmp/fake/hypervisor/core/src/x.cpp"
if grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.\./' "$tmp/fake" >/dev/null; then ok
else bad "the parent-relative include pattern of check-layers does not match a real one"; fi
finish

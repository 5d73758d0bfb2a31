#!/bin/sh
# The freestanding contract of hypervisor/ (issue 2 item 5):
#  1. every object of the core archive, linked together with -nostdlib, leaves no
#     undefined symbol other than the allowed compiler helpers (memcpy memset memmove
#     memcmp) - so no heap (operator new/malloc), no libstdc++, no __cxa_* guards or
#     exception/RTTI support, no libc;
#  2. the core's sources include only freestanding headers.
# usage: check-freestanding.sh CORE_ARCHIVE CXX "ALLOWED SYMBOLS"
set -eu
lib=$1; cxx=$2; allowed=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

$cxx -nostdlib -nostartfiles -r -o "$tmp/core.o" \
    -Wl,--whole-archive "$lib" -Wl,--no-whole-archive
undef=$(nm -u "$tmp/core.o" | awk '{print $2}' | sort -u)
bad=""
for s in $undef; do
    ok=0
    for a in $allowed; do [ "$s" = "$a" ] && ok=1; done
    [ $ok -eq 1 ] || bad="$bad $s"
done
if [ -n "$bad" ]; then
    echo "check-freestanding: FAIL: $lib has undefined symbols outside [$allowed]:" >&2
    for s in $bad; do printf '  %s (%s)\n' "$s" "$(echo "$s" | c++filt)" >&2; done
    exit 1
fi

# Headers: C freestanding headers and the freestanding C++ ones only (C++20 [compliance]).
hdr_bad=$(grep -rhoE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<[^>]+>' hypervisor/core/include hypervisor/core/src \
    | sed -E 's/.*<([^>]+)>.*/\1/' | sort -u \
    | grep -vxE 'stddef\.h|stdint\.h|stdbool\.h|stdarg\.h|limits\.h|float\.h|cstddef|cstdint|climits|cstdarg|cfloat|type_traits|limits|concepts|compare|bit|utility|new' || true)
if [ -n "$hdr_bad" ]; then
    echo "check-freestanding: FAIL: hosted headers included in hypervisor/core/: $hdr_bad" >&2
    exit 1
fi
nobjs=$(ar t "$lib" | wc -l)
echo "check-freestanding: OK ($nobjs objects, undefined: $(echo $undef | tr '\n' ' '))"

#!/bin/sh
# `make install` with PREFIX and DESTDIR puts the library, its versioned symlinks, the
# headers, the pkg-config file, the core archive with its headers and the tools where a
# packager expects them; a C program then builds against the staged tree with
# pkg-config alone and runs, a freestanding C++ file compiles against the core headers;
# `make uninstall` then removes every file install put there.
set -u
build=${CPUPOLICY_BUILD:-build}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/scripts/lib.sh
check_file() { [ -e "$tmp/stage$1" ] && ok || bad "missing after install: $1"; }

# The library's version is the public header's CPUPOLICY_VERSION_MAJOR.MINOR.PATCH; the
# real file name, pkg-config and cpupolicy_version() all carry it.
V=$(awk '/^#define CPUPOLICY_VERSION_(MAJOR|MINOR|PATCH) / { v = v (v == "" ? "" : ".") $3 } END { print v }' \
    libcpupolicy/include/cpupolicy.h)
if ! make -s BUILD="$build" PREFIX=/usr DESTDIR="$tmp/stage" install >"$tmp/log" 2>&1; then
    cat "$tmp/log"; bad "make install failed"; finish; exit 1
fi
for f in /usr/lib/libcpupolicy.so.$V /usr/lib/libcpupolicy.so.1 /usr/lib/libcpupolicy.so \
         /usr/include/cpupolicy.h /usr/include/cpupolicy_sim.h /usr/include/cpupolicy_toolstack.h \
         /usr/lib/pkgconfig/cpupolicy.pc \
         /usr/lib/libcpupolicy-core.a /usr/include/cpupolicy/policy.hpp \
         /usr/include/cpupolicy/platform.hpp /usr/bin/xen-cpuid /usr/bin/cpupolicy /usr/share/man/man1/xen-cpuid.1 /usr/share/man/man8/cpupolicyd.8 \
         /usr/include/cpupolicy_models.h /usr/share/cpupolicy/cpu-models/cpu-model.rng \
         /usr/share/cpupolicy/cpu-models/SkylakeXeon-v1.xml; do
    check_file "$f"
done

# The soname is libcpupolicy.so.1 and only cpupolicy_* symbols are exported, each
# versioned with the node of the version script that lists it (CPUPOLICY_1.0, or
# CPUPOLICY_1.1 for what 1.1 added), nothing else (the script's local: *).
soname=$(objdump -p "$tmp/stage/usr/lib/libcpupolicy.so.$V" | awk '/SONAME/ {print $2}')
[ "$soname" = "libcpupolicy.so.1" ] && ok || bad "soname is '$soname'"
exported=$(nm -D --defined-only "$tmp/stage/usr/lib/libcpupolicy.so.$V" | awk '$2 ~ /[TDBR]/ {print $3}')
stray=$(echo "$exported" | grep -v '^cpupolicy_' | grep -v '^CPUPOLICY_' || true)
[ -z "$stray" ] && ok || bad "symbols exported outside cpupolicy_*: $(echo $stray | head -c 300)"
unversioned=$(objdump -T "$tmp/stage/usr/lib/libcpupolicy.so.$V" | awk '/ cpupolicy_/ && !/ CPUPOLICY_1\.[0-9]+ /' || true)
[ -z "$unversioned" ] && ok || bad "unversioned exports: $unversioned"
# Each symbol carries the node the map lists it under.
want=$(awk '/^CPUPOLICY_[0-9.]* *\{/ { node = $1 } /^ *cpupolicy_[a-z0-9_]*;/ { sub(/;/, "", $1); print $1, node }' \
       libcpupolicy/libcpupolicy.map | sort)
got=$(objdump -T "$tmp/stage/usr/lib/libcpupolicy.so.$V" |
      awk '/ cpupolicy_/ { v = $(NF - 1); sub(/^\(/, "", v); sub(/\)$/, "", v); print $NF, v }' | sort)
[ "$want" = "$got" ] && ok || { bad "exported symbols and their version nodes differ from libcpupolicy.map"; \
    printf '%s\n' "$want" >"$tmp/want.sym"; printf '%s\n' "$got" >"$tmp/got.sym"; diff "$tmp/want.sym" "$tmp/got.sym" | head -8; }

# A user program, built with nothing but pkg-config against the staged prefix.
cat > "$tmp/user.c" <<'C'
#include <cpupolicy.h>
#include <stdio.h>
int main(void)
{
    uint32_t f;
    if ( cpupolicy_featureset_size() != 19 ) return 1;
    if ( cpupolicy_feature_from_name("sse4_2", &f) || f != 52 ) return 2;
    if ( cpupolicy_version() != CPUPOLICY_VERSION ) return 3;
    printf("%s %u.%u.%u\n", cpupolicy_feature_name(f), cpupolicy_version() >> 16,
           (cpupolicy_version() >> 8) & 0xff, cpupolicy_version() & 0xff);
    return 0;
}
C
pcdir="$tmp/stage/usr/lib/pkgconfig"
cflags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/stage" PKG_CONFIG_LIBDIR="$pcdir" pkg-config --cflags cpupolicy)
libs=$(PKG_CONFIG_SYSROOT_DIR="$tmp/stage" PKG_CONFIG_LIBDIR="$pcdir" pkg-config --libs cpupolicy)
if cc -std=c99 -Wall -Werror $cflags "$tmp/user.c" -o "$tmp/user" $libs 2>"$tmp/cc.log"; then
    ok
    out=$(LD_LIBRARY_PATH="$tmp/stage/usr/lib" "$tmp/user")
    [ "$out" = "sse4-2 $V" ] && ok || bad "user program printed '$out' (expected 'sse4-2 $V')"
    mv=$(PKG_CONFIG_SYSROOT_DIR="$tmp/stage" PKG_CONFIG_LIBDIR="$pcdir" pkg-config --modversion cpupolicy)
    [ "$mv" = "$V" ] && ok || bad "pkg-config --modversion is '$mv', the header says $V"
else
    bad "user program does not build with pkg-config flags '$cflags' '$libs'"; cat "$tmp/cc.log"
fi
# The installed tools run from the staged tree ($ORIGIN rpath).
"$tmp/stage/usr/bin/cpupolicy" --help >/dev/null 2>&1 && ok || bad "installed cpupolicy does not run"
# ... and the library finds the installed models next to itself ($ORIGIN/../share).
"$tmp/stage/usr/bin/cpupolicy" model list --source builtin 2>&1 | grep -q "$tmp/stage/usr/share/cpupolicy/cpu-models/SkylakeXeon-v2.xml" \
    && ok || bad "installed cpupolicy does not find the installed models"

# The daemon's unit (one source: Debian ships this installed file) and its system user.
unit="$tmp/stage/usr/lib/systemd/system/cpupolicyd.service"
while IFS='|' read -r what line; do
    [ -n "$what" ] || continue
    grep -qxF -- "$line" "$unit" && ok || bad "cpupolicyd.service: $what: no line '$line'"
done <<'T'
runs as the system user|User=_cpupolicy
socket group|Group=cpupolicy
state under /var/lib/cpupolicy|StateDirectory=cpupolicy/cpupolicyd
runtime directory for the group|RuntimeDirectoryMode=0750
no capabilities|CapabilityBoundingSet=
only UNIX sockets|RestrictAddressFamilies=AF_UNIX
the binary where install put it, socket 0660|ExecStart=/usr/sbin/cpupolicyd --socket /run/cpupolicyd/cpupolicyd.sock --socket-mode 0660 --state-dir /var/lib/cpupolicy/cpupolicyd
T
grep -q '@[A-Z]*@' "$unit" && bad "cpupolicyd.service: a placeholder is left: $(grep '@[A-Z]*@' "$unit")" || ok
grep -qx 'u _cpupolicy - "cpupolicy daemon" /var/lib/cpupolicy' "$tmp/stage/usr/lib/sysusers.d/cpupolicyd.conf" \
    && ok || bad "sysusers.d/cpupolicyd.conf does not create _cpupolicy"
# systemd's own reading of the unit: no unknown key, bad value or section (the binary
# path pointed at the staged daemon, which verify insists exists).
if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s|/usr/sbin/cpupolicyd|$tmp/stage/usr/sbin/cpupolicyd|" "$unit" >"$tmp/cpupolicyd.service"
    SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/cpupolicyd.service" >"$tmp/verify" 2>&1
    [ ! -s "$tmp/verify" ] && ok || bad "systemd-analyze verify cpupolicyd.service: $(head -3 "$tmp/verify")"
else
    skip "systemd-analyze verify cpupolicyd.service: no systemd-analyze here"
fi

# The core archive's headers are enough for a hypervisor's freestanding translation unit.
printf '#include <cpupolicy/policy.hpp>\nint f(const cpupolicy::Policy &p) { return cpupolicy::basic_max_leaf(p) ? 1 : 0; }\n' >"$tmp/hv.cpp"
if c++ -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -I"$tmp/stage/usr/include" -c "$tmp/hv.cpp" -o "$tmp/hv.o" 2>"$tmp/hv.log"; then ok
else bad "core headers installed do not compile freestanding: $(head -3 "$tmp/hv.log")"; fi

# uninstall removes every file install put there (directories may stay).
make -s BUILD="$build" PREFIX=/usr DESTDIR="$tmp/stage" uninstall >"$tmp/log" 2>&1 && ok || { bad "make uninstall failed"; cat "$tmp/log"; }
left=$(find "$tmp/stage" -type f -o -type l)
[ -z "$left" ] && ok || bad "left behind by uninstall: $(echo $left | head -c 400)"
finish

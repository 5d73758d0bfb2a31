#!/bin/sh
# The Debian packages (debian/, docs/packaging.md) built with dpkg-buildpackage -us -uc -b
# from a copy of this tree (tests/scripts/deb_build.sh), then:
#   the four packages exist, and lintian reports no error on them
#   libcpupolicy1 ships the soname link and a symbols file naming every exported symbol
#     with its CPUPOLICY_1.N node; cpupolicy-tools has xen-cpuid as cpupolicy-xen-cpuid
#     (never /usr/sbin/xen-cpuid, Xen's) and no rpath; cpupolicyd has its unit (User
#     _cpupolicy, socket 0660 for the cpupolicy group) and creates that user in postinst
#   installed into a throw-away root with `dpkg --root` (the library, -dev and the tools
#     configured; the daemon unpacked: its postinst adds a system user, which belongs to
#     a real system), a C program built through pkg-config against the installed
#     libcpupolicy-dev runs, and so do the installed tools, their man pages and completion
# Slow (a full package build, minutes on 2 cores): skipped, counted, where
# dpkg-buildpackage or debhelper is not installed (mk/ensure-deps.sh installs them only
# for `make deb-test`, `./build.sh deb`), unless CPUPOLICY_DEB_REQUIRED=1; also skipped
# with CPUPOLICY_DEB=0 (a machine that has the tools but wants a quick `make check`).
set -u
build=${CPUPOLICY_BUILD:-build}
. tests/scripts/lib.sh
if [ "${CPUPOLICY_DEB:-1}" = 0 ]; then
    skip "Debian package build: CPUPOLICY_DEB=0"; finish; exit $?
fi
need=""
for t in dpkg-buildpackage dh fakeroot; do command -v $t >/dev/null 2>&1 || need="$need $t"; done
if [ -n "$need" ]; then
    if [ "${CPUPOLICY_DEB_REQUIRED:-0}" = 1 ]; then bad "missing:$need (sh mk/ensure-deps.sh deb)"
    else skip "Debian package build: missing$need (make deb-test installs them)"; fi
    finish; exit $?
fi
out=$(pwd)/$build/deb
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# CPUPOLICY_DEB_BUILT=DIR: test the packages `make deb` (deb_build.sh DIR) already built
# from this tree, instead of building them again.
if [ -n "${CPUPOLICY_DEB_BUILT:-}" ]; then
    out=$CPUPOLICY_DEB_BUILT
elif ! sh tests/scripts/deb_build.sh "$out" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"; bad "dpkg-buildpackage failed"; finish; exit 1
fi
V=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in libcpupolicy1 libcpupolicy-dev cpupolicy-tools cpupolicyd; do
    [ -f "$out/${p}_${V}_$arch.deb" ] && ok || bad "no $p package in $out"
done
if [ -f "$out/lintian.txt" ]; then
    errs=$(grep '^E: ' "$out/lintian.txt" || true)
    [ -z "$errs" ] && ok || bad "lintian errors: $errs"
    grep '^W: ' "$out/lintian.txt" | sed 's/^/lintian warning: /'
else
    skip "lintian is not installed"
fi

contents() { dpkg-deb -c "$out/${1}_${V}_$arch.deb" | awk '{ print $6 }' | sed 's|^\.||'; }
has() { contents "$1" | grep -qx -- "$2" && ok || bad "$1 lacks $2"; }
has libcpupolicy1 "/usr/lib/$multi/libcpupolicy.so.1"
has libcpupolicy1 "/usr/lib/$multi/libcpupolicy.so.$V"
has libcpupolicy1 /usr/share/cpupolicy/cpu-models/SkylakeXeon-v2.xml
has libcpupolicy-dev "/usr/lib/$multi/libcpupolicy.so"
has libcpupolicy-dev "/usr/lib/$multi/pkgconfig/cpupolicy.pc"
has libcpupolicy-dev "/usr/lib/$multi/libcpupolicy-core.a"
has libcpupolicy-dev /usr/include/cpupolicy.h
has libcpupolicy-dev /usr/include/cpupolicy/platform.hpp
has libcpupolicy-dev /usr/share/man/man3/libcpupolicy.3.gz
has cpupolicy-tools /usr/bin/cpupolicy
has cpupolicy-tools /usr/bin/cpupolicy-xen-cpuid
has cpupolicy-tools /usr/share/man/man1/cpupolicy-xen-cpuid.1.gz
has cpupolicy-tools /usr/share/man/man1/cpupolicy.1.gz
has cpupolicy-tools /usr/share/man/man5/cpupolicy-models.5.gz
has cpupolicy-tools /usr/share/bash-completion/completions/cpupolicy
has cpupolicy-tools /usr/share/bash-completion/completions/cpupolicy-xen-cpuid
has cpupolicyd /usr/sbin/cpupolicyd
has cpupolicyd /usr/share/man/man8/cpupolicyd.8.gz
has cpupolicyd /lib/systemd/system/cpupolicyd.service
for p in libcpupolicy1 libcpupolicy-dev cpupolicy-tools cpupolicyd; do
    if contents $p | grep -q -e '^/usr/sbin/xen-cpuid$' -e '/man1/xen-cpuid\.1'; then bad "$p would clash with Xen's xen-cpuid"; else ok; fi
done
for p in libcpupolicy1 libcpupolicy-dev cpupolicy-tools; do
    if contents $p | grep -q -e 'systemd' -e 'sbin'; then bad "$p ships the daemon's files: $(contents $p | grep -e systemd -e sbin)"; else ok; fi
done

# The symbols file: every exported symbol, with its version node, as the library has it.
dpkg-deb -e "$out/libcpupolicy1_${V}_$arch.deb" "$tmp/ctl"
[ -f "$tmp/ctl/symbols" ] && ok || bad "libcpupolicy1 has no symbols file"
nsym=$(grep -c '^ cpupolicy_[a-z0-9_]*@CPUPOLICY_1\.[0-9]' "$tmp/ctl/symbols" 2>/dev/null || echo 0)
nmap=$(grep -c '^ *cpupolicy_[a-z0-9_]*;' libcpupolicy/libcpupolicy.map)
[ "$nsym" = "$nmap" ] && ok || bad "symbols file lists $nsym versioned symbols, libcpupolicy.map $nmap"
grep -q "^libcpupolicy.so.1 libcpupolicy1 #MINVER#" "$tmp/ctl/symbols" && ok || bad "symbols file header: $(head -1 "$tmp/ctl/symbols")"
dpkg-deb -e "$out/cpupolicyd_${V}_$arch.deb" "$tmp/dctl"
grep -q '_cpupolicy' "$tmp/dctl/postinst" && ok || bad "cpupolicyd's postinst does not create _cpupolicy"
dpkg-deb -x "$out/cpupolicyd_${V}_$arch.deb" "$tmp/d"
unit=$tmp/d/lib/systemd/system/cpupolicyd.service
grep -qx 'User=_cpupolicy' "$unit" && grep -qx 'Group=cpupolicy' "$unit" && grep -q -- '--socket-mode 0660' "$unit" \
    && ok || bad "cpupolicyd.service: not User=_cpupolicy, Group=cpupolicy, --socket-mode 0660"

# Installed into a throw-away root.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"; : >"$root/var/lib/dpkg/status"
# The root has no libc package: dependencies are the host's business (--force-depends).
if dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless --log=/dev/null \
        -i "$out/libcpupolicy1_${V}_$arch.deb" "$out/libcpupolicy-dev_${V}_$arch.deb" \
        "$out/cpupolicy-tools_${V}_$arch.deb" >"$tmp/dpkg.log" 2>&1 &&
   dpkg --root="$root" --force-not-root --force-depends --log=/dev/null \
        --unpack "$out/cpupolicyd_${V}_$arch.deb" >>"$tmp/dpkg.log" 2>&1; then
    ok
else
    bad "dpkg --root install failed: $(tail -5 "$tmp/dpkg.log")"
fi
st=$(dpkg --root="$root" -l 2>/dev/null | awk '/^[a-zA-Z][a-zA-Z] / { sub(/:.*/, "", $2); print $1, $2 }' | LC_ALL=C sort | tr '\n' ' ')
[ "$st" = "iU cpupolicyd ii cpupolicy-tools ii libcpupolicy-dev ii libcpupolicy1 " ] && ok || bad "dpkg status in the root: $st"

cat >"$tmp/user.c" <<'C'
#include <cpupolicy.h>
#include <cpupolicy_models.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    const char *models_dir = argc > 1 ? argv[1] : NULL;
    uint32_t f, idx;
    cpupolicy_models_t *m;
    if ( cpupolicy_feature_from_name("avx2", &f) || f != 165 ) return 1;
    if ( cpupolicy_version() != CPUPOLICY_VERSION ) return 2;
    /* The installed builtin models, where the package put them (in the root). */
    if ( cpupolicy_models_load(&m, CPUPOLICY_MODELS_BUILTIN, models_dir, NULL) ) return 3;
    if ( cpupolicy_models_find(m, "SkylakeXeon-v2", CPUPOLICY_MODELS_BUILTIN, &idx) ) return 4;
    printf("%s %u %u\n", cpupolicy_feature_name(f), cpupolicy_version() >> 16, cpupolicy_models_count(m) > 0);
    cpupolicy_models_free(m);
    return 0;
}
C
pc="PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$multi/pkgconfig"
cflags=$(env $pc pkg-config --cflags cpupolicy)
libs=$(env $pc pkg-config --libs cpupolicy)
echo "$cflags $libs" | grep -q -- "-I$root/usr/include" && echo "$libs" | grep -q -- "-L$root/usr/lib/$multi" \
    && ok || bad "pkg-config flags do not point into the root: '$cflags' '$libs'"
if cc -std=c99 -Wall -Werror $cflags "$tmp/user.c" -o "$tmp/user" $libs 2>"$tmp/cc.log"; then
    ok
    out_user=$(LD_LIBRARY_PATH="$root/usr/lib/$multi" "$tmp/user" "$root/usr/share/cpupolicy/cpu-models" 2>&1)
    [ "$out_user" = "avx2 1 1" ] && ok || bad "user program printed '$out_user' (expected 'avx2 1 1')"
else
    bad "user program does not build with pkg-config flags '$cflags' '$libs': $(head -5 "$tmp/cc.log")"
fi
objdump -p "$root/usr/bin/cpupolicy" | grep -q 'R.*PATH' && bad "cpupolicy has an rpath" || ok
LD_LIBRARY_PATH="$root/usr/lib/$multi" "$root/usr/bin/cpupolicy" featureset --index hvm-max \
    tests/data/cpuid-dumps/GenuineIntel0050654_SkylakeXeon.txt >"$tmp/fs" 2>&1 && [ -s "$tmp/fs" ] \
    && ok || bad "installed cpupolicy does not run: $(head -3 "$tmp/fs")"
"$root/usr/bin/cpupolicy-xen-cpuid" --canonical sse41 >"$tmp/xc" 2>&1 && [ "$(cat "$tmp/xc")" = sse4-1 ] \
    && ok || bad "installed cpupolicy-xen-cpuid --canonical sse41 printed '$(cat "$tmp/xc")'"
"$root/usr/sbin/cpupolicyd" --help >/dev/null 2>&1 && ok || bad "installed cpupolicyd does not run"
man -l "$root/usr/share/man/man1/cpupolicy.1.gz" 2>/dev/null | grep -q 'MODEL SUBCOMMANDS' \
    && ok || { command -v man >/dev/null 2>&1 && bad "installed cpupolicy(1) does not render" || skip "man is not installed"; }
finish

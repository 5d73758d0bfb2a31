#!/bin/sh
# Install the Debian packages the build and tests need, when they are missing.
# Run by ./build.sh before it calls make (plain make never installs anything).
set -eu

pkgs="g++ make pkg-config libxml2-dev check libsubunit-dev libcmocka-dev libxen-dev xen-utils-4.17 libbenchmark-dev valgrind cpuid zlib1g-dev libvirt0 libvirt-clients nlohmann-json3-dev pandoc libsqlite3-dev openssh-client openssh-server python3 chromium"
# chromium is in the default list although only one test uses it: tests/scripts/
# test_pool_report.sh renders `cpupolicy pool report` in headless Chromium.  Without it
# that test SKIPs its rendering checks (a plain `make check` on a machine without it);
# CI runs `./build.sh check`, which installs this list, so there the page is really
# rendered.  python3 runs the tests' JSON and PNG checks.
# Optional lists, installed only when asked for (`./build.sh fuzz` runs
# `sh mk/ensure-deps.sh fuzz`): clang with libFuzzer and the sanitizer runtimes; `deb`
# (`./build.sh deb` or `./build.sh deb-test`, and `make deb-test`, which exists to install
# and test the packages): what dpkg-buildpackage and lintian need.
case "${1:-}" in
    "")   ;;
    fuzz) pkgs="clang libclang-rt-dev" ;;
    deb)  pkgs="debhelper dpkg-dev fakeroot lintian" ;;
    *)    echo "ensure-deps.sh: unknown package list '$1'" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "cpupolicy: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "cpupolicy: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing

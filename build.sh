#!/bin/sh
# Fresh-machine entry point: installs the Debian packages the build needs (make and
# g++ included, which `make` itself cannot do), then runs make with the given targets
# using both cores.  `./build.sh run` is the main job, `./build.sh check` runs every test:
# `make check`, then the same tests again under ASan+UBSan (`make check-sanitize`, which
# replays every fuzz corpus a second time, instrumented).  CHECK_SANITIZE=0 skips that
# second half (docs/build.md, "Continuous integration").
set -eu
cd "$(dirname "$0")"
sh mk/ensure-deps.sh
case " $* " in *" fuzz "*) sh mk/ensure-deps.sh fuzz ;; esac
case " $* " in *" deb "*|*" deb-test "*) sh mk/ensure-deps.sh deb ;; esac
jobs="-j$(nproc 2>/dev/null || echo 2)"
case " $* " in
    *" check "*)
        make "$jobs" "$@"
        [ "${CHECK_SANITIZE:-1}" = 0 ] || exec make "$jobs" check-sanitize ;;
    *) exec make "$jobs" "$@" ;;
esac

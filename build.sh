#!/bin/sh
# Fresh-machine entry point: installs the Debian packages the build needs (make and
# g++ included, which `make` itself cannot do), then runs make with the given targets
# using both cores.  `./build.sh run` is the main job, `./build.sh check` runs every test.
set -eu
cd "$(dirname "$0")"
sh mk/ensure-deps.sh
case " $* " in *" fuzz "*) sh mk/ensure-deps.sh fuzz ;; esac
case " $* " in *" deb "*|*" deb-test "*) sh mk/ensure-deps.sh deb ;; esac
exec make -j"$(nproc 2>/dev/null || echo 2)" "$@"

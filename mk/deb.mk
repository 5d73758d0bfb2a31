# Debian packages from this tree (debian/, docs/packaging.md).
#   make deb        dpkg-buildpackage -us -uc -b on a copy of the tree in $(BUILD)/deb/src;
#                   the .deb files and lintian's report land in $(BUILD)/deb
#                   (`./build.sh deb` installs the packaging tools first)
#   make deb-test   installs the packaging tools (mk/ensure-deps.sh deb), then
#                   tests/scripts/test_deb.sh: build, install into a throw-away root, use
# `make check` runs test_deb.sh too, which skips (counted) without the packaging tools.
DEB_DIR := $(BUILD)/deb
.PHONY: deb deb-test
deb:
	$(Q)sh tests/scripts/deb_build.sh "$(DEB_DIR)"
deb-test:
	$(Q)sh mk/ensure-deps.sh deb
	$(Q)CPUPOLICY_BUILD=$(BUILD) CPUPOLICY_DEB_REQUIRED=1 sh tests/scripts/test_deb.sh

# cpupolicy: top-level GNU makefile.  Plain make: `make all check install clean`,
# out-of-tree objects under $(BUILD), -MMD dependency files, V=1 for verbose.
#
# Each folder contributes through its own module.mk, which only appends to the
# variables declared here; see docs/build.md.

BUILD   ?= build
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
DESTDIR ?=

CXX ?= g++
CC  ?= gcc
AR  ?= ar
# gcc's own default for $(CC) is "cc", which is fine; make's default CXX is "g++".

V ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
endif

SONAME_MAJOR := 1
VERSION      := 1.1.0

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wundef
DEPFLAGS  = -MMD -MP

# The freestanding contract of hypervisor/ (issue 2, STYLE.md habit 3).  The core is
# compiled position independent and with hidden visibility so that the very same
# objects go into libcpupolicy-core.a and into libcpupolicy.so.
CORE_CXXFLAGS := -std=c++20 -ffreestanding -fno-exceptions -fno-rtti \
    -fno-threadsafe-statics -nostdlib -fno-stack-protector -fno-builtin-malloc \
    -fPIC -fvisibility=hidden $(OPT) $(WARN) -Ihypervisor/core/include

# No project include path here: each module gets its own list (mk/layers.mk).
HOST_CXXFLAGS := -std=c++20 -fno-exceptions -fno-rtti -fPIC -fvisibility=hidden \
    $(OPT) $(WARN) $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
HOST_CFLAGS := -std=c11 $(OPT) -Wall -Wextra -Werror -Ilibcpupolicy/include
# A distribution's build flags for userspace only (debian/rules passes dpkg-buildflags'
# hardening here); never the core's, which stays freestanding (no stack protector).
HOST_EXTRA_CXXFLAGS ?=
HOST_LDFLAGS ?=
HOST_CXXFLAGS += $(HOST_EXTRA_CXXFLAGS)

# Appended to by module.mk files.
CORE_SRCS    :=
LIB_SRCS     :=
BINS         :=
UNIT_TESTS   :=
CHECK_TESTS  :=
CMOCKA_TESTS :=
SCRIPT_TESTS :=
BENCHES      :=
INSTALL_HDRS :=
CLEAN_EXTRA  :=
ALL_OBJS     :=

.SECONDARY:
.PHONY: all check check-freestanding install uninstall clean run bench docs
all:

# Plain make never installs anything: ./build.sh runs mk/ensure-deps.sh (as root or
# through sudo) before it calls make.  A missing package shows as a compiler or linker
# error naming the header or library.

include mk/layers.mk
include hypervisor/module.mk
include libcpupolicy/models/module.mk
include libcpupolicy/module.mk
include xen-cpuid/module.mk
include toolstack/module.mk
include toolstack/cpupolicyd/module.mk
include tests/fuzz/module.mk
include tests/module.mk
include docs/module.mk
include mk/sanitize.mk
include mk/deb.mk

# --- Generic rules -----------------------------------------------------------------
$(BUILD)/core/%.o: hypervisor/core/src/%.cpp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX(core) $<")
	$(Q)$(CXX) $(CORE_CXXFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX       $<")
	$(Q)$(CXX) $(HOST_CXXFLAGS) $(LAYER_INC) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC        $<")
	$(Q)$(CC) $(HOST_CFLAGS) $(DEPFLAGS) -c $< -o $@

clean:
	rm -rf $(BUILD) $(CLEAN_EXTRA)

# Every object any module.mk declared (ALL_OBJS), its -MMD file beside it.
-include $(patsubst %.o,%.d,$(sort $(ALL_OBJS)))
# An -MMD file names headers where they were: when headers move (a change of layout in
# mk/layers.mk, which also sets each module's include path), an old object lists only
# paths that no longer exist, which make does not count as changed, and it would be
# linked against the moved headers' new definitions unrebuilt (seen: a test harness
# passing a 16-byte error record to a library writing 40).  The include paths' file
# is therefore a prerequisite of every object.
$(sort $(ALL_OBJS) $(FUZZ_OBJS)): mk/layers.mk

# The main job (README): build, then show this machine's featureset decoded and the
# static sets, as `xen-cpuid` does on a Xen host.
run: all
	$(Q)$(BUILD)/bin/xen-cpuid

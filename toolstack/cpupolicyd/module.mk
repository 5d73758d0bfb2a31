# toolstack/cpupolicyd/: the daemon serving one simulated host over a UNIX socket
# (docs/cpupolicyd.md).  White-box: it links the hosted archive, since it is the
# hypervisor's side of the protocol, not a libcpupolicy client.
# main.cpp (options, log, boot), server.cpp (connections, socket), state.cpp (the state
# directory), state_file.cpp (the state file's bytes: pure, shared with its fuzz target),
# stdio_bridge.cpp (--stdio-bridge: the remote end of ssh: handles).
CPUPOLICYD_BIN := $(BUILD)/sbin/cpupolicyd
CPUPOLICYD_STATE_OBJS := $(BUILD)/obj/toolstack/cpupolicyd/state_file.o
CPUPOLICYD_OBJS := $(patsubst %,$(BUILD)/obj/toolstack/cpupolicyd/%.o,main server state stdio_bridge) \
    $(CPUPOLICYD_STATE_OBJS)
# zlib: the state file's CRC-32 (Debian zlib1g-dev).
ZLIB_LDLIBS := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
$(CPUPOLICYD_BIN): $(CPUPOLICYD_OBJS) $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $(CPUPOLICYD_OBJS) $(HOSTED_LIB) $(LIB_LDLIBS) $(ZLIB_LDLIBS) -ldl -lpthread $(HOST_LDFLAGS)
ALL_OBJS += $(CPUPOLICYD_OBJS)
all: $(CPUPOLICYD_BIN)

SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
# sysusers.d is read from $(PREFIX)/lib whatever the library's multiarch LIBDIR.
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
.PHONY: install-cpupolicyd
install: install-cpupolicyd
install-cpupolicyd: $(CPUPOLICYD_BIN) $(BUILD)/man/cpupolicyd.8
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(CPUPOLICYD_BIN) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(BUILD)/man/cpupolicyd.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' toolstack/cpupolicyd/cpupolicyd.service \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/cpupolicyd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/cpupolicyd.service
	install -m 0644 toolstack/cpupolicyd/cpupolicyd.sysusers $(DESTDIR)$(SYSUSERSDIR)/cpupolicyd.conf

# White-box users of the state file codec: its unit test and its fuzz target link
# state_file.o and zlib besides the hosted archive (EXTRA_LDLIBS, tests/module.mk).
STATE_FILE_USERS := $(BUILD)/tests/unit/test_state_file $(BUILD)/tests/fuzz/fuzz_state_file-replay \
    $(BUILD)/tests/fuzz/make_seeds
$(patsubst $(BUILD)/tests/%,$(BUILD)/obj/tests/%.o,$(subst -replay,,$(STATE_FILE_USERS))): \
    HOST_CXXFLAGS += -Itoolstack/cpupolicyd
$(STATE_FILE_USERS): $(CPUPOLICYD_STATE_OBJS)
$(STATE_FILE_USERS): EXTRA_LDLIBS = $(CPUPOLICYD_STATE_OBJS) $(ZLIB_LDLIBS)
# ... and the libFuzzer build of the same target (make fuzz).
$(BUILD)/fuzz/obj/tests/fuzz/fuzz_state_file.o: HOST_CXXFLAGS += -Itoolstack/cpupolicyd
$(BUILD)/fuzz/fuzz_state_file: $(BUILD)/fuzz/obj/toolstack/cpupolicyd/state_file.o
$(BUILD)/fuzz/fuzz_state_file: FUZZ_EXTRA_LDLIBS = $(BUILD)/fuzz/obj/toolstack/cpupolicyd/state_file.o $(ZLIB_LDLIBS)

uninstall: uninstall-cpupolicyd
.PHONY: uninstall-cpupolicyd
uninstall-cpupolicyd:
	rm -f $(DESTDIR)$(SBINDIR)/cpupolicyd $(DESTDIR)$(MANDIR)/man8/cpupolicyd.8 \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/cpupolicyd.service $(DESTDIR)$(SYSUSERSDIR)/cpupolicyd.conf

# A bounded soak of the daemon: clients, SIGKILLs, restarts, damaged state files
# (tests/soak/soak_cpupolicyd.py); prints calls, acknowledged and lost changes.
SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 4
SOAK_DUMP ?= tests/data/cpuid-dumps/GenuineIntel00206D5_SandyBridgeEP.txt
.PHONY: soak
soak: $(CPUPOLICYD_BIN)
	$(Q)python3 tests/soak/soak_cpupolicyd.py $(CPUPOLICYD_BIN) $(SOAK_DUMP) $(SOAK_SECONDS) $(SOAK_CLIENTS)

# toolstack/cpupolicyd/: the daemon serving one simulated host over a UNIX socket
# (docs/cpupolicyd.md).  White-box: it links the hosted archive, since it is the
# hypervisor's side of the protocol, not a libcpupolicy client.
CPUPOLICYD_BIN := $(BUILD)/sbin/cpupolicyd
$(CPUPOLICYD_BIN): $(BUILD)/obj/toolstack/cpupolicyd/cpupolicyd.o $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $< $(HOSTED_LIB) $(LIB_LDLIBS) -ldl -lpthread
all: $(CPUPOLICYD_BIN)

SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
.PHONY: install-cpupolicyd
install: install-cpupolicyd
install-cpupolicyd: $(CPUPOLICYD_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(CPUPOLICYD_BIN) $(DESTDIR)$(SBINDIR)/
	install -m 0644 toolstack/cpupolicyd/cpupolicyd.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' toolstack/cpupolicyd/cpupolicyd.service \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/cpupolicyd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/cpupolicyd.service

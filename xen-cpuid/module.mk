# xen-cpuid/: the featureset decoder, linked with the hosted archive (core + library).
XCPUID_SRCS := $(wildcard xen-cpuid/*.cpp)
XCPUID_OBJS := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(XCPUID_SRCS))
ALL_OBJS    += $(XCPUID_OBJS)
XCPUID_BIN  := $(BUILD)/bin/xen-cpuid
# Installed as $(XEN_CPUID_NAME): Debian's package sets cpupolicy-xen-cpuid, beside Xen's
# own /usr/sbin/xen-cpuid from xen-utils (docs/packaging.md).
XEN_CPUID_NAME ?= xen-cpuid

$(XCPUID_BIN): $(XCPUID_OBJS) $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $(XCPUID_OBJS) $(HOSTED_LIB) $(LIB_LDLIBS) -ldl $(HOST_LDFLAGS)

all: $(XCPUID_BIN)

.PHONY: install-xen-cpuid uninstall-xen-cpuid
install: install-xen-cpuid
install-xen-cpuid: $(XCPUID_BIN) $(BUILD)/man/xen-cpuid.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(XCPUID_BIN) $(DESTDIR)$(BINDIR)/$(XEN_CPUID_NAME)
	install -m 0644 $(BUILD)/man/xen-cpuid.1 $(DESTDIR)$(MANDIR)/man1/$(XEN_CPUID_NAME).1
uninstall: uninstall-xen-cpuid
uninstall-xen-cpuid:
	rm -f $(DESTDIR)$(BINDIR)/$(XEN_CPUID_NAME) $(DESTDIR)$(MANDIR)/man1/$(XEN_CPUID_NAME).1

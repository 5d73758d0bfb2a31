# xen-cpuid/: the featureset decoder, linked with the hosted archive (core + library).
XCPUID_SRCS := $(wildcard xen-cpuid/*.cpp)
XCPUID_OBJS := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(XCPUID_SRCS))
ALL_OBJS    += $(XCPUID_OBJS)
XCPUID_BIN  := $(BUILD)/bin/xen-cpuid
XCPUID_MAN  := xen-cpuid/xen-cpuid.1

$(XCPUID_BIN): $(XCPUID_OBJS) $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $(XCPUID_OBJS) $(HOSTED_LIB) $(LIB_LDLIBS) -ldl

BINS += $(XCPUID_BIN)
all: $(XCPUID_BIN)

.PHONY: install-xen-cpuid-man
install: install-xen-cpuid-man
install-xen-cpuid-man:
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 $(XCPUID_MAN) $(DESTDIR)$(MANDIR)/man1/
uninstall: uninstall-xen-cpuid-man
.PHONY: uninstall-xen-cpuid-man
uninstall-xen-cpuid-man:
	rm -f $(DESTDIR)$(MANDIR)/man1/$(notdir $(XCPUID_MAN))

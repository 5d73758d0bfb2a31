# hypervisor/core/: the freestanding core (layer L0, mk/layers.mk).  Every .cpp under
# hypervisor/core/src is core; it sees only hypervisor/core/include.
CORE_SRCS += $(wildcard hypervisor/core/src/*.cpp)
CORE_OBJS  = $(patsubst hypervisor/core/src/%.cpp,$(BUILD)/core/%.o,$(CORE_SRCS))
ALL_OBJS  += $(CORE_OBJS)
CORE_LIB  := $(BUILD)/hypervisor/libcpupolicy-core.a

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR        $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

all: $(CORE_LIB)

# The freestanding contract, checked on the archive: link every core object with
# -nostdlib into a relocatable-free image and fail on any undefined symbol other than
# the four the compiler may emit calls to; also refuse hosted headers in hypervisor/.
FREESTANDING_ALLOWED := memcpy memset memmove memcmp
# ... and the platform seam (hypervisor/core/include/cpupolicy/platform.hpp): the only functions
# of its environment the core may call, implemented by whoever hosts it (hypervisor/sim here).
FREESTANDING_ALLOWED += cpupolicy_plat_cpuid cpupolicy_plat_rdmsr cpupolicy_plat_wrmsr \
    cpupolicy_plat_cpu_id cpupolicy_plat_levelling_percpu cpupolicy_plat_log \
    cpupolicy_plat_check_failed cpupolicy_plat_alloc cpupolicy_plat_free
check-freestanding: $(CORE_LIB)
	@echo "  CHECK     freestanding contract of $(CORE_LIB)"
	$(Q)sh tests/scripts/check-freestanding.sh $(CORE_LIB) "$(CXX)" "$(FREESTANDING_ALLOWED)"

# The core archive is installed with the headers it is used through (a hypervisor links
# libcpupolicy-core.a and implements the platform seam, platform.hpp).
CORE_HDRS := $(wildcard hypervisor/core/include/cpupolicy/*.hpp)
.PHONY: install-core uninstall-core
install: install-core
install-core: $(CORE_LIB)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/cpupolicy
	install -m 0644 $(CORE_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(CORE_HDRS) $(DESTDIR)$(INCDIR)/cpupolicy/
uninstall: uninstall-core
uninstall-core:
	rm -f $(DESTDIR)$(LIBDIR)/libcpupolicy-core.a
	rm -f $(addprefix $(DESTDIR)$(INCDIR)/cpupolicy/,$(notdir $(CORE_HDRS)))
	-rmdir $(DESTDIR)$(INCDIR)/cpupolicy 2>/dev/null

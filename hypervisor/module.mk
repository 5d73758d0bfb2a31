# hypervisor/: the freestanding core.  Every .cpp under hypervisor/src is core.
CORE_SRCS += $(wildcard hypervisor/src/*.cpp)
CORE_OBJS  = $(patsubst hypervisor/%.cpp,$(BUILD)/core/%.o,$(CORE_SRCS))
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
# ... and the platform seam (hypervisor/include/cpupolicy/platform.hpp): the only functions
# of its environment the core may call, implemented by whoever hosts it (hypervisor/sim here).
FREESTANDING_ALLOWED += cpupolicy_plat_cpuid cpupolicy_plat_rdmsr cpupolicy_plat_wrmsr \
    cpupolicy_plat_cpu_id cpupolicy_plat_levelling_percpu cpupolicy_plat_log \
    cpupolicy_plat_check_failed
check-freestanding: $(CORE_LIB)
	@echo "  CHECK     freestanding contract of $(CORE_LIB)"
	$(Q)sh tests/scripts/check-freestanding.sh $(CORE_LIB) "$(CXX)" "$(FREESTANDING_ALLOWED)"

// SPDX-License-Identifier: MIT
// The one platform seam between the core and wherever it runs.
//
// The core calls these and nothing else of its environment.  A real hypervisor
// implements them over the CPUID/RDMSR/WRMSR instructions and its per-CPU areas;
// hypervisor/sim implements them over a simulated machine; CMocka tests replace them
// with -Wl,--wrap=SYMBOL to script MSR reads and verify MSR writes.  They have C
// linkage and plain names so that --wrap can reach them.
#pragma once

#include "cpupolicy/types.hpp"

namespace cpupolicy {
struct LevellingPerCpu;  // masking.hpp: what the context switch caches per physical CPU
}

extern "C" {

// CPUID on the current physical CPU, as the hardware answers it (with whatever masking
// is currently in force: that is how a PV guest without faulting sees it).
void cpupolicy_plat_cpuid(uint32_t leaf, uint32_t subleaf, cpupolicy::Regs *out);

// RDMSR / WRMSR on the current physical CPU.  0, or -EFAULT-like negative errno
// (-EINVAL here) when the MSR does not exist (#GP on hardware).
CPUPOLICY_MUST_CHECK int cpupolicy_plat_rdmsr(uint32_t msr, uint64_t *val);
CPUPOLICY_MUST_CHECK int cpupolicy_plat_wrmsr(uint32_t msr, uint64_t val);

// Index of the current physical CPU, and its levelling cache (owned by the platform:
// the core keeps no global state, so one process can host several simulated machines).
unsigned int cpupolicy_plat_cpu_id(void);
cpupolicy::LevellingPerCpu *cpupolicy_plat_levelling_percpu(void);

// Diagnostics (printf-style subset: %s %u %x %08x %d %lu %llx).
void cpupolicy_plat_log(int level, const char *fmt, ...);

// An invariant of the core does not hold (CHECK, check.hpp): a bug in the core or in its
// caller, never bad input, which gets an error code.  Does not return: a hypervisor
// panics, the simulator and the tests print the place and abort.
[[noreturn]] void cpupolicy_plat_check_failed(const char *file, unsigned int line,
                                              const char *expr);

} // extern "C"

namespace cpupolicy {
enum LogLevel : int { log_err = 0, log_warn = 1, log_info = 2, log_debug = 3 };

// cpupolicy_plat_cpuid as a value, for the core's own callers.
inline Regs plat_cpuid(uint32_t leaf, uint32_t subleaf = 0)
{
    Regs r{};
    cpupolicy_plat_cpuid(leaf, subleaf, &r);
    return r;
}
} // namespace cpupolicy

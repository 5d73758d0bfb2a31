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

// The index types (types.hpp) are uint32_t in the calling convention, so an
// implementation written in C declares these parameters uint32_t.
//
// CPUID on the current physical CPU, as the hardware answers it (with whatever masking
// is currently in force: that is how a PV guest without faulting sees it).
void cpupolicy_plat_cpuid(cpupolicy::Leaf leaf, cpupolicy::Subleaf subleaf, cpupolicy::Regs *out);

// RDMSR / WRMSR on the current physical CPU.  0, or -EFAULT-like negative errno
// (-EINVAL here) when the MSR does not exist (#GP on hardware).
CPUPOLICY_MUST_CHECK int cpupolicy_plat_rdmsr(cpupolicy::MsrIndex msr, uint64_t *val);
CPUPOLICY_MUST_CHECK int cpupolicy_plat_wrmsr(cpupolicy::MsrIndex msr, uint64_t val);

// Index of the current physical CPU, and its levelling cache (owned by the platform:
// the core keeps no global state, so one process can host several simulated machines).
unsigned int cpupolicy_plat_cpu_id(void);
cpupolicy::LevellingPerCpu *cpupolicy_plat_levelling_percpu(void);

// Diagnostics (printf-style subset: %s %u %x %08x %d %lu %llx).
void cpupolicy_plat_log(int level, const char *fmt, ...);

// Memory for the state of one domain (and for the pages of the table that finds
// domains by domid): `bytes` long, aligned to `align` (a power of two, at most 64),
// zero-filled; NULL when the host has none left, which domain creation reports as
// -ENOMEM.  Freed with the same size.  The core asks only when a domain is created and
// frees when it is destroyed, so a host pays for the domains in use (Xen allocates its
// struct domain with alloc_domain_struct() the same way).  The simulator uses the C heap.
void *cpupolicy_plat_alloc(size_t bytes, size_t align);
void cpupolicy_plat_free(void *p, size_t bytes);

// An invariant of the core does not hold (CHECK, check.hpp): a bug in the core or in its
// caller, never bad input, which gets an error code.  Does not return: a hypervisor
// panics, the simulator and the tests print the place and abort.
[[noreturn]] void cpupolicy_plat_check_failed(const char *file, unsigned int line,
                                              const char *expr);

} // extern "C"

namespace cpupolicy {
enum LogLevel : int { log_err = 0, log_warn = 1, log_info = 2, log_debug = 3 };

// cpupolicy_plat_cpuid as a value, for the core's own callers.
inline Regs plat_cpuid(Leaf leaf, Subleaf subleaf = 0_subleaf)
{
    Regs r{};
    cpupolicy_plat_cpuid(leaf, subleaf, &r);
    return r;
}
} // namespace cpupolicy

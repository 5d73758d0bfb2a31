// SPDX-License-Identifier: MIT
// The platform seam implemented over the simulated CPUs (sim_platform.hpp).
#include "sim_platform.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpupolicy/platform.hpp"
#include "sim_cpu.hpp"

namespace cpupolicy::sim {
namespace {
thread_local SimCpu *tls_cpu = nullptr;
thread_local SimLog *tls_log = nullptr;
thread_local SimMemory *tls_mem = nullptr;
} // namespace

SimCpuScope::SimCpuScope(SimCpu &cpu, SimLog *log, SimMemory *mem)
    : prev_cpu_(tls_cpu), prev_log_(tls_log), prev_mem_(tls_mem)
{
    tls_cpu = &cpu;
    tls_log = log;
    tls_mem = mem;
}

SimCpuScope::~SimCpuScope()
{
    tls_cpu = prev_cpu_;
    tls_log = prev_log_;
    tls_mem = prev_mem_;
}

} // namespace cpupolicy::sim

using cpupolicy::sim::tls_cpu;
using cpupolicy::sim::tls_log;
using cpupolicy::sim::tls_mem;

// The seam symbols are exported (default visibility) so that a test linking the hosted
// archive can interpose them with -Wl,--wrap.
#define SEAM extern "C" __attribute__((visibility("default")))

SEAM void cpupolicy_plat_cpuid(cpupolicy::Leaf leaf, cpupolicy::Subleaf subleaf, cpupolicy::Regs *out)
{
    // The core runs at CPL 0: faulting never applies to it, masking does.
    if ( !tls_cpu )
    {
        *out = cpupolicy::Regs{};
        return;
    }
    (void)tls_cpu->cpuid(raw(leaf), raw(subleaf), 0, *out);
}

SEAM int cpupolicy_plat_rdmsr(cpupolicy::MsrIndex msr, uint64_t *val)
{
    if ( !tls_cpu )
        return -EINVAL;
    return tls_cpu->rdmsr(raw(msr), *val);
}

SEAM int cpupolicy_plat_wrmsr(cpupolicy::MsrIndex msr, uint64_t val)
{
    if ( !tls_cpu )
        return -EINVAL;
    return tls_cpu->wrmsr(raw(msr), val);
}

SEAM unsigned int cpupolicy_plat_cpu_id(void)
{
    return tls_cpu ? tls_cpu->index() : 0;
}

SEAM cpupolicy::LevellingPerCpu *cpupolicy_plat_levelling_percpu(void)
{
    return tls_cpu ? &tls_cpu->percpu : nullptr;
}

SEAM void cpupolicy_plat_log(int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    static const char *const names[] = {"err", "warn", "info", "debug"};
    const char *lv = level >= 0 && level <= 3 ? names[level] : "?";
    if ( tls_log )
    {
        tls_log->lines.push_back(std::string(lv) + " " + buf);
        if ( level <= tls_log->print_level )
            fprintf(stderr, "cpupolicy-sim: %s: %s\n", lv, buf);
    }
}

// Domain memory: the C heap, zero-filled, counted against the machine's limit.
SEAM void *cpupolicy_plat_alloc(size_t bytes, size_t align)
{
    if ( tls_mem && tls_mem->limit && bytes > tls_mem->limit - tls_mem->in_use )
        return nullptr;
    if ( align < sizeof(void *) )
        align = sizeof(void *);
    void *p = nullptr;
    if ( posix_memalign(&p, align, bytes) != 0 )
        return nullptr;
    memset(p, 0, bytes);
    if ( tls_mem )
        tls_mem->in_use += bytes;
    return p;
}

SEAM void cpupolicy_plat_free(void *p, size_t bytes)
{
    if ( !p )
        return;
    if ( tls_mem )
        tls_mem->in_use = tls_mem->in_use >= bytes ? tls_mem->in_use - bytes : 0;
    free(p);
}

// An invariant of the core failed: print where, and abort (a hypervisor would panic).
SEAM void cpupolicy_plat_check_failed(const char *file, unsigned int line, const char *expr)
{
    fprintf(stderr, "cpupolicy: %s:%u: CHECK(%s) failed\n", file, line, expr);
    abort();
}

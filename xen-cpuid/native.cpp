// SPDX-License-Identifier: MIT
#include "native.hpp"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cpupolicy/features.hpp"

namespace xcpuid {

using namespace cpupolicy;

namespace {

constexpr uint32_t kMsrArchCaps = 0x10a;

constexpr uint32_t feature_of(const char *name)
{
    uint32_t f = ~0u;
    return features::lookup(name, SIZE_MAX, &f) ? f : ~0u;
}
// CPUID 7:0.edx[29] enumerates MSR_ARCH_CAPABILITIES (SDM vol. 4, table 2-2).
constexpr uint32_t kArchCaps = feature_of("arch-caps");
static_assert(kArchCaps == 9 * 32 + 29);

Regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    Regs r{};
    __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
    return r;
}

// Highest subleaf of the leaves whose subleaf 0 reports it (leaf 7: EAX of subleaf 0,
// SDM vol. 2A table 3-8).  Leaf 0xd's subleaf 1 always exists once leaf 0xd does.
uint32_t max_subleaf(uint32_t leaf)
{
    if ( leaf == 7 )
        return cpuid(7, 0).a;
    return NO_SUBLEAF;
}

} // namespace

NativeRaw read_native_raw()
{
    NativeRaw raw{};
    const uint32_t max_basic = cpuid(0, 0).a;
    uint32_t max_ext = cpuid(0x80000000u, 0).a;
    // A CPU without extended leaves returns basic-leaf data here (AMD APM vol. 3,
    // CPUID Fn8000_0000): only an EAX of the form 0x8000xxxx is a maximum.
    if ( (max_ext & 0xffff0000u) != 0x80000000u )
        max_ext = 0;

    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordSource &src = table::words[i].src;
        if ( src.is_msr )
            continue;
        const bool ext = src.leaf & 0x80000000u;
        if ( ext ? src.leaf > max_ext : src.leaf > max_basic )
            continue;
        const uint32_t sub = src.subleaf == NO_SUBLEAF ? 0 : src.subleaf;
        const uint32_t max_sub = max_subleaf(src.leaf);
        if ( max_sub != NO_SUBLEAF && sub > max_sub )
            continue;
        raw.words[i] = reg(cpuid(src.leaf, sub), src.reg);
    }

    if ( !(raw.words[kArchCaps / 32] & (1u << (kArchCaps % 32))) )
    {
        raw.msr = MsrWords::not_enumerated;
        return raw;
    }

    // The msr driver's file offset is the MSR index (linux/arch/x86/kernel/msr.c).
    uint64_t val = 0;
    int fd = open("/dev/cpu/0/msr", O_RDONLY | O_CLOEXEC);
    if ( fd < 0 || pread(fd, &val, sizeof(val), kMsrArchCaps) != sizeof(val) )
    {
        raw.msr = MsrWords::unreadable;
        raw.msr_errno = errno ? errno : EIO;
        if ( fd >= 0 )
            close(fd);
        return raw;
    }
    close(fd);
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordSource &src = table::words[i].src;
        if ( src.is_msr && src.leaf == kMsrArchCaps )
            raw.words[i] = static_cast<uint32_t>(src.subleaf ? val >> 32 : val);
    }
    raw.msr = MsrWords::read;
    return raw;
}

} // namespace xcpuid

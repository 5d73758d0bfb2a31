// SPDX-License-Identifier: MIT
#include "cpupolicy/compat.hpp"
#include "cpupolicy/features.hpp"

namespace cpupolicy {

namespace {

// Keeps the failure that comes first in leaf order: CPUID (leaf, subleaf) ascending,
// then MSRs by index.  Every check runs, so the order they run in does not matter.
struct FirstFailure {
    uint64_t cpuid_key = ~0ull;   // leaf << 32 | subleaf (NO_SUBLEAF only for plain leaves)
    uint32_t msr_idx = ~0u;

    void cpuid(uint32_t leaf, uint32_t subleaf)
    {
        uint64_t k = uint64_t{leaf} << 32 | subleaf;
        if ( k < cpuid_key )
            cpuid_key = k;
    }
    void msr(uint32_t idx)
    {
        if ( idx < msr_idx )
            msr_idx = idx;
    }
    bool failed() const { return cpuid_key != ~0ull || msr_idx != ~0u; }
    ErrRecord record() const
    {
        if ( cpuid_key != ~0ull )
            return ErrRecord{static_cast<uint32_t>(cpuid_key >> 32), static_cast<uint32_t>(cpuid_key), ~0u};
        return ErrRecord{~0u, ~0u, msr_idx};
    }
};

uint32_t field(const Policy &p, const NumericField &f)
{
    return (reg(policy_effective(p, f.leaf, f.subleaf), f.reg) >> f.shift) & f.mask;
}

uint64_t xstates_of(const Policy &p)
{
    Regs s0 = policy_effective(p, 0xd, 0), s1 = policy_effective(p, 0xd, 1);
    return (uint64_t{s0.d} << 32 | s0.a) | (uint64_t{s1.d} << 32 | s1.c);
}

} // namespace

bool xstate_layouts_agree(const Regs &x, const Regs &y)
{
    if ( x == Regs{} || y == Regs{} )
        return true;
    return x.a == y.a && x.b == y.b && (x.c & 3) == (y.c & 3);
}

Regs policy_effective(const Policy &p, uint32_t leaf, uint32_t subleaf)
{
    if ( !policy_in_range(p, leaf, subleaf) )
        return Regs{};
    return p.slot[slot_exact(leaf, subleaf)];
}

Featureset policy_effective_featureset(const Policy &p)
{
    Featureset fs;
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordSource &src = table::words[i].src;
        if ( src.is_msr )
            fs.w[i] = static_cast<uint32_t>(p.arch_caps >> (32 * src.subleaf));
        else
            fs.w[i] = reg(policy_effective(p, src.leaf, src.subleaf), src.reg);
    }
    return fs;
}

Featureset policy_missing_features(const Policy &host, const Policy &guest)
{
    // Only named features: every max policy is within features::known, so a bit the
    // table does not name never reaches a guest and cannot matter to one.
    return (policy_effective_featureset(guest) & features::known)
        .and_not(policy_effective_featureset(host))
        .and_not(features::or_mask);
}

int policy_is_compatible(const Policy &host, const Policy &guest, ErrRecord *err,
                         Featureset *missing)
{
    FirstFailure first;

    if ( policy_vendor(host) != policy_vendor(guest) )
        first.cpuid(0x0, NO_SUBLEAF);

    for ( const NumericField &f : numeric_fields )
    {
        uint32_t g = field(guest, f), h = field(host, f);
        bool bad = f.kind == FieldKind::le ? g > h : (g & ~h) != 0;
        if ( bad )
            first.cpuid(f.leaf, f.subleaf);
    }

    // Layout of every xstate component the guest has and the host has too (one the
    // host lacks already failed the component bitmaps at 0xd:0 / 0xd:1, which come
    // first in leaf order).  EAX size, EBX offset in the standard format, ECX[1:0]
    // supervisor / 64-byte-aligned-when-compacted (SDM vol. 2A leaf 0DH, n >= 2).
    // A policy that does not enumerate a component's subleaf (all zero: some dump
    // tools skip them) states no layout, so there is nothing to disagree with.
    uint64_t common = xstates_of(guest) & xstates_of(host);
    for ( uint32_t n = 2; n < 63; ++n )
    {
        if ( !((common >> n) & 1) )
            continue;
        Regs g = policy_effective(guest, 0xd, n), h = policy_effective(host, 0xd, n);
        if ( !xstate_layouts_agree(g, h) )
            first.cpuid(0xd, n);
    }

    if ( policy_extd_limit(guest) > policy_extd_limit(host) )
        first.cpuid(EXTD_FIRST, NO_SUBLEAF);

    Featureset lacking = policy_missing_features(host, guest);
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        if ( !lacking.w[i] )
            continue;
        const WordSource &src = table::words[i].src;
        if ( src.is_msr )
            first.msr(src.leaf);
        else
            first.cpuid(src.leaf, src.subleaf);
    }

    // CPUID faulting is a property of the physical CPU that the hypervisor passes on
    // (Xen: platform_info.cpuid_faulting, checked the same way).
    if ( (guest.platform_info & PLATFORM_INFO_CPUID_FAULTING) &&
         !(host.platform_info & PLATFORM_INFO_CPUID_FAULTING) )
        first.msr(MSR_PLATFORM_INFO);

    if ( missing )
        *missing = lacking;
    if ( err )
        *err = first.record();
    return first.failed() ? -cpupolicy::err::einval : 0;
}

} // namespace cpupolicy

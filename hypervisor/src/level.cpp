// SPDX-License-Identifier: MIT
#include "cpupolicy/level.hpp"
#include "cpupolicy/features.hpp"

namespace cpupolicy {

namespace {

// Features whose state lives in an xstate component (SDM vol. 1 13.1 table 13-1; APM
// vol. 2 for LWP): when a component cannot be offered to a pool, neither can they.
struct ComponentFeature {
    uint8_t comp;
    const char *feature;
};
constexpr ComponentFeature component_features[] = {
    {2, "avx"},       {3, "mpx"},      {4, "mpx"},     {5, "avx512f"}, {6, "avx512f"},
    {7, "avx512f"},   {9, "pku"},      {10, "enqcmd"}, {11, "cet-ss"}, {11, "cet-ibt"},
    {12, "cet-ss"},   {14, "uintr"},   {15, "arch-lbr"}, {17, "amx-tile"}, {18, "amx-tile"},
    {62, "lwp"},
};
constexpr uint32_t feature_named(const char *name)
{
    uint32_t f = NR_FEATURE_BITS;
    return features::lookup(name, SIZE_MAX, &f) ? f : NR_FEATURE_BITS;
}
constexpr bool component_features_known()
{
    for ( const auto &c : component_features )
        if ( feature_named(c.feature) == NR_FEATURE_BITS )
            return false;
    return true;
}
static_assert(component_features_known(), "component_features names a feature the table lacks");

// The standard-format XSAVE area: legacy region (512) + XSAVE header (64).
constexpr uint32_t XSAVE_BASE_SIZE = 576;

uint32_t field(const Policy &p, const NumericField &f)
{
    return (reg(policy_effective(p, f.leaf, f.subleaf), f.reg) >> f.shift) & f.mask;
}

void set_field(Policy &p, uint32_t leaf, uint32_t subleaf, Reg r, uint8_t shift, uint32_t mask,
               uint32_t val)
{
    Regs &slot = p.slot[slot_exact(leaf, subleaf)];
    reg(slot, r) = (reg(slot, r) & ~(mask << shift)) | ((val & mask) << shift);
}

uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

} // namespace

int policy_level(Policy &out, const Policy *const *in, uint32_t n, uint32_t *bad_index)
{
    if ( n == 0 || !in )
        return -err::einval;
    for ( uint32_t i = 0; i < n; ++i )
        if ( !in[i] )
        {
            if ( bad_index )
                *bad_index = i;
            return -err::einval;
        }

    const Policy &ref = *in[0];
    const Vendor vendor = policy_vendor(ref);
    for ( uint32_t i = 1; i < n; ++i )
        if ( policy_vendor(*in[i]) != vendor )
        {
            if ( bad_index )
                *bad_index = i;
            return -err::einval;
        }

    // Built in a scratch copy: `out` may alias an input, and is written only at the end.
    Policy res = ref;

    // Numeric fields: minimum or AND, each over the inputs' effective values.
    for ( const NumericField &f : numeric_fields )
    {
        uint32_t v = field(ref, f);
        for ( uint32_t i = 1; i < n; ++i )
            v = f.kind == FieldKind::le ? min32(v, field(*in[i], f)) : v & field(*in[i], f);
        set_field(res, f.leaf, f.subleaf, f.reg, f.shift, f.mask, v);
    }

    // Highest extended leaf: the smallest effective one, written as that input wrote it
    // (so that levelling one policy leaves 0x80000000.eax unchanged).
    {
        uint32_t best = 0;
        for ( uint32_t i = 1; i < n; ++i )
            if ( policy_extd_limit(*in[i]) < policy_extd_limit(*in[best]) )
                best = i;
        res.slot[slot_exact(EXTD_FIRST, NO_SUBLEAF)].a = extd_max_leaf(*in[best]);
    }

    // Guest physical address width (APM 80000008h EAX[23:16]; 0 means "same as
    // PhysAddrSize"): the minimum of the effective widths, 0 while every input says 0.
    {
        bool any = false;
        uint32_t w = ~0u;
        for ( uint32_t i = 0; i < n; ++i )
        {
            uint32_t a = policy_effective(*in[i], 0x80000008u, NO_SUBLEAF).a;
            uint32_t g = (a >> 16) & 0xff;
            any |= g != 0;
            w = min32(w, g ? g : a & 0xff);
        }
        set_field(res, 0x80000008u, NO_SUBLEAF, Reg::eax, 16, 0xff, any ? w : 0);
    }

    // Xstate components: the AND is already in res (numeric_fields).  Each component
    // must also have one layout across the pool, or a guest would parse an XSAVE image
    // the hardware of some host does not write (e.g. PKRU: 0x340 on Zen 2, 0x980 on
    // Zen 3, in the dumps).  Such a component is dropped with its features.
    Featureset dropped;
    {
        Regs &s0 = res.slot[slot_exact(0xd, 0)];
        Regs &s1 = res.slot[slot_exact(0xd, 1)];
        uint64_t xcr0 = uint64_t{s0.d} << 32 | s0.a;
        uint64_t xss = uint64_t{s1.d} << 32 | s1.c;
        uint32_t size = XSAVE_BASE_SIZE;
        bool size_known = true;

        for ( uint32_t c = 2; c < 63; ++c )
        {
            uint64_t bit = 1ull << c;
            if ( !((xcr0 | xss) & bit) )
                continue;
            // The first input that enumerates the component gives the layout; every
            // other one that enumerates it must agree.
            Regs r0{};
            bool agree = true;
            for ( uint32_t i = 0; i < n && agree; ++i )
            {
                Regs r = policy_effective(*in[i], 0xd, c);
                agree = xstate_layouts_agree(r0, r);
                if ( r0 == Regs{} )
                    r0 = r;
            }
            if ( !agree )
            {
                xcr0 &= ~bit;
                xss &= ~bit;
                for ( const auto &cf : component_features )
                    if ( cf.comp == c )
                        dropped.set(Feature{feature_named(cf.feature)});
                continue;
            }
            res.slot[slot_exact(0xd, c)] = r0;
            if ( xcr0 & bit )
            {
                if ( r0.a == 0 )
                    size_known = false;  // no input enumerated this component
                else if ( r0.b + r0.a > size )
                    size = r0.b + r0.a;
            }
        }
        s0.a = static_cast<uint32_t>(xcr0);
        s0.d = static_cast<uint32_t>(xcr0 >> 32);
        s1.c = static_cast<uint32_t>(xss);
        s1.d = static_cast<uint32_t>(xss >> 32);
        // 0xd:0.ecx is already the smallest input's; the levelled components may need
        // less (SDM: ECX = size for every component XCR0 may enable).
        if ( size_known && (s0.a | s0.d) )
            s0.c = min32(s0.c, size);
        s0.b = min32(s0.b, s0.c);
    }

    // CPUID faulting only if every host has it; PLATFORM_INFO's other bits describe
    // in[0] (ratios, not capabilities a guest relies on).
    {
        uint32_t faulting = PLATFORM_INFO_CPUID_FAULTING;
        for ( uint32_t i = 0; i < n; ++i )
            faulting &= in[i]->platform_info;
        res.platform_info = (ref.platform_info & ~PLATFORM_INFO_CPUID_FAULTING) | faulting;
    }

    for ( uint32_t i = 1; i < n; ++i )
    {
        res.hv_limit = min32(res.hv_limit, in[i]->hv_limit);
        res.hv2_limit = min32(res.hv2_limit, in[i]->hv2_limit);
    }

    // Features: AND, the '|' ones OR (Xen gen-cpuid.py: safe to offer if any host has
    // them, e.g. MD_CLEAR - a guest issuing VERW on a host without it is harmless).
    {
        Featureset all = policy_effective_featureset(ref), any = all;
        for ( uint32_t i = 1; i < n; ++i )
        {
            Featureset f = policy_effective_featureset(*in[i]);
            all &= f;
            any |= f;
        }
        Featureset fs = (all | (any & features::or_mask)).and_not(dropped);

        // Apply, cut to the levelled ranges, then sanitise what is left: a feature whose
        // leaf fell out of range takes its dependents with it.
        policy_apply_featureset(res, fs);
        policy_clear_out_of_range(res);
        fs = policy_effective_featureset(res);
        featureset_sanitise(fs);
        policy_apply_featureset(res, fs);
        policy_clear_out_of_range(res);
    }

    out = res;
    return 0;
}

} // namespace cpupolicy

// SPDX-License-Identifier: MIT
#include "cpupolicy/level.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/xstate.hpp"

namespace cpupolicy {

namespace {

constexpr int ADDR_SIZES_SLOT = slot_exact(0x80000008u, NO_SUBLEAF);
// Components 2..62: 0 and 1 (x87, SSE) have no subleaf of their own, bit 63 is reserved.
constexpr uint64_t XSTATE_COMPONENTS = ~3ull & ~(1ull << 63);

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
    for ( uint32_t i = 1; i < n; ++i )
        if ( !policy_same_vendor(*in[i], ref) )
        {
            if ( bad_index )
                *bad_index = i;
            return -err::einval;
        }

    // Built in a scratch copy: `out` may alias an input, and is written only at the end.
    Policy res = ref;

    // One pass over the inputs gathers everything the levelling needs from them, each
    // input's ranges computed once: every value below is the effective one (zero when
    // out of that input's range).
    uint32_t num[NR_NUMERIC_FIELDS];
    uint32_t best_extd = 0;            // the input with the smallest effective max extd leaf
    bool gpa_any = false;
    uint32_t gpa_width = ~0u;
    uint32_t faulting = PLATFORM_INFO_CPUID_FAULTING;
    Featureset all, any;
    // Xstate layouts (see below), per component: the first layout an input enumerates,
    // collected in res's own 0xd:n slots; set bits of `disagree` = another input
    // enumerates a different one.  Only components every input has so far are
    // followed (`candidates`): any other cannot end up in the levelled bitmaps.
    Regs *layout = &res.slot[XSTATE_SLOT];
    for ( unsigned c = 2; c < 63; ++c )
        layout[c] = Regs{};
    uint64_t candidates = XSTATE_COMPONENTS, disagree = 0;

    for ( uint32_t i = 0; i < n; ++i )
    {
        const Policy &p = *in[i];
        const PolicyRanges r = policy_ranges(p);

        // Numeric fields: minimum or AND.
        if ( i == 0 )
            numeric_field_values(p, r, num);
        else
        {
            uint32_t v[NR_NUMERIC_FIELDS];
            numeric_field_values(p, r, v);
            for ( unsigned k = 0; k < NR_NUMERIC_FIELDS; ++k )
                num[k] = numeric_fields[k].kind == FieldKind::le ? min32(num[k], v[k])
                                                                 : num[k] & v[k];
        }

        if ( i > 0 && policy_extd_limit(p) < policy_extd_limit(*in[best_extd]) )
            best_extd = i;

        // Guest physical address width (APM 80000008h EAX[23:16]; 0 means "same as
        // PhysAddrSize"): the minimum of the effective widths, 0 while every input says 0.
        {
            const Regs e8 = effective_slot(p, r, ADDR_SIZES_SLOT);
            uint32_t g = field_of(e8, field::guest_maxphysaddr);
            gpa_any |= g != 0;
            gpa_width = min32(gpa_width, g ? g : field_of(e8, field::maxphysaddr));
        }

        // Xstate layouts.  The first input that enumerates a component gives its
        // layout; every other one that enumerates it must agree.
        {
            candidates &= xsave_components(effective_slot(p, r, XSTATE_SLOT),
                                           effective_slot(p, r, XSTATE_SLOT + 1));
            for ( uint64_t m = candidates & ~disagree; m; m &= m - 1 )
            {
                unsigned c = static_cast<unsigned>(__builtin_ctzll(m));
                Regs x = effective_slot(p, r, XSTATE_SLOT + static_cast<int>(c));
                if ( !xstate_layouts_agree(layout[c], x) )
                    disagree |= 1ull << c;
                else if ( layout[c] == Regs{} )
                    layout[c] = x;
            }
        }

        faulting &= p.platform_info;
        res.hv_limit = min32(res.hv_limit, p.hv_limit);
        res.hv2_limit = min32(res.hv2_limit, p.hv2_limit);

        Featureset f = policy_effective_featureset(p, r);
        if ( i == 0 )
            all = any = f;
        else
        {
            all &= f;
            any |= f;
        }
    }

    for ( unsigned k = 0; k < NR_NUMERIC_FIELDS; ++k )
    {
        field_set(res, numeric_fields[k].field, num[k]);
    }

    // Highest extended leaf: the smallest effective one, written as that input wrote it
    // (so that levelling one policy leaves 0x80000000.eax unchanged).
    field_set(res, field::max_extd_leaf, extd_max_leaf(*in[best_extd]));

    field_set(res, field::guest_maxphysaddr, gpa_any ? gpa_width : 0);

    // Xstate components: the AND is already in res (numeric_fields).  Each component
    // must also have one layout across the pool, or a guest would parse an XSAVE image
    // the hardware of some host does not write (e.g. PKRU: 0x340 on Zen 2, 0x980 on
    // Zen 3, in the dumps).  Such a component is dropped with its features.
    Featureset dropped;
    {
        uint64_t xcr0 = policy_xcr0(res), xss = policy_xss(res);
        const uint64_t levelled = (xcr0 | xss) & XSTATE_COMPONENTS;
        uint32_t size = xstate::AREA_MIN_SIZE;
        bool size_known = true;

        for ( uint32_t c = 2; c < 63; ++c )
        {
            uint64_t bit = 1ull << c;
            // A component that is not levelled, or is dropped, keeps in[0]'s subleaf
            // (out of range now, so cleared below with the other such slots).
            if ( !(levelled & bit) || (disagree & bit) )
                layout[c] = ref.slot[XSTATE_SLOT + c];
            if ( !(levelled & bit) )
                continue;
            if ( disagree & bit )
            {
                xcr0 &= ~bit;
                xss &= ~bit;
                dropped |= xstate::features_using(bit);
                continue;
            }
            const Regs &r0 = layout[c];
            if ( xcr0 & bit )
            {
                if ( r0.a == 0 )
                    size_known = false;  // no input enumerated this component
                else if ( r0.b + r0.a > size )
                    size = r0.b + r0.a;
            }
        }
        field_set(res, field::xcr0_low, static_cast<uint32_t>(xcr0));
        field_set(res, field::xcr0_high, static_cast<uint32_t>(xcr0 >> 32));
        field_set(res, field::xss_low, static_cast<uint32_t>(xss));
        field_set(res, field::xss_high, static_cast<uint32_t>(xss >> 32));
        // 0xd:0.ecx is already the smallest input's; the levelled components may need
        // less (SDM: ECX = size for every component XCR0 may enable).
        uint32_t max_size = field_get(res, field::xsave_size_max);
        if ( size_known && xcr0 )
            max_size = min32(max_size, size);
        field_set(res, field::xsave_size_max, max_size);
        field_set(res, field::xsave_size, min32(field_get(res, field::xsave_size), max_size));
    }

    // CPUID faulting only if every host has it; PLATFORM_INFO's other bits describe
    // in[0] (ratios, not capabilities a guest relies on).
    res.platform_info = (ref.platform_info & ~PLATFORM_INFO_CPUID_FAULTING) | faulting;

    // Features: AND, the '|' ones OR (Xen gen-cpuid.py: safe to offer if any host has
    // them, e.g. MD_CLEAR - a guest issuing VERW on a host without it is harmless).
    {
        Featureset fs = (all | (any & features::or_mask)).and_not(dropped);

        // Apply, cut to the levelled ranges, then sanitise what is left: a feature whose
        // leaf fell out of range takes its dependents with it.
        policy_apply_featureset(res, fs);
        policy_clear_out_of_range(res);
        fs = policy_effective_featureset(res);
        featureset_sanitise(fs);
        // RSBA/RRSBA say "may behave worse": if any host has either, the guest may run
        // there and is told (features::worse_behaviour), as the one matching its eIBRS.
        featureset_tell_worse_behaviour(fs, !(any & features::worse_behaviour).empty());
        policy_apply_featureset(res, fs);
        policy_clear_out_of_range(res);
    }

    out = res;
    return 0;
}

} // namespace cpupolicy

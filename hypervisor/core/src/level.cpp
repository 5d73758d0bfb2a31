// SPDX-License-Identifier: MIT
#include "cpupolicy/level.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/xstate.hpp"

namespace cpupolicy {

namespace {

constexpr int ADDR_SIZES_SLOT = slot_exact(0x80000008_leaf, kNoSubleaf);
// Components 2..62: 0 and 1 (x87, SSE) have no subleaf of their own, bit 63 is reserved.
constexpr uint64_t XSTATE_COMPONENTS = ~3ull & ~(1ull << 63);

// The indexed leaves levelling reads of each input: those holding a numeric field or a
// featureset word, and leaf 0xd (the xstate layouts).  Only their subleaf rules are
// evaluated per input (policy_ranges_of); everything else gather() reads is a plain leaf.
constexpr uint64_t make_level_leaves()
{
    uint64_t m = indexed_leaf_bit(0xd_leaf);
    for ( const NumericField &f : numeric_fields )
        m |= indexed_leaf_bit(f.field.leaf);
    for ( const auto &w : table::words )
        if ( !w.src.is_msr )
            m |= indexed_leaf_bit(w.src.leaf);
    return m;
}
constexpr uint64_t LEVEL_LEAVES = make_level_leaves();
static_assert(!indexed_leaf_bit(0x80000008_leaf), "the address widths are read from a plain leaf");

// The cache lines of an input that levelling reads, as offsets into a Policy: prefetched
// a few inputs ahead, since past the caches (10,000 inputs are 33 MiB) each input costs
// mostly its misses.  Leaf 0xd: the subleaves up to APX's, the highest component current
// CPUs enumerate (AMD family 15h's LWP, component 62, is left to the hardware's own
// prefetch).
struct InputLines {
    uint16_t nr;
    uint16_t offset[(sizeof(Policy) + 63) / 64];
};
constexpr InputLines make_input_lines()
{
    bool line[(sizeof(Policy) + 63) / 64] = {};
    auto slot = [&](int s) { line[s * sizeof(Regs) / 64] = true; };
    slot(0);                                          // vendor, max basic leaf
    slot(slot_exact(Leaf{EXTD_FIRST}, kNoSubleaf));  // max extended leaf
    slot(ADDR_SIZES_SLOT);
    for ( const NumericField &f : numeric_fields )
        slot(slot_exact(f.field.leaf, f.field.subleaf));
    for ( const auto &w : table::words )
        if ( !w.src.is_msr )
            slot(slot_exact(w.src.leaf, w.src.subleaf));
    for ( int c = 0; c <= xstate::APX; ++c )
        slot(XSTATE_SLOT + c);
    line[__builtin_offsetof(Policy, hv_limit) / 64] = true;
    line[__builtin_offsetof(Policy, arch_caps) / 64] = true;
    InputLines r{};
    for ( unsigned i = 0; i < sizeof(line); ++i )
        if ( line[i] )
            r.offset[r.nr++] = static_cast<uint16_t>(64 * i);
    return r;
}
constexpr InputLines input_lines = make_input_lines();
constexpr uint32_t PREFETCH_AHEAD = 4;  // inputs

void prefetch_input(const Policy *p)
{
    const char *b = reinterpret_cast<const char *>(p);
#pragma GCC unroll 64
    for ( unsigned i = 0; i < input_lines.nr; ++i )
        __builtin_prefetch(b + input_lines.offset[i]);
}

// Step 1: the inputs exist.  0, or -EINVAL with *bad_index set where an input is to
// blame.  Every NULL is found before any vendor is compared (gather), so a NULL input is
// named even after a mismatch.
int check_inputs(const Policy *const *in, uint32_t n, uint32_t *bad_index)
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
    return 0;
}

// Everything levelling needs from the inputs, gathered in one pass with each input's
// ranges computed once: every value is the effective one (zero when out of that input's
// range).
struct Gathered {
    uint32_t num[NR_NUMERIC_FIELDS];  // numeric fields: minimum or AND so far (from ~0)
    uint32_t best_extd;               // the input with the smallest effective max extd leaf
    uint32_t best_extd_limit;         // and that limit (from ~0)
    bool gpa_any;                     // some input states a guest physical address width
    uint32_t gpa_width;
    uint32_t faulting;                // PLATFORM_INFO_CPUID_FAULTING while every input has it
    uint32_t hv_limit, hv2_limit;
    Featureset all, any;              // AND (from all ones) and OR of the effective featuresets
    // Xstate layouts, per component: the first layout an input enumerates (kept in the
    // result's own 0xd:n slots, `layout`); set bits of `disagree` = another input
    // enumerates a different one.  Only components every input has so far are followed
    // (`candidates`): any other cannot end up in the levelled bitmaps.
    Regs *layout;
    uint64_t candidates, disagree;
};

// Step 2, per input: fold input `i` into g.  False when its vendor signature differs
// from in[0]'s (step 1's other half).
bool gather(Gathered &g, const Policy *const *in, uint32_t i)
{
    const Policy &p = *in[i];
    if ( !policy_same_vendor(p, *in[0]) )
        return false;
    const PolicyRanges r = policy_ranges_of(p, LEVEL_LEAVES);

    // Numeric fields: minimum or AND (unrolled: each field's kind is a constant).
    uint32_t v[NR_NUMERIC_FIELDS];
    numeric_field_values(p, r, v);
#pragma GCC unroll 64
    for ( unsigned k = 0; k < NR_NUMERIC_FIELDS; ++k )
        g.num[k] = numeric_fields[k].kind == FieldKind::le ? min32(g.num[k], v[k]) : g.num[k] & v[k];

    const uint32_t extd = policy_extd_limit(p);
    if ( extd < g.best_extd_limit )
    {
        g.best_extd = i;
        g.best_extd_limit = extd;
    }

    // Guest physical address width (APM 80000008h EAX[23:16]; 0 means "same as
    // PhysAddrSize"): the minimum of the effective widths, 0 while every input says 0.
    const Regs e8 = effective_slot(p, r, ADDR_SIZES_SLOT);
    uint32_t gw = field_of(e8, field::guest_maxphysaddr);
    g.gpa_any |= gw != 0;
    g.gpa_width = min32(g.gpa_width, gw ? gw : field_of(e8, field::maxphysaddr));

    // Xstate layouts: the first input that enumerates a component gives its layout;
    // every other one that enumerates it must agree.
    g.candidates &= xsave_components(effective_slot(p, r, XSTATE_SLOT),
                                     effective_slot(p, r, XSTATE_SLOT + 1));
    for ( uint64_t m = g.candidates & ~g.disagree; m; m &= m - 1 )
    {
        unsigned c = static_cast<unsigned>(__builtin_ctzll(m));
        Regs x = effective_slot(p, r, XSTATE_SLOT + static_cast<int>(c));
        if ( !xstate_layouts_agree(g.layout[c], x) )
            g.disagree |= 1ull << c;
        else if ( g.layout[c] == Regs{} )
            g.layout[c] = x;
    }

    g.faulting &= p.platform_info;
    g.hv_limit = min32(g.hv_limit, p.hv_limit);
    g.hv2_limit = min32(g.hv2_limit, p.hv2_limit);

    const Featureset f = policy_effective_featureset(p, r);
#pragma GCC unroll 32
    for ( unsigned w = 0; w < NR_FEATUREWORDS; ++w )
    {
        g.all.w[w] &= f.w[w];
        g.any.w[w] |= f.w[w];
    }
    return true;
}

// Step 3: the numeric fields, the highest extended leaf, the guest address width.
void level_numbers(Policy &res, const Gathered &g, const Policy *const *in)
{
    for ( unsigned k = 0; k < NR_NUMERIC_FIELDS; ++k )
        field_set(res, numeric_fields[k].field, g.num[k]);
    // Highest extended leaf: the smallest effective one, written as that input wrote it
    // (so that levelling one policy leaves 0x80000000.eax unchanged).
    field_set(res, field::max_extd_leaf, extd_max_leaf(*in[g.best_extd]));
    field_set(res, field::guest_maxphysaddr, g.gpa_any ? g.gpa_width : 0);
}

// Step 4: xstate components.  The AND is already in res (numeric_fields).  Each
// component must also have one layout across the pool, or a guest would parse an XSAVE
// image the hardware of some host does not write (e.g. PKRU: 0x340 on Zen 2, 0x980 on
// Zen 3, in the dumps).  Such a component is dropped; returns the features that need it
// (xstate::enablers).
Featureset level_xstate(Policy &res, const Gathered &g, const Policy &ref)
{
    Featureset dropped;
    uint64_t xcr0 = policy_xcr0(res), xss = policy_xss(res);
    const uint64_t levelled = (xcr0 | xss) & XSTATE_COMPONENTS;
    uint32_t size = xstate::AREA_MIN_SIZE;
    bool size_known = true;

    for ( uint32_t c = 2; c < 63; ++c )
    {
        uint64_t bit = 1ull << c;
        // A component that is not levelled, or is dropped, keeps in[0]'s subleaf (out of
        // range now, so cleared with the other such slots).
        if ( !(levelled & bit) || (g.disagree & bit) )
            g.layout[c] = ref.slot[XSTATE_SLOT + c];
        if ( !(levelled & bit) )
            continue;
        if ( g.disagree & bit )
        {
            xcr0 &= ~bit;
            xss &= ~bit;
            dropped |= xstate::features_using(bit);
            continue;
        }
        const Regs &r0 = g.layout[c];
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
    // 0xd:0.ecx is already the smallest input's; the levelled components may need less
    // (SDM: ECX = size for every component XCR0 may enable).
    uint32_t max_size = field_get(res, field::xsave_size_max);
    if ( size_known && xcr0 )
        max_size = min32(max_size, size);
    field_set(res, field::xsave_size_max, max_size);
    field_set(res, field::xsave_size, min32(field_get(res, field::xsave_size), max_size));
    return dropped;
}

// Step 5: features.  AND; OR for features::pool_any: the '|' ones (Xen gen-cpuid.py: safe
// to offer if any host has them, e.g. MD_CLEAR - a guest issuing VERW on a host without
// it is harmless) and RSBA/RRSBA ("may behave worse": the guest may run on the host that
// does); without the features of dropped xstate components.
void level_features(Policy &res, const Gathered &g, const Featureset &dropped)
{
    Featureset fs = (g.all | (g.any & features::pool_any)).and_not(dropped);

    // Apply, cut to the levelled ranges, then sanitise what is left: a feature whose leaf
    // fell out of range takes its dependents with it.
    policy_apply_featureset(res, fs);
    policy_clear_out_of_range(res);
    fs = policy_effective_featureset(res);
    featureset_sanitise(fs);
    // If RRSBA went with eIBRS, the guest is still told: RSBA.
    featureset_tell_worse_behaviour(fs, !(g.any & features::worse_behaviour).empty());
    policy_apply_featureset(res, fs);
    policy_clear_out_of_range(res);
}

} // namespace

int policy_level(Policy &out, const Policy *const *in, uint32_t n, uint32_t *bad_index)
{
    if ( int rc = check_inputs(in, n, bad_index) )
        return rc;

    // Built in a scratch copy: `out` may alias an input, and is written only at the end.
    const Policy &ref = *in[0];
    Policy res = ref;

    Gathered g{};
    for ( uint32_t &x : g.num )
        x = ~0u;
    for ( uint32_t &x : g.all.w )
        x = ~0u;
    g.best_extd_limit = ~0u;
    g.gpa_width = ~0u;
    g.faulting = PLATFORM_INFO_CPUID_FAULTING;
    g.hv_limit = ref.hv_limit;
    g.hv2_limit = ref.hv2_limit;
    g.layout = &res.slot[XSTATE_SLOT];
    for ( unsigned c = 2; c < 63; ++c )
        g.layout[c] = Regs{};
    g.candidates = XSTATE_COMPONENTS;
    for ( uint32_t i = 0; i < n; ++i )
    {
        if ( i + PREFETCH_AHEAD < n )
            prefetch_input(in[i + PREFETCH_AHEAD]);
        if ( !gather(g, in, i) )
        {
            if ( bad_index )
                *bad_index = i;
            return -err::einval;
        }
    }

    level_numbers(res, g, in);
    const Featureset dropped = level_xstate(res, g, ref);
    // CPUID faulting only if every host has it; PLATFORM_INFO's other bits describe
    // in[0] (ratios, not capabilities a guest relies on).
    res.platform_info = (ref.platform_info & ~PLATFORM_INFO_CPUID_FAULTING) | g.faulting;
    res.hv_limit = g.hv_limit;
    res.hv2_limit = g.hv2_limit;
    level_features(res, g, dropped);

    out = res;
    return 0;
}

} // namespace cpupolicy

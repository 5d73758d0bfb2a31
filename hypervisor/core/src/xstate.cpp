// SPDX-License-Identifier: MIT
#include "cpupolicy/xstate.hpp"

namespace cpupolicy::xstate {

namespace {

constexpr Feature F_XSAVE = feature_named("xsave");
constexpr Feature F_XSAVEC = feature_named("xsavec");
constexpr Feature F_XSAVES = feature_named("xsaves");
constexpr Feature F_XFD = feature_named("xfd");

// Components 2..62: the ones with a leaf 0xd subleaf of their own (x87 and SSE are in
// the legacy region; bit 63 is reserved).
constexpr uint64_t EXTENDED_COMPONENTS = ~FP_SSE & ~bit(63);

// What layout_of() gives a component p does not describe: the architectural values for
// the vendor, as a table indexed by component number (arch_component() is a search).
struct ComponentLayout {
    uint32_t size, offset;
    uint8_t ecx;
};
struct ArchLayouts {
    ComponentLayout c[2][NR_COMPONENTS];  // [AMD-like][component]
};
constexpr ArchLayouts make_arch_layouts()
{
    ArchLayouts t{};
    for ( unsigned amd = 0; amd < 2; ++amd )
        for ( const ArchComponent &a : arch_components )
        {
            uint32_t offset = amd ? a.amd_offset : a.intel_offset;
            if ( !a.supervisor && !offset )
                continue;  // not a component of this vendor
            t.c[amd][a.nr] = {a.size, a.supervisor ? 0 : offset,
                              static_cast<uint8_t>((a.supervisor ? ECX_SUPERVISOR : 0) |
                                                   (a.align64 ? ECX_ALIGN64 : 0))};
        }
    return t;
}
constexpr ArchLayouts arch_layouts = make_arch_layouts();

// Component c >= 2 of p's layout (layout_of).
inline ComponentLayout component_layout(const Policy &p, unsigned c, bool amd)
{
    const Regs &r = p.slot[XSTATE_SLOT + static_cast<int>(c)];
    if ( r.a )
        return {r.a, r.b, static_cast<uint8_t>(r.c & (ECX_SUPERVISOR | ECX_ALIGN64 | ECX_XFD))};
    return arch_layouts.c[amd][c];
}

void set_component(Layout &l, unsigned c, const ComponentLayout &x)
{
    l.size[c] = x.size;
    l.offset[c] = x.offset;
    l.ecx[c] = x.ecx;
}

} // namespace

void layout_of(Layout &l, const Policy &p)
{
    bool amd = vendor_is_amd_like(policy_vendor(p));
    for ( unsigned c = 0; c < NR_COMPONENTS; ++c )
        set_component(l, c, c >= 2 ? component_layout(p, c, amd) : ComponentLayout{});
}

// Both sizes visit the set bits only: a policy offers a handful of its 61 components.
uint32_t uncompressed_size(const Layout &l, uint64_t xcr0)
{
    // Sizes and offsets come from CPUID data (a dump, a toolstack): sum in 64 bits and
    // saturate, so a corrupt component cannot wrap the area size round to a small value.
    uint64_t r = AREA_MIN_SIZE;
    for ( uint64_t m = xcr0 & EXTENDED_COMPONENTS; m; m &= m - 1 )
    {
        unsigned c = static_cast<unsigned>(__builtin_ctzll(m));
        if ( !(l.ecx[c] & ECX_SUPERVISOR) )
        {
            uint64_t end = uint64_t{l.offset[c]} + l.size[c];
            r = end > r ? end : r;
        }
    }
    return r > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(r);
}

uint32_t compacted_size(const Layout &l, uint64_t xcr0_xss)
{
    uint64_t o = AREA_MIN_SIZE;  // 64-bit and saturating, as above
    for ( uint64_t m = xcr0_xss & EXTENDED_COMPONENTS; m; m &= m - 1 )
    {
        unsigned c = static_cast<unsigned>(__builtin_ctzll(m));
        if ( l.ecx[c] & ECX_ALIGN64 )
            o = (o + 63) & ~uint64_t{63};
        o += l.size[c];
    }
    return o > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(o);
}

void recalculate_xstate(Policy &p, const Policy &src)
{
    // Everything read from src before p is written: p and src may be one object.
    const Featureset fs = policy_to_featureset(p);
    const uint32_t da1 = p.slot[XSTATE_SLOT + 1].a;
    uint64_t xcr0 = FP_SSE, xss = 0;
    // Only the components the features enable are looked up in src's layout; the
    // others are never read (the sizes visit the set bits only).
    Layout l;
    if ( fs.test(F_XSAVE) )
    {
        for ( const auto &e : enablers )
            if ( fs.test(e.feature) )
                (e.supervisor ? xss : xcr0) |= e.components;

        // A policy that enumerates leaf 0xd at all limits the choice to what it
        // enumerates (a hand-made policy without leaf 0xd gets the architectural
        // components).
        const uint64_t src_xcr0 = policy_xcr0(src), src_xss = policy_xss(src);
        if ( src_xcr0 )
        {
            xcr0 &= src_xcr0 | FP_SSE;
            xss &= src_xss;
        }
        const bool amd = vendor_is_amd_like(policy_vendor(src));
        for ( uint64_t m = (xcr0 | xss) & EXTENDED_COMPONENTS; m; m &= m - 1 )
        {
            unsigned c = static_cast<unsigned>(__builtin_ctzll(m));
            set_component(l, c, component_layout(src, c, amd));
            if ( !l.size[c] )
            {
                xcr0 &= ~bit(c);
                xss &= ~bit(c);
            }
        }
    }

    // Unrolled into 16-byte stores: the memset this would otherwise become is `rep stos`,
    // a quarter of this function's time.
#pragma GCC unroll 64
    for ( unsigned s = 0; s < NR_COMPONENTS; ++s )
        p.slot[XSTATE_SLOT + static_cast<int>(s)] = Regs{};
    if ( !fs.test(F_XSAVE) )
        return;
    if ( !fs.test(F_XSAVES) )
        xss = 0;

    uint32_t ecx_mask = (fs.test(F_XSAVEC) ? ECX_ALIGN64 : 0) | (fs.test(F_XFD) ? ECX_XFD : 0);

    // EBX of subleaves 0 and 1 varies with the vCPU's XCR0 / XCR0|XSS (guest CPUID
    // computes it).  The policy holds the value with every offered component enabled:
    // the largest a vCPU can see, so "guest <= host" comparisons of it stay meaningful.
    // (Xen holds 0 here.)
    uint32_t all_std = uncompressed_size(l, xcr0);
    uint32_t all_cmp = fs.test(F_XSAVEC) || fs.test(F_XSAVES) ? compacted_size(l, xcr0 | xss) : 0;
    p.slot[XSTATE_SLOT] = Regs{static_cast<uint32_t>(xcr0), all_std, all_std,
                               static_cast<uint32_t>(xcr0 >> 32)};
    p.slot[XSTATE_SLOT + 1] = Regs{da1, all_cmp, static_cast<uint32_t>(xss),
                                   static_cast<uint32_t>(xss >> 32)};
    for ( uint64_t m = (xcr0 | xss) & EXTENDED_COMPONENTS; m; m &= m - 1 )
    {
        unsigned c = static_cast<unsigned>(__builtin_ctzll(m));
        bool sup = xss & bit(c);
        p.slot[XSTATE_SLOT + static_cast<int>(c)] =
            Regs{l.size[c], sup ? 0 : l.offset[c],
                 (sup ? ECX_SUPERVISOR : 0) | (l.ecx[c] & ecx_mask), 0};
    }
}

int size_tables_build(SizeTables &t, const Layout &l, uint64_t xcr0_mask, uint64_t xss_mask)
{
    SizeTables n{};
    uint64_t unit_mask[MAX_UNITS] = {};
    unsigned nr = 0;

    n.xcr0_mask = xcr0_mask & (bit(NR_COMPONENTS) - 1);
    n.xss_mask = xss_mask & (bit(NR_COMPONENTS) - 1) & ~n.xcr0_mask;
    for ( auto &ld : n.lead )
        ld = 63;  // bit 63 of XCR0/XSS is reserved: an unused unit never tests set

    uint64_t comps = (n.xcr0_mask | n.xss_mask) & ~FP_SSE;
    for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
    {
        if ( !(comps & bit(c)) )
            continue;
        if ( l.size[c] % 8 )
            return -err::einval;
        // Members of an all-or-nothing group join the unit of the group's first member.
        bool joins = nr && ((c == BNDCSR && (unit_mask[nr - 1] & bit(BNDREGS))) ||
                            ((c == ZMM_HI256 || c == HI16_ZMM) &&
                             (unit_mask[nr - 1] & bit(OPMASK))) ||
                            (c == TILEDATA && (unit_mask[nr - 1] & bit(TILECFG))));
        if ( joins )
        {
            unit_mask[nr - 1] |= bit(c);
            continue;
        }
        if ( nr == MAX_UNITS )
            return -err::e2big;
        unit_mask[nr] = bit(c);
        n.lead[nr] = static_cast<uint8_t>(c);
        ++nr;
    }
    n.nr_units = static_cast<uint8_t>(nr);
    n.nr_segments = static_cast<uint8_t>((nr + UNITS_PER_SEGMENT - 1) / UNITS_PER_SEGMENT);

    for ( unsigned s = 0; s < n.nr_segments; ++s )
        for ( unsigned m = 0; m < (1u << UNITS_PER_SEGMENT); ++m )
        {
            uint64_t sel = 0;
            for ( unsigned k = 0; k < UNITS_PER_SEGMENT; ++k )
                if ( (m & (1u << k)) && s * UNITS_PER_SEGMENT + k < nr )
                    sel |= unit_mask[s * UNITS_PER_SEGMENT + k];

            uint64_t umax = 0;  // 64-bit: corrupt sizes must not wrap under the check
            for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
                if ( (sel & n.xcr0_mask & bit(c)) && uint64_t{l.offset[c]} + l.size[c] > umax )
                    umax = uint64_t{l.offset[c]} + l.size[c];
            if ( umax > 0xffff )
                return -err::e2big;
            n.umax[s][m] = static_cast<uint16_t>(umax);

            for ( unsigned r = 0; r < 8; ++r )
            {
                uint64_t o = r * 8;
                for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
                    if ( sel & bit(c) )
                    {
                        if ( l.ecx[c] & ECX_ALIGN64 )
                            o = (o + 63) & ~uint64_t{63};
                        o += l.size[c];
                    }
                if ( o - r * 8 > 0xffff )
                    return -err::e2big;
                n.cdelta[s][m][r] = static_cast<uint16_t>(o - r * 8);
            }
        }

    t = n;
    return 0;
}

} // namespace cpupolicy::xstate

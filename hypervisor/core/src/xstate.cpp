// SPDX-License-Identifier: MIT
#include "cpupolicy/xstate.hpp"

namespace cpupolicy::xstate {

namespace {

constexpr Feature F_XSAVE = feature_named("xsave");
constexpr Feature F_XSAVEC = feature_named("xsavec");
constexpr Feature F_XSAVES = feature_named("xsaves");
constexpr Feature F_XFD = feature_named("xfd");

constexpr uint32_t LEAF = 0xd;

} // namespace

void layout_of(Layout &l, const Policy &p)
{
    bool amd = vendor_is_amd_like(policy_vendor(p));
    for ( unsigned c = 0; c < NR_COMPONENTS; ++c )
    {
        Regs r = c >= 2 ? get(p, Leaf{LEAF}, Subleaf{c}) : Regs{};
        const ArchComponent *a = arch_component(c);
        if ( r.a )
        {
            l.size[c] = r.a;
            l.offset[c] = r.b;
            l.ecx[c] = static_cast<uint8_t>(r.c & (ECX_SUPERVISOR | ECX_ALIGN64 | ECX_XFD));
        }
        else if ( a && (a->supervisor || (amd ? a->amd_offset : a->intel_offset)) )
        {
            l.size[c] = a->size;
            l.offset[c] = a->supervisor ? 0 : (amd ? a->amd_offset : a->intel_offset);
            l.ecx[c] = static_cast<uint8_t>((a->supervisor ? ECX_SUPERVISOR : 0) |
                                            (a->align64 ? ECX_ALIGN64 : 0));
        }
        else
        {
            l.size[c] = l.offset[c] = 0;
            l.ecx[c] = 0;
        }
    }
}

uint32_t uncompressed_size(const Layout &l, uint64_t xcr0)
{
    // Sizes and offsets come from CPUID data (a dump, a toolstack): sum in 64 bits and
    // saturate, so a corrupt component cannot wrap the area size round to a small value.
    uint64_t r = AREA_MIN_SIZE;
    for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
        if ( (xcr0 & bit(c)) && !(l.ecx[c] & ECX_SUPERVISOR) )
        {
            uint64_t end = uint64_t{l.offset[c]} + l.size[c];
            r = end > r ? end : r;
        }
    return r > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(r);
}

uint32_t compacted_size(const Layout &l, uint64_t xcr0_xss)
{
    uint64_t o = AREA_MIN_SIZE;  // 64-bit and saturating, as above
    for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
        if ( xcr0_xss & bit(c) )
        {
            if ( l.ecx[c] & ECX_ALIGN64 )
                o = (o + 63) & ~uint64_t{63};
            o += l.size[c];
        }
    return o > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(o);
}

void recalculate_xstate(Policy &p, const Policy &src)
{
    // Everything read from src before p is written: p and src may be one object.
    Layout l;
    layout_of(l, src);
    uint64_t src_xcr0 = policy_xcr0(src), src_xss = policy_xss(src);
    Featureset fs = policy_to_featureset(p);
    uint32_t da1 = get(p, Leaf{LEAF}, Subleaf{1}).a;

    uint32_t nr;
    leaf_kind(LEAF, &nr);
    for ( uint32_t s = 0; s < nr; ++s )
        *at(p, Leaf{LEAF}, Subleaf{s}) = Regs{};

    if ( !fs.test(F_XSAVE) )
        return;

    uint64_t xcr0 = FP_SSE, xss = 0;
    for ( const auto &e : enablers )
        if ( fs.test(e.feature) )
            (e.supervisor ? xss : xcr0) |= e.components;

    // A policy that enumerates leaf 0xd at all limits the choice to what it enumerates
    // (a hand-made policy without leaf 0xd gets the architectural components).
    if ( src_xcr0 )
    {
        xcr0 &= src_xcr0 | FP_SSE;
        xss &= src_xss;
    }
    for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
        if ( !l.size[c] )
        {
            xcr0 &= ~bit(c);
            xss &= ~bit(c);
        }
    if ( !fs.test(F_XSAVES) )
        xss = 0;

    uint32_t ecx_mask = (fs.test(F_XSAVEC) ? ECX_ALIGN64 : 0) | (fs.test(F_XFD) ? ECX_XFD : 0);

    // EBX of subleaves 0 and 1 varies with the vCPU's XCR0 / XCR0|XSS (guest CPUID
    // computes it).  The policy holds the value with every offered component enabled:
    // the largest a vCPU can see, so "guest <= host" comparisons of it stay meaningful.
    // (Xen holds 0 here.)
    uint32_t all_std = uncompressed_size(l, xcr0);
    uint32_t all_cmp = fs.test(F_XSAVEC) || fs.test(F_XSAVES) ? compacted_size(l, xcr0 | xss) : 0;
    *at(p, Leaf{LEAF}, Subleaf{0}) = Regs{static_cast<uint32_t>(xcr0), all_std, all_std,
                                          static_cast<uint32_t>(xcr0 >> 32)};
    *at(p, Leaf{LEAF}, Subleaf{1}) = Regs{da1, all_cmp, static_cast<uint32_t>(xss),
                                          static_cast<uint32_t>(xss >> 32)};
    for ( unsigned c = 2; c < NR_COMPONENTS; ++c )
    {
        bool user = xcr0 & bit(c), sup = xss & bit(c);
        if ( !user && !sup )
            continue;
        *at(p, Leaf{LEAF}, Subleaf{c}) =
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

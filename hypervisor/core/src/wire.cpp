// SPDX-License-Identifier: MIT
#include "cpupolicy/wire.hpp"

namespace cpupolicy {

namespace {

// A wire leaf's EAX..EDX are laid out as a Regs is, so registers move between the two
// as one 16-byte copy (the compiler otherwise assembles them a register at a time).
static_assert(sizeof(Regs) == 16 && offsetof(Regs, a) == 0 && offsetof(Regs, d) == 12);
static_assert(offsetof(WireLeaf, a) + sizeof(Regs) == sizeof(WireLeaf) &&
              offsetof(WireLeaf, d) - offsetof(WireLeaf, a) == 12);
inline WireLeaf wire_leaf(uint32_t leaf, uint32_t subleaf, const Regs &r)
{
    WireLeaf l{leaf, subleaf, 0, 0, 0, 0};
    unsigned char *regs = reinterpret_cast<unsigned char *>(&l) + offsetof(WireLeaf, a);
    __builtin_memcpy(regs, &r, sizeof r);
    return l;
}
inline Regs regs_of(const WireLeaf &l)
{
    Regs r;
    const unsigned char *regs = reinterpret_cast<const unsigned char *>(&l) + offsetof(WireLeaf, a);
    __builtin_memcpy(&r, regs, sizeof r);
    return r;
}

// One OR and one compare instead of four compare-and-branch pairs: asked of every
// subleaf of every indexed leaf, when writing and when counting.
constexpr bool all_zero(const Regs &r) { return (r.a | r.b | r.c | r.d) == 0; }

// Every leaf policy_serialise emits, in (leaf, subleaf) order: basic leaves
// 0..min(max leaf, BASIC_LAST); the hypervisor limits when set; 0x80000000 always and
// up to the valid extended limit (its EAX says whether there is an extended range at
// all, and its other registers - the vendor string on AMD - are kept even when there is
// not).  A plain leaf once; an indexed leaf as subleaves up to its last non-zero one: a
// trailing zero subleaf reads back as zeros from an object that never held it, so
// leaving it out loses nothing.
//
// Written in one pass: an indexed leaf is copied as it is read, a run of zero subleaves
// held back until a non-zero one follows it, so a trailing run is never written and
// nothing lands beyond the returned count.  `o` needs room for the count only.
WireLeaf *put_run(WireLeaf *o, const Policy &p, uint32_t first, uint32_t count,
                  const uint16_t *bases, const uint8_t *nrs)
{
    for ( uint32_t i = 0; i < count; ++i )
    {
        const Regs *r = &p.slot[bases[i]];
        const uint32_t leaf = first + i, nr = nrs[i];
        if ( nr == 0 )
        {
            *o++ = wire_leaf(leaf, NO_SUBLEAF, *r);
            continue;
        }
        *o++ = wire_leaf(leaf, 0, r[0]);
        uint32_t held = 1;   // first subleaf not yet written
        for ( uint32_t s = 1; s < nr; ++s )
        {
            if ( all_zero(r[s]) )
                continue;
            for ( ; held <= s; ++held )
                *o++ = wire_leaf(leaf, held, r[held]);
        }
    }
    return o;
}

uint32_t basic_last(const Policy &p)
{
    return basic_max_leaf(p) < BASIC_LAST ? basic_max_leaf(p) : BASIC_LAST;
}
uint32_t extd_last(const Policy &p)
{
    uint32_t limit = policy_extd_limit(p);
    return limit < EXTD_LAST ? limit : EXTD_LAST;
}

uint32_t write_leaves(const Policy &p, WireLeaf *leaves)
{
    WireLeaf *o = put_run(leaves, p, BASIC_FIRST, basic_last(p) - BASIC_FIRST + 1,
                          policy_layout.basic_base, policy_layout.basic_nr);
    if ( p.hv_limit )
        *o++ = WireLeaf{HV_LEAF, NO_SUBLEAF, p.hv_limit, 0, 0, 0};
    if ( p.hv2_limit )
        *o++ = WireLeaf{HV2_LEAF, NO_SUBLEAF, p.hv2_limit, 0, 0, 0};
    o = put_run(o, p, EXTD_FIRST, extd_last(p) - EXTD_FIRST + 1, policy_layout.extd_base,
                policy_layout.extd_nr);
    return static_cast<uint32_t>(o - leaves);
}

// The count write_leaves() returns, without writing: the leaves of the two ranges and
// the limits, plus each indexed leaf's subleaves past 0 - found by scanning back over
// its trailing zeros, which is most of the cost of a size query.
uint32_t count_leaves(const Policy &p)
{
    const uint32_t bl = basic_last(p), el = extd_last(p);
    uint32_t n = (bl - BASIC_FIRST + 1) + (el - EXTD_FIRST + 1) + (p.hv_limit != 0) +
                 (p.hv2_limit != 0);
    for ( const IndexedLeaf &x : indexed_leaves )
    {
        bool basic = x.leaf <= BASIC_LAST;
        if ( x.leaf > (basic ? bl : el) )
            continue;
        const Regs *r = &p.slot[basic ? policy_layout.basic_base[x.leaf]
                                      : policy_layout.extd_base[x.leaf - EXTD_FIRST]];
        uint32_t last = x.nr_held - 1u;
        while ( last > 0 && all_zero(r[last]) )
            --last;
        n += last;   // subleaf 0 is counted with its leaf
    }
    return n;
}

// Dense index of a wire (leaf, subleaf) for duplicate detection: a slot number, or
// NR_POLICY_SLOTS / +1 for the two hypervisor-limit leaves.  -1 = not in the object.
int wire_index(uint32_t leaf, uint32_t subleaf)
{
    int s = slot_exact(leaf, subleaf);
    if ( s >= 0 || subleaf != NO_SUBLEAF )
        return s;
    if ( leaf == HV_LEAF )
        return static_cast<int>(NR_POLICY_SLOTS);
    if ( leaf == HV2_LEAF )
        return static_cast<int>(NR_POLICY_SLOTS + 1);
    return -1;
}

struct Bitmap {
    uint64_t w[(MAX_SERIALISED_LEAVES + 63) / 64] = {};
    bool test_and_set(unsigned i)
    {
        uint64_t bit = uint64_t{1} << (i % 64), was = w[i / 64] & bit;
        w[i / 64] |= bit;
        return was != 0;
    }
};

} // namespace

int policy_serialise(const Policy &p, WireLeaf *leaves, uint32_t *nr_leaves, WireMsr *msrs,
                     uint32_t *nr_msrs)
{
    const uint32_t need_msrs = MAX_SERIALISED_MSRS;
    const bool msrs_short = nr_msrs && msrs && *nr_msrs < need_msrs;
    // A leaf buffer with room for any policy (how callers usually size it) is written
    // without counting first.
    const bool roomy = nr_leaves && leaves && *nr_leaves >= MAX_SERIALISED_LEAVES;

    // Capacity of both arrays is checked before either is written, so -ENOBUFS leaves
    // the caller's buffers untouched.
    if ( (nr_leaves && !roomy) || msrs_short )
    {
        const uint32_t need_leaves = nr_leaves ? count_leaves(p) : 0;
        if ( (nr_leaves && leaves && *nr_leaves < need_leaves) || msrs_short )
        {
            if ( nr_leaves )
                *nr_leaves = need_leaves;
            if ( nr_msrs )
                *nr_msrs = need_msrs;
            return -cpupolicy::err::enobufs;
        }
        if ( nr_leaves && !leaves )
            *nr_leaves = need_leaves;
    }

    if ( nr_leaves && leaves )
        *nr_leaves = write_leaves(p, leaves);

    if ( nr_msrs )
    {
        if ( msrs )
        {
            msrs[0] = WireMsr{MSR_PLATFORM_INFO, 0, p.platform_info};
            msrs[1] = WireMsr{MSR_ARCH_CAPABILITIES, 0, p.arch_caps};
        }
        *nr_msrs = need_msrs;
    }
    return 0;
}

int policy_deserialise(Policy &p, const WireLeaf *leaves, uint32_t nr_leaves, const WireMsr *msrs,
                       uint32_t nr_msrs, ErrRecord *err)
{
    ErrRecord e;
    int rc = 0;
    Bitmap seen;
    bool seen_msr[MAX_SERIALISED_MSRS] = {};
    // Where each leaf entry goes (wire_index), found while validating and used to apply.
    static_assert(MAX_SERIALISED_LEAVES <= 0x10000, "wire indices fit 16 bits");
    uint16_t idx[MAX_SERIALISED_LEAVES];

    // All-or-nothing without a scratch copy of the policy: whether an entry is valid
    // never depends on the policy's contents, so every entry is validated first and
    // `p` is written only after the last one passed.

    if ( nr_leaves > MAX_SERIALISED_LEAVES || nr_msrs > MAX_SERIALISED_MSRS )
    {
        rc = -cpupolicy::err::e2big;
        goto out;
    }
    if ( (nr_leaves && !leaves) || (nr_msrs && !msrs) )
    {
        rc = -cpupolicy::err::einval;
        goto out;
    }

    for ( uint32_t i = 0; i < nr_leaves; ++i )
    {
        const WireLeaf &l = leaves[i];
        int x = wire_index(l.leaf, l.subleaf);

        if ( x < 0 )
        {
            rc = -cpupolicy::err::erange;
        }
        else if ( seen.test_and_set(static_cast<unsigned>(x)) )
        {
            // Xen applies a repeated leaf twice and keeps the last; a repetition is
            // always a caller bug (a merge gone wrong), so it is refused here.
            rc = -cpupolicy::err::einval;
        }
        if ( rc )
        {
            e.leaf = l.leaf;
            e.subleaf = l.subleaf;
            goto out;
        }
        idx[i] = static_cast<uint16_t>(x);
    }

    for ( uint32_t i = 0; i < nr_msrs; ++i )
    {
        const WireMsr &m = msrs[i];
        unsigned which = 0;

        if ( m.flags )
            rc = -cpupolicy::err::einval;
        else if ( m.idx == MSR_PLATFORM_INFO )
        {
            which = 0;
            // Held in 32 bits, as Xen holds it (only bit 31, CPUID faulting, is
            // architectural for guests); a wider value cannot round-trip.
            if ( m.val >> 32 )
                rc = -cpupolicy::err::eoverflow;
        }
        else if ( m.idx == MSR_ARCH_CAPABILITIES )
            which = 1;
        else
            rc = -cpupolicy::err::erange;

        if ( !rc && seen_msr[which] )
            rc = -cpupolicy::err::einval;
        if ( rc )
        {
            e.msr = m.idx;
            goto out;
        }
        seen_msr[which] = true;
    }

    // Every entry is good: apply.  No entry repeats, so the order does not matter.
    for ( uint32_t i = 0; i < nr_leaves; ++i )
    {
        const WireLeaf &l = leaves[i];
        // The hypervisor-limit leaves carry only EAX; EBX..EDX (Xen's signature when
        // read inside a guest) are synthesised by the hypervisor and ignored, as Xen does.
        if ( idx[i] < NR_POLICY_SLOTS )
            p.slot[idx[i]] = regs_of(l);
        else if ( l.leaf == HV_LEAF )
            p.hv_limit = l.a;
        else
            p.hv2_limit = l.a;
    }
    for ( uint32_t i = 0; i < nr_msrs; ++i )
    {
        if ( msrs[i].idx == MSR_PLATFORM_INFO )
            p.platform_info = static_cast<uint32_t>(msrs[i].val);
        else
            p.arch_caps = msrs[i].val;
    }

 out:
    if ( err )
        *err = e;
    return rc;
}

} // namespace cpupolicy

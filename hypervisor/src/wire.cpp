// SPDX-License-Identifier: MIT
#include "cpupolicy/wire.hpp"

namespace cpupolicy {

namespace {

constexpr unsigned NR_INDEXED = sizeof(indexed_leaves) / sizeof(indexed_leaves[0]);
constexpr uint8_t PLAIN = 0xff;

// Position in indexed_leaves of every basic / extended leaf, PLAIN for a plain leaf.
struct IndexedPos {
    uint8_t basic[NR_BASIC];
    uint8_t extd[NR_EXTD];
};
constexpr IndexedPos make_indexed_pos()
{
    IndexedPos t{};
    for ( uint8_t &x : t.basic )
        x = PLAIN;
    for ( uint8_t &x : t.extd )
        x = PLAIN;
    for ( unsigned k = 0; k < NR_INDEXED; ++k )
    {
        uint32_t leaf = indexed_leaves[k].leaf;
        uint8_t &x = leaf <= BASIC_LAST ? t.basic[leaf] : t.extd[leaf - EXTD_FIRST];
        x = static_cast<uint8_t>(k);
    }
    return t;
}
constexpr IndexedPos indexed_pos = make_indexed_pos();
static_assert(NR_INDEXED < PLAIN);

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

// One OR and one compare instead of four compare-and-branch pairs: the trailing-zero
// scan below is most of the cost of a size query.
constexpr bool all_zero(const Regs &r) { return (r.a | r.b | r.c | r.d) == 0; }

// What policy_serialise emits, worked out from the policy's limits and the trailing
// subleaves of its indexed leaves - not by walking the output.  The NULL-buffer size
// query stops here; the copy follows the plan without counting again.
struct WirePlan {
    uint32_t basic_last, extd_last;   // last basic / extended leaf emitted
    uint8_t nr_sub[NR_INDEXED];       // per indexed_leaves[k]: subleaves emitted, 0 if none
    uint32_t nr_leaves;
};

WirePlan wire_plan(const Policy &p)
{
    WirePlan w;
    // Basic leaves 0..min(max leaf, BASIC_LAST); 0x80000000 always, up to the valid
    // extended limit (its EAX says whether there is an extended range at all, and its
    // other registers - the vendor string on AMD - are kept even when there is not).
    w.basic_last = basic_max_leaf(p) < BASIC_LAST ? basic_max_leaf(p) : BASIC_LAST;
    uint32_t extd_limit = policy_extd_limit(p);
    w.extd_last = extd_limit < EXTD_LAST ? extd_limit : EXTD_LAST;

    uint32_t n = (w.basic_last - BASIC_FIRST + 1) + (w.extd_last - EXTD_FIRST + 1) +
                 (p.hv_limit != 0) + (p.hv2_limit != 0);
    for ( unsigned k = 0; k < NR_INDEXED; ++k )
    {
        const IndexedLeaf &x = indexed_leaves[k];
        bool basic = x.leaf <= BASIC_LAST;
        w.nr_sub[k] = 0;
        if ( x.leaf > (basic ? w.basic_last : w.extd_last) )
            continue;
        // Subleaves up to the last non-zero one: a trailing zero subleaf reads back as
        // zeros from an object that never held it, so leaving it out loses nothing.
        // Found from the end: the trailing zeros are read, not the whole run.
        const Regs *r = &p.slot[basic ? policy_layout.basic_base[x.leaf]
                                      : policy_layout.extd_base[x.leaf - EXTD_FIRST]];
        uint32_t last = x.nr_subleaves - 1u;
        while ( last > 0 && all_zero(r[last]) )
            --last;
        w.nr_sub[k] = static_cast<uint8_t>(last + 1);
        n += last;   // the leaf itself is already counted once
    }
    w.nr_leaves = n;
    return w;
}

// Leaves first..first+count-1 of one range (bases/pos: that range's rows of
// policy_layout and indexed_pos), in (leaf, subleaf) order.
WireLeaf *put_run(WireLeaf *o, const Policy &p, const WirePlan &w, uint32_t first,
                  uint32_t count, const uint16_t *bases, const uint8_t *pos)
{
    for ( uint32_t i = 0; i < count; ++i )
    {
        const Regs *r = &p.slot[bases[i]];
        if ( pos[i] == PLAIN )
        {
            *o++ = wire_leaf(first + i, NO_SUBLEAF, *r);
            continue;
        }
        for ( uint32_t s = 0; s < w.nr_sub[pos[i]]; ++s )
            *o++ = wire_leaf(first + i, s, r[s]);
    }
    return o;
}

void write_leaves(const Policy &p, const WirePlan &w, WireLeaf *o)
{
    o = put_run(o, p, w, BASIC_FIRST, w.basic_last - BASIC_FIRST + 1, policy_layout.basic_base,
                indexed_pos.basic);
    if ( p.hv_limit )
        *o++ = WireLeaf{HV_LEAF, NO_SUBLEAF, p.hv_limit, 0, 0, 0};
    if ( p.hv2_limit )
        *o++ = WireLeaf{HV2_LEAF, NO_SUBLEAF, p.hv2_limit, 0, 0, 0};
    put_run(o, p, w, EXTD_FIRST, w.extd_last - EXTD_FIRST + 1, policy_layout.extd_base,
            indexed_pos.extd);
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
    // The plan only when the leaf array is asked about (an MSR-only call skips it).
    const WirePlan plan = nr_leaves ? wire_plan(p) : WirePlan{};
    const uint32_t need_leaves = plan.nr_leaves;
    const uint32_t need_msrs = MAX_SERIALISED_MSRS;

    // Capacity of both arrays is checked before either is written, so -ENOBUFS
    // leaves the caller's buffers untouched.
    bool short_buf = (nr_leaves && leaves && *nr_leaves < need_leaves) ||
                     (nr_msrs && msrs && *nr_msrs < need_msrs);
    if ( short_buf )
    {
        if ( nr_leaves )
            *nr_leaves = need_leaves;
        if ( nr_msrs )
            *nr_msrs = need_msrs;
        return -cpupolicy::err::enobufs;
    }

    if ( nr_leaves )
    {
        if ( leaves )
            write_leaves(p, plan, leaves);
        *nr_leaves = need_leaves;
    }

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

// SPDX-License-Identifier: MIT
#include "cpupolicy/wire.hpp"

namespace cpupolicy {

namespace {

// Visit every leaf policy_serialise emits, in (leaf, subleaf) order.  One routine for
// counting and for writing, so the NULL-buffer size and the real output cannot drift.
template <typename Emit>
void for_each_wire_leaf(const Policy &p, Emit &&emit)
{
    auto emit_leaf = [&](uint32_t leaf) {
        uint32_t nr;
        if ( leaf_kind(leaf, &nr) == LeafKind::plain )
        {
            emit(leaf, NO_SUBLEAF, p.slot[slot_exact(leaf, NO_SUBLEAF)]);
            return;
        }
        // Subleaves up to the last non-zero one: a trailing zero subleaf reads back as
        // zeros from an object that never held it, so leaving it out loses nothing.
        int base = slot_exact(leaf, 0);
        uint32_t last = 0;
        for ( uint32_t s = 1; s < nr; ++s )
            if ( !(p.slot[base + s] == Regs{}) )
                last = s;
        for ( uint32_t s = 0; s <= last; ++s )
            emit(leaf, s, p.slot[base + s]);
    };

    uint32_t basic_last = basic_max_leaf(p) < BASIC_LAST ? basic_max_leaf(p) : BASIC_LAST;
    for ( uint32_t leaf = BASIC_FIRST; leaf <= basic_last; ++leaf )
        emit_leaf(leaf);

    if ( p.hv_limit )
        emit(HV_LEAF, NO_SUBLEAF, Regs{p.hv_limit, 0, 0, 0});
    if ( p.hv2_limit )
        emit(HV2_LEAF, NO_SUBLEAF, Regs{p.hv2_limit, 0, 0, 0});

    // 0x80000000 always: its EAX says whether there is an extended range at all, and
    // its other registers (the vendor string on AMD) are kept even when there is not.
    uint32_t extd_limit = policy_extd_limit(p);
    uint32_t extd_last = extd_limit < EXTD_LAST ? extd_limit : EXTD_LAST;
    for ( uint32_t leaf = EXTD_FIRST; leaf <= extd_last; ++leaf )
        emit_leaf(leaf);
}

uint32_t count_wire_leaves(const Policy &p)
{
    uint32_t n = 0;
    for_each_wire_leaf(p, [&](uint32_t, uint32_t, const Regs &) { ++n; });
    return n;
}

// Dense index of a wire (leaf, subleaf) for duplicate detection: a slot number, or
// NR_POLICY_SLOTS / +1 for the two hypervisor-limit leaves.  -1 = not in the object.
int wire_index(uint32_t leaf, uint32_t subleaf)
{
    if ( leaf == HV_LEAF || leaf == HV2_LEAF )
        return subleaf == NO_SUBLEAF
            ? static_cast<int>(NR_POLICY_SLOTS + (leaf == HV2_LEAF ? 1 : 0)) : -1;
    return slot_exact(leaf, subleaf);
}

struct Bitmap {
    uint32_t w[(MAX_SERIALISED_LEAVES + 31) / 32] = {};
    bool test_and_set(unsigned i)
    {
        bool was = (w[i / 32] >> (i % 32)) & 1;
        w[i / 32] |= 1u << (i % 32);
        return was;
    }
};

} // namespace

int policy_serialise(const Policy &p, WireLeaf *leaves, uint32_t *nr_leaves, WireMsr *msrs,
                     uint32_t *nr_msrs)
{
    const uint32_t need_leaves = count_wire_leaves(p);
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
        {
            uint32_t i = 0;
            for_each_wire_leaf(p, [&](uint32_t leaf, uint32_t subleaf, const Regs &r) {
                leaves[i++] = WireLeaf{leaf, subleaf, r.a, r.b, r.c, r.d};
            });
        }
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

    // Validate into a scratch copy, commit only when every entry was good: a policy
    // is < 4 KiB (static_assert'ed in policy.hpp), so this fits any hypervisor stack.
    Policy scratch = p;

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
        int idx = wire_index(l.leaf, l.subleaf);

        if ( idx < 0 )
        {
            rc = -cpupolicy::err::erange;
        }
        else if ( seen.test_and_set(static_cast<unsigned>(idx)) )
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

        // The hypervisor-limit leaves carry only EAX; EBX..EDX (Xen's signature when
        // read inside a guest) are synthesised by the hypervisor and ignored, as Xen does.
        if ( l.leaf == HV_LEAF )
            scratch.hv_limit = l.a;
        else if ( l.leaf == HV2_LEAF )
            scratch.hv2_limit = l.a;
        else
            scratch.slot[idx] = Regs{l.a, l.b, l.c, l.d};
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
        if ( which == 0 )
            scratch.platform_info = static_cast<uint32_t>(m.val);
        else
            scratch.arch_caps = m.val;
    }

    p = scratch;

 out:
    if ( err )
        *err = e;
    return rc;
}

} // namespace cpupolicy

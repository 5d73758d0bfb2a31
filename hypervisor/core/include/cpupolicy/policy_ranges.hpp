// SPDX-License-Identifier: MIT
// The in-range slots of a policy, worked out once and then tested per slot.
//
// policy_in_range() (policy.hpp) decides one (leaf, subleaf) from limits the policy
// itself advertises: max basic / extended leaf, 7:0.eax and the other max-subleaf
// fields, the cache and topology terminators, the xstate component bitmap.  A caller
// that asks about many slots of one policy - compatibility, levelling, clearing - would
// re-derive those limits for every question (a terminator rule walks the subleaves
// before the one asked about).  PolicyRanges holds the answer for every slot of
// policy_layout, one bit each, computed by one walk over the policy; policy_in_range()
// is the same rules for a single slot, so the two cannot disagree
// (hypervisor/core/src/policy_ops.cpp has both).
#pragma once

#include "cpupolicy/policy.hpp"

namespace cpupolicy {

struct PolicyRanges {
    static constexpr unsigned NR_WORDS = (NR_POLICY_SLOTS + 63) / 64;
    uint64_t w[NR_WORDS];

    // Slot index as slot_exact() returns it; -1 (no such slot) is never in range.
    constexpr bool slot(int s) const
    {
        unsigned u = static_cast<unsigned>(s);
        return s >= 0 && ((w[u / 64] >> (u % 64)) & 1);
    }
    // Wire-format addressing, as policy_in_range().
    constexpr bool has(Leaf leaf, Subleaf subleaf) const
    {
        return slot(slot_exact(leaf, subleaf));
    }
};

// Bit s set <=> policy_in_range() holds for slot s.
PolicyRanges policy_ranges(const Policy &p);

// The same for the plain leaves and the indexed leaves in `leaves` (bit n stands for
// indexed_leaves[n]); the subleaves of every other indexed leaf read as out of range.
// For a caller that reads a known few leaves of very many policies (levelling): the
// rules of the others walk subleaves it never reads.
PolicyRanges policy_ranges_of(const Policy &p, uint64_t leaves);

// The bit of indexed_leaves that stands for `leaf`; 0 when it is not indexed.
constexpr uint64_t indexed_leaf_bit(Leaf leaf)
{
    for ( unsigned n = 0; n < NR_INDEXED_LEAVES; ++n )
        if ( indexed_leaves[n].leaf == leaf )
            return 1ull << n;
    return 0;
}
static_assert(NR_INDEXED_LEAVES <= 64, "one bit per indexed leaf");

// A slot's registers as the policy answers them: zeros when out of range.
constexpr Regs effective_slot(const Policy &p, const PolicyRanges &r, int s)
{
    return r.slot(s) ? p.slot[s] : Regs{};
}

} // namespace cpupolicy

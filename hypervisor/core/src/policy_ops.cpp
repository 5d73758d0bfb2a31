// SPDX-License-Identifier: MIT
// Out-of-range leaves: which slots of a policy lie inside the ranges the policy itself
// advertises, and zeroing the rest.  The rules are per leaf and cite the manual that
// defines how the leaf enumerates its own subleaves; docs/wire-format.md has the table.
//
// Each rule is written once, as the set of in-range subleaves of one indexed leaf
// (subleaf_mask).  policy_in_range() evaluates it for the one leaf asked about,
// policy_ranges() for every leaf at once (policy_ranges.hpp).
#include "cpupolicy/policy_ranges.hpp"
#include "cpupolicy/check.hpp"

namespace cpupolicy {

namespace {

constexpr uint32_t EXTD_RANGE_LAST = 0x8000ffffu;

constexpr uint64_t low_bits(uint32_t n) { return n >= 64 ? ~0ull : (1ull << n) - 1; }

constexpr bool indexed_leaves_fit_a_mask()
{
    for ( const auto &x : indexed_leaves )
        if ( x.nr_held == 0 || x.nr_held > 64 )
            return false;
    return true;
}
static_assert(indexed_leaves_fit_a_mask(), "subleaf_mask() keeps one bit per subleaf in 64 bits");

// How many of subleaves first..nr-1 (slots base+first...) describe something, counted
// up to the first that does not (subleaf_describes): that terminator and everything
// after it are "nothing" (Xen zeroes the terminator too,
// x86_cpu_policy_clear_out_of_range_leaves).
uint32_t described_run(const Policy &p, SubleafEnum walk, unsigned base, uint32_t first,
                       uint32_t nr)
{
    uint32_t j = first;
    while ( j < nr && subleaf_describes(walk, p.slot[base + j]) )
        ++j;
    return j;
}

// The in-range subleaves of an indexed leaf that is itself in range: bit n = subleaf n,
// only bits below x.nr_held (the subleaves the object holds).  `base` is its subleaf 0
// slot.  One case per way of enumerating (subleaves.hpp has the rule of each leaf).
inline __attribute__((always_inline))
uint64_t subleaf_mask(const Policy &p, const IndexedLeaf &x, unsigned base)
{
    const Regs &s0 = p.slot[base];
    const uint32_t nr = x.nr_held;
    const uint64_t all = low_bits(nr);

    switch ( x.walk ) {
    case SubleafEnum::until_cache_null:
    case SubleafEnum::until_level_null:
    case SubleafEnum::pconfig:
        return low_bits(described_run(p, x.walk, base, 0, nr));

    case SubleafEnum::max_in_eax:
        return s0.a >= nr ? all : low_bits(s0.a + 1);

    // Subleaves 0 and 1 always; subleaf n >= 2 is invalid unless bit n is set in
    // XCR0-supported or XSS-supported.  Xen clears everything above the highest set bit;
    // this clears per bit, which is what the SDM says the CPU returns for a component
    // it does not support.
    case SubleafEnum::xsave:
        return (xsave_components(s0, p.slot[base + 1]) | 3) & all;

    case SubleafEnum::resid_bitmap:
        return (subleaf_bitmap(x, s0) | 1) & all;

    // Subleaves 0 and 1 are the capability leaves; from 2 on, EPC sections until the
    // first whose type is 0.
    case SubleafEnum::sgx:
        return low_bits(described_run(p, x.walk, base, 2 < nr ? 2 : nr, nr)) | (3 & all);
    }
    return all;
}

// Number of basic / extended leaves in range, counted from the first of each range.
uint32_t nr_basic_in_range(const Policy &p)
{
    uint32_t m = basic_max_leaf(p);
    return m >= BASIC_LAST ? NR_BASIC : m + 1;
}
uint32_t nr_extd_in_range(const Policy &p)
{
    uint32_t m = policy_extd_limit(p);
    return m >= EXTD_LAST ? NR_EXTD : m - EXTD_FIRST + 1;
}

// Bits [from, to) of word i of the bitmap.
inline __attribute__((always_inline))
uint64_t run_word(unsigned i, unsigned from, unsigned to)
{
    unsigned lo = 64 * i;
    uint64_t below_from = from <= lo ? 0 : from >= lo + 64 ? ~0ull : low_bits(from - lo);
    uint64_t below_to = to <= lo ? 0 : to >= lo + 64 ? ~0ull : low_bits(to - lo);
    return below_to & ~below_from;
}

// The slots of the plain leaves: in range exactly when their leaf is.
constexpr PolicyRanges make_plain_slots()
{
    PolicyRanges r{};
    const auto &l = policy_layout;
    for ( uint32_t i = 0; i < NR_BASIC; ++i )
        if ( !l.basic_nr[i] )
            r.w[l.basic_base[i] / 64] |= 1ull << (l.basic_base[i] % 64);
    for ( uint32_t i = 0; i < NR_EXTD; ++i )
        if ( !l.extd_nr[i] )
            r.w[l.extd_base[i] / 64] |= 1ull << (l.extd_base[i] % 64);
    return r;
}
constexpr PolicyRanges plain_slots = make_plain_slots();

// Bits base..base+nr-1 of the bitmap: `mask` added (nr <= 64, mask below bit nr).
inline __attribute__((always_inline))
void add_run(PolicyRanges &r, unsigned base, uint32_t nr, uint64_t mask)
{
    unsigned i = base / 64, sh = base % 64;
    r.w[i] |= mask << sh;
    if ( sh && sh + nr > 64 )
        r.w[i + 1] |= mask >> (64 - sh);
}

} // namespace

uint32_t policy_extd_limit(const Policy &p)
{
    uint32_t m = extd_max_leaf(p);
    return m >= EXTD_FIRST && m <= EXTD_RANGE_LAST ? m : EXTD_FIRST;
}

bool policy_in_range(const Policy &p, Leaf l, Subleaf sl)
{
    int s = slot_exact(l, sl);
    if ( s < 0 )
        return false;
    const uint32_t leaf = raw(l), subleaf = raw(sl);
    if ( leaf <= BASIC_LAST ? leaf > basic_max_leaf(p) : leaf > policy_extd_limit(p) )
        return false;
    if ( leaf_kind(l) == LeafKind::plain )
        return true;
    unsigned base = static_cast<unsigned>(s) - subleaf;
    const SubleafRule *rule = subleaf_rule(l);
    CHECK(rule);  // the policy layout holds subleaves only for leaves with a rule
    return (subleaf_mask(p, *rule, base) >> subleaf) & 1;
}

namespace {

inline __attribute__((always_inline))
PolicyRanges ranges(const Policy &p, uint64_t leaves)
{
    PolicyRanges r;

    // Every plain leaf of the basic range up to the max leaf, and of the extended range
    // up to its limit, is in range: the slots of each range form one run (policy_layout
    // assigns slots in leaf order), of which the plain leaves' are taken.  Of an indexed
    // leaf in range, the subleaves its rule admits.
    const uint32_t nb = nr_basic_in_range(p), ne = nr_extd_in_range(p);
    const auto &l = policy_layout;
    const unsigned basic_end = nb == NR_BASIC ? l.extd_base[0] : l.basic_base[nb];
    const unsigned extd_end = ne == NR_EXTD ? l.nr_slots : l.extd_base[ne];
#pragma GCC unroll 8
    for ( unsigned i = 0; i < PolicyRanges::NR_WORDS; ++i )
        r.w[i] = (run_word(i, 0, basic_end) | run_word(i, l.extd_base[0], extd_end)) &
                 plain_slots.w[i];

    // Unrolled, so that each leaf's rule, slot base and bit positions are constants.
#pragma GCC unroll 32
    for ( unsigned n = 0; n < NR_INDEXED_LEAVES; ++n )
    {
        const IndexedLeaf &x = indexed_leaves[n];
        const uint32_t leaf = raw(x.leaf);
        bool basic = leaf <= BASIC_LAST;
        if ( !((leaves >> n) & 1) || (basic ? leaf >= nb : leaf - EXTD_FIRST >= ne) )
            continue;
        unsigned base = basic ? l.basic_base[leaf] : l.extd_base[leaf - EXTD_FIRST];
        add_run(r, base, x.nr_held, subleaf_mask(p, x, base));
    }
    return r;
}

} // namespace

PolicyRanges policy_ranges(const Policy &p)
{
    return ranges(p, ~0ull);
}

PolicyRanges policy_ranges_of(const Policy &p, uint64_t leaves)
{
    return ranges(p, leaves);
}

void policy_clear_out_of_range(Policy &p)
{
    // The ranges are taken before any slot is zeroed.  Zeroing them one by one in leaf
    // order would give the same result: zeroing a subleaf that is already out of range
    // cannot bring a later one back in, and subleaf 0 of every leaf whose other
    // subleaves depend on it (and leaves 0x0, 0x80000000 holding the limits) is in
    // range whenever the leaf is, so it is never zeroed before use.
    const PolicyRanges r = policy_ranges(p);
    for ( unsigned i = 0; i < PolicyRanges::NR_WORDS; ++i )
    {
        uint64_t out = ~r.w[i];
        if ( 64 * i + 64 > NR_POLICY_SLOTS )
            out &= low_bits(NR_POLICY_SLOTS - 64 * i);
        // Run by run: out-of-range slots come in runs (the leaves past a limit, the
        // subleaves of leaf 0xd past the components).  Adding the lowest set bit
        // carries through the lowest run and stops at the first clear bit above it.
        // Each run is zeroed by 16-byte stores: a memset call per run costs more than
        // the stores of a typical run (derive clears ~16 runs, three times).
        while ( out )
        {
            uint64_t after = out + (out & -out);
            unsigned lo = static_cast<unsigned>(__builtin_ctzll(out));
            unsigned hi = after ? static_cast<unsigned>(__builtin_ctzll(after)) : 64;
            for ( unsigned s = 64 * i + lo; s < 64 * i + hi; ++s )
                p.slot[s] = Regs{};
            out &= after;
        }
    }
}

} // namespace cpupolicy

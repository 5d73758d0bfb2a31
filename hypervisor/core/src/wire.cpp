// SPDX-License-Identifier: MIT
#include "cpupolicy/wire.hpp"

namespace cpupolicy {

namespace {

// A wire leaf's EAX..EDX are laid out as a Regs is, so registers move between the two
// as one 16-byte copy (the compiler otherwise assembles them a register at a time), and
// its (leaf, subleaf) is one 8-byte key: leaf in the low half, as x86 stores it.
static_assert(sizeof(Regs) == 16 && offsetof(Regs, a) == 0 && offsetof(Regs, d) == 12);
static_assert(offsetof(WireLeaf, a) + sizeof(Regs) == sizeof(WireLeaf) &&
              offsetof(WireLeaf, d) - offsetof(WireLeaf, a) == 12);
static_assert(offsetof(WireLeaf, leaf) == 0 && offsetof(WireLeaf, subleaf) == 4);
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire keys are read as one little-endian u64");

constexpr uint64_t wire_key(uint32_t leaf, uint32_t subleaf) { return uint64_t{subleaf} << 32 | leaf; }
inline uint64_t key_of(const WireLeaf &l)
{
    uint64_t k;
    __builtin_memcpy(&k, &l, sizeof k);
    return k;
}
inline void put(WireLeaf *o, uint64_t key, const Regs &r)
{
    unsigned char *b = reinterpret_cast<unsigned char *>(o);
    __builtin_memcpy(b, &key, sizeof key);
    __builtin_memcpy(b + offsetof(WireLeaf, a), &r, sizeof r);
}
inline Regs regs_of(const WireLeaf &l)
{
    Regs r;
    const unsigned char *regs = reinterpret_cast<const unsigned char *>(&l) + offsetof(WireLeaf, a);
    __builtin_memcpy(&r, regs, sizeof r);
    return r;
}

// --- Compile-time tables over policy_layout ------------------------------------------------
// Leaves are numbered densely: basic 0..NR_BASIC-1, then extended.
constexpr uint32_t dense_leaf(unsigned i) { return i < NR_BASIC ? BASIC_FIRST + i : EXTD_FIRST + (i - NR_BASIC); }
constexpr unsigned leaf_base(unsigned i)
{
    return i < NR_BASIC ? policy_layout.basic_base[i] : policy_layout.extd_base[i - NR_BASIC];
}
constexpr unsigned leaf_nr(unsigned i)
{
    return i < NR_BASIC ? policy_layout.basic_nr[i] : policy_layout.extd_nr[i - NR_BASIC];
}

// Deserialise numbers the entries an object can hold in wire order, (leaf, subleaf)
// order: the basic slots, the two hypervisor-limit leaves, the extended slots.  This
// "wire index" is a slot number below ORD_HV and two more than one above ORD_HV2, so
// that serialise's output - the limits between the basic and extended leaves - is one
// run of consecutive wire indices across them.
constexpr unsigned ORD_HV = policy_layout.extd_base[0], ORD_HV2 = ORD_HV + 1;
constexpr unsigned NR_ORD = NR_POLICY_SLOTS + 2;
constexpr unsigned ord_of_slot(unsigned slot) { return slot < ORD_HV ? slot : slot + 2; }
static_assert(NR_ORD == MAX_SERIALISED_LEAVES, "a wire index per entry a call can pass");

// (leaf 0xffffffff, subleaf 0xffffffff): a key no object holds.
constexpr uint64_t PAST_LAST_WIRE_INDEX = ~uint64_t{0};
// Dense numbers past the leaves: the two hypervisor limits and "no such leaf".
constexpr unsigned DENSE_HV = NR_BASIC + NR_EXTD, DENSE_HV2 = DENSE_HV + 1, DENSE_NONE = DENSE_HV + 2;

struct Tables {
    // wire index -> the key of its entry, in increasing (leaf, subleaf) order (slot s
    // has wire index ord_of_slot(s); serialise writes in this order).  Past
    // the last one, as many copies of PAST_LAST_WIRE_INDEX as a call can pass entries:
    // deserialise compares the entries after a run's first with the keys after its
    // wire index bounded by the input alone (no per-run count of what is left), and
    // backs off from what matched past the end (1.6 KiB of table for ~8 instructions
    // and a dependent compare per run).
    uint64_t ord_key[NR_ORD + MAX_SERIALISED_LEAVES];
    // dense leaf -> its wire indices: subleaf s is valid when s - first_subleaf < nr
    // (NO_SUBLEAF and one entry for a plain leaf), and has wire index base + s -
    // first_subleaf.  After the leaves, the two hypervisor limits and "no such leaf".
    struct LeafSlots {
        uint32_t first_subleaf;
        uint16_t base, nr;
    } leaf[NR_BASIC + NR_EXTD + 3];
    // dense leaf -> the slot after its last one: a range of leaves ends there.
    uint16_t end[NR_BASIC + NR_EXTD];
    // The indexed leaves in slot order: where their subleaves start and how many.
    struct Indexed {
        uint32_t leaf;
        uint16_t base, nr;
    } indexed[NR_INDEXED_LEAVES + 1];  // + a sentinel above every leaf
    unsigned first_extd_indexed;
};
constexpr Tables make_tables()
{
    Tables t{};
    unsigned nx = 0;
    t.first_extd_indexed = NR_INDEXED_LEAVES;
    for ( unsigned i = 0; i < NR_BASIC + NR_EXTD; ++i )
    {
        const uint32_t leaf = dense_leaf(i);
        const unsigned base = leaf_base(i), nr = leaf_nr(i);
        const unsigned ord = ord_of_slot(base);
        t.leaf[i] = {nr ? 0u : NO_SUBLEAF, static_cast<uint16_t>(ord), static_cast<uint16_t>(nr ? nr : 1)};
        t.end[i] = static_cast<uint16_t>(base + (nr ? nr : 1));
        if ( nr == 0 )
            t.ord_key[ord] = wire_key(leaf, NO_SUBLEAF);
        for ( unsigned s = 0; s < nr; ++s )
            t.ord_key[ord + s] = wire_key(leaf, s);
        if ( nr )
        {
            if ( i >= NR_BASIC && t.first_extd_indexed == NR_INDEXED_LEAVES )
                t.first_extd_indexed = nx;
            t.indexed[nx++] = {leaf, static_cast<uint16_t>(base), static_cast<uint16_t>(nr)};
        }
    }
    t.indexed[nx] = {0xffffffffu, 0, 0};
    t.ord_key[ORD_HV] = wire_key(HV_LEAF, NO_SUBLEAF);
    t.ord_key[ORD_HV2] = wire_key(HV2_LEAF, NO_SUBLEAF);
    for ( unsigned k = NR_ORD; k < NR_ORD + MAX_SERIALISED_LEAVES; ++k )
        t.ord_key[k] = PAST_LAST_WIRE_INDEX;
    t.leaf[DENSE_HV] = {NO_SUBLEAF, static_cast<uint16_t>(ORD_HV), 1};
    t.leaf[DENSE_HV2] = {NO_SUBLEAF, static_cast<uint16_t>(ORD_HV2), 1};
    t.leaf[DENSE_NONE] = {0, 0, 0};
    return t;
}
inline constexpr Tables tables = make_tables();
static_assert(tables.end[NR_BASIC + NR_EXTD - 1] == NR_POLICY_SLOTS);
static_assert(tables.end[NR_BASIC - 1] == policy_layout.extd_base[0], "extended slots follow basic ones");

// The key of slot s (what serialise writes for it).
constexpr uint64_t slot_key(unsigned s) { return tables.ord_key[ord_of_slot(s)]; }

constexpr bool tables_agree_with_slot_exact()
{
    for ( unsigned s = 0; s < NR_POLICY_SLOTS; ++s )
        if ( slot_exact(Leaf{static_cast<uint32_t>(slot_key(s))}, Subleaf{static_cast<uint32_t>(slot_key(s) >> 32)}) !=
             static_cast<int>(s) )
            return false;
    for ( unsigned i = 1; i < NR_ORD; ++i )
    {
        const uint32_t l0 = static_cast<uint32_t>(tables.ord_key[i - 1]), l1 = static_cast<uint32_t>(tables.ord_key[i]);
        const uint32_t s0 = static_cast<uint32_t>(tables.ord_key[i - 1] >> 32), s1 = static_cast<uint32_t>(tables.ord_key[i] >> 32);
        if ( !(l0 < l1 || (l0 == l1 && s0 < s1)) )
            return false;
    }
    return true;
}
static_assert(tables_agree_with_slot_exact(),
              "slot keys are slot_exact's inverse, and wire indices number them in (leaf, subleaf) order");

// --- Serialise ---------------------------------------------------------------------------
// Whether N consecutive slots are all zero: for one slot, its two 8-byte halves ORed; for
// more, their 16-byte register sets ORed (one SSE2 load and OR each, a GNU vector type so
// that the freestanding core needs no header), then one test.
typedef uint64_t U64x2 __attribute__((vector_size(16)));
template <unsigned N>
[[gnu::always_inline]] inline bool all_zero(const Regs *r)
{
    if constexpr ( N == 1 )
    {
        uint64_t q[2];
        __builtin_memcpy(q, r, sizeof q);
        return (q[0] | q[1]) == 0;
    }
    else
    {
        U64x2 acc, v;
        __builtin_memcpy(&acc, &r[0], sizeof acc);
#pragma GCC unroll 16
        for ( unsigned k = 1; k < N; ++k )
        {
            __builtin_memcpy(&v, &r[k], sizeof v);
            acc |= v;
        }
        return (acc[0] | acc[1]) == 0;
    }
}

// Subleaves I, I-1, ..., LOW of an indexed leaf, from the top: the first one not all
// zero, or LOW - 1 when none is.
template <unsigned I, unsigned LOW>
[[gnu::always_inline]] inline unsigned first_nonzero_down(const Regs *r)
{
    if constexpr ( I < LOW )
        return LOW - 1;
    else
    {
        if ( !all_zero<1>(r + I) )
            return I;
        return first_nonzero_down<I - 1, LOW>(r);
    }
}

// Highest subleaf 1..TOP not all zero, or 0.  Eight subleaves at a time while they are
// zero (leaf 0xd holds 63 and real policies use the first 10-20), then one at a time.
// TOP is a constant: every address is an offset from the leaf's first slot.
template <unsigned TOP>
[[gnu::always_inline]] inline unsigned last_nonzero(const Regs *r)
{
    if constexpr ( TOP >= 8 )
    {
        if ( all_zero<8>(r + TOP - 7) )
            return last_nonzero<TOP - 8>(r);
        // One of TOP-7..TOP is not zero: the lowest needs no test.
        return first_nonzero_down<TOP, TOP - 6>(r);
    }
    else
        return first_nonzero_down<TOP, 1>(r);
}

// What policy_serialise emits: basic leaves 0..min(max leaf, BASIC_LAST); the
// hypervisor limits when set; 0x80000000 always and up to the valid extended limit (its
// EAX says whether there is an extended range at all, and its other registers - the
// vendor string on AMD - are kept even when there is not).  A plain leaf once; an
// indexed leaf as subleaves up to its last non-zero one: a trailing zero subleaf reads
// back as zeros from an object that never held it, so leaving it out loses nothing.
//
// Two paths.  A buffer of MAX_SERIALISED_LEAVES holds any policy, so nothing needs
// counting first: it is written in one pass, each indexed leaf's trailing zero subleaves
// found where the leaf is written, and counted after (the common call: no plan to store
// and read back, and the scan overlaps the copy).  Otherwise the call is planned first
// (the ranges and, per indexed leaf in them, how many subleaves to keep), checked
// against the buffer, then written from the plan; the size query is the plan alone.
// Both paths run the same per-leaf code (put_run), and test_wire checks that they give
// the same entries over every dump.
struct Plan {
    unsigned last_basic, last_extd;   // dense leaf numbers, inclusive
    uint8_t keep[NR_INDEXED_LEAVES] = {};  // subleaves written, for the indexed leaves in range
    uint32_t nr_leaves;
};

// The indexed leaves X.. of one range, up to dense leaf `last`: the code for each is
// generated from the layout at compile time (its slots, how many, where the test
// starts).  Returns how many of their trailing subleaves are left out.
template <unsigned X, unsigned END>
[[gnu::always_inline]] inline unsigned plan_indexed(Plan &pl, const Policy &p, uint32_t last_leaf)
{
    if constexpr ( X < END )
    {
        constexpr Tables::Indexed L = tables.indexed[X];
        if ( L.leaf > last_leaf )
            return 0;
        const unsigned keep = 1 + last_nonzero<L.nr - 1u>(&p.slot[L.base]);
        pl.keep[X] = static_cast<uint8_t>(keep);
        return (L.nr - keep) + plan_indexed<X + 1, END>(pl, p, last_leaf);
    }
    else
        return 0;
}

// The ranges alone (all a write with SCAN needs).
inline void plan_ranges(Plan &pl, const Policy &p)
{
    const uint32_t max = basic_max_leaf(p), bl = max < BASIC_LAST ? max : BASIC_LAST;
    const uint32_t limit = policy_extd_limit(p), el = limit < EXTD_LAST ? limit : EXTD_LAST;
    pl.last_basic = bl - BASIC_FIRST;
    pl.last_extd = NR_BASIC + (el - EXTD_FIRST);
}

void make_plan(Plan &pl, const Policy &p)
{
    plan_ranges(pl, p);
    const uint32_t bl = BASIC_FIRST + pl.last_basic, el = EXTD_FIRST + (pl.last_extd - NR_BASIC);
    const unsigned left_out = plan_indexed<0, tables.first_extd_indexed>(pl, p, bl) +
                              plan_indexed<tables.first_extd_indexed, NR_INDEXED_LEAVES>(pl, p, el);
    pl.nr_leaves = tables.end[pl.last_basic] + (tables.end[pl.last_extd] - policy_layout.extd_base[0]) -
                   left_out + (p.hv_limit != 0) + (p.hv2_limit != 0);
}

// Subleaves J.. of the indexed leaf whose first slot is BASE, while J < keep.
template <unsigned BASE, unsigned J, unsigned NR>
[[gnu::always_inline]] inline void put_subleaves(WireLeaf *o, const Policy &p, unsigned keep)
{
    if constexpr ( J < NR )
    {
        if ( J >= keep )
            return;
        put(o + J, slot_key(BASE + J), p.slot[BASE + J]);
        put_subleaves<BASE, J + 1, NR>(o, p, keep);
    }
}

// Dense leaves I.. up to `last`, in order: a plain leaf is one entry (a constant key and
// a 16-byte copy at constant offsets), an indexed one its planned subleaves.
constexpr unsigned indexed_before(unsigned dense)
{
    unsigned n = 0;
    for ( unsigned i = 0; i < dense; ++i )
        n += leaf_nr(i) != 0;
    return n;
}
template <unsigned I, unsigned END, bool CHECKED, bool SCAN>
[[gnu::always_inline]] inline WireLeaf *put_run(WireLeaf *o, const Policy &p, const Plan &pl, unsigned last)
{
    if constexpr ( I < END )
    {
        if ( CHECKED && I > last )
            return o;
        constexpr unsigned base = leaf_base(I), nr = leaf_nr(I);
        if constexpr ( nr == 0 )
            put(o++, slot_key(base), p.slot[base]);
        else
        {
            const unsigned keep = SCAN ? 1 + last_nonzero<nr - 1u>(&p.slot[base]) : pl.keep[indexed_before(I)];
            put_subleaves<base, 0, nr>(o, p, keep);
            o += keep;
        }
        return put_run<I + 1, END, CHECKED, SCAN>(o, p, pl, last);
    }
    else
        return o;
}

// Dense leaves I.. up to `last`, in blocks of LEAF_BLOCK: a block wholly in range (all
// but the last one) is written with no range test, the one `last` falls in leaf by leaf.
constexpr unsigned LEAF_BLOCK = 8;
template <unsigned I, unsigned END, bool SCAN>
[[gnu::always_inline]] inline WireLeaf *put_leaves(WireLeaf *o, const Policy &p, const Plan &pl, unsigned last)
{
    if constexpr ( I + LEAF_BLOCK < END )
    {
        if ( last < I + LEAF_BLOCK )
            return put_run<I, I + LEAF_BLOCK, true, SCAN>(o, p, pl, last);
        o = put_run<I, I + LEAF_BLOCK, false, SCAN>(o, p, pl, last);
        return put_leaves<I + LEAF_BLOCK, END, SCAN>(o, p, pl, last);
    }
    else
        return put_run<I, END, true, SCAN>(o, p, pl, last);
}

// SCAN: no plan (the caller's buffer holds any policy): each indexed leaf's trailing
// zero subleaves are found where it is written.  Returns the end of what was written.
template <bool SCAN>
WireLeaf *write_leaves(const Plan &pl, const Policy &p, WireLeaf *o)
{
    o = put_leaves<0, NR_BASIC, SCAN>(o, p, pl, pl.last_basic);
    if ( p.hv_limit )
        *o++ = WireLeaf{HV_LEAF, NO_SUBLEAF, p.hv_limit, 0, 0, 0};
    if ( p.hv2_limit )
        *o++ = WireLeaf{HV2_LEAF, NO_SUBLEAF, p.hv2_limit, 0, 0, 0};
    return put_leaves<NR_BASIC, NR_BASIC + NR_EXTD, SCAN>(o, p, pl, pl.last_extd);
}

// --- Deserialise -------------------------------------------------------------------------
// Wire index of a wire (leaf, subleaf); -1 = not in the object.  The dense leaf by
// selects rather than branches (which kind of leaf opens the next run is not something
// a branch predictor learns: measured 1-2 ns a call on the benchmark's 62 entries),
// then one table read.
[[gnu::always_inline]] inline int wire_index(uint32_t leaf, uint32_t subleaf)
{
    const uint32_t x = leaf - EXTD_FIRST;
    uint32_t i = DENSE_NONE;
    i = leaf <= BASIC_LAST ? leaf - BASIC_FIRST : i;
    i = x < NR_EXTD ? NR_BASIC + x : i;
    i = leaf == HV_LEAF ? DENSE_HV : i;
    i = leaf == HV2_LEAF ? DENSE_HV2 : i;
    const Tables::LeafSlots &t = tables.leaf[i];
    const uint32_t d = subleaf - t.first_subleaf;
    return d < t.nr ? static_cast<int>(t.base + d) : -1;
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

// Four wire entries' registers into four consecutive slots: all loaded, then stored.
[[gnu::always_inline]] inline void copy4(Regs *to, const WireLeaf *from)
{
    const Regs r0 = regs_of(from[0]), r1 = regs_of(from[1]), r2 = regs_of(from[2]), r3 = regs_of(from[3]);
    to[0] = r0;
    to[1] = r1;
    to[2] = r2;
    to[3] = r3;
}

// n >= 1 entries' registers into n consecutive slots: blocks of four, the last block
// ending where the run ends (overlapping the block before it: those slots are written
// twice with the same value), or for one to three entries the first, middle and last.
// No remainder switch.
[[gnu::always_inline]] inline void copy_run(Regs *to, const WireLeaf *from, unsigned n)
{
    if ( n >= 4 )
    {
        Regs *const to_last = to + (n - 4);
        const WireLeaf *const from_last = from + (n - 4);
        for ( ; to < to_last; to += 4, from += 4 )
            copy4(to, from);
        copy4(to_last, from_last);
    }
    else
    {
        const Regs r0 = regs_of(from[0]), r1 = regs_of(from[n >> 1]), r2 = regs_of(from[n - 1]);
        to[0] = r0;
        to[n >> 1] = r1;
        to[n - 1] = r2;
    }
}

// Consecutive leaf entries that go to consecutive wire indices.
struct InRun {
    uint8_t first, nr;
};
static_assert(MAX_SERIALISED_LEAVES <= 0xff, "wire indices and run lengths fit 8 bits");

} // namespace

int policy_serialise(const Policy &p, WireLeaf *leaves, uint32_t *nr_leaves, WireMsr *msrs,
                     uint32_t *nr_msrs)
{
    const uint32_t need_msrs = MAX_SERIALISED_MSRS;
    const bool msrs_short = nr_msrs && msrs && *nr_msrs < need_msrs;
    Plan pl;

    // A buffer that holds any policy needs no plan: written in one pass, counted after.
    if ( nr_leaves && leaves && *nr_leaves >= MAX_SERIALISED_LEAVES && !msrs_short )
    {
        plan_ranges(pl, p);
        *nr_leaves = static_cast<uint32_t>(write_leaves<true>(pl, p, leaves) - leaves);
        nr_leaves = nullptr;  // the leaves are done: only the MSRs below
    }
    else if ( nr_leaves )
        make_plan(pl, p);
    // Capacity of both arrays is checked before either is written, so -ENOBUFS leaves
    // the caller's buffers untouched.
    if ( (nr_leaves && leaves && *nr_leaves < pl.nr_leaves) || msrs_short )
    {
        if ( nr_leaves )
            *nr_leaves = pl.nr_leaves;
        if ( nr_msrs )
            *nr_msrs = need_msrs;
        return -cpupolicy::err::enobufs;
    }

    if ( nr_leaves )
    {
        if ( leaves )
            write_leaves<false>(pl, p, leaves);
        *nr_leaves = pl.nr_leaves;
    }
    if ( nr_msrs )
    {
        if ( msrs )
        {
            msrs[0] = WireMsr{raw(MSR_PLATFORM_INFO), 0, p.platform_info};
            msrs[1] = WireMsr{raw(MSR_ARCH_CAPABILITIES), 0, p.arch_caps};
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
    Bitmap seen;  // once out of order: every wire index named
    bool seen_msr[MAX_SERIALISED_MSRS] = {};
    InRun runs[MAX_SERIALISED_LEAVES];
    InRun *run = runs;  // the runs closed so far: runs..run
    unsigned floor = 0;  // the lowest wire index the next entry may have while in order
    const WireLeaf *in = leaves, *end = leaves;  // the end is set once the array is known

    // All-or-nothing without a scratch copy of the policy: whether an entry is valid
    // never depends on the policy's contents, so every entry is validated first (into
    // runs of wire indices) and `p` is written only after the last one passed.

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
    end = leaves + nr_leaves;

    // In order (serialise's output is): each entry that opens a run is looked up, and
    // the entries after it that have the following wire indices - valid and new by
    // construction - cost one key compare each, two per step.  An entry whose wire
    // index is below `floor` (out of order, or a repeat) hands the rest to the loop
    // after.
    while ( in < end )
    {
        int w = wire_index(in->leaf, in->subleaf);
        if ( w < 0 )
        {
            rc = -cpupolicy::err::erange;
            goto bad_leaf;
        }
        if ( static_cast<unsigned>(w) < floor )
            goto unordered;

        const uint64_t *want = &tables.ord_key[w + 1];
        ++in;
        while ( in + 1 < end && key_of(in[0]) == want[0] && key_of(in[1]) == want[1] )
            in += 2, want += 2;
        if ( in < end && key_of(in[0]) == want[0] )
            ++in, ++want;
        if ( want > &tables.ord_key[NR_ORD] )
        {
            // Matched keys past the last wire index: those entries name nothing, and
            // the first of them opens the next run (and is refused there).
            in -= want - &tables.ord_key[NR_ORD];
            want = &tables.ord_key[NR_ORD];
        }
        floor = static_cast<unsigned>(want - tables.ord_key);
        *run++ = InRun{static_cast<uint8_t>(w), static_cast<uint8_t>(floor - static_cast<unsigned>(w))};
    }
    goto leaves_valid;

 unordered:
    // Out of order: duplicates need the bitmap, filled in with every wire index named
    // so far; each entry from here on is looked up and joins the run before it when its
    // wire index follows that run's last.
    for ( const InRun *r = runs; r < run; ++r )
        for ( unsigned s = r->first; s < r->first + r->nr; ++s )
            seen.w[s / 64] |= uint64_t{1} << (s % 64);
    for ( ; in < end; ++in )
    {
        const int w = wire_index(in->leaf, in->subleaf);
        if ( w < 0 )
        {
            rc = -cpupolicy::err::erange;
            goto bad_leaf;
        }
        if ( seen.test_and_set(static_cast<unsigned>(w)) )
            goto repeated;
        if ( run > runs && run[-1].first + run[-1].nr == w )
            ++run[-1].nr;
        else
            *run++ = InRun{static_cast<uint8_t>(w), 1};
    }
    goto leaves_valid;

 repeated:
    // Xen applies a repeated leaf twice and keeps the last; a repetition is always a
    // caller bug (a merge gone wrong), so it is refused here.
    rc = -cpupolicy::err::einval;
 bad_leaf:
    e.leaf = Leaf{in->leaf};
    e.subleaf = Subleaf{in->subleaf};
    goto out;

 leaves_valid:
    for ( uint32_t i = 0; i < nr_msrs; ++i )
    {
        const WireMsr &m = msrs[i];
        const MsrIndex msr{m.idx};
        unsigned which = 0;

        if ( m.flags )
            rc = -cpupolicy::err::einval;
        else if ( msr == MSR_PLATFORM_INFO )
        {
            which = 0;
            // Held in 32 bits, as Xen holds it (only bit 31, CPUID faulting, is
            // architectural for guests); a wider value cannot round-trip.
            if ( m.val >> 32 )
                rc = -cpupolicy::err::eoverflow;
        }
        else if ( msr == MSR_ARCH_CAPABILITIES )
            which = 1;
        else
            rc = -cpupolicy::err::erange;

        if ( !rc && seen_msr[which] )
            rc = -cpupolicy::err::einval;
        if ( rc )
        {
            e.msr = msr;
            goto out;
        }
        seen_msr[which] = true;
    }

    // Every entry is good: apply, run by run.  No entry repeats, so the order does not
    // matter.  A run's basic slots, hypervisor limits and extended slots in turn.
    in = leaves;
    for ( const InRun *r = runs; r < run; in += r->nr, ++r )
    {
        const unsigned o = r->first, n = r->nr;
        if ( o + n <= ORD_HV )
            copy_run(&p.slot[o], in, n);
        else if ( o > ORD_HV2 )
            copy_run(&p.slot[o - 2], in, n);
        else
        {
            // The run that holds a hypervisor limit (serialise's output: the last basic
            // leaf's entries, both limits and the extended leaves' are one run).  The
            // limits carry only EAX; EBX..EDX (Xen's signature when read inside a
            // guest) are synthesised by the hypervisor and ignored, as Xen does.
            const unsigned nr_basic = o < ORD_HV ? ORD_HV - o : 0;
            const WireLeaf *from = in + nr_basic;
            unsigned x = o + nr_basic;
            if ( nr_basic )
                copy_run(&p.slot[o], in, nr_basic);
            if ( x == ORD_HV && x < o + n )
                p.hv_limit = from++->a, ++x;
            if ( x == ORD_HV2 && x < o + n )
                p.hv2_limit = from++->a, ++x;
            if ( x < o + n )
                copy_run(&p.slot[x - 2], from, o + n - x);
        }
    }
    for ( uint32_t i = 0; i < nr_msrs; ++i )
    {
        if ( MsrIndex{msrs[i].idx} == MSR_PLATFORM_INFO )
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

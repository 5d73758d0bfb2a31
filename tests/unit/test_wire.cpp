// SPDX-License-Identifier: MIT
// The wire format (hypervisor/core/include/cpupolicy/wire.hpp) and out-of-range clearing.
//
// Xen's own unit tests (tools/tests/cpu-policy/test-cpu-policy.c:
// test_cpuid_serialise_success, test_cpuid_deserialise_failure,
// test_msr_deserialise_failure, test_cpuid_out_of_range_clearing) are carried over as
// facts, adapted to this object's ranges; where the expected value differs from Xen's
// the vector says why.  Beyond Xen: the layout pinned against the installed Xen public
// header, duplicates, atomicity (byte-for-byte), and a lossless round trip over the
// twenty dumps.
#include <stdint.h>  // the Xen public headers expect the fixed-width types already
#include <xen/xen.h>

#include "cpupolicy/compat.hpp"
#include "cpupolicy/wire.hpp"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

// The vectors spell only the fields that matter, as Xen's do ({leaf, subleaf} with the
// registers zero); partial aggregate initialisation is the point, not an oversight.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

std::vector<WireLeaf> serialise_leaves(const Policy &p)
{
    uint32_t nr = 0;
    if ( policy_serialise(p, nullptr, &nr, nullptr, nullptr) != 0 )
        return {};
    std::vector<WireLeaf> v(nr);
    if ( policy_serialise(p, v.data(), &nr, nullptr, nullptr) != 0 )
        return {};
    v.resize(nr);
    return v;
}

bool same_bytes(const Policy &a, const Policy &b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// --- Layout -----------------------------------------------------------------------------
void wire_layout_matches_xen_public_header()
{
    // Compile-time too, so a mismatch cannot even build.
    static_assert(sizeof(WireLeaf) == sizeof(xen_cpuid_leaf_t));
    static_assert(sizeof(WireMsr) == sizeof(xen_msr_entry_t));
    static_assert(NO_SUBLEAF == XEN_CPUID_NO_SUBLEAF);

    expect_eq("sizeof leaf", sizeof(xen_cpuid_leaf_t), sizeof(WireLeaf));
    expect_eq("alignof leaf", alignof(xen_cpuid_leaf_t), alignof(WireLeaf));
    expect_eq("offsetof leaf", offsetof(xen_cpuid_leaf_t, leaf), offsetof(WireLeaf, leaf));
    expect_eq("offsetof subleaf", offsetof(xen_cpuid_leaf_t, subleaf), offsetof(WireLeaf, subleaf));
    expect_eq("offsetof a", offsetof(xen_cpuid_leaf_t, a), offsetof(WireLeaf, a));
    expect_eq("offsetof b", offsetof(xen_cpuid_leaf_t, b), offsetof(WireLeaf, b));
    expect_eq("offsetof c", offsetof(xen_cpuid_leaf_t, c), offsetof(WireLeaf, c));
    expect_eq("offsetof d", offsetof(xen_cpuid_leaf_t, d), offsetof(WireLeaf, d));
    expect_eq("sizeof msr", sizeof(xen_msr_entry_t), sizeof(WireMsr));
    expect_eq("alignof msr", alignof(xen_msr_entry_t), alignof(WireMsr));
    expect_eq("offsetof idx", offsetof(xen_msr_entry_t, idx), offsetof(WireMsr, idx));
    expect_eq("offsetof flags", offsetof(xen_msr_entry_t, flags), offsetof(WireMsr, flags));
    expect_eq("offsetof val", offsetof(xen_msr_entry_t, val), offsetof(WireMsr, val));
    expect_eq("sizeof val", sizeof(xen_msr_entry_t::val), sizeof(WireMsr::val));
    expect_eq("NO_SUBLEAF", static_cast<unsigned>(XEN_CPUID_NO_SUBLEAF), static_cast<unsigned>(NO_SUBLEAF));

    // A Xen buffer is read as ours unchanged.
    xen_cpuid_leaf_t x = {7, 0, 1, 2, 3, 4};
    WireLeaf w;
    std::memcpy(&w, &x, sizeof(w));
    expect("xen leaf read through WireLeaf", w.leaf == 7 && w.subleaf == 0 && w.a == 1 && w.d == 4);
    xen_msr_entry_t xm = {0x10a, 0, 0x1122334455667788ull};
    WireMsr wm;
    std::memcpy(&wm, &xm, sizeof(wm));
    expect("xen msr read through WireMsr", wm.idx == 0x10a && wm.val == 0x1122334455667788ull);
}

// --- Serialise ----------------------------------------------------------------------------
void serialise_counts_follow_the_advertised_ranges()
{
    // Xen's test_cpuid_serialise_success, adapted.  Xen always emits the two
    // hypervisor-limit leaves (its "empty policy" is 4 leaves); here they are emitted
    // only when non-zero, so every Xen count that does not depend on subleaf rules is
    // Xen's minus 2.  Xen emits leaf 4/0xb up to and including the type-0 terminator,
    // leaf 7 up to 7:0.eax and leaf 0xd at least to subleaf 1; here every indexed leaf
    // stops at its last non-zero subleaf, which loses nothing (a zero subleaf reads back
    // as zero) - those vectors say so.
    struct Vec {
        const char *name;
        void (*setup)(Policy &);
        uint32_t nr;
    };
    static const Vec vecs[] = {
        {"empty policy (Xen 4)", [](Policy &) {}, 2},
        {"hypervisor limits set", [](Policy &p) { p.hv_limit = 0x40000002; p.hv2_limit = 0x40000105; }, 4},
        {"empty leaf 4 (Xen 4+4)", [](Policy &p) { S(p, 0).a = 4; }, 2 + 4},
        {"partial leaf 4 (Xen 4+4+1: terminator)", [](Policy &p) { S(p, 0).a = 4; S(p, 4, 0).a = 1; }, 2 + 4},
        {"two caches in leaf 4", [](Policy &p) { S(p, 0).a = 4; S(p, 4, 0).a = 0x121; S(p, 4, 1).a = 0x122; }, 2 + 4 + 1},
        {"empty leaf 7 (Xen 4+7)", [](Policy &p) { S(p, 0).a = 7; }, 2 + 7},
        {"partial leaf 7, 7:1 zero (Xen 4+7+1)", [](Policy &p) { S(p, 0).a = 7; S(p, 7, 0).a = 1; }, 2 + 7},
        {"leaf 7 with 7:1 populated", [](Policy &p) { S(p, 0).a = 7; S(p, 7, 0).a = 1; S(p, 7, 1).a = 0x10; }, 2 + 7 + 1},
        {"empty leaf 0xb (Xen 4+0xb)", [](Policy &p) { S(p, 0).a = 0xb; }, 2 + 0xb},
        {"partial leaf 0xb (Xen 4+0xb+1)", [](Policy &p) { S(p, 0).a = 0xb; S(p, 0xb, 0).c = 0x100; }, 2 + 0xb},
        {"empty leaf 0xd (Xen 4+0xd+1)", [](Policy &p) { S(p, 0).a = 0xd; }, 2 + 0xd},
        {"partial 0xd, xcr0 7 (Xen 4+0xd+1+1)",
         [](Policy &p) { S(p, 0).a = 0xd; S(p, 0xd, 0).a = 7; S(p, 0xd, 2) = {0x100, 0x240, 0, 0}; }, 2 + 0xd + 2},
        {"0xd up to subleaf 62",
         [](Policy &p) { S(p, 0).a = 0xd; S(p, 0xd, 0).d = 1u << 30; S(p, 0xd, 62).a = 0x80; }, 2 + 0xd - 1 + 63},
        {"basic max beyond the object", [](Policy &p) { S(p, 0).a = 0xff; }, (BASIC_LAST + 1) + 1},
        {"extended range 0x80000008", [](Policy &p) { S(p, EXTD_FIRST).a = 0x80000008; }, 2 + 8},
        {"extended max beyond the object",
         [](Policy &p) { S(p, EXTD_FIRST).a = 0x8000ffff; }, 1 + (EXTD_LAST - EXTD_FIRST + 1)},
        {"extended max invalid: 0x80000000 only",
         [](Policy &p) { S(p, EXTD_FIRST).a = 0x12345678; S(p, 0x80000001).c = 1; }, 2},
        {"extended max above 0x8000ffff is invalid",
         [](Policy &p) { S(p, EXTD_FIRST).a = 0x80010000; S(p, 0x80000001).c = 1; }, 2},
    };

    for ( const auto &v : vecs )
    {
        Policy p{};
        v.setup(p);
        uint32_t nr = 0;
        int rc = policy_serialise(p, nullptr, &nr, nullptr, nullptr);
        expect_eq(std::string(v.name) + ": rc", 0, rc);
        expect_eq(std::string(v.name) + ": leaves", v.nr, nr);
        expect_eq(std::string(v.name) + ": written", static_cast<size_t>(v.nr), serialise_leaves(p).size());
    }
}

void serialise_of_a_full_object_needs_exactly_the_maximum()
{
    // Every slot non-zero, both maxima at the object's end, both limits set: the count
    // is every slot plus the two limit leaves - the deserialise bound (Xen's
    // CPUID_MAX_SERIALISED_LEAVES) is exactly what a full object serialises to.
    Policy p{};
    for ( auto &s : p.slot )
        s = {1, 1, 1, 1};
    S(p, 0).a = BASIC_LAST;
    S(p, EXTD_FIRST).a = EXTD_LAST;
    p.hv_limit = 1;
    p.hv2_limit = 1;
    uint32_t nr = 0;
    expect_eq("rc", 0, policy_serialise(p, nullptr, &nr, nullptr, nullptr));
    expect_eq("leaves", MAX_SERIALISED_LEAVES, nr);
    expect_eq("MAX_SERIALISED_LEAVES", NR_POLICY_SLOTS + 2, MAX_SERIALISED_LEAVES);
}

void serialise_msrs_are_always_both_with_zero_flags()
{
    // Xen's test_msr_serialise_success: an empty policy serialises
    // MSR_MAX_SERIALISED_ENTRIES entries.
    Policy p{};
    p.platform_info = 0x80000000u;
    p.arch_caps = 0x1122334455667788ull;
    WireMsr m[3] = {};
    uint32_t nr = 3;
    expect_eq("rc", 0, policy_serialise(p, nullptr, nullptr, m, &nr));
    expect_eq("nr", MAX_SERIALISED_MSRS, nr);
    expect_eq("msr[0].idx", hex(0xce), hex(m[0].idx));
    expect_eq("msr[0].flags", 0u, m[0].flags);
    expect_eq("msr[0].val", hex(0x80000000u), hex(m[0].val));
    expect_eq("msr[1].idx", hex(0x10a), hex(m[1].idx));
    expect_eq("msr[1].flags", 0u, m[1].flags);
    expect_eq("msr[1].val", hex(0x1122334455667788ull), hex(m[1].val));
    Policy empty{};
    nr = 0;
    expect_eq("empty: rc", 0, policy_serialise(empty, nullptr, nullptr, nullptr, &nr));
    expect_eq("empty: nr", 2u, nr);
}

void serialise_short_buffer_is_enobufs_and_writes_nothing()
{
    const Policy &p = dump("GraniteRapids");
    uint32_t need = 0, need_msrs = 0;
    expect_eq("size query rc", 0, policy_serialise(p, nullptr, &need, nullptr, &need_msrs));
    expect("size query is non-trivial", need > 40);

    std::vector<WireLeaf> buf(need + 1);
    for ( auto &l : buf )
        l = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
    WireMsr msrs[2] = {{0xdead, 0xdead, 0xdead}, {0xdead, 0xdead, 0xdead}};

    auto untouched = [&]() {
        for ( const auto &l : buf )
            if ( l.leaf != 0xdeadbeef || l.d != 0xdeadbeef )
                return false;
        return msrs[0].idx == 0xdead && msrs[1].idx == 0xdead;
    };

    uint32_t nr = need - 1, nr_m = 2;
    expect_eq("one leaf short: rc", -ENOBUFS, policy_serialise(p, buf.data(), &nr, msrs, &nr_m));
    expect_eq("one leaf short: *nr = required", need, nr);
    expect("one leaf short: nothing written", untouched());

    nr = need;
    nr_m = 1;
    expect_eq("one msr short: rc", -ENOBUFS, policy_serialise(p, buf.data(), &nr, msrs, &nr_m));
    expect_eq("one msr short: *nr_msrs = required", 2u, nr_m);
    expect("one msr short: leaves not written either", untouched());

    nr = 0;
    nr_m = 0;
    expect_eq("zero-sized buffers: rc", -ENOBUFS, policy_serialise(p, buf.data(), &nr, msrs, &nr_m));

    nr = need + 1;
    nr_m = 2;
    expect_eq("roomy buffer: rc", 0, policy_serialise(p, buf.data(), &nr, msrs, &nr_m));
    expect_eq("roomy buffer: *nr = written", need, nr);
    expect_eq("roomy buffer: entry past the end untouched", hex(0xdeadbeef), hex(buf[need].leaf));
}

void serialise_is_strictly_sorted_over_all_dumps()
{
    expect_eq("number of dumps", 20u, static_cast<unsigned>(dumps().size()));
    for ( const auto &d : dumps() )
    {
        auto v = serialise_leaves(d.p);
        bool sorted = !v.empty();
        for ( size_t i = 1; i < v.size(); ++i )
            if ( !(v[i - 1].leaf < v[i].leaf ||
                   (v[i - 1].leaf == v[i].leaf && v[i - 1].subleaf < v[i].subleaf)) )
                sorted = false;
        expect(d.name + ": strictly increasing (leaf, subleaf)", sorted);
        expect_eq(d.name + ": starts at leaf 0", hex(0), v.empty() ? "none" : hex(v[0].leaf));
    }
}

// serialise has two paths: a buffer of MAX_SERIALISED_LEAVES is filled in one pass, a
// smaller one is counted first.  Both must produce the same entries, the same count, and
// nothing past the count - for every dump, raw and with its out-of-range slots cleared.
void serialise_one_pass_and_counted_paths_agree_over_all_dumps()
{
    for ( const auto &d : dumps() )
        for ( int cleared = 0; cleared < 2; ++cleared )
        {
            Policy p = d.p;
            if ( cleared )
                policy_clear_out_of_range(p);
            std::string what = d.name + (cleared ? " (cleared)" : " (raw)");

            uint32_t need = 0, nm = 0;
            expect_eq(what + ": size query", 0, policy_serialise(p, nullptr, &need, nullptr, &nm));

            const WireLeaf poison{0xdeadbeef, 0xdeadbeef, 1, 2, 3, 4};
            std::vector<WireLeaf> big(MAX_SERIALISED_LEAVES, poison), exact(need, poison);
            uint32_t nbig = MAX_SERIALISED_LEAVES, nexact = need;
            expect_eq(what + ": one-pass rc", 0, policy_serialise(p, big.data(), &nbig, nullptr, &nm));
            expect_eq(what + ": counted rc", 0, policy_serialise(p, exact.data(), &nexact, nullptr, &nm));
            expect_eq(what + ": one-pass count", need, nbig);
            expect_eq(what + ": counted count", need, nexact);
            bool same = nbig == nexact;
            for ( uint32_t i = 0; same && i < nexact; ++i )
                same = big[i].leaf == exact[i].leaf && big[i].subleaf == exact[i].subleaf &&
                       big[i].a == exact[i].a && big[i].b == exact[i].b &&
                       big[i].c == exact[i].c && big[i].d == exact[i].d;
            expect(what + ": both paths give the same entries", same);
            bool untouched = true;
            for ( uint32_t i = nbig; i < MAX_SERIALISED_LEAVES; ++i )
                untouched = untouched && big[i].leaf == poison.leaf && big[i].a == poison.a;
            expect(what + ": nothing written past the count", untouched);
        }
}

// serialise keeps an indexed leaf up to its last non-zero subleaf, whichever register
// holds the non-zero value and wherever the subleaf lies (the scan tests eight subleaves
// at a time from the top, then one): every indexed leaf, every subleaf it holds, every
// register, on an otherwise empty policy whose ranges are the whole object.
void serialise_keeps_each_indexed_leaf_up_to_its_last_nonzero_subleaf()
{
    Policy base{};
    S(base, 0).a = BASIC_LAST;
    S(base, EXTD_FIRST).a = EXTD_LAST;
    const size_t nr_base = serialise_leaves(base).size();
    expect_eq("empty policy: one entry per leaf", static_cast<size_t>(NR_BASIC + NR_EXTD), nr_base);
    for ( const IndexedLeaf &x : indexed_leaves )
        for ( uint32_t s = 0; s < x.nr_held; ++s )
            for ( Reg r : {Reg::eax, Reg::ebx, Reg::ecx, Reg::edx} )
            {
                Policy p = base;
                reg(S(p, raw(x.leaf), s), r) = 0x80000000u >> (s % 32);
                const auto v = serialise_leaves(p);
                std::string what = hex(x.leaf) + ":" + std::to_string(s) + " reg " +
                                   std::to_string(static_cast<int>(r));
                expect_eq(what + ": count", nr_base + s, v.size());
                // The leaf's entries are subleaves 0..s, in order, the last one the value.
                uint32_t next = 0;
                bool in_order = true;
                const WireLeaf *last = nullptr;
                for ( const WireLeaf &l : v )
                    if ( l.leaf == raw(x.leaf) )
                    {
                        in_order = in_order && l.subleaf == next++;
                        last = &l;
                    }
                expect(what + ": subleaves 0..s in order", in_order && next == s + 1);
                expect(what + ": the last one carries the value",
                       last && (last->a | last->b | last->c | last->d) == 0x80000000u >> (s % 32));
            }
}

// --- Deserialise --------------------------------------------------------------------------
void deserialise_refuses_leaves_the_object_does_not_hold()
{
    // Xen's test_cpuid_deserialise_failure (its CPUID_GUEST_NR_* bounds replaced by
    // this object's: basic 0..0x24, leaf 4 x8, 7 x4, 0xb x4, 0xd x63, extended
    // ..0x80000028), then this object's own leaves and the NO_SUBLEAF rules.
    struct Vec {
        const char *name;
        WireLeaf leaf;
    };
    static const Vec vecs[] = {
        {"incorrect basic subleaf", {0, 0}},
        {"incorrect hv1 subleaf", {0x40000000, 0}},
        {"incorrect hv2 subleaf", {0x40000100, 0}},
        {"incorrect extd subleaf", {0x80000000, 0}},
        {"OoB basic leaf", {BASIC_LAST + 1, 0}},
        {"OoB cache leaf", {0x4, 8}},
        {"OoB feat leaf", {0x7, 4}},
        {"OoB topo leaf", {0xb, 4}},
        {"OoB xstate leaf", {0xd, 63}},
        {"OoB extd leaf", {EXTD_LAST + 1, 0}},
        // Beyond Xen's vectors.
        {"OoB basic leaf, no subleaf", {BASIC_LAST + 1, NO_SUBLEAF}},
        {"OoB extd leaf, no subleaf", {EXTD_LAST + 1, NO_SUBLEAF}},
        {"indexed leaf 7 without subleaf", {0x7, NO_SUBLEAF}},
        {"indexed leaf 0xd without subleaf", {0xd, NO_SUBLEAF}},
        {"plain leaf 1 with subleaf 1", {0x1, 1}},
        {"OoB PT leaf", {0x14, 2}},
        {"OoB AMX palette leaf", {0x1d, 2}},
        {"OoB v2 topology leaf", {0x1f, 6}},
        {"OoB AVX10 leaf", {0x24, 2}},
        {"OoB AMD cache leaf", {0x8000001d, 8}},
        {"OoB AMD PQoS leaf", {0x80000020, 8}},
        {"OoB AMD topology leaf", {0x80000026, 4}},
        {"hypervisor leaf 0x40000001", {0x40000001, NO_SUBLEAF}},
        {"leaf below the hypervisor range", {0x3fffffff, NO_SUBLEAF}},
        {"Centaur range", {0xc0000000, NO_SUBLEAF}},
        {"last extended-range leaf", {0x8000ffff, NO_SUBLEAF}},
    };

    const Policy before = dump("SapphireRapids");
    for ( const auto &v : vecs )
    {
        Policy p = before;
        ErrRecord e;
        int rc = policy_deserialise(p, &v.leaf, 1, nullptr, 0, &e);
        expect_eq(std::string(v.name) + ": rc", -ERANGE, rc);
        expect_err(std::string(v.name) + ": err", err_rec(v.leaf.leaf, v.leaf.subleaf, ~0u), e);
        expect(std::string(v.name) + ": policy unchanged", same_bytes(before, p));
        // err may be NULL.
        expect_eq(std::string(v.name) + ": rc without err", -ERANGE,
                  policy_deserialise(p, &v.leaf, 1, nullptr, 0, nullptr));
    }
}

void msr_deserialise_failure()
{
    // Xen's test_msr_deserialise_failure, then the same rules for ARCH_CAPABILITIES and
    // the edges of the PLATFORM_INFO width.
    struct Vec {
        const char *name;
        WireMsr msr;
        int rc;
    };
    static const Vec vecs[] = {
        {"bad msr index", {0xdeadc0de, 0, 0}, -ERANGE},
        {"nonzero flags", {0xce, 1, 0}, -EINVAL},
        {"truncated val", {0xce, 0, ~0ull}, -EOVERFLOW},
        {"msr index 0", {0, 0, 0}, -ERANGE},
        {"neighbour of ARCH_CAPS", {0x10b, 0, 0}, -ERANGE},
        {"ARCH_CAPS nonzero flags", {0x10a, 0x80000000u, 0}, -EINVAL},
        {"PLATFORM_INFO bit 32", {0xce, 0, 1ull << 32}, -EOVERFLOW},
    };
    const Policy before = dump("BroadwellE");
    for ( const auto &v : vecs )
    {
        Policy p = before;
        ErrRecord e;
        int rc = policy_deserialise(p, nullptr, 0, &v.msr, 1, &e);
        expect_eq(std::string(v.name) + ": rc", v.rc, rc);
        expect_err(std::string(v.name) + ": err", err_rec(~0u, ~0u, v.msr.idx), e);
        expect(std::string(v.name) + ": policy unchanged", same_bytes(before, p));
    }

    // The widest values that fit are accepted.
    Policy p{};
    WireMsr ok[] = {{0xce, 0, 0xffffffffull}, {0x10a, 0, ~0ull}};
    ErrRecord e;
    expect_eq("widest values: rc", 0, policy_deserialise(p, nullptr, 0, ok, 2, &e));
    expect_eq("PLATFORM_INFO", hex(0xffffffffu), hex(p.platform_info));
    expect_eq("ARCH_CAPS", hex(~0ull), hex(p.arch_caps));
    expect_err("success leaves err at ~0", ErrRecord{}, e);
}

void deserialise_more_entries_than_slots_is_e2big()
{
    Policy p = dump("Genoa"), before = p;
    std::vector<WireLeaf> many(MAX_SERIALISED_LEAVES + 1, WireLeaf{1, NO_SUBLEAF, 0, 0, 0, 0});
    ErrRecord e;
    expect_eq("leaves: rc", -E2BIG, policy_deserialise(p, many.data(), many.size(), nullptr, 0, &e));
    expect_err("leaves: err", ErrRecord{}, e);
    WireMsr msrs[3] = {{0xce, 0, 0}, {0x10a, 0, 0}, {0xce, 0, 0}};
    expect_eq("msrs: rc", -E2BIG, policy_deserialise(p, nullptr, 0, msrs, 3, &e));
    expect("policy unchanged", same_bytes(before, p));
    // Exactly the maximum is not too many (here every entry is distinct and valid).
    std::vector<WireLeaf> all;
    for ( uint32_t leaf = 0; leaf <= EXTD_LAST; leaf = leaf == BASIC_LAST ? EXTD_FIRST : leaf + 1 )
    {
        uint32_t nr = 1;
        if ( leaf_kind(Leaf{leaf}, &nr) == LeafKind::plain )
            all.push_back({leaf, NO_SUBLEAF, 1, 2, 3, 4});
        else
            for ( uint32_t s = 0; s < nr; ++s )
                all.push_back({leaf, s, 1, 2, 3, 4});
        if ( leaf == EXTD_LAST )
            break;
    }
    all.push_back({HV_LEAF, NO_SUBLEAF, 0x40000001, 0, 0, 0});
    all.push_back({HV2_LEAF, NO_SUBLEAF, 0x40000101, 0, 0, 0});
    expect_eq("every slot once: count", MAX_SERIALISED_LEAVES, static_cast<uint32_t>(all.size()));
    expect_eq("every slot once: rc", 0, policy_deserialise(p, all.data(), all.size(), msrs, 2, &e));
}

void deserialise_duplicates_are_einval_and_named()
{
    const Policy before = dump("Milan");
    struct Vec {
        const char *name;
        std::vector<WireLeaf> leaves;
        std::vector<WireMsr> msrs;
        ErrNums err;
    };
    const std::vector<Vec> vecs = {
        {"plain leaf twice", {{1, NO_SUBLEAF, 1, 2, 3, 4}, {7, 0, 0, 0, 0, 0}, {1, NO_SUBLEAF, 1, 2, 3, 4}}, {},
         {1, NO_SUBLEAF, ~0u}},
        {"subleaf twice", {{7, 1, 0, 0, 0, 0}, {7, 0, 0, 0, 0, 0}, {7, 1, 5, 0, 0, 0}}, {}, {7, 1, ~0u}},
        {"hv limit twice", {{HV_LEAF, NO_SUBLEAF, 1, 0, 0, 0}, {HV_LEAF, NO_SUBLEAF, 2, 0, 0, 0}}, {},
         {HV_LEAF, NO_SUBLEAF, ~0u}},
        {"extended leaf twice", {{0x80000008, NO_SUBLEAF, 0, 0, 0, 0}, {0x80000008, NO_SUBLEAF, 0, 0, 0, 0}}, {},
         {0x80000008, NO_SUBLEAF, ~0u}},
        {"msr twice", {}, {{0x10a, 0, 1}, {0x10a, 0, 1}}, {~0u, ~0u, 0x10a}},
    };
    for ( const auto &v : vecs )
    {
        Policy p = before;
        ErrRecord e;
        int rc = policy_deserialise(p, v.leaves.data(), v.leaves.size(), v.msrs.data(), v.msrs.size(), &e);
        expect_eq(std::string(v.name) + ": rc", -EINVAL, rc);
        expect_err(std::string(v.name) + ": err", v.err, e);
        expect(std::string(v.name) + ": policy unchanged", same_bytes(before, p));
    }
}

void deserialise_failure_leaves_target_byte_for_byte()
{
    // Valid entries that would change the target come first; the bad one last.  Xen
    // would have applied the good ones already; here nothing may change.
    const Policy before = dump("GraniteRapids");
    const std::vector<WireLeaf> good = {
        {0, NO_SUBLEAF, 0x7, 0, 0, 0},
        {1, NO_SUBLEAF, 0x12345678, 0, 0, 0},
        {7, 0, 0, 0xffffffff, 0, 0},
        {0xd, 5, 0, 0, 0, 0},
        {HV_LEAF, NO_SUBLEAF, 0x40000010, 0, 0, 0},
        {0x80000008, NO_SUBLEAF, 0x3030, 0, 0, 0},
    };
    const WireMsr good_msr = {0xce, 0, 0x80000000u};
    struct Vec {
        const char *name;
        std::vector<WireLeaf> extra_leaves;
        std::vector<WireMsr> msrs;
        int rc;
    };
    const std::vector<Vec> vecs = {
        {"leaf out of range", {{0x25, NO_SUBLEAF}}, {good_msr}, -ERANGE},
        {"subleaf out of range", {{0x4, 8}}, {good_msr}, -ERANGE},
        {"plain leaf with a subleaf", {{0x6, 0}}, {good_msr}, -ERANGE},
        {"duplicate leaf", {{7, 0}}, {good_msr}, -EINVAL},
        {"msr flags", {}, {good_msr, {0x10a, 1, 0}}, -EINVAL},
        {"msr duplicate", {}, {{0x10a, 0, 1}, {0x10a, 0, 2}}, -EINVAL},
        {"msr unknown", {}, {good_msr, {0x1234, 0, 0}}, -ERANGE},
        {"msr too wide", {}, {{0x10a, 0, 5}, {0xce, 0, 1ull << 40}}, -EOVERFLOW},
    };
    for ( const auto &v : vecs )
    {
        std::vector<WireLeaf> leaves = good;
        leaves.insert(leaves.end(), v.extra_leaves.begin(), v.extra_leaves.end());
        Policy p = before;
        ErrRecord e;
        int rc = policy_deserialise(p, leaves.data(), leaves.size(), v.msrs.data(), v.msrs.size(), &e);
        expect_eq(std::string(v.name) + ": rc", v.rc, rc);
        expect(std::string(v.name) + ": target byte-for-byte unchanged", same_bytes(before, p));
    }

    // And the same good entries alone do apply.
    Policy p = before;
    ErrRecord e;
    expect_eq("good entries: rc", 0, policy_deserialise(p, good.data(), good.size(), &good_msr, 1, &e));
    expect_eq("good entries: leaf 1 eax", hex(0x12345678), hex(S(p, 1).a));
    expect_eq("good entries: hv limit", hex(0x40000010), hex(p.hv_limit));
    expect_eq("good entries: PLATFORM_INFO", hex(0x80000000u), hex(p.platform_info));
}

// Entries in slot order are validated a run at a time (each entry naming the slot after
// the last one, or the first slot of the next leaf, is new by construction); the first
// entry out of order switches to a bitmap of everything named so far.  Every duplicate
// must still be found, and the first offending entry named, however the runs fall.
void deserialise_runs_and_out_of_order_entries_find_every_duplicate()
{
    const Policy before = dump("ICX");
    const WireLeaf hv{HV_LEAF, NO_SUBLEAF, 0x40000002}, hv2{HV2_LEAF, NO_SUBLEAF, 0x40000101};
    struct Vec {
        const char *name;
        std::vector<WireLeaf> leaves;
        int rc;
        ErrNums err;
    };
    const std::vector<Vec> vecs = {
        {"a run, then an entry inside it again", {{1, NO_SUBLEAF}, {2, NO_SUBLEAF}, {3, NO_SUBLEAF}, {2, NO_SUBLEAF}},
         -EINVAL, {2, NO_SUBLEAF, ~0u}},
        {"a skip to the next leaf, then a skipped-over leaf's subleaf again",
         {{4, 0}, {4, 1}, {5, NO_SUBLEAF}, {6, NO_SUBLEAF}, {4, 1}}, -EINVAL, {4, 1, ~0u}},
        {"out of order, then a run into an entry named before",
         {{5, NO_SUBLEAF}, {6, NO_SUBLEAF}, {3, NO_SUBLEAF}, {4, 0}, {4, 1}, {5, NO_SUBLEAF}}, -EINVAL,
         {5, NO_SUBLEAF, ~0u}},
        {"out of order, then a run", {{6, NO_SUBLEAF}, {1, NO_SUBLEAF}, {2, NO_SUBLEAF}, {3, NO_SUBLEAF}}, 0, {}},
        {"hypervisor limit between runs, then again after going out of order",
         {hv, {1, NO_SUBLEAF}, {0, NO_SUBLEAF}, hv}, -EINVAL, {HV_LEAF, NO_SUBLEAF, ~0u}},
        {"both limits between the ranges", {{0xd, 0}, {0xd, 1}, hv, hv2, {EXTD_FIRST, NO_SUBLEAF}}, 0, {}},
        {"a bad leaf after going out of order", {{2, NO_SUBLEAF}, {1, NO_SUBLEAF}, {0x25, NO_SUBLEAF}}, -ERANGE,
         {0x25, NO_SUBLEAF, ~0u}},
        {"a bad subleaf ends a run", {{7, 0}, {7, 1}, {7, 2}, {7, 3}, {7, 4}}, -ERANGE, {7, 4, ~0u}},
        {"a run to the last slot, then the last slot again",
         {{EXTD_LAST - 1, NO_SUBLEAF}, {EXTD_LAST, NO_SUBLEAF}, {EXTD_LAST, NO_SUBLEAF}}, -EINVAL,
         {EXTD_LAST, NO_SUBLEAF, ~0u}},
        {"a run to the last slot, then a limit", {{EXTD_LAST - 1, NO_SUBLEAF}, {EXTD_LAST, NO_SUBLEAF}, hv}, 0, {}},
        {"a later subleaf, then an earlier one of the same leaf", {{4, 0}, {5, NO_SUBLEAF}, {7, 1}, {7, 0}}, 0, {}},
    };
    for ( const auto &v : vecs )
    {
        Policy p = before;
        ErrRecord e;
        int rc = policy_deserialise(p, v.leaves.data(), v.leaves.size(), nullptr, 0, &e);
        expect_eq(std::string(v.name) + ": rc", v.rc, rc);
        expect_err(std::string(v.name) + ": err", v.err, e);
        if ( rc )
            expect(std::string(v.name) + ": policy unchanged", same_bytes(before, p));
    }
}

// Applying copies each run of consecutive slots: runs of every length from 1 to 9, split
// where an indexed leaf's subleaves stop, land exactly in their slots.
void deserialise_applies_runs_of_every_length()
{
    for ( uint32_t len = 1; len <= 9; ++len )
    {
        Policy p{}, expected{};
        std::vector<WireLeaf> leaves;
        // `len` subleaves of leaf 0xd, then the next leaf, then `len` plain leaves from
        // 0x80000002.
        for ( uint32_t s = 0; s < len; ++s )
            leaves.push_back({0xd, s, s + 1, 0x100 + s, 0x200 + s, 0x300 + s});
        leaves.push_back({0xe, NO_SUBLEAF, 0xe, 0xe, 0xe, 0xe});
        for ( uint32_t l = 0x80000002u; l < 0x80000002u + len; ++l )
            leaves.push_back({l, NO_SUBLEAF, l, l + 1, l + 2, l + 3});
        for ( const WireLeaf &l : leaves )
            S(expected, l.leaf, l.subleaf) = {l.a, l.b, l.c, l.d};
        std::string what = "runs of " + std::to_string(len);
        expect_eq(what + ": rc", 0, policy_deserialise(p, leaves.data(), leaves.size(), nullptr, 0, nullptr));
        expect(what + ": every slot given, nothing else", same_bytes(expected, p));
    }
}

// Deserialise numbers entries in wire order, the hypervisor limits between the basic and
// extended leaves, so serialise's output is one run across them: such a run, and runs
// that start, end or stop at a limit, apply the limits' EAX and every slot exactly; the
// key past the last wire index (leaf and subleaf 0xffffffff) ends a run and is refused.
void deserialise_runs_across_the_hypervisor_limits()
{
    // The slot before the limits: the last basic leaf's last subleaf.
    uint32_t nr_sub = 0;
    const bool indexed = leaf_kind(Leaf{BASIC_LAST}, &nr_sub) == LeafKind::indexed;
    const WireLeaf b{BASIC_LAST, indexed ? nr_sub - 1 : NO_SUBLEAF, 0xb0, 0xb1, 0xb2, 0xb3},
        hv{HV_LEAF, NO_SUBLEAF, 0x40000005, 0x1, 0x2, 0x3}, hv2{HV2_LEAF, NO_SUBLEAF, 0x40000106, 0x4, 0x5, 0x6},
        x0{EXTD_FIRST, NO_SUBLEAF, 0x80000008, 0xe1, 0xe2, 0xe3},
        x1{EXTD_FIRST + 1, NO_SUBLEAF, 0xf0, 0xf1, 0xf2, 0xf3};
    struct Vec {
        const char *name;
        std::vector<WireLeaf> leaves;
    };
    const std::vector<Vec> vecs = {
        {"last basic, both limits, two extended", {b, hv, hv2, x0, x1}},
        {"both limits, two extended", {hv, hv2, x0, x1}},
        {"second limit, two extended", {hv2, x0, x1}},
        {"last basic, first limit", {b, hv}},
        {"last basic, first limit; second limit after an extended leaf", {b, hv, x0, hv2}},
        {"first limit alone, then the basic leaf before it", {hv, b}},
    };
    for ( const auto &v : vecs )
    {
        Policy p = dump("ICX"), expected = p;
        for ( const WireLeaf &l : v.leaves )
        {
            if ( l.leaf == HV_LEAF )
                expected.hv_limit = l.a;
            else if ( l.leaf == HV2_LEAF )
                expected.hv2_limit = l.a;
            else
                S(expected, l.leaf, l.subleaf) = {l.a, l.b, l.c, l.d};
        }
        ErrRecord e;
        expect_eq(std::string(v.name) + ": rc", 0, policy_deserialise(p, v.leaves.data(), v.leaves.size(), nullptr, 0, &e));
        expect(std::string(v.name) + ": exactly the given entries", same_bytes(expected, p));
    }

    // A run to the last extended leaf, then entries with the key past every wire index:
    // the first of them is named, nothing applied.
    const Policy before = dump("ICX");
    for ( unsigned nr_bad = 1; nr_bad <= 3; ++nr_bad )
    {
        std::vector<WireLeaf> leaves = {{EXTD_LAST - 1, NO_SUBLEAF, 1}, {EXTD_LAST, NO_SUBLEAF, 2}};
        for ( unsigned i = 0; i < nr_bad; ++i )
            leaves.push_back({0xffffffffu, 0xffffffffu, 3});
        Policy p = before;
        ErrRecord e;
        const std::string what = std::to_string(nr_bad) + " past the last";
        expect_eq(what + ": rc", -ERANGE, policy_deserialise(p, leaves.data(), leaves.size(), nullptr, 0, &e));
        expect_err(what + ": err", ErrNums{0xffffffffu, 0xffffffffu, ~0u}, e);
        expect(what + ": policy unchanged", same_bytes(before, p));
    }
}

void deserialise_updates_only_the_entries_given()
{
    // Xen's copy_from_buffer semantics: an update, not a replacement.
    const Policy before = dump("CascadeLake");
    Policy p = before;
    const WireLeaf upd[] = {
        {0x80000001, NO_SUBLEAF, 0xa, 0xb, 0xc, 0xd},
        {0xd, 2, 0x100, 0x240, 0, 0},
        {HV2_LEAF, NO_SUBLEAF, 0x40000105, 0x11111111, 0x22222222, 0x33333333},
    };
    ErrRecord e;
    expect_eq("rc", 0, policy_deserialise(p, upd, 3, nullptr, 0, &e));
    Policy expected = before;
    S(expected, 0x80000001) = {0xa, 0xb, 0xc, 0xd};
    S(expected, 0xd, 2) = {0x100, 0x240, 0, 0};
    expected.hv2_limit = 0x40000105;  // EBX..EDX of a limit leaf are not held (as Xen)
    expect("exactly the given slots changed", same_bytes(expected, p));
    expect_err("err after success", ErrRecord{}, e);

    // Order is free.
    Policy q = before;
    const WireLeaf rev[] = {upd[2], upd[0], upd[1]};
    expect_eq("reverse order: rc", 0, policy_deserialise(q, rev, 3, nullptr, 0, nullptr));
    expect("reverse order: same result", same_bytes(expected, q));
}

void deserialise_null_array_with_a_count_is_einval()
{
    Policy p{};
    ErrRecord e;
    expect_eq("leaves", -EINVAL, policy_deserialise(p, nullptr, 1, nullptr, 0, &e));
    expect_eq("msrs", -EINVAL, policy_deserialise(p, nullptr, 0, nullptr, 1, &e));
    expect_eq("nothing at all", 0, policy_deserialise(p, nullptr, 0, nullptr, 0, &e));
    expect("empty update changes nothing", same_bytes(Policy{}, p));
}

void round_trip_is_lossless_over_all_dumps()
{
    for ( const auto &d : dumps() )
    {
        Policy p = d.p;
        policy_clear_out_of_range(p);
        uint32_t nr = 0, nr_m = 0;
        if ( !expect_eq(d.name + ": size query", 0, policy_serialise(p, nullptr, &nr, nullptr, &nr_m)) )
            continue;
        std::vector<WireLeaf> leaves(nr);
        std::vector<WireMsr> msrs(nr_m);
        expect_eq(d.name + ": serialise", 0, policy_serialise(p, leaves.data(), &nr, msrs.data(), &nr_m));

        Policy q{};
        ErrRecord e;
        expect_eq(d.name + ": deserialise", 0, policy_deserialise(q, leaves.data(), nr, msrs.data(), nr_m, &e));
        expect(d.name + ": byte-for-byte equal after the round trip", same_bytes(p, q));

        auto again = serialise_leaves(q);
        expect(d.name + ": re-serialised identically",
               again.size() == leaves.size() &&
                   std::memcmp(again.data(), leaves.data(), leaves.size() * sizeof(WireLeaf)) == 0);
    }
}

// --- Out-of-range clearing ----------------------------------------------------------------
unsigned count_markers(const Policy &p)
{
    const auto *b = reinterpret_cast<const unsigned char *>(&p);
    unsigned n = 0;
    for ( size_t i = 0; i < sizeof(p); ++i )
        n += b[i] == 0xc2;
    return n;
}

void out_of_range_clearing()
{
    // Xen's test_cpuid_out_of_range_clearing: markers (0xc2 bytes) in leaves inside and
    // outside the advertised ranges; count what survives.  Xen's vectors first, same
    // counts; then this object's leaves.
    struct Vec {
        const char *name;
        unsigned markers;
        void (*setup)(Policy &);
    };
    static const Vec vecs[] = {
        {"basic", 1, [](Policy &p) {
             S(p, 0) = {0, 0xc2, 0, 0};
             S(p, 1).a = 0xc2;
             S(p, 4, 0).a = 0xc2;
             S(p, 7, 0).a = 0xc2;
             S(p, 0xb, 0).a = 0xc2;
             S(p, 0xd, 0).a = 0xc2;
             S(p, 0xd, 1).a = 0xc2;
         }},
        {"cache", 1, [](Policy &p) {
             S(p, 0).a = 4;
             S(p, 4, 0) = {1, 0xc2, 0, 0};
             S(p, 4, 1).b = 0xc2;
             S(p, 7, 0).a = 0xc2;
             S(p, 0xb, 0).a = 0xc2;
             S(p, 0xd, 0).a = 0xc2;
             S(p, 0xd, 1).a = 0xc2;
         }},
        {"feat", 1, [](Policy &p) {
             S(p, 0).a = 7;
             S(p, 7, 0).b = 0xc2;
             S(p, 7, 1).b = 0xc2;
             S(p, 0xb, 0).a = 0xc2;
             S(p, 0xd, 0).a = 0xc2;
             S(p, 0xd, 1).a = 0xc2;
         }},
        {"topo", 1, [](Policy &p) {
             S(p, 0).a = 0xb;
             S(p, 0xb, 0) = {0, 0xc2, 0x0100, 0};
             S(p, 0xb, 1).b = 0xc2;
             S(p, 0xd, 0).a = 0xc2;
             S(p, 0xd, 1).a = 0xc2;
         }},
        {"xstate x87", 2, [](Policy &p) {
             S(p, 0).a = 0xd;
             S(p, 0xd, 0) = {1, 0xc2, 0, 0};
             S(p, 0xd, 1).b = 0xc2;
             S(p, 0xd, 2).b = 0xc2;
             S(p, 0xd, 3).b = 0xc2;
         }},
        {"xstate sse", 2, [](Policy &p) {
             S(p, 0).a = 0xd;
             S(p, 0xd, 0) = {2, 0xc2, 0, 0};
             S(p, 0xd, 1).b = 0xc2;
             S(p, 0xd, 2).b = 0xc2;
             S(p, 0xd, 3).b = 0xc2;
         }},
        {"xstate avx", 3, [](Policy &p) {
             S(p, 0).a = 0xd;
             S(p, 0xd, 0) = {7, 0xc2, 0, 0};
             S(p, 0xd, 1).b = 0xc2;
             S(p, 0xd, 2).b = 0xc2;
             S(p, 0xd, 3).b = 0xc2;
         }},
        {"extd", 1, [](Policy &p) {
             S(p, EXTD_FIRST) = {0, 0xc2, 0, 0};
             S(p, 0x80000001).a = 0xc2;
         }},
        // Beyond Xen: per-component xstate (Xen keeps everything up to the highest
        // set bit and would count 8 here; the SDM says subleaf n of an unsupported
        // component n reads as zero).
        {"xstate per component: x87 sse avx pkru", 2, [](Policy &p) {
             S(p, 0).a = 0xd;
             S(p, 0xd, 0).a = 0x207;
             for ( uint32_t n = 2; n <= 9; ++n )
                 S(p, 0xd, n).b = 0xc2;
         }},
        {"xstate supervisor component from 0xd:1.ecx", 1, [](Policy &p) {
             S(p, 0).a = 0xd;
             S(p, 0xd, 0).a = 3;
             S(p, 0xd, 1).c = 1u << 8;
             S(p, 0xd, 8).a = 0xc2;
             S(p, 0xd, 10).a = 0xc2;
         }},
        {"xstate component 62 from 0xd:0.edx", 1, [](Policy &p) {
             S(p, 0).a = 0xd;
             S(p, 0xd, 0) = {3, 0, 0, 1u << 30};
             S(p, 0xd, 62).a = 0xc2;
             S(p, 0xd, 61).a = 0xc2;
         }},
        {"leaf 7 up to 7:0.eax", 2, [](Policy &p) {
             S(p, 0).a = 7;
             S(p, 7, 0).a = 1;
             S(p, 7, 1).b = 0xc2;
             S(p, 7, 2).b = 0xc2;
             S(p, 7, 3).b = 0xc2;
             S(p, 7, 0).d = 0xc2;
         }},
        {"extended range up to 0x80000008", 1, [](Policy &p) {
             S(p, EXTD_FIRST).a = 0x80000008;
             S(p, 0x80000008).b = 0xc2;
             S(p, 0x80000009).b = 0xc2;
             S(p, EXTD_LAST).b = 0xc2;
         }},
        {"extended max above 0x8000ffff: no extended range", 1, [](Policy &p) {
             S(p, EXTD_FIRST) = {0x90000000, 0xc2, 0, 0};
             S(p, 0x80000001).a = 0xc2;
         }},
        {"leaf 0x1f until level type 0", 2, [](Policy &p) {
             S(p, 0).a = 0x1f;
             S(p, 0x1f, 0) = {1, 0xc2, 0x100, 0};
             S(p, 0x1f, 1) = {7, 0xc2, 0x201, 0};
             S(p, 0x1f, 2) = {0, 0xc2, 0x002, 0};  // ECX[7:0] echoes the subleaf
             S(p, 0x1f, 3).b = 0xc2;
         }},
        {"leaf 0x8000001d until cache type 0", 1, [](Policy &p) {
             S(p, EXTD_FIRST).a = 0x8000001d;
             S(p, 0x8000001d, 0) = {0x121, 0xc2, 0, 0};
             S(p, 0x8000001d, 1).b = 0xc2;
             S(p, 0x8000001d, 2) = {0x143, 0xc2, 0, 0};  // after the terminator
         }},
        {"leaf 0x80000026 until level type 0", 2, [](Policy &p) {
             S(p, EXTD_FIRST).a = 0x80000026;
             S(p, 0x80000026, 0) = {1, 0xc2, 0x100, 0};
             S(p, 0x80000026, 1) = {4, 0xc2, 0x201, 0};
             S(p, 0x80000026, 2).b = 0xc2;
         }},
        {"leaf 0x14 up to 0x14:0.eax = 0", 1, [](Policy &p) {
             S(p, 0).a = 0x14;
             S(p, 0x14, 0) = {0, 0xc2, 0, 0};
             S(p, 0x14, 1).b = 0xc2;
         }},
        {"leaf 0x1d up to max palette 1", 2, [](Policy &p) {
             S(p, 0).a = 0x1d;
             S(p, 0x1d, 0) = {1, 0xc2, 0, 0};
             S(p, 0x1d, 1).b = 0xc2;
         }},
        {"leaf 0x1e up to 0x1e:0.eax = 0", 1, [](Policy &p) {
             S(p, 0).a = 0x1e;
             S(p, 0x1e, 0) = {0, 0xc2, 0, 0};
             S(p, 0x1e, 1).a = 0xc2;
         }},
        {"leaf 0x24 up to 0x24:0.eax = 0", 1, [](Policy &p) {
             S(p, 0).a = 0x24;
             S(p, 0x24, 0) = {0, 0xc2, 0, 0};
             S(p, 0x24, 1).c = 0xc2;
         }},
        {"leaf 0x18 up to 0x18:0.eax = 1", 2, [](Policy &p) {
             S(p, 0).a = 0x18;
             S(p, 0x18, 0) = {1, 0xc2, 0, 0};
             S(p, 0x18, 1).b = 0xc2;
             S(p, 0x18, 2).b = 0xc2;
         }},
        {"leaf 0x17 up to MaxSOCID_Index 0", 1, [](Policy &p) {
             S(p, 0).a = 0x17;
             S(p, 0x17, 0) = {0, 0xc2, 0, 0};
             S(p, 0x17, 1).b = 0xc2;
         }},
        {"leaf 0x23 subleaf bitmap 0xb", 3, [](Policy &p) {
             S(p, 0).a = 0x23;
             S(p, 0x23, 0) = {0xb, 0xc2, 0, 0};
             S(p, 0x23, 1).b = 0xc2;
             S(p, 0x23, 2).b = 0xc2;
             S(p, 0x23, 3).b = 0xc2;
         }},
        {"leaf 0x10 ResID bitmap", 2, [](Policy &p) {
             S(p, 0).a = 0x10;
             S(p, 0x10, 0) = {0, 0x2, 0xc2, 0};
             S(p, 0x10, 1).a = 0xc2;
             S(p, 0x10, 2).a = 0xc2;
             S(p, 0x10, 3).a = 0xc2;
         }},
        {"leaf 0xf L3 monitoring absent", 1, [](Policy &p) {
             S(p, 0).a = 0xf;
             S(p, 0xf, 0) = {0, 0xc2, 0, 0};
             S(p, 0xf, 1).b = 0xc2;
         }},
        {"leaf 0xf L3 monitoring present", 2, [](Policy &p) {
             S(p, 0).a = 0xf;
             S(p, 0xf, 0) = {0, 0xc2, 0, 2};
             S(p, 0xf, 1).b = 0xc2;
         }},
        {"leaf 0x80000020 bitmap", 3, [](Policy &p) {
             S(p, EXTD_FIRST).a = 0x80000020;
             S(p, 0x80000020, 0) = {0, 0x22, 0xc2, 0};
             S(p, 0x80000020, 1).a = 0xc2;
             S(p, 0x80000020, 2).a = 0xc2;
             S(p, 0x80000020, 5).a = 0xc2;
         }},
        {"leaf 0x12 EPC sections until type 0", 4, [](Policy &p) {
             S(p, 0).a = 0x12;
             S(p, 0x12, 0).b = 0xc2;
             S(p, 0x12, 1).b = 0xc2;
             S(p, 0x12, 2) = {1, 0xc2, 0, 0};
             S(p, 0x12, 3) = {0, 0xc2, 0, 0};
             S(p, 0x12, 0).c = 0xc2;
         }},
        {"hypervisor limits and MSRs are not ranged", 3, [](Policy &p) {
             p.hv_limit = 0xc2;
             p.platform_info = 0xc2;
             p.arch_caps = 0xc2;
         }},
    };
    for ( const auto &v : vecs )
    {
        Policy p{};
        v.setup(p);
        policy_clear_out_of_range(p);
        expect_eq(std::string(v.name) + ": markers left", v.markers, count_markers(p));
        Policy again = p;
        policy_clear_out_of_range(again);
        expect(std::string(v.name) + ": idempotent", same_bytes(p, again));
    }
}

void in_range_agrees_with_clearing_over_all_dumps()
{
    // policy_in_range is what compat and levelling read through; clearing must zero
    // exactly the slots it rejects and keep every other one.
    for ( const auto &d : dumps() )
    {
        Policy c = d.p;
        policy_clear_out_of_range(c);
        bool agree = true;
        for ( uint32_t leaf = 0; leaf <= EXTD_LAST; leaf = leaf == BASIC_LAST ? EXTD_FIRST : leaf + 1 )
        {
            uint32_t nr = 1;
            bool plain = leaf_kind(Leaf{leaf}, &nr) == LeafKind::plain;
            for ( uint32_t s = 0; s < nr; ++s )
            {
                uint32_t sub = plain ? NO_SUBLEAF : s;
                int slot = slot_exact(Leaf{leaf}, Subleaf{sub});
                if ( slot < 0 )
                    continue;
                Regs want = policy_in_range(d.p, Leaf{leaf}, Subleaf{sub}) ? d.p.slot[slot] : Regs{};
                if ( !(want == c.slot[slot]) )
                {
                    std::printf("  %s %#x:%#x\n", d.name.c_str(), leaf, sub);
                    agree = false;
                }
            }
            if ( leaf == EXTD_LAST )
                break;
        }
        expect(d.name + ": cleared slots are exactly the out-of-range ones", agree);
    }
}

void clearing_a_raw_dump_drops_only_what_the_cpu_put_out_of_range()
{
    // Real CPUs enumerate consistently: clearing a raw dump zeroes nothing the CPU
    // reported inside its own ranges.  The count of non-zero slots removed is pinned per
    // dump; each non-zero one is a fact about that CPU, explained below.
    for ( const auto &d : dumps() )
    {
        Policy c = d.p;
        policy_clear_out_of_range(c);
        unsigned removed = 0;
        for ( unsigned i = 0; i < NR_POLICY_SLOTS; ++i )
            removed += !(c.slot[i] == d.p.slot[i]);
        expect_eq(d.name + ": non-zero slots cleared", 0u, removed);
    }
}

} // namespace

int main()
{
    TEST(wire_layout_matches_xen_public_header);
    TEST(serialise_counts_follow_the_advertised_ranges);
    TEST(serialise_of_a_full_object_needs_exactly_the_maximum);
    TEST(serialise_msrs_are_always_both_with_zero_flags);
    TEST(serialise_short_buffer_is_enobufs_and_writes_nothing);
    TEST(serialise_is_strictly_sorted_over_all_dumps);
    TEST(serialise_one_pass_and_counted_paths_agree_over_all_dumps);
    TEST(serialise_keeps_each_indexed_leaf_up_to_its_last_nonzero_subleaf);
    TEST(deserialise_refuses_leaves_the_object_does_not_hold);
    TEST(msr_deserialise_failure);
    TEST(deserialise_more_entries_than_slots_is_e2big);
    TEST(deserialise_duplicates_are_einval_and_named);
    TEST(deserialise_failure_leaves_target_byte_for_byte);
    TEST(deserialise_runs_and_out_of_order_entries_find_every_duplicate);
    TEST(deserialise_applies_runs_of_every_length);
    TEST(deserialise_runs_across_the_hypervisor_limits);
    TEST(deserialise_updates_only_the_entries_given);
    TEST(deserialise_null_array_with_a_count_is_einval);
    TEST(round_trip_is_lossless_over_all_dumps);
    TEST(out_of_range_clearing);
    TEST(in_range_agrees_with_clearing_over_all_dumps);
    TEST(clearing_a_raw_dump_drops_only_what_the_cpu_put_out_of_range);
    return finish();
}

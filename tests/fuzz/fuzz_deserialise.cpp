// SPDX-License-Identifier: MIT
// policy_deserialise() (wire.hpp) from arbitrary WireLeaf / WireMsr arrays.
//
// Input: byte 0 = mode bits, byte 1 = MSR count (0..3, one past the bound), byte 2 =
// count variant, then the MSR entries (16 bytes each), then leaf entries (24 bytes each)
// to the end.  Mode bits:
//   0  structured: map each entry's leaf/subleaf/MSR index into the object's ranges (and
//      just past them), so most entries are near-valid and the fuzzer spends its time on
//      duplicates, subleaf bounds and MSR values rather than on random leaf numbers
//   1  start from an all-zero policy instead of a patterned one
//   2  pass err = NULL
//   3  leaf count MAX_SERIALISED_LEAVES - 1 + (byte 2 % 3), the entries repeated from
//      the input (the -E2BIG boundary without 6 KiB inputs)
//   4  pass a NULL leaf array with the non-zero count
// Checks:
//   - the return value and the error record equal an independent oracle written from
//     the header's rules (first offending entry, leaves before MSRs);
//   - atomicity: on any error the policy is byte-identical to what it was;
//   - on success the policy is byte-identical to the old one with exactly the given
//     entries applied (0x40000000/0x40000100 only EAX; PLATFORM_INFO as 32 bits);
//   - the result round-trips: serialise, deserialise onto a zeroed policy, serialise
//     again gives the same arrays; and a too-small buffer gives -ENOBUFS, untouched.
#include "fuzz.hpp"

#include <errno.h>
#include <string.h>
#include <set>
#include <utility>
#include <vector>

#include "cpupolicy/wire.hpp"

using namespace cpupolicy;

namespace {

constexpr uint32_t NONE = ~0u;

void pattern(Policy &p, uint32_t seed)
{
    uint32_t x = seed | 1;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    };
    for ( Regs &r : p.slot )
        r = Regs{next(), next(), next(), next()};
    p.hv_limit = next();
    p.hv2_limit = next();
    p.platform_info = next();
    p.pad_ = 0;
    p.arch_caps = uint64_t(next()) << 32 | next();
}

WireLeaf structured_leaf(WireLeaf l)
{
    uint32_t sel = l.leaf & 3, n = l.leaf >> 2;
    if ( sel == 0 )
        l.leaf = BASIC_FIRST + n % (NR_BASIC + 2);
    else if ( sel == 1 )
        l.leaf = EXTD_FIRST + n % (NR_EXTD + 2);
    else if ( sel == 2 )
        l.leaf = (n & 1) ? HV2_LEAF : HV_LEAF;
    // sel == 3: as given
    l.subleaf = (l.subleaf & 0x80000000u) ? NO_SUBLEAF : l.subleaf % 66;
    return l;
}

WireMsr structured_msr(WireMsr m)
{
    static constexpr uint32_t idx[] = {raw(MSR_PLATFORM_INFO), raw(MSR_ARCH_CAPABILITIES)};
    if ( m.idx % 5 < 4 )
        m.idx = idx[m.idx % 2];
    if ( m.flags % 8 )
        m.flags = 0;
    if ( !(m.val & 1) )
        m.val &= 0xffffffffu;
    return m;
}

struct Outcome {
    int rc = 0;
    ErrRecord err;
};

bool is_hv(uint32_t leaf) { return leaf == HV_LEAF || leaf == HV2_LEAF; }

// The header's rules, written out plainly.
Outcome oracle(const WireLeaf *leaves, uint32_t nr_leaves, const WireMsr *msrs,
               uint32_t nr_msrs)
{
    Outcome o;
    if ( nr_leaves > MAX_SERIALISED_LEAVES || nr_msrs > MAX_SERIALISED_MSRS )
        return {-E2BIG, {}};
    if ( (nr_leaves && !leaves) || (nr_msrs && !msrs) )
        return {-EINVAL, {}};
    std::set<std::pair<uint32_t, uint32_t>> seen;
    for ( uint32_t i = 0; i < nr_leaves; ++i )
    {
        const WireLeaf &l = leaves[i];
        bool held = is_hv(l.leaf) ? l.subleaf == NO_SUBLEAF
                                  : slot_exact(Leaf{l.leaf}, Subleaf{l.subleaf}) >= 0;
        int rc = !held ? -ERANGE : !seen.insert({l.leaf, l.subleaf}).second ? -EINVAL : 0;
        if ( rc )
            return {rc, ErrRecord{Leaf{l.leaf}, Subleaf{l.subleaf}, MsrIndex{NONE}}};
    }
    std::set<uint32_t> seen_msr;
    for ( uint32_t i = 0; i < nr_msrs; ++i )
    {
        const WireMsr &m = msrs[i];
        int rc = 0;
        if ( m.flags )
            rc = -EINVAL;
        else if ( m.idx == raw(MSR_PLATFORM_INFO) )
            rc = (m.val >> 32) ? -EOVERFLOW : 0;
        else if ( m.idx != raw(MSR_ARCH_CAPABILITIES) )
            rc = -ERANGE;
        if ( !rc && !seen_msr.insert(m.idx).second )
            rc = -EINVAL;
        if ( rc )
            return {rc, ErrRecord{Leaf{NONE}, Subleaf{NONE}, MsrIndex{m.idx}}};
    }
    return o;
}

void apply(Policy &p, const WireLeaf *leaves, uint32_t nr_leaves, const WireMsr *msrs,
           uint32_t nr_msrs)
{
    for ( uint32_t i = 0; i < nr_leaves; ++i )
    {
        const WireLeaf &l = leaves[i];
        if ( l.leaf == HV_LEAF )
            p.hv_limit = l.a;
        else if ( l.leaf == HV2_LEAF )
            p.hv2_limit = l.a;
        else
            p.slot[slot_exact(Leaf{l.leaf}, Subleaf{l.subleaf})] = Regs{l.a, l.b, l.c, l.d};
    }
    for ( uint32_t i = 0; i < nr_msrs; ++i )
    {
        if ( msrs[i].idx == raw(MSR_PLATFORM_INFO) )
            p.platform_info = static_cast<uint32_t>(msrs[i].val);
        else
            p.arch_caps = msrs[i].val;
    }
}

struct Wire {
    std::vector<WireLeaf> leaves;
    std::vector<WireMsr> msrs;
};

Wire serialise(const Policy &p)
{
    Wire w;
    uint32_t nl = 0, nm = 0;
    int rc = policy_serialise(p, nullptr, &nl, nullptr, &nm);
    FUZZ_CHECK(rc == 0, "size query: %d", rc);
    FUZZ_CHECK(nl <= MAX_SERIALISED_LEAVES && nm == MAX_SERIALISED_MSRS,
               "size query: %u leaves (max %u), %u MSRs", nl, MAX_SERIALISED_LEAVES, nm);
    w.leaves.resize(nl);
    w.msrs.resize(nm);

    // One entry short: -ENOBUFS, the required counts, neither buffer touched.
    if ( nl )
    {
        std::vector<WireLeaf> small(nl - 1);
        memset(small.data(), 0xa5, small.size() * sizeof(WireLeaf));
        std::vector<WireMsr> m(nm);
        memset(m.data(), 0xa5, m.size() * sizeof(WireMsr));
        uint32_t n1 = nl - 1, n2 = nm;
        rc = policy_serialise(p, small.data(), &n1, m.data(), &n2);
        FUZZ_CHECK(rc == -ENOBUFS && n1 == nl && n2 == nm,
                   "short leaf buffer: rc %d (want %d), nr %u/%u (want %u/%u)", rc, -ENOBUFS,
                   n1, n2, nl, nm);
        for ( const uint8_t *b = reinterpret_cast<const uint8_t *>(small.data()),
                            *e = b + small.size() * sizeof(WireLeaf);
              b < e; ++b )
            FUZZ_CHECK(*b == 0xa5, "-ENOBUFS wrote into the leaf buffer");
        for ( const WireMsr &x : m )
            FUZZ_CHECK(x.idx == 0xa5a5a5a5u, "-ENOBUFS wrote into the MSR buffer");
    }

    rc = policy_serialise(p, w.leaves.data(), &nl, w.msrs.data(), &nm);
    FUZZ_CHECK(rc == 0 && nl == w.leaves.size() && nm == w.msrs.size(),
               "serialise: rc %d, %u leaves / %u MSRs, sized %zu / %zu", rc, nl, nm,
               w.leaves.size(), w.msrs.size());
    return w;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in{data, size};
    const uint8_t mode = in.u8();
    const uint32_t nr_msrs = in.u8() % 4;
    const uint8_t variant = in.u8();
    const bool structured = mode & 1;

    std::vector<WireMsr> msrs(nr_msrs);
    for ( WireMsr &m : msrs )
    {
        m.idx = in.u32();
        m.flags = in.u32();
        m.val = in.u64();
        if ( structured )
            m = structured_msr(m);
    }

    std::vector<WireLeaf> leaves;
    auto take_leaf = [&](FuzzInput &src) {
        WireLeaf l{src.u32(), src.u32(), src.u32(), src.u32(), src.u32(), src.u32()};
        return structured ? structured_leaf(l) : l;
    };
    if ( mode & 8 )
    {
        // The count boundary, with the entries cycled from what input is left.
        uint32_t n = MAX_SERIALISED_LEAVES - 1 + variant % 3;
        FuzzInput rest = in;
        for ( uint32_t i = 0; i < n; ++i )
        {
            if ( rest.left < sizeof(WireLeaf) )
                rest = in;
            leaves.push_back(take_leaf(rest));
        }
    }
    else
        while ( in.left >= sizeof(WireLeaf) )
            leaves.push_back(take_leaf(in));

    const uint32_t nr_leaves = static_cast<uint32_t>(leaves.size());
    const WireLeaf *lp = (mode & 16) ? nullptr : leaves.data();
    const WireMsr *mp = msrs.empty() ? nullptr : msrs.data();

    Policy p;
    if ( mode & 2 )
        memset(&p, 0, sizeof(p));
    else
        pattern(p, variant * 0x9e3779b9u + nr_leaves);
    Policy before;
    memcpy(&before, &p, sizeof(p));

    ErrRecord err{Leaf{0x11111111}, Subleaf{0x22222222}, MsrIndex{0x33333333}};
    int rc = policy_deserialise(p, lp, nr_leaves, mp, nr_msrs, (mode & 4) ? nullptr : &err);

    const Outcome want = oracle(lp, nr_leaves, mp, nr_msrs);
    FUZZ_CHECK(rc == want.rc, "rc: expected %d, actual %d (%u leaves, %u MSRs)", want.rc, rc,
               nr_leaves, nr_msrs);
    if ( !(mode & 4) )
        FUZZ_CHECK(err.leaf == want.err.leaf && err.subleaf == want.err.subleaf &&
                       err.msr == want.err.msr,
                   "error record: expected {%#x, %#x, msr %#x}, actual {%#x, %#x, msr %#x}",
                   raw(want.err.leaf), raw(want.err.subleaf), raw(want.err.msr), raw(err.leaf),
                   raw(err.subleaf), raw(err.msr));

    if ( rc )
    {
        FUZZ_CHECK(memcmp(&p, &before, sizeof(p)) == 0,
                   "rc %d but the policy changed (atomicity)", rc);
        return 0;
    }

    Policy expect;
    memcpy(&expect, &before, sizeof(expect));
    apply(expect, lp, nr_leaves, mp, nr_msrs);
    FUZZ_CHECK(memcmp(&p, &expect, sizeof(p)) == 0,
               "success, but the policy is not the old one with the %u leaves and %u MSRs "
               "applied",
               nr_leaves, nr_msrs);

    // Round trip through the wire form onto a zeroed policy.
    const Wire w1 = serialise(p);
    Policy q;
    memset(&q, 0, sizeof(q));
    ErrRecord e2;
    rc = policy_deserialise(q, w1.leaves.data(), static_cast<uint32_t>(w1.leaves.size()),
                            w1.msrs.data(), static_cast<uint32_t>(w1.msrs.size()), &e2);
    FUZZ_CHECK(rc == 0, "own serialisation refused: %d at {%#x, %#x, msr %#x}", rc, raw(e2.leaf),
               raw(e2.subleaf), raw(e2.msr));
    const Wire w2 = serialise(q);
    FUZZ_CHECK(w1.leaves.size() == w2.leaves.size() &&
                   memcmp(w1.leaves.data(), w2.leaves.data(),
                          w1.leaves.size() * sizeof(WireLeaf)) == 0 &&
                   memcmp(w1.msrs.data(), w2.msrs.data(), w1.msrs.size() * sizeof(WireMsr)) == 0,
               "serialise(deserialise(serialise(p))) != serialise(p): %zu vs %zu leaves",
               w1.leaves.size(), w2.leaves.size());
    return 0;
}

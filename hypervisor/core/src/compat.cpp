// SPDX-License-Identifier: MIT
#include "cpupolicy/compat.hpp"
#include "cpupolicy/features.hpp"

namespace cpupolicy {

namespace {

// Keeps the failure that comes first in leaf order: CPUID (leaf, subleaf) ascending,
// then MSRs by index.  Every check runs, so the order they run in does not matter.
struct FirstFailure {
    uint64_t cpuid_key = ~0ull;   // leaf << 32 | subleaf (NO_SUBLEAF only for plain leaves)
    uint32_t msr_idx = ~0u;

    void cpuid(Leaf leaf, Subleaf subleaf)
    {
        uint64_t k = uint64_t{raw(leaf)} << 32 | raw(subleaf);
        if ( k < cpuid_key )
            cpuid_key = k;
    }
    void msr(MsrIndex idx)
    {
        if ( raw(idx) < msr_idx )
            msr_idx = raw(idx);
    }
    bool failed() const { return cpuid_key != ~0ull || msr_idx != ~0u; }
    ErrRecord record() const
    {
        if ( cpuid_key != ~0ull )
        {
            ErrRecord e;
            e.leaf = Leaf{static_cast<uint32_t>(cpuid_key >> 32)};
            e.subleaf = Subleaf{static_cast<uint32_t>(cpuid_key)};
            return e;
        }
        ErrRecord e;
        e.msr = MsrIndex{msr_idx};
        return e;
    }
};

// The register of a Regs as a member pointer: a load at a constant offset where
// reg() would branch on `which`.
constexpr uint32_t Regs::*member_of(Reg which)
{
    switch ( which ) {
    case Reg::eax: return &Regs::a;
    case Reg::ebx: return &Regs::b;
    case Reg::ecx: return &Regs::c;
    default:       return &Regs::d;
    }
}

// Where the numeric fields and the CPUID feature words live, resolved at compile time
// (the (leaf, subleaf) -> slot lookup is then not repeated per field and per policy).
struct SlotReg {
    int16_t slot;              // -1: none (the MSR words)
    uint8_t shift;
    uint32_t mask;
    uint32_t Regs::*reg;
};
struct FieldSlots {
    SlotReg numeric[NR_NUMERIC_FIELDS];
    SlotReg word[NR_FEATUREWORDS];
};
constexpr FieldSlots make_field_slots()
{
    FieldSlots t{};
    for ( unsigned i = 0; i < NR_NUMERIC_FIELDS; ++i )
    {
        const Field &f = numeric_fields[i].field;
        t.numeric[i] = SlotReg{static_cast<int16_t>(slot_exact(f.leaf, f.subleaf)), f.shift,
                               f.mask, member_of(f.reg)};
    }
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordSource &src = table::words[i].src;
        int slot = src.is_msr ? -1 : slot_exact(src.leaf, src.subleaf);
        t.word[i] = SlotReg{static_cast<int16_t>(slot), 0, ~0u, member_of(src.reg)};
    }
    return t;
}
constexpr FieldSlots field_slots = make_field_slots();
constexpr bool every_numeric_field_has_a_slot()
{
    for ( const SlotReg &f : field_slots.numeric )
        if ( f.slot < 0 )
            return false;
    return true;
}
static_assert(every_numeric_field_has_a_slot(),
              "numeric_fields names a (leaf, subleaf) the policy does not hold");

// The value as the policy answers it: 0 when its slot is out of range.
inline uint32_t value(const Policy &p, const PolicyRanges &r, const SlotReg &f)
{
    return r.slot(f.slot) ? (p.slot[f.slot].*f.reg >> f.shift) & f.mask : 0;
}

uint64_t xstates_of(const Policy &p, const PolicyRanges &r)
{
    return xsave_components(effective_slot(p, r, XSTATE_SLOT), effective_slot(p, r, XSTATE_SLOT + 1));
}

// Only named features: every max policy is within features::known, so a bit the
// table does not name never reaches a guest and cannot matter to one.  Nor the
// features a pool offers when any host has them (features::pool_any: '|' and the
// "may behave worse" RSBA/RRSBA).
Featureset missing_features(const Featureset &host_eff, const Featureset &guest_eff)
{
    // One word at a time: the Featureset operators would make a temporary each (this
    // was half of a prepared compatibility check).
    Featureset r;
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        r.w[i] = guest_eff.w[i] & features::known.w[i] & ~host_eff.w[i] & ~features::pool_any.w[i];
    return r;
}

// Whether each numeric field compares as `le` (else `subset`), one bit per field.
constexpr uint64_t make_le_fields()
{
    uint64_t m = 0;
    for ( unsigned i = 0; i < NR_NUMERIC_FIELDS; ++i )
        if ( numeric_fields[i].kind == FieldKind::le )
            m |= 1ull << i;
    return m;
}
static_assert(NR_NUMERIC_FIELDS <= 64, "one bit per numeric field");
constexpr uint64_t le_fields = make_le_fields();

} // namespace

bool xstate_layouts_agree(const Regs &x, const Regs &y)
{
    if ( x == Regs{} || y == Regs{} )
        return true;
    return x.a == y.a && x.b == y.b && (x.c & 3) == (y.c & 3);
}

Regs policy_effective(const Policy &p, Leaf leaf, Subleaf subleaf)
{
    if ( !policy_in_range(p, leaf, subleaf) )
        return Regs{};
    return p.slot[slot_exact(leaf, subleaf)];
}

// Both unrolled: every slot, shift and mask is then a constant (levelling calls them
// once per input).
void numeric_field_values(const Policy &p, const PolicyRanges &r, uint32_t (&v)[NR_NUMERIC_FIELDS])
{
#pragma GCC unroll 64
    for ( unsigned i = 0; i < NR_NUMERIC_FIELDS; ++i )
        v[i] = value(p, r, field_slots.numeric[i]);
}

Featureset policy_effective_featureset(const Policy &p, const PolicyRanges &r)
{
    Featureset fs;
#pragma GCC unroll 32
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordSource &src = table::words[i].src;
        if ( src.is_msr )
            fs.w[i] = static_cast<uint32_t>(p.arch_caps >> (32 * src.half));
        else
            fs.w[i] = value(p, r, field_slots.word[i]);
    }
    return fs;
}

Featureset policy_effective_featureset(const Policy &p)
{
    return policy_effective_featureset(p, policy_ranges(p));
}

Featureset policy_missing_features(const Policy &host, const Policy &guest)
{
    return missing_features(policy_effective_featureset(host), policy_effective_featureset(guest));
}

void compat_view_prepare(CompatView &v, const Policy &p)
{
    v.policy = &p;
    v.ranges = policy_ranges(p);
    numeric_field_values(p, v.ranges, v.numeric);
    v.effective = policy_effective_featureset(p, v.ranges);
    v.wanted = missing_features(Featureset{}, v.effective);
    v.xstates = xstates_of(p, v.ranges);
    v.extd_limit = policy_extd_limit(p);
    v.cpuid_faulting = p.platform_info & PLATFORM_INFO_CPUID_FAULTING;
    const Regs l0 = get(p, Leaf{0});
    v.vendor_sig[0] = l0.b;
    v.vendor_sig[1] = l0.c;
    v.vendor_sig[2] = l0.d;
}

int policy_is_compatible(const CompatView &host, const CompatView &guest, ErrRecord *err,
                         Featureset *missing)
{
    FirstFailure first;

    // Same vendor: the 12-byte signature of leaf 0 (policy_same_vendor).
    if ( host.vendor_sig[0] != guest.vendor_sig[0] || host.vendor_sig[1] != guest.vendor_sig[1] ||
         host.vendor_sig[2] != guest.vendor_sig[2] )
        first.cpuid(0x0_leaf, kNoSubleaf);

    // Every numeric field, without a branch per field: a bit per failing field, then
    // only the failing ones (none, for a compatible pair) are looked up.
    uint64_t bad = 0;
#pragma GCC unroll 64
    for ( unsigned i = 0; i < NR_NUMERIC_FIELDS; ++i )
    {
        const uint32_t g = guest.numeric[i], h = host.numeric[i];
        const bool b = (le_fields >> i) & 1 ? g > h : (g & ~h) != 0;
        bad |= uint64_t{b} << i;
    }
    for ( ; bad; bad &= bad - 1 )
    {
        const Field &fl = numeric_fields[__builtin_ctzll(bad)].field;
        first.cpuid(fl.leaf, fl.subleaf);
    }

    // Layout of every xstate component the guest has and the host has too (one the
    // host lacks already failed the component bitmaps at 0xd:0 / 0xd:1, which come
    // first in leaf order).  EAX size, EBX offset in the standard format, ECX[1:0]
    // supervisor / 64-byte-aligned-when-compacted (SDM vol. 2A leaf 0DH, n >= 2).
    // A policy that does not enumerate a component's subleaf (all zero: some dump
    // tools skip them) states no layout, so there is nothing to disagree with.
    // Components 2..62 (bit 63 is reserved), visited by their set bits.
    uint64_t common = guest.xstates & host.xstates & ~3ull & ~(1ull << 63);
    for ( ; common; common &= common - 1 )
    {
        int n = __builtin_ctzll(common);
        Regs g = effective_slot(*guest.policy, guest.ranges, XSTATE_SLOT + n);
        Regs h = effective_slot(*host.policy, host.ranges, XSTATE_SLOT + n);
        if ( !xstate_layouts_agree(g, h) )
            first.cpuid(0xd_leaf, Subleaf{static_cast<uint32_t>(n)});
    }

    if ( guest.extd_limit > host.extd_limit )
        first.cpuid(Leaf{EXTD_FIRST}, kNoSubleaf);

    // missing_features(host, guest), with the guest's side prepared: one AND-NOT a word,
    // and one test for all of them.
    Featureset lacking;
    uint32_t any = 0;
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        any |= lacking.w[i] = guest.wanted.w[i] & ~host.effective.w[i];
    if ( any )
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        {
            if ( !lacking.w[i] )
                continue;
            const WordSource &src = table::words[i].src;
            if ( src.is_msr )
                first.msr(src.msr);
            else
                first.cpuid(src.leaf, src.subleaf);
        }

    // CPUID faulting is a property of the physical CPU that the hypervisor passes on
    // (Xen: platform_info.cpuid_faulting, checked the same way).
    if ( guest.cpuid_faulting && !host.cpuid_faulting )
        first.msr(MSR_PLATFORM_INFO);

    if ( missing )
        *missing = lacking;
    if ( err )
        *err = first.record();
    return first.failed() ? -cpupolicy::err::einval : 0;
}

int policy_is_compatible(const Policy &host, const Policy &guest, ErrRecord *err,
                         Featureset *missing)
{
    // One implementation: both policies' views, then the comparison.
    CompatView h, g;
    compat_view_prepare(h, host);
    compat_view_prepare(g, guest);
    return policy_is_compatible(h, g, err, missing);
}

} // namespace cpupolicy

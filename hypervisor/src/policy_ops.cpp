// SPDX-License-Identifier: MIT
// Out-of-range leaves: which slots of a policy lie inside the ranges the policy itself
// advertises, and zeroing the rest.  The rules are per leaf and cite the manual that
// defines how the leaf enumerates its own subleaves; docs/wire-format.md has the table.
#include "cpupolicy/policy.hpp"

namespace cpupolicy {

namespace {

constexpr uint32_t EXTD_RANGE_LAST = 0x8000ffffu;

Regs slot_of(const Policy &p, uint32_t leaf, uint32_t subleaf)
{
    int s = slot_exact(leaf, subleaf);
    return s < 0 ? Regs{} : p.slot[s];
}

// Subleaves 0..sub all describe something: the leaf enumerates until the first
// subleaf whose type field is zero, and that terminator is itself "nothing" (Xen
// zeroes it too, x86_cpu_policy_clear_out_of_range_leaves).
bool all_typed(const Policy &p, uint32_t leaf, uint32_t sub, Reg r, unsigned shift, uint32_t mask)
{
    for ( uint32_t j = 0; j <= sub; ++j )
        if ( ((reg(slot_of(p, leaf, j), r) >> shift) & mask) == 0 )
            return false;
    return true;
}

// Subleaf `sub` of an indexed leaf that is itself in range.
bool subleaf_in_range(const Policy &p, uint32_t leaf, uint32_t sub)
{
    const Regs s0 = slot_of(p, leaf, 0);

    switch ( leaf ) {
    // Deterministic cache parameters: EAX[4:0] cache type, 0 = no more caches
    // (SDM vol. 2A CPUID leaf 04H; APM vol. 3 CPUID Fn8000_001D).
    case 0x4:
    case 0x8000001du:
        return all_typed(p, leaf, sub, Reg::eax, 0, 0x1f);

    // Extended topology: ECX[15:8] level type, 0 = invalid and every higher subleaf too
    // (SDM leaves 0BH/1FH; APM Fn8000_0026 LevelType, 0 reserved).
    case 0xb:
    case 0x1f:
    case 0x80000026u:
        return all_typed(p, leaf, sub, Reg::ecx, 8, 0xff);

    // Subleaf 0 EAX reports the highest subleaf (SDM: 07H, 14H, 17H MaxSOCID_Index,
    // 18H, 1DH max_palette, 20H, 24H; ISE rev. 059: 1EH).
    case 0x7:
    case 0x14:
    case 0x17:
    case 0x18:
    case 0x1d:
    case 0x1e:
    case 0x20:
    case 0x24:
        return sub <= s0.a;

    // XSAVE: subleaves 0 and 1 always; subleaf n >= 2 is invalid unless bit n is set in
    // XCR0-supported (0:EDX:EAX) or XSS-supported (1:EDX:ECX) (SDM vol. 2A leaf 0DH).
    // Xen clears everything above the highest set bit; this clears per bit, which is
    // what the SDM says the CPU returns for a component it does not support.
    case 0xd:
    {
        if ( sub <= 1 )
            return true;
        const Regs s1 = slot_of(p, 0xd, 1);
        uint64_t xstates = (uint64_t{s0.d} << 32 | s0.a) | (uint64_t{s1.d} << 32 | s1.c);
        return sub < 64 && ((xstates >> sub) & 1);
    }

    // RDT monitoring: subleaf 1 (L3 monitoring) exists when 0:EDX bit 1 is set (SDM 0FH).
    case 0xf:
        return sub == 0 || ((s0.d >> sub) & 1);
    // RDT allocation: ResID n (subleaf n) exists when 0:EBX bit n is set (SDM 10H).
    case 0x10:
        return sub == 0 || ((s0.b >> sub) & 1);
    // Architectural PerfMon extended: 0:EAX is the bitmap of valid subleaves (SDM 23H).
    case 0x23:
        return sub == 0 || ((s0.a >> sub) & 1);
    // AMD PQoS: subleaf n exists when 0:EBX bit n is set (APM Fn8000_0020).
    case 0x80000020u:
        return sub == 0 || ((s0.b >> sub) & 1);

    // SGX: subleaves 0 and 1 are the capability leaves; from 2 on, EPC sections until
    // the first with sub-leaf type EAX[3:0] = 0 (SDM 12H).
    case 0x12:
        if ( sub <= 1 )
            return true;
        for ( uint32_t j = 2; j <= sub; ++j )
            if ( (slot_of(p, leaf, j).a & 0xf) == 0 )
                return false;
        return true;

    default:
        return true;
    }
}

} // namespace

uint32_t policy_extd_limit(const Policy &p)
{
    uint32_t m = extd_max_leaf(p);
    return m >= EXTD_FIRST && m <= EXTD_RANGE_LAST ? m : EXTD_FIRST;
}

bool policy_in_range(const Policy &p, uint32_t leaf, uint32_t subleaf)
{
    uint32_t nr;
    LeafKind k = leaf_kind(leaf, &nr);

    if ( slot_exact(leaf, subleaf) < 0 )
        return false;
    if ( leaf <= BASIC_LAST ? leaf > basic_max_leaf(p) : leaf > policy_extd_limit(p) )
        return false;
    return k == LeafKind::plain || subleaf_in_range(p, leaf, subleaf);
}

void policy_clear_out_of_range(Policy &p)
{
    // Ascending order matters only for the "until the first terminator" rules, and
    // there it is harmless: zeroing a subleaf that is already out of range cannot
    // bring a later one back in.  Subleaf 0 of every leaf whose other subleaves depend
    // on it is in range whenever the leaf is, so it is never zeroed before use.
    for ( uint32_t i = 0; i < NR_BASIC + NR_EXTD; ++i )
    {
        uint32_t leaf = i < NR_BASIC ? BASIC_FIRST + i : EXTD_FIRST + (i - NR_BASIC);
        uint32_t nr;
        LeafKind k = leaf_kind(leaf, &nr);
        if ( k == LeafKind::plain )
        {
            if ( !policy_in_range(p, leaf, NO_SUBLEAF) )
                p.slot[slot_exact(leaf, NO_SUBLEAF)] = Regs{};
            continue;
        }
        for ( uint32_t s = 0; s < nr; ++s )
            if ( !policy_in_range(p, leaf, s) )
                p.slot[slot_exact(leaf, s)] = Regs{};
    }
}

} // namespace cpupolicy

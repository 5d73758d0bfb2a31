// SPDX-License-Identifier: MIT
// How each subleaf-indexed CPUID leaf enumerates its subleaves: the one table of these
// facts.  Beside the feature table because it is the same kind of thing - architecture
// written down once - and everything that needs it derives from it:
//   policy.hpp        the policy layout (how many subleaves the object holds per leaf)
//   policy_ops.cpp    which held subleaves are in range (policy_in_range, ..._ranges)
//   derive.cpp        the max-subleaf fields clamped to what the object holds
//   import.cpp        walking live CPUID, and giving untagged dump lines their subleaf
//
// Sources: Intel SDM vol. 2A, CPUID, table 3-8 ("Information Returned by CPUID
// Instruction"); AMD APM vol. 3, appendix E.4; the rows cite anything beyond these.
#pragma once

#include "cpupolicy/types.hpp"

namespace cpupolicy {

enum class SubleafEnum : uint8_t {
    max_in_eax,        // subleaves 0 .. EAX of subleaf 0
    until_cache_null,  // 0, 1, ... until EAX[4:0] (cache type) == 0
    until_level_null,  // 0, 1, ... until ECX[15:8] (level type) == 0; ECX[7:0] echoes ECX
    resid_bitmap,      // 0, and n for each bit n of `bitmap_mask` set in subleaf 0's `bitmap_reg`
    xsave,             // 0, 1, and n >= 2 for each bit n of XCR0 | IA32_XSS supported
    sgx,               // 0, 1, then EPC sections 2, 3, ... until EAX[3:0] (type) == 0
    pconfig,           // 0, 1, ... until EAX[11:0] (sub-leaf type) == 0
};

struct SubleafRule {
    Leaf leaf;
    SubleafEnum walk;
    uint8_t nr_held;       // subleaves the policy object holds (0: held as a plain leaf)
    Reg bitmap_reg = Reg::eax;  // resid_bitmap only
    uint32_t bitmap_mask = 0;   // resid_bitmap only: which bits >= 1 have a subleaf of their own
};

// nr_held: what real CPUs enumerate with room to spare; docs/policy.md gives the reasons.
inline constexpr SubleafRule subleaf_rules[] = {
    {0x00000004_leaf, SubleafEnum::until_cache_null, 8},   // deterministic cache parameters
    {0x00000007_leaf, SubleafEnum::max_in_eax, 4},         // structured extended features
    {0x0000000b_leaf, SubleafEnum::until_level_null, 4},   // extended topology
    {0x0000000d_leaf, SubleafEnum::xsave, 63},             // + SDM vol. 1 13.2
    // RDT monitoring: EDX[31:1] (SDM vol. 3B, CMT enumeration).
    {0x0000000f_leaf, SubleafEnum::resid_bitmap, 2, Reg::edx, ~1u},
    // RDT allocation: EBX[31:1] (SDM vol. 3B, CAT enumeration).
    {0x00000010_leaf, SubleafEnum::resid_bitmap, 4, Reg::ebx, ~1u},
    {0x00000012_leaf, SubleafEnum::sgx, 4},                // + SDM vol. 3D, SGX resource enumeration
    {0x00000014_leaf, SubleafEnum::max_in_eax, 2},         // processor trace
    {0x00000017_leaf, SubleafEnum::max_in_eax, 4},         // SoC vendor attributes (MaxSOCID_Index)
    {0x00000018_leaf, SubleafEnum::max_in_eax, 8},         // deterministic address translation
    {0x0000001b_leaf, SubleafEnum::pconfig, 0},            // PCONFIG (the policy gates it to zero)
    {0x0000001d_leaf, SubleafEnum::max_in_eax, 2},         // AMX tile information (max palette)
    {0x0000001e_leaf, SubleafEnum::max_in_eax, 2},         // AMX TMUL (ISE rev. 059)
    {0x0000001f_leaf, SubleafEnum::until_level_null, 6},   // V2 extended topology
    {0x00000020_leaf, SubleafEnum::max_in_eax, 1},         // HRESET
    // Architectural PerfMon extended: EAX of subleaf 0 is the bitmap of valid subleaves.
    {0x00000023_leaf, SubleafEnum::resid_bitmap, 4, Reg::eax, ~1u},
    {0x00000024_leaf, SubleafEnum::max_in_eax, 2},         // AVX10 (Intel AVX10 architecture spec.)
    {0x8000001d_leaf, SubleafEnum::until_cache_null, 8},   // AMD cache topology
    // AMD PQoS extended features: EBX bits 1 (L3MBE), 2 (SMBE), 3 (BMEC) and 5 (ABMC)
    // have a subleaf of the same number; bits 4 (L3RR) and 6 (SDCIAE) are flags only.
    {0x80000020_leaf, SubleafEnum::resid_bitmap, 8, Reg::ebx, 0x2eu},
    {0x80000026_leaf, SubleafEnum::until_level_null, 4},   // AMD extended CPU topology
};

// The rule of `leaf`, or nullptr when the leaf is not subleaf-indexed.
constexpr const SubleafRule *subleaf_rule(Leaf leaf)
{
    for ( const SubleafRule &r : subleaf_rules )
        if ( r.leaf == leaf )
            return &r;
    return nullptr;
}

// For the walks that run until a terminating subleaf: whether the subleaf with these
// registers still describes something (the terminator itself does not).  Walks of
// another kind have no terminator: always true.
constexpr bool subleaf_describes(SubleafEnum walk, const Regs &r)
{
    switch ( walk ) {
    case SubleafEnum::until_cache_null: return (r.a & 0x1f) != 0;
    case SubleafEnum::until_level_null: return ((r.c >> 8) & 0xff) != 0;
    case SubleafEnum::sgx:              return (r.a & 0xf) != 0;
    case SubleafEnum::pconfig:          return (r.a & 0xfff) != 0;
    default:                            return true;
    }
}

// The bits of subleaf 0 that list further subleaves (resid_bitmap), bit n = subleaf n.
constexpr uint32_t subleaf_bitmap(const SubleafRule &rule, const Regs &s0)
{
    return reg(s0, rule.bitmap_reg) & rule.bitmap_mask;
}

// XCR0 | IA32_XSS supported, from subleaves 0 and 1 of leaf 0xd (SDM vol. 2A leaf 0DH):
// subleaf n >= 2 exists when bit n is set.
constexpr uint64_t xsave_components(const Regs &s0, const Regs &s1)
{
    return (uint64_t{s0.d} << 32 | s0.a) | (uint64_t{s1.d} << 32 | s1.c);
}

constexpr bool subleaf_rules_are_sound()
{
    for ( unsigned i = 0; i < sizeof(subleaf_rules) / sizeof(subleaf_rules[0]); ++i )
    {
        const SubleafRule &r = subleaf_rules[i];
        if ( i && subleaf_rules[i - 1].leaf >= r.leaf )
            return false;  // sorted, no duplicates
        if ( r.nr_held > 64 )
            return false;  // policy_ops keeps one bit per held subleaf in 64 bits
        if ( (r.walk == SubleafEnum::resid_bitmap) != (r.bitmap_mask != 0) )
            return false;
        if ( r.walk == SubleafEnum::resid_bitmap && (r.bitmap_mask & 1) )
            return false;  // subleaf 0 always exists
    }
    return true;
}
static_assert(subleaf_rules_are_sound(), "subleaf_rules: sorted, <= 64 held, bitmaps only where used");

} // namespace cpupolicy

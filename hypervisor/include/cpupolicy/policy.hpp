// SPDX-License-Identifier: MIT
// The CPU policy object: everything a guest sees through CPUID and the feature MSRs.
//
// Storage is one flat array of register slots addressed through a compile-time layout
// (policy_layout below): each basic leaf 0x0..0x24 and extended leaf
// 0x80000000..0x80000028 has one slot, or for a subleaf-indexed leaf a fixed run of
// slots.  (leaf, subleaf) -> slot is two array reads, so guest CPUID lookups are O(1).
// No heap; sizeof(Policy) is static_assert'ed to stay within 4 KiB.
//
// Ranges held (docs/policy.md has the table with the reasons):
//   basic 0x0..0x24; subleaves: 0x4 x8, 0x7 x4, 0xb x4, 0xd x63 (0..62), 0xf x2, 0x10 x4,
//   0x12 x4, 0x14 x2, 0x17 x4, 0x18 x8, 0x1d x2, 0x1e x2, 0x1f x6, 0x20 x1, 0x23 x4, 0x24 x2
//   extended 0x80000000..0x80000028; subleaves: 0x8000001d x8, 0x80000020 x8, 0x80000026 x4
//   hypervisor leaf limits 0x40000000.eax and 0x40000100.eax
//   MSRs 0xce PLATFORM_INFO (32 bits, as Xen holds it) and 0x10a ARCH_CAPABILITIES.
#pragma once

#include "cpupolicy/featureset.hpp"

namespace cpupolicy {

inline constexpr uint32_t BASIC_FIRST = 0x0, BASIC_LAST = 0x24;
inline constexpr uint32_t EXTD_FIRST = 0x80000000u, EXTD_LAST = 0x80000028u;
inline constexpr uint32_t NR_BASIC = BASIC_LAST - BASIC_FIRST + 1;
inline constexpr uint32_t NR_EXTD = EXTD_LAST - EXTD_FIRST + 1;
inline constexpr uint32_t HV_LEAF = 0x40000000u, HV2_LEAF = 0x40000100u;

inline constexpr uint32_t MSR_PLATFORM_INFO = 0xce;
inline constexpr uint32_t MSR_ARCH_CAPABILITIES = 0x10a;
inline constexpr uint32_t PLATFORM_INFO_CPUID_FAULTING = 1u << 31;  // SDM vol. 4, MSR 0xCE bit 31

// Subleaf-indexed leaves and how many subleaves the object holds.  Every other leaf in
// the basic and extended ranges has exactly one slot and no subleaf.
struct IndexedLeaf {
    uint32_t leaf;
    uint8_t nr_subleaves;
};
inline constexpr IndexedLeaf indexed_leaves[] = {
    {0x4, 8},   {0x7, 4},   {0xb, 4},  {0xd, 63}, {0xf, 2},  {0x10, 4}, {0x12, 4},  {0x14, 2},
    {0x17, 4},  {0x18, 8},  {0x1d, 2}, {0x1e, 2}, {0x1f, 6}, {0x20, 1}, {0x23, 4},  {0x24, 2},
    {0x8000001du, 8}, {0x80000020u, 8}, {0x80000026u, 4},
};

// leaf -> first slot and subleaf count (0 = not indexed).
struct PolicyLayout {
    uint16_t basic_base[NR_BASIC];
    uint8_t basic_nr[NR_BASIC];
    uint16_t extd_base[NR_EXTD];
    uint8_t extd_nr[NR_EXTD];
    uint16_t nr_slots;
};
constexpr PolicyLayout make_policy_layout()
{
    PolicyLayout l{};
    uint16_t slot = 0;
    for ( uint32_t i = 0; i < NR_BASIC + NR_EXTD; ++i )
    {
        uint32_t leaf = i < NR_BASIC ? BASIC_FIRST + i : EXTD_FIRST + (i - NR_BASIC);
        uint8_t nr = 0;
        for ( const auto &x : indexed_leaves )
            if ( x.leaf == leaf )
                nr = x.nr_subleaves;
        if ( i < NR_BASIC )
        {
            l.basic_base[i] = slot;
            l.basic_nr[i] = nr;
        }
        else
        {
            l.extd_base[i - NR_BASIC] = slot;
            l.extd_nr[i - NR_BASIC] = nr;
        }
        slot = static_cast<uint16_t>(slot + (nr ? nr : 1));
    }
    l.nr_slots = slot;
    return l;
}
inline constexpr PolicyLayout policy_layout = make_policy_layout();
inline constexpr unsigned NR_POLICY_SLOTS = policy_layout.nr_slots;

enum class Vendor : uint8_t { unknown, intel, amd, centaur, shanghai, hygon };
const char *vendor_name(Vendor v);
// Hygon's CPUs are AMD Zen derivatives: AMD's CPUID layout, MSRs and levelling apply
// (Xen treats X86_VENDOR_AMD | X86_VENDOR_HYGON alike throughout).
constexpr bool vendor_is_amd_like(Vendor v) { return v == Vendor::amd || v == Vendor::hygon; }

struct Policy {
    Regs slot[NR_POLICY_SLOTS];
    uint32_t hv_limit;       // 0x40000000.eax: highest Xen-style hypervisor leaf
    uint32_t hv2_limit;      // 0x40000100.eax: the second (viridian-compat) range
    uint32_t platform_info;  // MSR 0xce, as Xen holds it: 32 bits, bit 31 = CPUID faulting
    uint32_t pad_;
    uint64_t arch_caps;      // MSR 0x10a

    constexpr bool operator==(const Policy &) const = default;
};
static_assert(sizeof(Policy) <= 4096, "a policy must fit in 4 KiB");

// What kind of leaf a leaf number is in this object.
enum class LeafKind : uint8_t { absent, plain, indexed };
constexpr LeafKind leaf_kind(uint32_t leaf, uint32_t *nr_subleaves = nullptr)
{
    uint8_t nr;
    if ( leaf <= BASIC_LAST )
        nr = policy_layout.basic_nr[leaf];
    else if ( leaf >= EXTD_FIRST && leaf <= EXTD_LAST )
        nr = policy_layout.extd_nr[leaf - EXTD_FIRST];
    else
        return LeafKind::absent;
    if ( nr_subleaves )
        *nr_subleaves = nr ? nr : 1;
    return nr ? LeafKind::indexed : LeafKind::plain;
}

// Slot of (leaf, subleaf) under the wire-format rules: a plain leaf must be given
// NO_SUBLEAF, an indexed one a subleaf it holds.  -1 when the object has no such slot.
constexpr int slot_exact(uint32_t leaf, uint32_t subleaf)
{
    uint32_t base, nr;
    if ( leaf <= BASIC_LAST )
    {
        base = policy_layout.basic_base[leaf];
        nr = policy_layout.basic_nr[leaf];
    }
    else if ( leaf >= EXTD_FIRST && leaf <= EXTD_LAST )
    {
        base = policy_layout.extd_base[leaf - EXTD_FIRST];
        nr = policy_layout.extd_nr[leaf - EXTD_FIRST];
    }
    else
        return -1;
    if ( nr == 0 )
        return subleaf == NO_SUBLEAF ? static_cast<int>(base) : -1;
    return subleaf < nr ? static_cast<int>(base + subleaf) : -1;
}

// Slot as the CPUID instruction would address it: a plain leaf ignores ECX.
constexpr int slot_cpuid(uint32_t leaf, uint32_t subleaf)
{
    LeafKind k = leaf_kind(leaf);
    if ( k == LeafKind::plain )
        return slot_exact(leaf, NO_SUBLEAF);
    if ( k == LeafKind::indexed )
        return slot_exact(leaf, subleaf);
    return -1;
}

// Accessors.  get() returns zeros where the object holds nothing (CPUID semantics for an
// unimplemented leaf are handled by guest_cpuid, not here).
constexpr Regs get(const Policy &p, Leaf leaf, Subleaf subleaf = kNoSubleaf)
{
    int s = slot_cpuid(raw(leaf), raw(subleaf));
    return s < 0 ? Regs{} : p.slot[s];
}
// Mutable slot, or nullptr.
constexpr Regs *at(Policy &p, Leaf leaf, Subleaf subleaf = kNoSubleaf)
{
    int s = slot_cpuid(raw(leaf), raw(subleaf));
    return s < 0 ? nullptr : &p.slot[s];
}

constexpr uint32_t basic_max_leaf(const Policy &p) { return p.slot[policy_layout.basic_base[0]].a; }
constexpr uint32_t extd_max_leaf(const Policy &p)
{
    return p.slot[policy_layout.extd_base[0]].a;
}

// Vendor from leaf 0's EBX:EDX:ECX signature.
Vendor policy_vendor(const Policy &p);

// Featureset view: the 19 words read from / written into their leaves and MSR halves
// (feature-table.hpp, table::words).
Featureset policy_to_featureset(const Policy &p);
void policy_apply_featureset(Policy &p, const Featureset &fs);

// --- Ranges (hypervisor/src/policy_ops.cpp) ----------------------------------------
// The highest extended leaf the policy advertises: 0x80000000.eax when it lies in
// 0x80000000..0x8000ffff, otherwise EXTD_FIRST (no extended leaf beyond 0x80000000;
// CPUs without the extended range answer garbage there, SDM vol. 2A CPUID).
uint32_t policy_extd_limit(const Policy &p);
// Whether the slot of (leaf, subleaf) - wire-format addressing, NO_SUBLEAF for a plain
// leaf - lies inside the ranges the policy itself advertises: max basic/extended leaf,
// 7:0.eax, the cache/topology terminators, the xstate component bitmap, and the
// per-leaf subleaf counts of the SDM/APM (docs/wire-format.md, "Out-of-range leaves").
bool policy_in_range(const Policy &p, uint32_t leaf, uint32_t subleaf);
// Zero every slot policy_in_range() rejects (Xen's
// x86_cpu_policy_clear_out_of_range_leaves, extended to this object's leaves).
void policy_clear_out_of_range(Policy &p);

} // namespace cpupolicy

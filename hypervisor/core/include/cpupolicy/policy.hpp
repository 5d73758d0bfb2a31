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
#include "cpupolicy/subleaves.hpp"

namespace cpupolicy {

inline constexpr uint32_t BASIC_FIRST = 0x0, BASIC_LAST = 0x24;
inline constexpr uint32_t EXTD_FIRST = 0x80000000u, EXTD_LAST = 0x80000028u;
inline constexpr uint32_t NR_BASIC = BASIC_LAST - BASIC_FIRST + 1;
inline constexpr uint32_t NR_EXTD = EXTD_LAST - EXTD_FIRST + 1;
inline constexpr uint32_t HV_LEAF = 0x40000000u, HV2_LEAF = 0x40000100u;

inline constexpr MsrIndex MSR_PLATFORM_INFO = 0xce_msr;
inline constexpr MsrIndex MSR_ARCH_CAPABILITIES = 0x10a_msr;
inline constexpr uint32_t PLATFORM_INFO_CPUID_FAULTING = 1u << 31;  // SDM vol. 4, MSR 0xCE bit 31

// Subleaf-indexed leaves the object holds, and how many subleaves of each: the rows of
// subleaf_rules (subleaves.hpp) with nr_held > 0, in leaf order.  Every other leaf in the
// basic and extended ranges has exactly one slot and no subleaf.
using IndexedLeaf = SubleafRule;
constexpr unsigned count_indexed_leaves()
{
    unsigned n = 0;
    for ( const SubleafRule &r : subleaf_rules )
        n += r.nr_held != 0;
    return n;
}
inline constexpr unsigned NR_INDEXED_LEAVES = count_indexed_leaves();
struct IndexedLeaves {
    IndexedLeaf e[NR_INDEXED_LEAVES];
};
constexpr IndexedLeaves make_indexed_leaves()
{
    IndexedLeaves t{};
    unsigned n = 0;
    for ( const SubleafRule &r : subleaf_rules )
        if ( r.nr_held )
            t.e[n++] = r;
    return t;
}
inline constexpr IndexedLeaves indexed_leaves_table = make_indexed_leaves();
inline constexpr const IndexedLeaf (&indexed_leaves)[NR_INDEXED_LEAVES] = indexed_leaves_table.e;

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
        Leaf leaf{i < NR_BASIC ? BASIC_FIRST + i : EXTD_FIRST + (i - NR_BASIC)};
        uint8_t nr = 0;
        for ( const auto &x : indexed_leaves )
            if ( x.leaf == leaf )
                nr = x.nr_held;
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
constexpr LeafKind leaf_kind(Leaf l, uint32_t *nr_subleaves = nullptr)
{
    const uint32_t leaf = raw(l);
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
constexpr int slot_exact(Leaf l, Subleaf sl)
{
    const uint32_t leaf = raw(l), subleaf = raw(sl);
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
constexpr int slot_cpuid(Leaf leaf, Subleaf subleaf)
{
    LeafKind k = leaf_kind(leaf);
    if ( k == LeafKind::plain )
        return slot_exact(leaf, kNoSubleaf);
    if ( k == LeafKind::indexed )
        return slot_exact(leaf, subleaf);
    return -1;
}

// Accessors.  get() returns zeros where the object holds nothing (CPUID semantics for an
// unimplemented leaf are handled by guest_cpuid, not here).
constexpr Regs get(const Policy &p, Leaf leaf, Subleaf subleaf = kNoSubleaf)
{
    int s = slot_cpuid(leaf, subleaf);
    return s < 0 ? Regs{} : p.slot[s];
}
// Mutable slot, or nullptr.
constexpr Regs *at(Policy &p, Leaf leaf, Subleaf subleaf = kNoSubleaf)
{
    int s = slot_cpuid(leaf, subleaf);
    return s < 0 ? nullptr : &p.slot[s];
}

// --- Named fields -----------------------------------------------------------------------
// The fields the core reads most, named once (as Xen's p->basic.max_leaf,
// p->extd.maxphysaddr, ...), so that no caller spells out their leaf, register and bits.
// field_get/field_set read the stored value, in range or not (policy_effective() and
// effective_slot() give the value as a guest sees it).
struct Field {
    Leaf leaf;
    Subleaf subleaf;  // kNoSubleaf for a plain leaf
    Reg reg;
    uint8_t shift;
    uint32_t mask;           // applied after the shift
};
namespace field {
inline constexpr Field max_basic_leaf{0x0_leaf, kNoSubleaf, Reg::eax, 0, ~0u};
inline constexpr Field max_extd_leaf{Leaf{EXTD_FIRST}, kNoSubleaf, Reg::eax, 0, ~0u};
inline constexpr Field leaf7_max_subleaf{0x7_leaf, 0_subleaf, Reg::eax, 0, ~0u};
// CPUID 0x80000008.EAX (SDM vol. 2A 80000008H; APM vol. 3 Fn8000_0008_EAX).
inline constexpr Field maxphysaddr{0x80000008_leaf, kNoSubleaf, Reg::eax, 0, 0xff};
inline constexpr Field maxlinaddr{0x80000008_leaf, kNoSubleaf, Reg::eax, 8, 0xff};
inline constexpr Field guest_maxphysaddr{0x80000008_leaf, kNoSubleaf, Reg::eax, 16, 0xff};  // AMD; 0 = as maxphysaddr
// CPUID 0xd (SDM vol. 2A leaf 0DH): the component bitmaps and the XSAVE area sizes.
inline constexpr Field xcr0_low{0xd_leaf, 0_subleaf, Reg::eax, 0, ~0u};
inline constexpr Field xcr0_high{0xd_leaf, 0_subleaf, Reg::edx, 0, ~0u};
inline constexpr Field xss_low{0xd_leaf, 1_subleaf, Reg::ecx, 0, ~0u};
inline constexpr Field xss_high{0xd_leaf, 1_subleaf, Reg::edx, 0, ~0u};
inline constexpr Field xsave_size{0xd_leaf, 0_subleaf, Reg::ebx, 0, ~0u};          // standard, XCR0 in use
inline constexpr Field xsave_size_max{0xd_leaf, 0_subleaf, Reg::ecx, 0, ~0u};      // standard, all XCR0 components
inline constexpr Field xsave_size_compacted{0xd_leaf, 1_subleaf, Reg::ebx, 0, ~0u};  // XCR0 | XSS in use
} // namespace field

constexpr uint32_t field_get(const Policy &p, const Field &f)
{
    return (reg(p.slot[slot_exact(f.leaf, f.subleaf)], f.reg) >> f.shift) & f.mask;
}
constexpr void field_set(Policy &p, const Field &f, uint32_t v)
{
    uint32_t &r = reg(p.slot[slot_exact(f.leaf, f.subleaf)], f.reg);
    r = (r & ~(f.mask << f.shift)) | ((v & f.mask) << f.shift);
}
// The same on a register set already read from the field's (leaf, subleaf).
constexpr uint32_t field_of(const Regs &r, const Field &f) { return (reg(r, f.reg) >> f.shift) & f.mask; }

constexpr uint32_t basic_max_leaf(const Policy &p) { return field_get(p, field::max_basic_leaf); }
constexpr uint32_t extd_max_leaf(const Policy &p) { return field_get(p, field::max_extd_leaf); }

// Leaf 0xd's subleaves are consecutive slots: subleaf n of leaf 0xd is slot XSTATE_SLOT + n.
inline constexpr int XSTATE_SLOT = slot_exact(0xd_leaf, 0_subleaf);
static_assert(slot_exact(0xd_leaf, 62_subleaf) == XSTATE_SLOT + 62, "leaf 0xd subleaves are consecutive slots");
// XCR0 / IA32_XSS bits a policy enumerates (CPUID.(0xd,0).EDX:EAX, (0xd,1).EDX:ECX).
constexpr uint64_t policy_xcr0(const Policy &p)
{
    return uint64_t{field_get(p, field::xcr0_high)} << 32 | field_get(p, field::xcr0_low);
}
constexpr uint64_t policy_xss(const Policy &p)
{
    return uint64_t{field_get(p, field::xss_high)} << 32 | field_get(p, field::xss_low);
}

// Vendor from leaf 0's EBX:EDX:ECX signature.
Vendor policy_vendor(const Policy &p);
// Whether two policies name the same vendor: their 12-byte leaf 0 signatures are equal.
// Not policy_vendor(a) == policy_vendor(b): two signatures the vendor table does not
// know are both Vendor::unknown, yet two vendors.
constexpr bool policy_same_vendor(const Policy &a, const Policy &b)
{
    const Regs x = get(a, Leaf{0}), y = get(b, Leaf{0});
    return x.b == y.b && x.c == y.c && x.d == y.d;
}

// Featureset view: the 19 words read from / written into their leaves and MSR halves
// (feature-table.hpp, table::words).
// policy_apply_featureset then re-derives the AMD mirror (policy_mirror_common_1d): word 2
// does not name those bits, so a sanitised featureset has them clear.
Featureset policy_to_featureset(const Policy &p);
void policy_apply_featureset(Policy &p, const Featureset &fs);
// On AMD and Hygon, 0x80000001.EDX holds copies of leaf 1 EDX's FPU..APIC, MTRR..PSE36,
// MMX and FXSR bits (features::COMMON_1D; APM vol. 3 Fn8000_0001_EDX); set them from
// leaf 1, as Xen's recalculate_misc() does for every AMD policy.  Other vendors: no-op
// (Intel reports 0 there; derive clears them).
void policy_mirror_common_1d(Policy &p);

// --- Ranges (hypervisor/core/src/policy_ops.cpp) ----------------------------------------
// The highest extended leaf the policy advertises: 0x80000000.eax when it lies in
// 0x80000000..0x8000ffff, otherwise EXTD_FIRST (no extended leaf beyond 0x80000000;
// CPUs without the extended range answer garbage there, SDM vol. 2A CPUID).
uint32_t policy_extd_limit(const Policy &p);
// Whether the slot of (leaf, subleaf) - wire-format addressing, NO_SUBLEAF for a plain
// leaf - lies inside the ranges the policy itself advertises: max basic/extended leaf,
// 7:0.eax, the cache/topology terminators, the xstate component bitmap, and the
// per-leaf subleaf counts of the SDM/APM (docs/wire-format.md, "Out-of-range leaves").
bool policy_in_range(const Policy &p, Leaf leaf, Subleaf subleaf);
// Zero every slot policy_in_range() rejects (Xen's
// x86_cpu_policy_clear_out_of_range_leaves, extended to this object's leaves).
void policy_clear_out_of_range(Policy &p);

} // namespace cpupolicy

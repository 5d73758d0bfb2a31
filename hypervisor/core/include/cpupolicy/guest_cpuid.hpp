// SPDX-License-Identifier: MIT
// Guest CPUID: what a vCPU's CPUID instruction returns, answered from its domain's
// policy in constant time.
//
// The policy is static; a few fields depend on the vCPU (docs/policy.md "Guest CPUID"):
//   leaf 1      EBX[31:24] initial APIC ID (HVM: vcpu_id * 2, as Xen); ECX.OSXSAVE =
//               CR4.OSXSAVE (bit 18); EDX.APIC cleared while the local APIC is
//               hardware-disabled (HVM, IA32_APIC_BASE.EN)
//   leaf 7:0    ECX.OSPKE = CR4.PKE (bit 22)
//   0xb / 0x1f  with x2APIC offered: ECX[7:0] = subleaf, EDX = x2APIC ID (vcpu_id * 2)
//   0xd:0 EBX   XSAVE area size (standard format) for the current XCR0
//   0xd:1 EBX   XSAVE area size (compacted) for the current XCR0 | IA32_XSS
//   0x80000001  EDX.APIC mirrors leaf 1 (AMD); SYSCALL hidden outside long mode for
//               an Intel HVM guest (Intel reports it only in 64-bit mode)
//   0x40000000+ Xen's leaves (signature "XenVMMXenVMM", version, hypercall page,
//               TSC, HVM/PV specific), at 0x40000100 instead when the policy sets
//               hv2_limit (HVM); the Viridian range below them then reads as zeros
//               because this core implements no Viridian leaves.
// Everything out of range reads as zeros: leaves above the basic / extended maximum,
// subleaves the policy does not enumerate, and every other range.  The SDM says an
// Intel CPU answers a too-high leaf with the highest basic leaf's data; Xen (and this)
// follow the AMD model and return zeros, so that a guest's answer never depends on
// which leaf happens to be the host's highest.
//
// Cost.  guest_cpuid_prepare() runs once per policy change: it applies every range rule
// once (GuestCpuidCtx::from, one byte per slot of the policy object: zeros, the
// policy's registers, or the vCPU's answer) and builds the xsave size tables
// (xstate::SizeTables).  Each vCPU keeps the answers that depend on it (VcpuCpuid: leaf
// 1, 7:0, 0xb, 0xd:0, 0xd:1, 0x1f, 0x80000001), refreshed by the calls that change its
// state - a CR4 write, XSETBV, an IA32_XSS write - which is where leaf 0xd's sizes are
// computed (a few table reads).  guest_cpuid() is then inline: a bounds check, a
// speculation clamp, the slot's byte and one 16-byte load, for every basic and extended
// leaf and held subleaf.  Xen instead recomputes the xsave size, or asks the hardware
// with the guest's XCR0 loaded, on every query of leaf 0xd.
#pragma once

#include "cpupolicy/nospec.hpp"
#include "cpupolicy/policy.hpp"
#include "cpupolicy/xstate.hpp"

namespace cpupolicy {

// The vCPU state the dynamic parts read.
struct VcpuState {
    uint32_t vcpu_id = 0;
    uint64_t cr4 = 0;
    uint64_t xcr0 = xstate::bit(xstate::X87);  // architectural reset value
    uint64_t xss = 0;
    bool apic_enabled = true;   // IA32_APIC_BASE.EN (HVM)
    bool long_mode = true;      // EFER.LMA (HVM)
};

inline constexpr uint64_t CR4_OSXSAVE = 1u << 18;  // SDM vol. 3A 2.5
inline constexpr uint64_t CR4_PKE = 1u << 22;

// The domain-wide facts that are not in the policy.
struct GuestConfig {
    bool hvm = true;
    uint16_t domid = 0;
    uint32_t xen_version = (4u << 16) | 17;  // 0x40000001.EAX: major << 16 | minor
};

// Xen's public interface (xen/include/public/arch-x86/cpuid.h).
inline constexpr uint32_t XEN_SIGNATURE_EBX = 0x566e6558;  // "XenV"
inline constexpr uint32_t XEN_SIGNATURE_ECX = 0x65584d4d;  // "MMXe"
inline constexpr uint32_t XEN_SIGNATURE_EDX = 0x4d4d566e;  // "nVMM"
inline constexpr uint32_t XEN_MAX_PV_LEAF = 5, XEN_MAX_HVM_LEAF = 4;  // leaf indices
inline constexpr uint32_t XEN_HYPERCALL_MSR = 0x40000000;  // 0x40000x02.EBX
inline constexpr uint32_t XEN_FEAT1_MMU_PT_UPDATE_PRESERVE_AD = 1u << 0;
inline constexpr uint32_t XEN_HVM_CPUID_IOMMU_MAPPINGS = 1u << 2;
inline constexpr uint32_t XEN_HVM_CPUID_VCPU_ID_PRESENT = 1u << 3;
inline constexpr uint32_t XEN_HVM_CPUID_DOMID_PRESENT = 1u << 4;

// --- The prepared layout -----------------------------------------------------------------
// Where a (leaf, subleaf) the guest asks for is answered from, resolved at compile time.
// guest_leaf_index[i]: i = leaf for a basic leaf, NR_BASIC + (leaf - EXTD_FIRST) for an
// extended one; the leaf's first slot and its number of subleaves (0: not indexed).
struct GuestLeafIndex {
    uint16_t slot;
    uint8_t nr;
};
struct GuestLeafIndexTable {
    GuestLeafIndex e[NR_BASIC + NR_EXTD];
};
constexpr GuestLeafIndexTable make_guest_leaf_index()
{
    GuestLeafIndexTable t{};
    for ( uint32_t i = 0; i < NR_BASIC; ++i )
        t.e[i] = {policy_layout.basic_base[i], policy_layout.basic_nr[i]};
    for ( uint32_t i = 0; i < NR_EXTD; ++i )
        t.e[NR_BASIC + i] = {policy_layout.extd_base[i], policy_layout.extd_nr[i]};
    return t;
}
inline constexpr GuestLeafIndexTable guest_leaf_index = make_guest_leaf_index();

// The slots whose answer depends on the vCPU (the table at the top of this file): leaf 1,
// 7:0, every held subleaf of 0xb, 0xd:0, 0xd:1, every held subleaf of 0x1f, 0x80000001.
// Subleaves of 0xb/0x1f beyond the held ones, also vCPU-dependent, are rare and answered
// out of line.  Each has an entry in VcpuCpuid, in this order.
struct GuestDynSlot {
    uint32_t leaf, subleaf;
    uint16_t slot;
};
// The vCPU-dependent leaves and how many of their first subleaves depend on the vCPU
// (0: every subleaf the object holds).
inline constexpr struct {
    uint32_t leaf, nr;
} guest_dyn_leaves[] = {{0x1, 1}, {0x7, 1}, {0xb, 0}, {0xd, 2}, {0x1f, 0}, {0x80000001u, 1}};
constexpr uint32_t guest_dyn_nr(uint32_t leaf, uint32_t nr)
{
    uint32_t held = 1;
    leaf_kind(Leaf{leaf}, &held);
    return nr ? nr : held;
}
constexpr unsigned count_guest_dyn()
{
    unsigned n = 0;
    for ( const auto &d : guest_dyn_leaves )
        n += guest_dyn_nr(d.leaf, d.nr);
    return n;
}
inline constexpr unsigned NR_GUEST_DYN = count_guest_dyn();
struct GuestDynTable {
    GuestDynSlot e[NR_GUEST_DYN];
};
constexpr GuestDynTable make_guest_dyn()
{
    GuestDynTable t{};
    unsigned n = 0;
    for ( const auto &d : guest_dyn_leaves )
        for ( uint32_t s = 0; s < guest_dyn_nr(d.leaf, d.nr); ++s )
            t.e[n++] = {d.leaf, s, static_cast<uint16_t>(slot_cpuid(Leaf{d.leaf}, Subleaf{s}))};
    return t;
}
inline constexpr GuestDynTable guest_dyn = make_guest_dyn();
static_assert(guest_dyn.e[NR_GUEST_DYN - 1].leaf == 0x80000001u, "every vCPU-dependent slot listed once");

// Where a slot's answer comes from (GuestCpuidCtx::from): the policy's registers (0), or
// entry `from` of the vCPU's answers - GUEST_FROM_ZEROS where the guest is not answered
// (above a max leaf, leaf 7 above 7:0.EAX, 0xd without XSAVE), GUEST_FROM_VCPU + k for
// guest_dyn.e[k].  Zeros are read from the vCPU too, which keeps the query to one test;
// and either side of that test, mispredicted, reads within its array.
inline constexpr uint8_t GUEST_FROM_POLICY = 0, GUEST_FROM_ZEROS = 1, GUEST_FROM_VCPU = 2;
static_assert(GUEST_FROM_VCPU + NR_GUEST_DYN <= 256);

// --- The domain's part --------------------------------------------------------------------
struct GuestCpuidCtx {
    const Policy *policy;      // the policy prepared from (guest_cpuid_compute() checks it)
    uint32_t basic_max;        // highest basic leaf answered (<= BASIC_LAST)
    uint32_t extd_max;         // highest extended leaf answered (EXTD_FIRST: only it)
    uint32_t leaf7_max;        // highest leaf 7 subleaf
    uint32_t hv_base;          // 0x40000000, or 0x40000100 with hv2_limit (HVM)
    uint32_t hv_last;          // index of Xen's highest leaf
    uint32_t xen_version;
    uint32_t machine_addr_bits;  // PV: 0x40000x05 subleaf 0 EBX
    uint16_t domid;
    bool hvm, intel, xsave, compacted, x2apic, pku;
    bool xsaves;               // IA32_XSS exists (CPUID.(0xd,1).EAX.XSAVES, with XSAVE)
    uint64_t xcr0_offered;     // policy_xcr0: what XSETBV may load (with xcr0_valid)
    uint64_t xss_offered;      // policy_xss with XSAVES, else 0: what IA32_XSS may hold
    xstate::SizeTables sizes;
    // Per slot of the policy object, with every range rule applied: GUEST_FROM_*.
    uint8_t from[NR_POLICY_SLOTS];
};

// Build the context for `p`.  0, or a negative errno from xstate::size_tables_build
// (a policy whose xsave layout no CPU could have).  `ctx` is written only on success.
// Every VcpuCpuid answered with `ctx` must be load()ed again afterwards.
CPUPOLICY_MUST_CHECK int guest_cpuid_prepare(GuestCpuidCtx &ctx, const Policy &p,
                                             const GuestConfig &cfg = {});

// --- The vCPU's part ----------------------------------------------------------------------
// A vCPU's CPUID state and its prepared answers.  The state changes only through these
// calls, each of which refreshes the answers it affects, so guest_cpuid() never reads a
// stale one.  `ctx` is always the context of the vCPU's domain.
class VcpuCpuid {
public:
    // Take `s` as the whole state (vCPU creation, a restored vCPU context, a new policy
    // after guest_cpuid_prepare) and compute every answer.  No check: the caller has
    // validated `s` (as set_vcpu_context does) or wants exactly this state (tests).
    void load(const GuestCpuidCtx &ctx, const VcpuState &s);
    // The guest writes CR4: leaf 1 OSXSAVE and 7:0 OSPKE follow.
    void set_cr4(const GuestCpuidCtx &ctx, uint64_t cr4);
    // XSETBV: -EINVAL, and nothing changes, without CR4.OSXSAVE (#UD) or for an XCR0 the
    // policy does not allow (#GP: xstate::xcr0_valid against policy_xcr0, SDM vol. 2B
    // XSETBV); otherwise XCR0 is loaded and 0xd:0 / 0xd:1 EBX follow.
    CPUPOLICY_MUST_CHECK int set_xcr0(const GuestCpuidCtx &ctx, uint64_t xcr0);
    // WRMSR IA32_XSS: -EINVAL, and nothing changes, for a bit the policy does not offer
    // (policy_xss; SDM vol. 4 MSR 0xDA0: #GP); otherwise 0xd:1 EBX follows.
    CPUPOLICY_MUST_CHECK int set_xss(const GuestCpuidCtx &ctx, uint64_t xss);

    const VcpuState &state() const { return state_; }

private:
    friend Regs guest_cpuid(const GuestCpuidCtx &, const VcpuCpuid &, Leaf, Subleaf);
    void refresh(const GuestCpuidCtx &ctx, unsigned k);

    VcpuState state_;
    // [GUEST_FROM_ZEROS] (and the unused [0]): always zeros; [GUEST_FROM_VCPU + k]:
    // guest_dyn.e[k]'s answer.
    Regs answer_[GUEST_FROM_VCPU + NR_GUEST_DYN] = {};
};

// CPUID as the vCPU sees it, from scratch: the policy's slot, the range rules and the
// fix-ups for `v`, computed on every call (out of line).  The reference the prepared
// answers are built with and tested against, and guest_cpuid()'s path for the rare
// questions (Xen's leaves, topology subleaves beyond those held, other ranges).  `p` must
// be the policy `ctx` was prepared from (zeros are returned otherwise, rather than data
// mixed from two policies).
Regs guest_cpuid_compute(const GuestCpuidCtx &ctx, const Policy &p, const VcpuState &v, Leaf leaf,
                         Subleaf subleaf);

// guest_cpuid's out-of-line part: guest_cpuid_compute on the vCPU's state.
Regs guest_cpuid_slow(const GuestCpuidCtx &ctx, const VcpuCpuid &vc, Leaf leaf, Subleaf subleaf);

// CPUID as the vCPU sees it: the prepared answer.  The leaf and the subleaf are the
// guest's (EAX, ECX): every index derived from them is clamped with array_index_nospec
// after its bounds check, so a mispredicted check cannot read beyond the tables
// (Spectre v1).
inline Regs guest_cpuid(const GuestCpuidCtx &ctx, const VcpuCpuid &vc, Leaf leaf, Subleaf subleaf)
{
    const uint32_t l = raw(leaf), s = raw(subleaf);
    uint32_t i;
    if ( l <= BASIC_LAST )
        i = array_index_nospec(l, NR_BASIC);
    else if ( l - EXTD_FIRST < NR_EXTD )
        i = NR_BASIC + array_index_nospec(l - EXTD_FIRST, NR_EXTD);
    else
        return guest_cpuid_slow(ctx, vc, leaf, subleaf);
    const GuestLeafIndex x = guest_leaf_index.e[i];
    uint32_t slot = x.slot;
    if ( x.nr )
    {
        if ( s >= x.nr )
            return guest_cpuid_slow(ctx, vc, leaf, subleaf);
        slot += array_index_nospec(s, x.nr);
    }
    const unsigned from = ctx.from[slot];
    return from == GUEST_FROM_POLICY ? ctx.policy->slot[slot] : vc.answer_[from];
}

} // namespace cpupolicy

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
// Cost: guest_cpuid_prepare() runs once per policy change and precomputes the range
// limits, the flags the dynamic parts need and the xsave size tables
// (xstate::SizeTables, about 1 KiB); guest_cpuid() is then a slot lookup plus at most
// a handful of table reads - Xen instead recomputes the xsave size, or asks the
// hardware with the guest's XCR0 loaded, on every query of leaf 0xd.
#pragma once

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

struct GuestCpuidCtx {
    const Policy *policy;      // the policy prepared from (guest_cpuid() checks it)
    uint32_t basic_max;        // highest basic leaf answered (<= BASIC_LAST)
    uint32_t extd_max;         // highest extended leaf answered (EXTD_FIRST: only it)
    uint32_t leaf7_max;        // highest leaf 7 subleaf
    uint32_t hv_base;          // 0x40000000, or 0x40000100 with hv2_limit (HVM)
    uint32_t hv_last;          // index of Xen's highest leaf
    uint32_t xen_version;
    uint32_t machine_addr_bits;  // PV: 0x40000x05 subleaf 0 EBX
    uint16_t domid;
    bool hvm, intel, xsave, compacted, x2apic, pku;
    xstate::SizeTables sizes;
};

// Build the context for `p`.  0, or a negative errno from xstate::size_tables_build
// (a policy whose xsave layout no CPU could have).  `ctx` is written only on success.
CPUPOLICY_MUST_CHECK int guest_cpuid_prepare(GuestCpuidCtx &ctx, const Policy &p,
                                             const GuestConfig &cfg = {});

// CPUID as the vCPU sees it.  `p` must be the policy `ctx` was prepared from (zeros
// are returned otherwise, rather than data mixed from two policies).
Regs guest_cpuid(const GuestCpuidCtx &ctx, const Policy &p, const VcpuState &v, Leaf leaf,
                 Subleaf subleaf);

} // namespace cpupolicy

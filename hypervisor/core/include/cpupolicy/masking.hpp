// SPDX-License-Identifier: MIT
// Levelling: how much control this host has over what a guest sees through the CPUID
// instruction, what each PV domain's masking MSRs must hold, and the lazy context switch
// that loads them.
//
// Two hardware mechanisms exist (docs/hypervisor.md has the long form):
//
//  * CPUID faulting.  Intel: MSR_PLATFORM_INFO (0xce) bit 31 says it exists and
//    MSR_MISC_FEATURES_ENABLES (0x140) bit 0 turns it on (SDM vol. 4, "MSRs in processors
//    based on Ivy Bridge microarchitecture").  AMD: CPUID 0x80000021.eax bit 17
//    (CpuidUserDis) says it exists and HWCR (0xc0010015) bit 35 turns it on (APM vol. 2
//    "CPUID instruction" and the HWCR description).  With it on, CPUID at CPL > 0 raises
//    #GP, the hypervisor answers from the domain's policy, and every leaf is levelled.
//    When the host has faulting, masking is not used at all (Xen: "faulting wins").
//
//  * Masking MSRs, model specific and covering only a few registers.  Intel MSRs are AND
//    masks applied after the fast-forwarded bits (OSXSAVE, APIC) are merged in; AMD MSRs
//    are overrides (the MSR value *is* the answer, except that OSXSAVE and APIC are only
//    fast-forwarded from real state when the MSR has them set).  Which MSRs exist, by model:
//      Intel fam 6 model 0x17, 0x1d (Penryn, Dunnington)           0x478 leaf 1 ecx/edx
//      Intel fam 6 model 0x1a 0x1e 0x1f 0x25 0x2c 0x2e 0x2f (Nehalem/Westmere)
//                                                                  0x130 leaf 1, 0x131 0x80000001
//      Intel fam 6 model 0x2a 0x2d (Sandy Bridge)                  0x132 leaf 1, 0x133 0x80000001,
//                                                                  0x134 leaf 0xd:1 eax
//      AMD/Hygon (not fam 11h)      0xc0011004 leaf 1 (ecx high half, edx low half),
//                                   0xc0011005 leaf 0x80000001 (same layout),
//                                   0xc0011002 leaf 7:0 (eax high, ebx low) when max leaf >= 7,
//                                   0xc0011003 leaf 6 ecx on fam 15h when leaf 6 ecx != 0
//    Each candidate is probed by reading it and writing the value back; one that faults is
//    absent (it might be when running virtualised).  Facts as in Xen's
//    xen/arch/x86/cpu/{intel,amd,common}.c; the code here is this project's own.
//
// The core keeps no global state: detection fills a LevellingCaps the caller owns (the
// Hypervisor object), per-CPU state lives in the LevellingPerCpu the platform hands out
// (cpupolicy_plat_levelling_percpu), and per-domain state in the domain's DomainLevelling.
#pragma once

#include "cpupolicy/policy.hpp"

namespace cpupolicy {

// --- Capability bits ---------------------------------------------------------------
// The historic public numbering (Xen's XEN_SYSCTL_CPU_LEVELCAP_*): this bitmap is ABI.
namespace lcap {
inline constexpr uint32_t faulting = 1u << 0;
inline constexpr uint32_t ecx = 1u << 1;          // leaf 1 ecx
inline constexpr uint32_t edx = 1u << 2;          // leaf 1 edx
inline constexpr uint32_t extd_ecx = 1u << 3;     // leaf 0x80000001 ecx
inline constexpr uint32_t extd_edx = 1u << 4;     // leaf 0x80000001 edx
inline constexpr uint32_t xsave_eax = 1u << 5;    // leaf 0xd:1 eax
inline constexpr uint32_t thermal_ecx = 1u << 6;  // leaf 6 ecx
inline constexpr uint32_t l7s0_eax = 1u << 7;     // leaf 7:0 eax
inline constexpr uint32_t l7s0_ebx = 1u << 8;     // leaf 7:0 ebx
inline constexpr uint32_t nr_bits = 9;
// Groups, one per masking MSR.
inline constexpr uint32_t l1cd = ecx | edx;
inline constexpr uint32_t e1cd = extd_ecx | extd_edx;
inline constexpr uint32_t Da1 = xsave_eax;
inline constexpr uint32_t l6c = thermal_ecx;
inline constexpr uint32_t l7ab0 = l7s0_eax | l7s0_ebx;
} // namespace lcap

struct LcapInfo {
    const char *name, *what;
};
// In bit order.  CPUID faulting is MSR_PLATFORM_INFO[31] / MSR_MISC_FEATURES_ENABLES[0];
// each masking capability overrides one register of one leaf (the MSRs above).
inline constexpr LcapInfo lcap_info[] = {
    {"faulting", "CPUID faulting: every CPUID of a PV guest traps"},
    {"ecx", "masking of CPUID 0x00000001.ecx"},
    {"edx", "masking of CPUID 0x00000001.edx"},
    {"extd_ecx", "masking of CPUID 0x80000001.ecx"},
    {"extd_edx", "masking of CPUID 0x80000001.edx"},
    {"xsave_eax", "masking of CPUID 0x0000000d:1.eax"},
    {"thermal_ecx", "masking of CPUID 0x00000006.ecx"},
    {"l7s0_eax", "masking of CPUID 0x00000007:0.eax"},
    {"l7s0_ebx", "masking of CPUID 0x00000007:0.ebx"},
};
static_assert(sizeof(lcap_info) / sizeof(lcap_info[0]) == lcap::nr_bits, "one row per lcap bit");

// Name of capability bit `bit` ("faulting", "ecx", ...) and what it means, or nullptr.
// Header-only so that tools linked against the shared library alone can print them.
constexpr const char *lcap_name(unsigned bit) { return bit < lcap::nr_bits ? lcap_info[bit].name : nullptr; }
constexpr const char *lcap_what(unsigned bit) { return bit < lcap::nr_bits ? lcap_info[bit].what : nullptr; }

// --- MSRs ---------------------------------------------------------------------------
namespace msr {
inline constexpr MsrIndex platform_info = 0xce_msr;
inline constexpr MsrIndex arch_capabilities = 0x10a_msr;
inline constexpr MsrIndex misc_features_enables = 0x140_msr;
inline constexpr MsrIndex ia32_xss = 0xda0_msr;  // SDM vol. 4 table 2-2: IA32_XSS (XSAVES)
inline constexpr uint64_t misc_features_cpuid_faulting = 1ull << 0;
inline constexpr MsrIndex intel_mask_v1_cpuid1 = 0x478_msr;          // Penryn
inline constexpr MsrIndex intel_mask_v2_cpuid1 = 0x130_msr;          // Nehalem / Westmere
inline constexpr MsrIndex intel_mask_v2_cpuid80000001 = 0x131_msr;
inline constexpr MsrIndex intel_mask_v3_cpuid1 = 0x132_msr;          // Sandy Bridge
inline constexpr MsrIndex intel_mask_v3_cpuid80000001 = 0x133_msr;
inline constexpr MsrIndex intel_mask_v3_cpuidd_01 = 0x134_msr;
inline constexpr MsrIndex amd_hwcr = 0xc0010015_msr;
inline constexpr uint64_t hwcr_cpuid_user_dis = 1ull << 35;
inline constexpr MsrIndex amd_l7s0_feature_mask = 0xc0011002_msr;
inline constexpr MsrIndex amd_thrm_feature_mask = 0xc0011003_msr;
inline constexpr MsrIndex amd_feature_mask = 0xc0011004_msr;
inline constexpr MsrIndex amd_ext_feature_mask = 0xc0011005_msr;
} // namespace msr

// The masking MSRs, in the order the context switch writes them.
enum MaskMsr : uint8_t { mask_1cd, mask_e1cd, mask_Da1, mask_7ab0, mask_6c, NR_MASK_MSRS };

enum class FaultingMechanism : uint8_t {
    none,
    misc_features_enables,  // Intel (or any CPU virtualised under a hypervisor emulating it)
    cpuid_user_dis,         // AMD / Hygon HWCR bit 35
};

// What one physical CPU offers.  Filled by levelling_detect().
struct LevellingCaps {
    Vendor vendor;
    uint32_t family, model, stepping;   // display family/model, as the SDM/APM compute them
    uint32_t max_leaf;                  // CPUID 0.eax
    bool virtualised;                   // CPUID 1.ecx[31]: we run under another hypervisor
    uint32_t caps;                      // lcap:: bitmap actually available
    uint32_t expected;                  // lcap:: bitmap the model table predicted
    FaultingMechanism faulting;
    MsrIndex msr[NR_MASK_MSRS];         // index of each masking MSR, 0 when absent
    uint64_t defaults[NR_MASK_MSRS];    // host default value of each (what NULL restores)
    // Host facts the per-domain mask computation needs (Xen forwards these bits so that
    // a guest using native CPUID can interpret the leaves masking cannot touch).
    bool host_x2apic, host_htt, host_cmp_legacy;
};

// Detect on the current physical CPU through the platform seam: reads CPUID, probes the
// MSRs (a probe writes back the value it read).  Returns 0; -ENODEV when CPUID leaf 0
// reports nothing usable.  A CPU with neither mechanism is not an error (caps == 0).
CPUPOLICY_MUST_CHECK int levelling_detect(LevellingCaps &out);

// --- Per-CPU state ------------------------------------------------------------------
// What the context switch caches per physical CPU so that it writes an MSR only when its
// value changes.  Owned by the platform (cpupolicy_plat_levelling_percpu()).
struct LevellingPerCpu {
    const LevellingCaps *caps;          // null until levelling_cpu_init()
    uint64_t cur[NR_MASK_MSRS];         // value last written to each masking MSR
    uint8_t cur_known;                  // bit i: cur[i] is known to be in the MSR
    bool faulting_on;                   // CPUID faulting currently enabled
    uint64_t fault_msr;                 // cached MISC_FEATURES_ENABLES / HWCR value
    uint64_t nr_writes;                 // MSR writes made by ctxt_switch_levelling
};

// Bind the current CPU's LevellingPerCpu (from the platform) to `caps` and read the
// faulting control MSR's current value.  Nothing is written: the first
// ctxt_switch_levelling() afterwards loads every masking MSR once (values unknown).
// 0, -ENODEV when the platform has no per-CPU area, or the rdmsr error.
CPUPOLICY_MUST_CHECK int levelling_cpu_init(const LevellingCaps &caps);

// --- Per-domain state ---------------------------------------------------------------
// What native CPUID shows a PV guest of this domain on this host, compared with its
// policy, word by featureset word.  Computed with the masks the domain gets; the
// toolstack shows it ("host cannot hide itsc in CPUID 0x80000007.edx").
struct LevellingGapWord {
    uint8_t word;         // featureset word (table::words)
    bool covered;         // a masking MSR covers this register on this host
    Leaf leaf;
    Subleaf subleaf;
    Reg reg;
    uint32_t leaked;      // native CPUID shows these; the policy does not have them
    uint32_t lost;        // the policy has these; native CPUID cannot show them
    uint32_t forwarded;   // differ on purpose: HTT/X2APIC/CMP_LEGACY/APIC from the host
};

struct LevellingGap {
    bool applies;              // false for HVM: every CPUID exits, nothing can leak
    bool by_faulting;          // PV on a faulting host: every leaf levelled exactly
    uint32_t uncovered_words;  // bit w: CPUID featureset word w no mechanism can level
    uint8_t nr_words;          // entries in words[] (only words with a difference)
    LevellingGapWord words[NR_FEATUREWORDS];
    Featureset leaked, lost, forwarded;  // the same bits as whole featuresets (for names)

    // Native CPUID shows exactly the policy's features (modulo forwarded/dynamic bits).
    constexpr bool complete() const { return leaked.empty() && lost.empty(); }
};

struct DomainLevelling {
    bool pv;                       // HVM: host default masks, no faulting (CPUID exits)
    bool faulting;                 // enable CPUID faulting while this domain runs
    uint64_t masks[NR_MASK_MSRS];  // masking MSR values (only those the host has matter)
    LevellingGap gap;
};

// Compute `out` for a domain with policy `guest`, as Xen does when a PV domain's policy
// is set (mask = host default AND policy, with the fast-forward and forwarded bits
// kept), plus the gap statement.  `raw` is the host's raw policy (what unmasked hardware
// shows).  Pure function of its inputs; no MSR is touched.
void levelling_domain_compute(DomainLevelling &out, const LevellingCaps &caps,
                              const Policy &raw, const Policy &guest, bool pv);

// --- Context switch -----------------------------------------------------------------
// Per-vCPU input to the switch: a PV guest kernel with CR4.OSXSAVE clear must not see
// OSXSAVE fast-forwarded from the hypervisor's own CR4.
struct VcpuLevelling {
    bool cr4_osxsave = true;
};

// Load the levelling state for `next` on the current physical CPU: with faulting, turn
// it on or off (one WRMSR, only when the state changes); with masking, write each
// masking MSR whose wanted value differs from the per-CPU cached one.  next == nullptr
// restores the host defaults (faulting off, default masks): bring-up, idle, crash path.
// HVM domains get the host defaults too: their CPUID always exits, and the masks also
// apply to the hypervisor's own CPUID.  A CPU without levelling_cpu_init() is skipped.
void ctxt_switch_levelling(const DomainLevelling *next, const VcpuLevelling *vcpu = nullptr);

} // namespace cpupolicy

// SPDX-License-Identifier: MIT
// The simulated physical CPU (sim_cpu.hpp).
#include "sim_cpu.hpp"

#include <cerrno>

#include "cpupolicy/policy.hpp"

namespace cpupolicy::sim {
namespace {

constexpr uint64_t key(uint32_t leaf, uint32_t subleaf) { return (uint64_t{leaf} << 32) | subleaf; }
constexpr uint32_t hi32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
constexpr uint32_t lo32(uint64_t v) { return static_cast<uint32_t>(v); }

// Architectural bit positions used by the hardware model (SDM vol. 2A CPUID, table 3-10
// and 3-11; APM vol. 3 appendix E).  Deliberately not taken from the core's feature table:
// this file is the hardware, the core is the driver.
constexpr uint32_t L1D_APIC = 1u << 9;
constexpr uint32_t L1C_OSXSAVE = 1u << 27;
constexpr uint32_t E1D_APIC = 1u << 9;
constexpr uint32_t E21A_CPUID_USER_DIS = 1u << 17;

// CPUID leaves whose output depends on ECX (SDM vol. 2A table 3-8; APM vol. 3 E.3).
bool indexed_leaf(uint32_t leaf)
{
    if ( leaf_kind(Leaf{leaf}) == LeafKind::indexed )
        return true;
    switch ( leaf ) {
    case 0x1b: case 0x1f: case 0x8000001d: case 0x80000020: case 0x80000026:
        return true;
    default:
        return false;
    }
}

// The masking MSRs of a model (masking.hpp has the table and its source).
MaskModel auto_masks(const CpuModel &m)
{
    if ( m.vendor == Vendor::intel )
    {
        if ( m.family != 6 )
            return MaskModel::none;
        switch ( m.model ) {
        case 0x17: case 0x1d:
            return MaskModel::intel_penryn;
        case 0x1a: case 0x1e: case 0x1f: case 0x25: case 0x2c: case 0x2e: case 0x2f:
            return MaskModel::intel_nehalem;
        case 0x2a: case 0x2d:
            return MaskModel::intel_sandybridge;
        default:
            return MaskModel::none;
        }
    }
    if ( vendor_is_amd_like(m.vendor) )
        // Family 0fh rev C onwards have the override MSRs; family 11h has none.
        return m.family >= 0xf && m.family != 0x11 ? MaskModel::amd : MaskModel::none;
    return MaskModel::none;
}

} // namespace

SimCpu::SimCpu(unsigned index, const import::CpuDump &dump, MaskModel masks,
               FaultingModel faulting)
    : index_(index)
{
    for ( const auto &r : dump.leaves )
        leaves_[key(r.leaf, indexed_leaf(r.leaf) ? r.subleaf : 0)] = Regs{r.a, r.b, r.c, r.d};

    Regs l0 = lookup(0, 0), l1 = lookup(1, 0);
    max_basic_ = l0.a;
    max_extd_ = lookup(0x80000000, 0).a;
    Policy p{};
    if ( Regs *r = at(p, Leaf{0}) )
        *r = l0;
    model_.vendor = policy_vendor(p);
    uint32_t bf = (l1.a >> 8) & 0xf, bm = (l1.a >> 4) & 0xf;
    model_.family = bf == 0xf ? 0xf + ((l1.a >> 20) & 0xff) : bf;
    model_.model = (bf == 0xf || bf == 6) ? (((l1.a >> 16) & 0xf) << 4) | bm : bm;
    model_.stepping = l1.a & 0xf;
    model_.masks = masks == MaskModel::automatic ? auto_masks(model_) : masks;

    bool intel_like = !vendor_is_amd_like(model_.vendor);
    const bool amd = !intel_like;

    // PLATFORM_INFO and ARCH_CAPABILITIES as the dump recorded them; absent otherwise.
    uint64_t platform_info = 0;
    bool have_pi = false;
    for ( const auto &m : dump.msrs )
    {
        if ( m.index == raw(msr::platform_info) && intel_like )
        {
            platform_info = m.value;
            have_pi = true;
        }
        if ( m.index == raw(msr::arch_capabilities) )
            msrs_[m.index] = m.value;
    }

    bool dump_faulting = amd ? (max_extd_ >= 0x80000021 &&
                                (lookup(0x80000021, 0).a & E21A_CPUID_USER_DIS))
                             : (have_pi && (platform_info & PLATFORM_INFO_CPUID_FAULTING));
    model_.faulting = faulting == FaultingModel::automatic ? dump_faulting
                                                           : faulting == FaultingModel::present;
    if ( intel_like )
    {
        if ( model_.faulting && !have_pi )
        {
            // Forced faulting on a dump without MSRs: invent a PLATFORM_INFO with only bit 31.
            platform_info = PLATFORM_INFO_CPUID_FAULTING;
            have_pi = true;
        }
        if ( have_pi )
        {
            if ( !model_.faulting )
                platform_info &= ~uint64_t{PLATFORM_INFO_CPUID_FAULTING};
            msrs_[raw(msr::platform_info)] = platform_info;
        }
        if ( model_.faulting )
            msrs_[raw(msr::misc_features_enables)] = 0;
    }
    else
        msrs_[raw(msr::amd_hwcr)] = 0;  // HWCR exists on every AMD CPU this models

    // Masking MSRs.  Intel resets them to all ones (no masking); AMD's overrides reset to
    // the processor's own CPUID values.
    const Regs e1 = lookup(0x80000001, 0);
    switch ( model_.masks ) {
    case MaskModel::intel_penryn:
        msrs_[raw(msr::intel_mask_v1_cpuid1)] = ~0ull;
        break;
    case MaskModel::intel_nehalem:
        msrs_[raw(msr::intel_mask_v2_cpuid1)] = ~0ull;
        msrs_[raw(msr::intel_mask_v2_cpuid80000001)] = ~0ull;
        break;
    case MaskModel::intel_sandybridge:
        msrs_[raw(msr::intel_mask_v3_cpuid1)] = ~0ull;
        msrs_[raw(msr::intel_mask_v3_cpuid80000001)] = ~0ull;
        msrs_[raw(msr::intel_mask_v3_cpuidd_01)] = ~0ull;
        break;
    case MaskModel::amd: {
        msrs_[raw(msr::amd_feature_mask)] = (uint64_t{l1.c} << 32) | l1.d;
        msrs_[raw(msr::amd_ext_feature_mask)] = (uint64_t{e1.c} << 32) | e1.d;
        if ( max_basic_ >= 7 && model_.family >= 0x15 )
        {
            Regs l7 = lookup(7, 0);
            msrs_[raw(msr::amd_l7s0_feature_mask)] = (uint64_t{l7.a} << 32) | l7.b;
        }
        if ( model_.family == 0x15 || model_.family == 0x16 )
            msrs_[raw(msr::amd_thrm_feature_mask)] = lookup(6, 0).c;
        break;
    }
    default:
        break;
    }
}

Regs SimCpu::lookup(uint32_t leaf, uint32_t subleaf) const
{
    auto it = leaves_.find(key(leaf, indexed_leaf(leaf) ? subleaf : 0));
    return it == leaves_.end() ? Regs{} : it->second;
}

Regs SimCpu::cpuid_unmasked(uint32_t leaf, uint32_t subleaf) const
{
    bool in_range = leaf <= max_basic_ || (leaf >= 0x80000000u && leaf <= max_extd_);
    if ( !in_range )
    {
        // Intel answers an out-of-range leaf with the highest basic leaf's data (SDM vol.
        // 2A CPUID, "If a value entered for CPUID.EAX is higher than the maximum input
        // value..."); AMD answers zeros (APM vol. 3 CPUID).
        if ( vendor_is_amd_like(model_.vendor) )
            return Regs{};
        return lookup(max_basic_, subleaf);
    }
    return lookup(leaf, subleaf);
}

bool SimCpu::faulting_enabled() const
{
    if ( !model_.faulting )
        return false;
    if ( vendor_is_amd_like(model_.vendor) )
    {
        auto it = msrs_.find(raw(msr::amd_hwcr));
        return it != msrs_.end() && (it->second & msr::hwcr_cpuid_user_dis);
    }
    auto it = msrs_.find(raw(msr::misc_features_enables));
    return it != msrs_.end() && (it->second & msr::misc_features_cpuid_faulting);
}

CpuidResult SimCpu::cpuid(uint32_t leaf, uint32_t subleaf, unsigned cpl, Regs &out) const
{
    // Faulting: CPUID at CPL > 0 raises #GP(0) (SDM vol. 3 "CPUID faulting"; APM HWCR[35]).
    if ( cpl > 0 && faulting_enabled() )
        return CpuidResult::fault_gp;

    Regs r = cpuid_unmasked(leaf, subleaf);
    auto msr_val = [this](uint32_t idx, uint64_t *v) {
        auto it = msrs_.find(idx);
        if ( it == msrs_.end() )
            return false;
        *v = it->second;
        return true;
    };
    uint64_t m;
    const bool amd = vendor_is_amd_like(model_.vendor);
    const bool in_range = leaf <= max_basic_ || (leaf >= 0x80000000u && leaf <= max_extd_);
    if ( !in_range )
    {
        out = r;
        return CpuidResult::ok;
    }
    if ( !amd )
    {
        // Intel: AND masks, applied to the value with APIC/OSXSAVE already fast-forwarded.
        if ( leaf == 1 && (msr_val(raw(msr::intel_mask_v1_cpuid1), &m) ||
                           msr_val(raw(msr::intel_mask_v2_cpuid1), &m) ||
                           msr_val(raw(msr::intel_mask_v3_cpuid1), &m)) )
        {
            r.c &= lo32(m);
            r.d &= hi32(m);
        }
        if ( leaf == 0x80000001 && (msr_val(raw(msr::intel_mask_v2_cpuid80000001), &m) ||
                                    msr_val(raw(msr::intel_mask_v3_cpuid80000001), &m)) )
        {
            r.c &= lo32(m);
            r.d &= hi32(m);
        }
        if ( leaf == 0xd && subleaf == 1 && msr_val(raw(msr::intel_mask_v3_cpuidd_01), &m) )
            r.a &= lo32(m);
    }
    else
    {
        // AMD: the MSR value replaces the register; OSXSAVE and APIC show real state only
        // where the MSR has them set.
        if ( leaf == 1 && msr_val(raw(msr::amd_feature_mask), &m) )
        {
            uint32_t ecx = hi32(m), edx = lo32(m);
            r.c = (ecx & ~L1C_OSXSAVE) | (ecx & r.c & L1C_OSXSAVE);
            r.d = (edx & ~L1D_APIC) | (edx & r.d & L1D_APIC);
        }
        if ( leaf == 0x80000001 && msr_val(raw(msr::amd_ext_feature_mask), &m) )
        {
            uint32_t edx = lo32(m);
            r.c = hi32(m);
            r.d = (edx & ~E1D_APIC) | (edx & r.d & E1D_APIC);
        }
        if ( leaf == 7 && subleaf == 0 && msr_val(raw(msr::amd_l7s0_feature_mask), &m) )
        {
            r.a = hi32(m);
            r.b = lo32(m);
        }
        if ( leaf == 6 && msr_val(raw(msr::amd_thrm_feature_mask), &m) )
            r.c = lo32(m);
    }
    out = r;
    return CpuidResult::ok;
}

int SimCpu::rdmsr(uint32_t idx, uint64_t &val) const
{
    auto it = msrs_.find(idx);
    if ( it == msrs_.end() )
        return -EINVAL;
    val = it->second;
    return 0;
}

int SimCpu::wrmsr(uint32_t idx, uint64_t val)
{
    auto it = msrs_.find(idx);
    if ( it == msrs_.end() )
        return -EINVAL;
    switch ( idx ) {
    case raw(msr::platform_info):
    case raw(msr::arch_capabilities):
        return -EINVAL;  // read-only
    case raw(msr::misc_features_enables):
        if ( val & ~msr::misc_features_cpuid_faulting )
            return -EINVAL;  // only the faulting bit is modelled
        break;
    case raw(msr::amd_hwcr):
        if ( (val & msr::hwcr_cpuid_user_dis) && !model_.faulting )
            return -EINVAL;  // reserved without CpuidUserDis
        break;
    case raw(msr::amd_thrm_feature_mask):
        val &= 0xffffffffu;
        break;
    default:
        break;
    }
    it->second = val;
    ++writes_[idx];
    ++writes_total_;
    return 0;
}

uint64_t SimCpu::msr_writes(uint32_t idx) const
{
    auto it = writes_.find(idx);
    return it == writes_.end() ? 0 : it->second;
}

void SimCpu::reset_counters()
{
    writes_.clear();
    writes_total_ = 0;
}

} // namespace cpupolicy::sim

// SPDX-License-Identifier: MIT
// Levelling capabilities, per-domain masks and the lazy context switch (masking.hpp).
#include "cpupolicy/masking.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/platform.hpp"

namespace cpupolicy {
namespace {

// Feature numbers taken from the one feature table, so a renamed feature breaks the
// build here rather than silently masking the wrong bit.
consteval uint32_t feature_no(const char *name) { return raw(feature_named(name)); }
constexpr uint32_t bit(uint32_t feature) { return 1u << (feature % 32); }

constexpr uint32_t F_APIC = feature_no("apic"), F_HTT = feature_no("htt");
constexpr uint32_t F_X2APIC = feature_no("x2apic"), F_XSAVE = feature_no("xsave");
constexpr uint32_t F_OSXSAVE = feature_no("osxsave"), F_HYPERVISOR = feature_no("hypervisor");
constexpr uint32_t F_CMP_LEGACY = feature_no("cmp-legacy"), F_OSPKE = feature_no("ospke");
constexpr uint32_t F_CPUID_USER_DIS = feature_no("cpuid-user-dis");
static_assert(F_APIC / 32 == 0 && F_HTT / 32 == 0, "leaf 1 edx");
static_assert(F_X2APIC / 32 == 1 && F_XSAVE / 32 == 1 && F_OSXSAVE / 32 == 1 &&
              F_HYPERVISOR / 32 == 1, "leaf 1 ecx");
static_assert(F_CMP_LEGACY / 32 == 3, "leaf 0x80000001 ecx");
static_assert(F_CPUID_USER_DIS / 32 == 11, "leaf 0x80000021 eax");

// Leaf 1 edx features AMD duplicates into 0x80000001 edx (features.hpp).  The duplicate of
// APIC (bit 9) is fast-forwarded on AMD.
using features::COMMON_1D;
constexpr uint32_t E1D_APIC = 1u << 9;

constexpr uint64_t pack(uint32_t hi, uint32_t lo) { return (uint64_t{hi} << 32) | lo; }
constexpr uint32_t hi32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
constexpr uint32_t lo32(uint64_t v) { return static_cast<uint32_t>(v); }

// Read, then write back the same value: a masking MSR that exists accepts both.  Xen
// probes the same way because the MSRs are not architectural and a hypervisor we run
// under may not emulate them.
bool probe_mask_msr(MsrIndex idx, uint64_t *val)
{
    uint64_t v = 0;
    if ( cpupolicy_plat_rdmsr(idx, &v) != 0 || cpupolicy_plat_wrmsr(idx, v) != 0 )
        return false;
    *val = v;
    return true;
}

// Intel-style faulting: PLATFORM_INFO bit 31 advertises it, and MISC_FEATURES_ENABLES
// must be readable for us to drive it.
bool probe_intel_faulting()
{
    uint64_t pi = 0, mfe = 0;
    if ( cpupolicy_plat_rdmsr(msr::platform_info, &pi) != 0 )
        return false;
    if ( !(pi & PLATFORM_INFO_CPUID_FAULTING) )
        return false;
    return cpupolicy_plat_rdmsr(msr::misc_features_enables, &mfe) == 0;
}

void add_mask(LevellingCaps &c, MaskMsr m, MsrIndex idx, uint32_t bits)
{
    c.expected |= bits;
    uint64_t v = 0;
    if ( probe_mask_msr(idx, &v) )
    {
        c.caps |= bits;
        c.msr[m] = idx;
        c.defaults[m] = v;
    }
}

void intel_detect(LevellingCaps &c, const Regs &l1)
{
    // Family 0fh (NetBurst) predates faulting, and reading the MSRs there raises spurious
    // #GPs; skip the probe unless virtualised, where they may be emulated (Xen intel.c).
    if ( (c.family != 0xf || c.virtualised) && probe_intel_faulting() )
    {
        c.expected |= lcap::faulting;
        c.caps |= lcap::faulting;
        c.faulting = FaultingMechanism::misc_features_enables;
        return;  // faulting wins: masking is never used alongside it
    }
    if ( c.family != 6 )
        return;  // only family 6 has the masking MSRs

    MsrIndex basic{}, ext{}, xsave{};  // 0: this model has no such MSR
    switch ( c.model ) {
    case 0x17: case 0x1d:                           // Penryn, Dunnington
        basic = msr::intel_mask_v1_cpuid1;
        break;
    case 0x1a: case 0x1e: case 0x1f: case 0x25:     // Nehalem, Westmere
    case 0x2c: case 0x2e: case 0x2f:
        basic = msr::intel_mask_v2_cpuid1;
        ext = msr::intel_mask_v2_cpuid80000001;
        break;
    case 0x2a: case 0x2d:                           // Sandy Bridge
        basic = msr::intel_mask_v3_cpuid1;
        ext = msr::intel_mask_v3_cpuid80000001;
        xsave = msr::intel_mask_v3_cpuidd_01;
        break;
    default:
        return;
    }
    if ( basic != MsrIndex{} )
        add_mask(c, mask_1cd, basic, lcap::l1cd);
    if ( ext != MsrIndex{} )
        add_mask(c, mask_e1cd, ext, lcap::e1cd);
    if ( xsave != MsrIndex{} )
        add_mask(c, mask_Da1, xsave, lcap::Da1);

    // Defaults: the hardware value ANDed with what CPUID reports, with the fast-forwarded
    // bits forced on (they show real state only when set in the mask).  Intel layout:
    // edx in the high half, ecx in the low half.
    if ( c.msr[mask_1cd] != MsrIndex{} )
    {
        uint32_t ecx = l1.c, edx = l1.d | bit(F_APIC);
        if ( ecx & bit(F_XSAVE) )
            ecx |= bit(F_OSXSAVE);
        c.defaults[mask_1cd] &= pack(edx, ecx);
    }
    if ( c.msr[mask_e1cd] != MsrIndex{} )
    {
        Regs e1 = plat_cpuid(0x80000001_leaf);
        c.defaults[mask_e1cd] &= pack(e1.d, e1.c);
    }
    if ( c.msr[mask_Da1] != MsrIndex{} )
    {
        Regs d1 = plat_cpuid(0xd_leaf, 1_subleaf);
        c.defaults[mask_Da1] &= pack(~0u, d1.a);
    }
}

void amd_detect(LevellingCaps &c, const Regs &l1, uint32_t e21a)
{
    // CpuidUserDis is AMD's faulting.  Intel's faulting can only exist here when we are
    // virtualised and the outer hypervisor emulates it; probing it first also matches
    // Xen (it wants PLATFORM_INFO read into the raw policy).
    bool intel_style = c.virtualised && probe_intel_faulting();
    if ( intel_style || (e21a & bit(F_CPUID_USER_DIS)) )
    {
        c.expected |= lcap::faulting;
        c.caps |= lcap::faulting;
        c.faulting = (e21a & bit(F_CPUID_USER_DIS)) ? FaultingMechanism::cpuid_user_dis
                                                    : FaultingMechanism::misc_features_enables;
        return;
    }
    if ( c.family == 0x11 )
        return;  // family 11h has no masking at all

    add_mask(c, mask_1cd, msr::amd_feature_mask, lcap::l1cd);
    add_mask(c, mask_e1cd, msr::amd_ext_feature_mask, lcap::e1cd);
    if ( c.max_leaf >= 7 )
        add_mask(c, mask_7ab0, msr::amd_l7s0_feature_mask, lcap::l7ab0);
    if ( c.family == 0x15 && c.max_leaf >= 6 && plat_cpuid(6_leaf).c )
        add_mask(c, mask_6c, msr::amd_thrm_feature_mask, lcap::l6c);

    // Overrides: the default is what CPUID reports, with the fast-forward bits set so
    // real state shows through, and HYPERVISOR allowed so a policy can set it.  AMD
    // layout: ecx in the high half, edx in the low half.
    if ( c.msr[mask_1cd] != MsrIndex{} )
    {
        uint32_t ecx = l1.c | bit(F_HYPERVISOR), edx = l1.d | bit(F_APIC);
        if ( ecx & bit(F_XSAVE) )
            ecx |= bit(F_OSXSAVE);
        c.defaults[mask_1cd] = pack(ecx, edx);
    }
    if ( c.msr[mask_e1cd] != MsrIndex{} )
    {
        Regs e1 = plat_cpuid(0x80000001_leaf);
        c.defaults[mask_e1cd] = pack(e1.c, e1.d | E1D_APIC);
    }
    if ( c.msr[mask_7ab0] != MsrIndex{} )
    {
        Regs l7 = plat_cpuid(7_leaf, 0_subleaf);
        c.defaults[mask_7ab0] &= pack(l7.a, l7.b);
    }
    if ( c.msr[mask_6c] != MsrIndex{} )
        c.defaults[mask_6c] &= pack(~0u, plat_cpuid(6_leaf).c);
}

} // namespace


int levelling_detect(LevellingCaps &out)
{
    LevellingCaps c{};
    Regs l0 = plat_cpuid(0_leaf);
    if ( l0.a == 0 && l0.b == 0 && l0.c == 0 && l0.d == 0 )
        return -err::enodev;

    Policy vendor_probe{};  // only leaf 0 is filled: policy_vendor() reads the signature
    if ( Regs *r = at(vendor_probe, Leaf{0}) )
        *r = l0;
    c.vendor = policy_vendor(vendor_probe);
    c.max_leaf = l0.a;

    Regs l1 = l0.a >= 1 ? plat_cpuid(1_leaf) : Regs{};
    uint32_t base_family = (l1.a >> 8) & 0xf, base_model = (l1.a >> 4) & 0xf;
    c.family = base_family == 0xf ? 0xf + ((l1.a >> 20) & 0xff) : base_family;
    c.model = (base_family == 0xf || base_family == 6) ? (((l1.a >> 16) & 0xf) << 4) | base_model
                                                       : base_model;
    c.stepping = l1.a & 0xf;
    c.virtualised = l1.c & bit(F_HYPERVISOR);
    c.host_x2apic = l1.c & bit(F_X2APIC);
    c.host_htt = l1.d & bit(F_HTT);

    uint32_t max_ext = plat_cpuid(0x80000000_leaf).a;
    Regs e1 = max_ext >= 0x80000001 && max_ext <= 0x8000ffff ? plat_cpuid(0x80000001_leaf) : Regs{};
    c.host_cmp_legacy = e1.c & bit(F_CMP_LEGACY);
    uint32_t e21a = max_ext >= 0x80000021 && max_ext <= 0x8000ffff ? plat_cpuid(0x80000021_leaf).a : 0;

    switch ( c.vendor ) {
    case Vendor::intel:
        intel_detect(c, l1);
        break;
    case Vendor::amd:
    case Vendor::hygon:
        amd_detect(c, l1, e21a);
        break;
    default:
        break;  // Centaur, Shanghai, unknown: Xen levels none of them
    }

    if ( c.expected != c.caps && !c.virtualised )
        cpupolicy_plat_log(log_warn,
                           "levelling: expected caps %x, found %x (family %x model %x)",
                           c.expected, c.caps, c.family, c.model);
    out = c;
    return 0;
}

int levelling_cpu_init(const LevellingCaps &caps)
{
    LevellingPerCpu *pc = cpupolicy_plat_levelling_percpu();
    if ( !pc )
        return -err::enodev;
    *pc = LevellingPerCpu{};
    if ( caps.faulting != FaultingMechanism::none )
    {
        MsrIndex idx = caps.faulting == FaultingMechanism::cpuid_user_dis
                           ? msr::amd_hwcr : msr::misc_features_enables;
        uint64_t bitv = caps.faulting == FaultingMechanism::cpuid_user_dis
                            ? msr::hwcr_cpuid_user_dis : msr::misc_features_cpuid_faulting;
        int rc = cpupolicy_plat_rdmsr(idx, &pc->fault_msr);
        if ( rc )
            return rc;
        pc->faulting_on = pc->fault_msr & bitv;
    }
    pc->caps = &caps;
    return 0;
}

// --- Per-domain masks ----------------------------------------------------------------
namespace {

uint32_t fs_word(const Featureset &fs, unsigned w) { return fs.w[w]; }

// Value native CPUID shows in featureset word `w` under masks `m`, given the raw value.
// `covered` reports whether a masking MSR is involved.  Mirrors the hardware semantics
// described in masking.hpp; the simulated CPU implements them independently.
uint32_t native_word(const LevellingCaps &c, const uint64_t *m, unsigned w, uint32_t rawv,
                     bool *covered)
{
    bool amd = vendor_is_amd_like(c.vendor);
    *covered = true;
    switch ( w ) {
    case 0:  // 1.edx
        if ( c.msr[mask_1cd] == MsrIndex{} )
            break;
        if ( !amd )
            return rawv & hi32(m[mask_1cd]);
        return (lo32(m[mask_1cd]) & ~bit(F_APIC)) | (lo32(m[mask_1cd]) & rawv & bit(F_APIC));
    case 1:  // 1.ecx
        if ( c.msr[mask_1cd] == MsrIndex{} )
            break;
        if ( !amd )
            return rawv & lo32(m[mask_1cd]);
        return (hi32(m[mask_1cd]) & ~bit(F_OSXSAVE)) |
               (hi32(m[mask_1cd]) & rawv & bit(F_OSXSAVE));
    case 2:  // e1.edx
        if ( c.msr[mask_e1cd] == MsrIndex{} )
            break;
        if ( !amd )
            return rawv & hi32(m[mask_e1cd]);
        return (lo32(m[mask_e1cd]) & ~E1D_APIC) | (lo32(m[mask_e1cd]) & rawv & E1D_APIC);
    case 3:  // e1.ecx
        if ( c.msr[mask_e1cd] == MsrIndex{} )
            break;
        return amd ? hi32(m[mask_e1cd]) : rawv & lo32(m[mask_e1cd]);
    case 4:  // 0xd:1.eax (Intel AND mask only)
        if ( c.msr[mask_Da1] == MsrIndex{} )
            break;
        return rawv & lo32(m[mask_Da1]);
    case 5:  // 7:0.ebx (AMD override only)
        if ( c.msr[mask_7ab0] == MsrIndex{} )
            break;
        return lo32(m[mask_7ab0]);
    default:
        break;
    }
    *covered = false;
    return rawv;
}

void compute_gap(LevellingGap &g, const LevellingCaps &c, const uint64_t *m, const Policy &raw,
                 const Policy &guest)
{
    g = LevellingGap{};
    g.applies = true;
    if ( c.caps & lcap::faulting )
    {
        g.by_faulting = true;
        return;
    }
    const Featureset rfs = policy_to_featureset(raw), pfs = policy_to_featureset(guest);
    // Bits a guest kernel controls through CR4 are judged by nobody: they follow the vCPU.
    Featureset dynamic;
    dynamic.set(Feature{F_OSXSAVE});
    dynamic.set(Feature{F_OSPKE});
    // Bits passed from the host on purpose (leaves that cannot be masked depend on them)
    // or fast-forwarded by the hardware.
    Featureset fwd_set;
    fwd_set.set(Feature{F_HTT});
    fwd_set.set(Feature{F_X2APIC});
    fwd_set.set(Feature{F_CMP_LEGACY});
    fwd_set.set(Feature{F_APIC});
    const Featureset judged = features::known.and_not(dynamic);

    for ( unsigned w = 0; w < NR_FEATUREWORDS; ++w )
    {
        const WordSource &src = table::words[w].src;
        if ( src.is_msr )
            continue;  // MSRs always trap for a PV guest: RDMSR is privileged
        bool covered;
        uint32_t native = native_word(c, m, w, fs_word(rfs, w), &covered);
        uint32_t pol = fs_word(pfs, w), jm = judged.w[w] & ~fwd_set.w[w];
        if ( !covered )
            g.uncovered_words |= 1u << w;
        LevellingGapWord e{};
        e.word = static_cast<uint8_t>(w);
        e.covered = covered;
        e.leaf = src.leaf;
        e.subleaf = src.subleaf;
        e.reg = src.reg;
        e.leaked = native & ~pol & jm;
        e.lost = pol & ~native & jm;
        e.forwarded = (native ^ pol) & fwd_set.w[w] & judged.w[w];
        g.leaked.w[w] = e.leaked;
        g.lost.w[w] = e.lost;
        g.forwarded.w[w] = e.forwarded;
        if ( e.leaked | e.lost | e.forwarded )
            g.words[g.nr_words++] = e;
    }
}

} // namespace

void levelling_domain_compute(DomainLevelling &out, const LevellingCaps &c, const Policy &raw,
                              const Policy &guest, bool pv)
{
    DomainLevelling d{};
    d.pv = pv;
    for ( unsigned i = 0; i < NR_MASK_MSRS; ++i )
        d.masks[i] = c.defaults[i];
    if ( !pv )
    {
        d.gap.applies = false;  // every CPUID of an HVM guest exits to guest_cpuid
        out = d;
        return;
    }
    d.faulting = c.caps & lcap::faulting;

    const bool amd = vendor_is_amd_like(c.vendor);
    const Regs p1 = get(guest, Leaf{1}), pe1 = get(guest, Leaf{0x80000001});

    if ( c.msr[mask_1cd] != MsrIndex{} )
    {
        uint64_t mask = c.defaults[mask_1cd];
        uint32_t ecx = p1.c, edx = p1.d;
        // The host's HTT and X2APIC stay visible: leaves 1.ebx, 4 and 0xb cannot be
        // masked and a guest reading them natively needs these bits to interpret them.
        if ( c.host_x2apic )
            ecx |= bit(F_X2APIC);
        if ( c.host_htt )
            edx |= bit(F_HTT);
        uint32_t ff_ecx = (ecx & bit(F_XSAVE)) ? bit(F_OSXSAVE) : 0, ff_edx = bit(F_APIC);
        if ( !amd )
        {
            // AND masks, applied after OSXSAVE and APIC are fast-forwarded from real
            // state: keeping those two set lets the real state through.
            mask &= pack(edx, ecx);
            mask |= pack(ff_edx, ff_ecx);
        }
        else
        {
            // Overrides: the fast-forward happens only if the MSR has the bit set; and
            // HYPERVISOR can be set because the value is an override.
            mask &= pack(ecx, edx);
            if ( p1.c & bit(F_HYPERVISOR) )
                ff_ecx |= bit(F_HYPERVISOR);
            mask |= pack(ff_ecx, ff_edx);
        }
        d.masks[mask_1cd] = mask;
    }
    if ( c.msr[mask_6c] != MsrIndex{} )
    {
        uint64_t mask = c.defaults[mask_6c];
        if ( c.vendor == Vendor::amd )
            mask &= pack(~0u, get(guest, Leaf{6}).c);
        d.masks[mask_6c] = mask;
    }
    if ( c.msr[mask_7ab0] != MsrIndex{} )
    {
        // 7:0.eax is the max subleaf, not features: taken from the policy as is.
        uint64_t mask = c.defaults[mask_7ab0];
        if ( amd )
        {
            Regs p7 = get(guest, Leaf{7}, Subleaf{0});
            mask = pack(p7.a, lo32(mask) & p7.b);
        }
        d.masks[mask_7ab0] = mask;
    }
    if ( c.msr[mask_Da1] != MsrIndex{} )
    {
        uint64_t mask = c.defaults[mask_Da1];
        if ( c.vendor == Vendor::intel )
            mask &= pack(~0u, get(guest, Leaf{0xd}, Subleaf{1}).a);
        d.masks[mask_Da1] = mask;
    }
    if ( c.msr[mask_e1cd] != MsrIndex{} )
    {
        uint64_t mask = c.defaults[mask_e1cd];
        uint32_t ecx = pe1.c, edx = pe1.d;
        if ( c.host_cmp_legacy )
            ecx |= bit(F_CMP_LEGACY);  // leaf 0x80000008 core counts depend on it
        Vendor gv = policy_vendor(guest);
        if ( !vendor_is_amd_like(gv) )
            edx &= ~COMMON_1D;  // only AMD duplicates leaf 1 edx here
        if ( !amd )
            mask &= pack(edx, ecx);
        else
            mask = (mask & pack(ecx, edx)) | pack(0, E1D_APIC);
        d.masks[mask_e1cd] = mask;
    }

    compute_gap(d.gap, c, d.masks, raw, guest);
    out = d;
}

// --- Context switch --------------------------------------------------------------------
void ctxt_switch_levelling(const DomainLevelling *next, const VcpuLevelling *vcpu)
{
    LevellingPerCpu *pc = cpupolicy_plat_levelling_percpu();
    if ( !pc || !pc->caps )
        return;
    const LevellingCaps &c = *pc->caps;

    if ( c.caps & lcap::faulting )
    {
        bool want = next && next->pv && next->faulting;
        if ( want == pc->faulting_on )
            return;
        bool amd = c.faulting == FaultingMechanism::cpuid_user_dis;
        MsrIndex idx = amd ? msr::amd_hwcr : msr::misc_features_enables;
        uint64_t b = amd ? msr::hwcr_cpuid_user_dis : msr::misc_features_cpuid_faulting;
        uint64_t val = want ? (pc->fault_msr | b) : (pc->fault_msr & ~b);
        if ( cpupolicy_plat_wrmsr(idx, val) != 0 )
        {
            cpupolicy_plat_log(log_err, "levelling: wrmsr %x failed", raw(idx));
            return;
        }
        pc->fault_msr = val;
        pc->faulting_on = want;
        ++pc->nr_writes;
        return;
    }

    const uint64_t *masks = (next && next->pv) ? next->masks : c.defaults;
    for ( unsigned i = 0; i < NR_MASK_MSRS; ++i )
    {
        if ( c.msr[i] == MsrIndex{} )
            continue;
        uint64_t val = masks[i];
        // OSXSAVE in the mask lets the hypervisor's own CR4.OSXSAVE through; a PV guest
        // kernel that has not set it must not see it.
        if ( i == mask_1cd && next && next->pv && vcpu && !vcpu->cr4_osxsave )
            val &= vendor_is_amd_like(c.vendor) ? ~(uint64_t{bit(F_OSXSAVE)} << 32)
                                      : ~uint64_t{bit(F_OSXSAVE)};
        if ( (pc->cur_known & (1u << i)) && pc->cur[i] == val )
            continue;
        if ( cpupolicy_plat_wrmsr(c.msr[i], val) != 0 )
        {
            cpupolicy_plat_log(log_err, "levelling: wrmsr %x failed", raw(c.msr[i]));
            pc->cur_known = static_cast<uint8_t>(pc->cur_known & ~(1u << i));
            continue;
        }
        pc->cur[i] = val;
        pc->cur_known = static_cast<uint8_t>(pc->cur_known | (1u << i));
        ++pc->nr_writes;
    }
}

} // namespace cpupolicy

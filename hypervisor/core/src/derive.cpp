// SPDX-License-Identifier: MIT
// raw -> host -> {pv,hvm}-max -> {pv,hvm}-default.  Each rule is named as in
// docs/policy.md, which has the reason for it; the Xen function a rule corresponds to
// is named where there is one (xen/arch/x86/cpu-policy.c), the behaviour is restated,
// not copied.
#include "cpupolicy/derive.hpp"
#include "cpupolicy/features.hpp"

namespace cpupolicy {

// Reached only during constant evaluation, when leaves() is given something that is not
// a run of leaves the object holds: calling a non-constexpr function there is a compile
// error naming it.
void not_a_run_of_held_leaves();

namespace {

namespace f {
constexpr Feature apic = feature_named("apic"), htt = feature_named("htt"),
    sep = feature_named("sep"), pae = feature_named("pae"), pse36 = feature_named("pse36"),
    x2apic = feature_named("x2apic"), xsave = feature_named("xsave"),
    osxsave = feature_named("osxsave"), rdrand = feature_named("rdrand"),
    hypervisor = feature_named("hypervisor"), lm = feature_named("lm"),
    page1gb = feature_named("page1gb"), cmp_legacy = feature_named("cmp-legacy"),
    svm = feature_named("svm"), vmx = feature_named("vmx"), lwp = feature_named("lwp"),
    rtm = feature_named("rtm"), clwb = feature_named("clwb"),
    sgx = feature_named("sgx"), pqm = feature_named("pqm"), pqe = feature_named("pqe"),
    proc_trace = feature_named("proc-trace"), fdp_excp_only = feature_named("fdp-excp-only"),
    no_fpu_sel = feature_named("no-fpu-sel"), ospke = feature_named("ospke"),
    pks = feature_named("pks"), ibpb = feature_named("ibpb"), ibrs = feature_named("ibrs"),
    amd_stibp = feature_named("amd-stibp"), amd_ssbd = feature_named("amd-ssbd"),
    virt_ssbd = feature_named("virt-ssbd"), ssb_no = feature_named("ssb-no"),
    no_lmsl = feature_named("no-lmsl"), md_clear = feature_named("md-clear"),
    rtm_always_abort = feature_named("rtm-always-abort"),
    tsx_force_abort = feature_named("tsx-force-abort"), srbds_ctrl = feature_named("srbds-ctrl"),
    hybrid = feature_named("hybrid"), pconfig = feature_named("pconfig"),
    arch_lbr = feature_named("arch-lbr"), amx_tile = feature_named("amx-tile"),
    ibrsb = feature_named("ibrsb"), stibp = feature_named("stibp"),
    arch_caps = feature_named("arch-caps"), arch_perf_mon = feature_named("arch-perf-mon"),
    cpuid_user_dis = feature_named("cpuid-user-dis"), srso_us_no = feature_named("srso-us-no"),
    srso_msr_fix = feature_named("srso-msr-fix"), rsba = feature_named("rsba"),
    eibrs = feature_named("eibrs"), tsx_ctrl = feature_named("tsx-ctrl"),
    mds_no = feature_named("mds-no"), taa_no = feature_named("taa-no"),
    fb_clear = feature_named("fb-clear"), rrsba = feature_named("rrsba"),
    rfds_clear = feature_named("rfds-clear");
} // namespace f

// Intel family 6 models named by a rule (SDM vol. 4 table 2-1; Xen intel-family.h).
constexpr uint32_t MODEL_IVYBRIDGE = 0x3a;   // client IvyBridge: SRBDS, no microcode fix
constexpr uint32_t MODEL_SKYLAKE_X = 0x55;   // SKX/CLX/CPX: GDS microcode slows CLWB

using features::COMMON_1D;

// 0x8000000A.EDX bits (APM vol. 3 Fn8000_000A_EDX).
constexpr uint32_t SVM_NPT = 1u << 0, SVM_LBRV = 1u << 1, SVM_NRIPS = 1u << 3,
                   SVM_VMCBCLEAN = 1u << 5, SVM_DECODEASSISTS = 1u << 7,
                   SVM_PAUSEFILTER = 1u << 10, SVM_SPEC_CTRL = 1u << 20;

constexpr uint32_t PADDR_BITS = 52;         // 4/5-level paging entries: 52-bit addresses
constexpr uint32_t SHADOW_PADDR_BITS = 44;  // Xen shadow: GFNs in 32-bit fields, 4K pages

enum class Kind : uint8_t { host, pv, hvm };

Regs *slot(Policy &p, Leaf leaf, Subleaf sub = kNoSubleaf)
{
    return at(p, leaf, sub);
}
Regs rd(const Policy &p, Leaf leaf, Subleaf sub = kNoSubleaf)
{
    return get(p, leaf, sub);
}
// The slots of leaves first..last, resolved at compile time: slots are assigned in leaf
// order (policy_layout), so leaves of one range are one run of slots.
struct SlotRun {
    uint16_t first, end;
};
consteval SlotRun leaves(Leaf first, Leaf last)
{
    uint32_t nr = 1;
    if ( first > last || (raw(first) <= BASIC_LAST) != (raw(last) <= BASIC_LAST) ||
         leaf_kind(first) == LeafKind::absent || leaf_kind(last, &nr) == LeafKind::absent )
        not_a_run_of_held_leaves();
    return {static_cast<uint16_t>(slot_cpuid(first, 0_subleaf)),
            static_cast<uint16_t>(slot_cpuid(last, 0_subleaf) + static_cast<int>(nr))};
}
consteval SlotRun leaf(Leaf l) { return leaves(l, l); }
// Slot by slot: the runs are short, and the memset GCC makes of a run of constant size
// is `rep stos`, which takes longer to start than the stores take (10% of a derivation).
void zero(Policy &p, SlotRun r)
{
    for ( unsigned s = r.first; s < r.end; ++s )
        p.slot[s] = Regs{};
}
uint32_t nr_subleaves(Leaf leaf)
{
    uint32_t nr = 1;
    leaf_kind(leaf, &nr);
    return nr;
}

// Everything the guest rules need from raw and host, read once up front so that the
// output may alias raw.
struct Facts {
    Vendor vendor;
    FamilyModel fm;
    Featureset raw, host;
    bool intel, amd;
    bool rtm_disabled;        // rule TSX
    bool sc_msr_pv, sc_msr_hvm;
    bool amd_virt_spec_ctrl;  // rule VIRT_SSBD
    bool cpuid_faulting;      // host's
    uint32_t host_paddr, raw_guest_paddr;
};

// Rule TSX: is RTM disabled / force-aborted on the host?  Only a CPU with a TSX control
// (MSR_TSX_CTRL, or TSX_FORCE_ABORT) can have it switched off (Xen's tsx_init() and the
// TAA part of init_speculation_mitigations()).
bool rtm_disabled(const Featureset &raw, const BootOptions &o)
{
    bool ctrl = raw.test(f::tsx_ctrl), tfa = raw.test(f::tsx_force_abort);
    bool raa = raw.test(f::rtm_always_abort);
    if ( !ctrl && !tfa )
        return false;

    int opt = o.tsx;
    // February 2022 microcode de-features TSX on TAA-affected client parts and
    // announces it with RTM_ALWAYS_ABORT; the microcode's default is off, so follow it.
    if ( opt == -1 && ctrl && raw.test(f::srbds_ctrl) && raa )
        opt = 0;
    // TSX_FORCE_ABORT parts (Skylake memory-ordering erratum): with RTM_ALWAYS_ABORT
    // TSX is de-featured and stays off unless asked for; without it TSX stays on.
    if ( tfa && opt < 0 )
        opt = raa ? 0 : 1;
    // TAA: TSX-capable parts with MDS_NO but not TAA_NO.  Xen switches TSX off when it
    // can (TSX_CTRL) rather than relying on VERW with SMT on; SMT is assumed on.
    if ( opt == -1 && ctrl && raw.test(f::mds_no) && !raw.test(f::taa_no) )
        opt = 0;
    return !(opt & 1);
}

// The facts of raw alone (those derive_host needs).
Facts make_raw_facts(const Policy &raw, const BootOptions &o)
{
    Facts F{};
    F.vendor = policy_vendor(raw);
    F.fm = policy_family_model(raw);
    F.intel = F.vendor == Vendor::intel;
    F.amd = vendor_is_amd_like(F.vendor);
    F.raw = policy_to_featureset(raw);
    F.rtm_disabled = rtm_disabled(F.raw, o);
    F.raw_guest_paddr = field_get(raw, field::guest_maxphysaddr);
    // CPUID faulting: Intel MSR_PLATFORM_INFO bit 31, AMD CpuidUserDis
    // (Fn8000_0021_EAX[17]) - Xen's probe_cpuid_faulting().
    F.cpuid_faulting = (raw.platform_info & PLATFORM_INFO_CPUID_FAULTING) ||
                       (F.amd && F.raw.test(f::cpuid_user_dis));
    return F;
}

// ... and those that need the host too (F from make_raw_facts(raw, o)).
void add_host_facts(Facts &F, const Policy &raw, const Policy &host, const BootOptions &o)
{
    F.host = policy_to_featureset(host);
    F.host_paddr = field_get(host, field::maxphysaddr);
    // Rule SPEC_CTRL: Xen virtualises MSR_SPEC_CTRL when the hardware has it (IBRSB on
    // Intel, IBRS on AMD; for HVM on AMD also the SVM SpecCtrl assist) unless told not to.
    bool has_msr = F.host.test(f::ibrsb) || F.host.test(f::ibrs);
    F.sc_msr_pv = o.msr_sc_pv && has_msr;
    F.sc_msr_hvm = o.msr_sc_hvm && has_msr &&
                   (!F.amd || (rd(raw, 0x8000000a_leaf).d & SVM_SPEC_CTRL));
    // Rule VIRT_SSBD: without AMD_SSBD, Xen offers VIRT_SPEC_CTRL.SSBD when it can
    // implement it: VIRT_SSBD from an outer hypervisor, or the family 15h-17h (Hygon 18h)
    // LS_CFG bit; not needed on SSB_NO parts.
    bool legacy_ssbd = F.vendor == Vendor::amd ? F.fm.family >= 0x15 && F.fm.family <= 0x17
                                               : F.vendor == Vendor::hygon && F.fm.family == 0x18;
    F.amd_virt_spec_ctrl = F.amd && o.msr_sc_hvm && !F.raw.test(f::ssb_no) &&
                           !F.host.test(f::amd_ssbd) &&
                           (F.raw.test(f::virt_ssbd) || legacy_ssbd);
}

Facts make_facts(const Policy &raw, const Policy &host, const BootOptions &o)
{
    Facts F = make_raw_facts(raw, o);
    add_host_facts(F, raw, host, o);
    return F;
}

// Rule LEAVES-HOST: the host keeps the CPU's max leaf/subleaf values, limited to what
// the object holds (Xen's calculate_host_policy()).
void clamp_max_leaves(Policy &p)
{
    field_set(p, field::max_basic_leaf, min32(basic_max_leaf(p), BASIC_LAST));
    // Indexed leaves whose subleaf 0 EAX reports the highest subleaf (subleaves.hpp).
    for ( const IndexedLeaf &x : indexed_leaves )
        if ( x.walk == SubleafEnum::max_in_eax )
        {
            Regs *s0 = slot(p, x.leaf, 0_subleaf);
            s0->a = min32(s0->a, x.nr_held - 1u);
        }
    // A CPU without the extended range answers 0x80000000 with garbage (SDM vol. 2A
    // CPUID): anything outside 0x80000000..0x8000ffff means "no extended leaves".
    uint32_t e0 = extd_max_leaf(p);
    bool extd_valid = e0 >= EXTD_FIRST && e0 <= 0x8000ffffu;
    field_set(p, field::max_extd_leaf, extd_valid ? min32(e0, EXTD_LAST) : 0);
}

// Rule LEAVES-MAX: a guest max policy may use every leaf and subleaf the object holds
// (incoming VMs may have larger limits than this host; Xen's guest_common_max_leaves()).
void max_leaves(Policy &p)
{
    field_set(p, field::max_basic_leaf, BASIC_LAST);
    field_set(p, field::leaf7_max_subleaf, nr_subleaves(7_leaf) - 1);
    field_set(p, field::max_extd_leaf, EXTD_LAST);
}

// Rule LEAVES-DEFAULT: a default guest gets the host's limits
// (Xen's guest_common_default_leaves()).
void default_leaves(Policy &p, const Policy &host)
{
    static constexpr Field limits[] = {field::max_basic_leaf, field::leaf7_max_subleaf,
                                       field::max_extd_leaf};
    for ( const Field &f : limits )
        field_set(p, f, field_get(host, f));
}

// Sanitise and write back.  Rule XSAVE-LEAF: XSAVE needs leaf 0xd within the basic
// range (Xen's recalculate_cpuid_policy()).
void apply_features(Policy &p, Featureset fs)
{
    if ( basic_max_leaf(p) < 0xd )
        fs.clear(f::xsave);
    featureset_sanitise(fs);
    policy_apply_featureset(p, fs);
}

// Rule GUEST-COMMON (Xen's guest_common_feature_adjustments()).
void guest_common(Featureset &fs, const Facts &F)
{
    fs.set(f::hypervisor);
    if ( fs.test(f::ibrsb) )
        fs.set(f::stibp);
    if ( fs.test(f::ibrs) )
        fs.set(f::amd_stibp);
    if ( F.host.test(f::ibrsb) )
        fs.set(f::ibpb);
}

// Rule GUEST-MAX (Xen's guest_common_max_feature_adjustments()).
void guest_max_common(Featureset &fs, const Facts &F)
{
    if ( F.intel )
    {
        fs.set(f::arch_caps);
        fs.set(f::rsba);
        fs.set(f::rrsba);
        fs.set(f::md_clear);
        fs.set(f::fb_clear);
        fs.set(f::rfds_clear);
        if ( F.fm.family == 6 && F.fm.model == MODEL_SKYLAKE_X && F.raw.test(f::clwb) )
            fs.set(f::clwb);
    }
    fs.set(f::htt);
    fs.set(f::cmp_legacy);
    if ( fs.test(f::rtm) )
        fs.set(f::rtm_always_abort);
}

// Rule GUEST-DEFAULT (Xen's guest_common_default_feature_adjustments()).
void guest_default_common(Featureset &fs, const Facts &F, const BootOptions &o)
{
    if ( F.intel )
    {
        if ( F.fm.family == 6 && F.fm.model == MODEL_IVYBRIDGE && F.host.test(f::rdrand) &&
             !o.cpuid_force.test(f::rdrand) )
            fs.clear(f::rdrand);
        if ( !F.host.test(f::md_clear) )
            fs.clear(f::md_clear);
        if ( !F.host.test(f::fb_clear) )
            fs.clear(f::fb_clear);
        if ( !F.host.test(f::rfds_clear) )
            fs.clear(f::rfds_clear);
        if ( F.fm.family == 6 && F.fm.model == MODEL_SKYLAKE_X && F.raw.test(f::clwb) )
            fs.clear(f::clwb);
    }
    if ( !F.host.test(f::htt) )
        fs.clear(f::htt);
    if ( !F.host.test(f::cmp_legacy) )
        fs.clear(f::cmp_legacy);
    if ( F.rtm_disabled && fs.test(f::rtm) )
    {
        fs.clear(f::rtm);
        fs.set(f::rtm_always_abort);
    }
}

// Rule HOST-BEHAVIOUR: FDP_EXCP_ONLY / NO_FPU_SEL describe what the FPU does, not an
// option; a guest sees the host's (Xen folds them in, recalculate_cpuid_policy()).
void host_behaviour(Featureset &fs, const Facts &F)
{
    fs.clear(f::fdp_excp_only);
    fs.clear(f::no_fpu_sel);
    if ( F.host.test(f::fdp_excp_only) )
        fs.set(f::fdp_excp_only);
    if ( F.host.test(f::no_fpu_sel) )
        fs.set(f::no_fpu_sel);
}

// Rule LEAF-4: keep the valid deterministic-cache subleaves with their reserved bits
// clear, zero from the first invalid one (SDM leaf 04H; Xen recalculate_cpuid_policy()).
void clean_cache_leaf(Policy &p)
{
    uint32_t nr = nr_subleaves(4_leaf);
    bool valid = true;
    for ( uint32_t s = 0; s < nr; ++s )
    {
        Regs *r = slot(p, 4_leaf, Subleaf{s});
        uint32_t type = r->a & 0x1f;
        valid = valid && type >= 1 && type <= 3;
        if ( !valid )
        {
            *r = Regs{};
            continue;
        }
        r->a &= 0xffffc3ffu;  // EAX[13:10] reserved
        r->d &= 0x00000007u;  // EDX[31:3] reserved
    }
}

// Rule MISC, basic range: what no guest is given.
void misc_basic_leaves(Policy &p)
{
    // Leaf 1: processor type and reserved EAX bits; the initial APIC ID is per vCPU.
    Regs *l1 = slot(p, 1_leaf);
    l1->a &= 0x0fff0fffu;
    l1->b &= 0x00ffffffu;

    zero(p, leaf(0x3_leaf));                     // PSN: never exposed
    zero(p, leaves(0x5_leaf, 0x6_leaf));         // MONITOR, thermal/power
    zero(p, leaf(0x8_leaf));                     // reserved
    zero(p, leaf(0x9_leaf));                     // DCA
    zero(p, leaf(0xb_leaf));                     // topology: the toolstack's choice
    zero(p, leaf(0xc_leaf));                     // reserved
    zero(p, leaf(0xe_leaf));                     // reserved
    zero(p, leaf(0x11_leaf));                    // reserved
    zero(p, leaf(0x13_leaf));                    // reserved
    zero(p, leaves(0x15_leaf, 0x19_leaf));       // TSC/core crystal, frequency, SoC, TLB, KL
    zero(p, leaf(0x1f_leaf));                    // v2 topology: the toolstack's choice
    zero(p, leaves(0x20_leaf, 0x22_leaf));       // HRESET, TDX, reserved
    zero(p, leaf(0x24_leaf));                    // AVX10: not a feature of this build

    // Leaf 7: nothing but feature words (and 7:0.EAX, the max subleaf).
    for ( uint32_t s = 2; s < nr_subleaves(7_leaf); ++s )
    {
        Regs *r = slot(p, 7_leaf, Subleaf{s});
        *r = Regs{0, 0, 0, s == 2 ? r->d : 0};
    }
}

// Rule MISC, extended range (the vendor-specific registers: rule VENDOR).
void misc_extended_leaves(Policy &p)
{
    slot(p, 0x80000001_leaf)->d &= ~COMMON_1D;   // AMD's copies come back in rule VENDOR
    Regs *e7 = slot(p, 0x80000007_leaf);
    e7->a = e7->b = e7->c = 0;
    field_set(p, field::guest_maxphysaddr, 0);   // only for the hypervisor
    Regs *e8 = slot(p, 0x80000008_leaf);
    e8->a &= 0x00ffffffu;                        // EAX[31:24] reserved
    e8->d = 0;
    zero(p, leaf(0x80000009_leaf));
    zero(p, leaves(0x8000000b_leaf, 0x80000018_leaf));
    zero(p, leaf(0x8000001b_leaf));              // IBS
    zero(p, leaves(0x8000001d_leaf, 0x80000020_leaf)); // TopoExt cache/IDs, SEV, PQoS
    Regs *e21 = slot(p, 0x80000021_leaf);
    e21->b = e21->d = 0;
    zero(p, leaves(0x80000022_leaf, Leaf{EXTD_LAST})); // PerfMonV2, memory encryption, topology
}

// Rule GATE: leaves that only mean something with their feature; rule VPMU; SVM.
void misc_gates(Policy &p, const Facts &F, const BootOptions &o, Kind kind)
{
    const Featureset fs = policy_to_featureset(p);
    struct Gate {
        SlotRun slots;
        Feature feature;
    };
    static constexpr Gate gates[] = {
        {leaf(0xf_leaf), f::pqm},          {leaf(0x10_leaf), f::pqe},       {leaf(0x12_leaf), f::sgx},
        {leaf(0x14_leaf), f::proc_trace},  {leaf(0x1a_leaf), f::hybrid},    {leaf(0x1b_leaf), f::pconfig},
        {leaf(0x1c_leaf), f::arch_lbr},    {leaf(0x1d_leaf), f::amx_tile},  {leaf(0x1e_leaf), f::amx_tile},
        {leaf(0x80000019_leaf), f::page1gb},                           // 1G TLB details
        {leaf(0x8000001c_leaf), f::lwp},
    };
    for ( const Gate &g : gates )
        if ( !fs.test(g.feature) )
            zero(p, g.slots);

    // Rule VPMU: the PMU leaves exist only with a virtual PMU, which Xen has for Intel.
    if ( !(o.vpmu && F.intel) )
    {
        zero(p, leaf(0xa_leaf));
        zero(p, leaf(0x23_leaf));
    }
    else
    {
        if ( !fs.test(f::arch_perf_mon) )
            zero(p, leaf(0x23_leaf));
        Regs *a = slot(p, 0xa_leaf);
        if ( kind != Kind::host && (a->a & 0xff) > 3 )
            a->a = (a->a & ~0xffu) | 3;  // Xen emulates up to architectural PMU v3
    }

    // SVM: only with the feature; for HVM, only what Xen implements for nested guests.
    if ( !fs.test(f::svm) )
        zero(p, leaf(0x8000000a_leaf));
    else if ( kind == Kind::hvm )
    {
        Regs *sv = slot(p, 0x8000000a_leaf);
        sv->d &= SVM_NPT | SVM_LBRV | SVM_NRIPS | SVM_PAUSEFILTER | SVM_DECODEASSISTS;
        sv->d |= SVM_VMCBCLEAN;
    }
}

// Rule VENDOR: the leaves each vendor defines.
void misc_vendor(Policy &p, const Facts &F)
{
    Regs *e0 = slot(p, Leaf{EXTD_FIRST}), *e1 = slot(p, 0x80000001_leaf), *e8 = slot(p, 0x80000008_leaf);
    if ( F.intel )
    {
        Regs *l2 = slot(p, 2_leaf);
        l2->a = (l2->a & ~0xffu) | 1;       // leaf 2 is queried once
        clean_cache_leaf(p);
        e0->b = e0->c = e0->d = 0;          // no vendor string in the extended range
        e1->a = e1->b = 0;
        zero(p, leaf(0x80000005_leaf));
        Regs *e6 = slot(p, 0x80000006_leaf);
        e6->a = e6->b = e6->d = 0;          // only ECX (L2) is defined
        e8->c = 0;
    }
    else if ( F.amd )
    {
        zero(p, leaves(0x2_leaf, 0x4_leaf));     // Intel-only cache descriptor leaves
        const Regs l0 = rd(p, 0_leaf), l1 = rd(p, 1_leaf);
        e0->b = l0.b;
        e0->c = l0.c;
        e0->d = l0.d;
        e1->a = l1.a;
        e1->b &= 0xff00ffffu;
        policy_mirror_common_1d(p);
        e8->c &= 0x0003f0ffu;               // NC and ApicIdSize; perf-TSC size hidden
    }
}

// Rules MISC, GATE, VPMU and VENDOR (Xen's recalculate_misc(), extended to this object's
// leaves).  The gates read the features before anything is zeroed.
void recalculate_misc(Policy &p, const Facts &F, const BootOptions &o, Kind kind)
{
    misc_gates(p, F, o, kind);
    misc_basic_leaves(p);
    misc_extended_leaves(p);
    misc_vendor(p, F);
}

// Rule ADDRESS-WIDTHS (Xen's recalculate_cpuid_policy(), per guest type).
void guest_address_widths(Policy &p, const Facts &F, bool hvm, bool hap)
{
    if ( policy_extd_limit(p) < 0x80000008 )
        return;
    Featureset fs = policy_to_featureset(p);
    uint32_t limit = min32(F.host_paddr, PADDR_BITS);
    if ( hvm && hap && F.raw_guest_paddr )
        limit = min32(limit, F.raw_guest_paddr);
    if ( hvm && !hap )
        limit = min32(limit, SHADOW_PADDR_BITS);
    field_set(p, field::maxphysaddr, max32(limit, fs.test(f::pae) || fs.test(f::pse36) ? 36 : 32));
    field_set(p, field::maxlinaddr, fs.test(f::lm) ? 48 : 32);
}

void max_internal(Policy &max, const Policy &host, const Facts &F, bool hvm,
                  const BootOptions &o)
{
    max = host;
    max_leaves(max);

    const Featureset &mask = !hvm     ? features::pv_max
                             : o.hap  ? features::hvm_hap_max
                                      : features::hvm_shadow_max;
    Featureset fs = policy_to_featureset(max) & mask;

    if ( !hvm )
    {
        // Rule PV-MAX.
        fs.set(f::x2apic);
        if ( !F.sc_msr_pv )
        {
            fs.clear(f::ibrsb);
            fs.clear(f::ibrs);
        }
        if ( !(F.host.test(f::srso_msr_fix) && o.bp_spec_reduce) )
            fs.clear(f::srso_us_no);
    }
    else
    {
        // Rule HVM-MAX.
        fs.set(f::apic);
        fs.set(f::x2apic);
        fs.set(f::no_lmsl);
        if ( F.amd && F.raw.test(f::sep) )
            fs.set(f::sep);
        if ( F.amd_virt_spec_ctrl )
            fs.set(f::virt_ssbd);
        if ( !F.sc_msr_hvm )
        {
            fs.clear(f::ibrsb);
            fs.clear(f::ibrs);
        }
        else if ( F.host.test(f::amd_ssbd) )
            fs.set(f::virt_ssbd);
        if ( !F.host.test(f::vmx) )
            fs.clear(f::pks);
    }

    guest_max_common(fs, F);
    guest_common(fs, F);
    host_behaviour(fs, F);
    apply_features(max, fs);

    recalculate_misc(max, F, o, hvm ? Kind::hvm : Kind::pv);
    guest_address_widths(max, F, hvm, o.hap);
    xstate::recalculate_xstate(max, host);
    policy_clear_out_of_range(max);

    // Rule FAULTING: HVM CPUID faulting is always emulated; PV needs the hardware's.
    max.platform_info = hvm || F.cpuid_faulting ? PLATFORM_INFO_CPUID_FAULTING : 0;
    // Rule HV-LIMITS: Xen's leaves 0x40000000..4 (HVM) / ..5 (PV); HVM may also have
    // them at 0x40000100 (Viridian guests).
    max.hv_limit = HV_LEAF + (hvm ? 4 : 5);
    max.hv2_limit = hvm ? HV2_LEAF + 4 : 0;
}

void default_internal(Policy &def, const Policy &max, const Policy &host, const Facts &F,
                      bool hvm, const BootOptions &o)
{
    const Featureset max_fs = policy_to_featureset(max);
    if ( &def != &max )
        def = max;
    default_leaves(def, host);
    policy_clear_out_of_range(def);

    const Featureset &mask = !hvm     ? features::pv_def
                             : o.hap  ? features::hvm_hap_def
                                      : features::hvm_shadow_def;
    Featureset fs = policy_to_featureset(def) & mask;

    guest_common(fs, F);
    guest_default_common(fs, F, o);
    if ( hvm && F.amd_virt_spec_ctrl )
        fs.set(f::virt_ssbd);
    host_behaviour(fs, F);
    if ( basic_max_leaf(def) < 0xd )
        fs.clear(f::xsave);
    featureset_sanitise(fs);

    // Rule RSBA: a host with RSBA/RRSBA tells a guest that sees ARCH_CAPS the one that
    // matches the eIBRS it sees.
    featureset_tell_worse_behaviour(fs, !(F.host & features::worse_behaviour).empty());

    // A default never offers what its max lacks (implied by the rules; enforced).
    fs &= max_fs;
    apply_features(def, fs);

    recalculate_misc(def, F, o, hvm ? Kind::hvm : Kind::pv);
    guest_address_widths(def, F, hvm, o.hap);
    xstate::recalculate_xstate(def, host);
    policy_clear_out_of_range(def);

    def.hv2_limit = 0;  // Viridian placement is opt-in
}

} // namespace

FamilyModel policy_family_model(const Policy &p)
{
    uint32_t eax = rd(p, 1_leaf).a;
    uint32_t fam = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
    if ( fam == 0xf )
        fam += (eax >> 20) & 0xff;
    if ( fam >= 6 )
        model |= ((eax >> 16) & 0xf) << 4;
    return {fam, model};
}

const char *policy_index_name(PolicyIndex idx)
{
    switch ( idx ) {
    case PolicyIndex::raw:         return "raw";
    case PolicyIndex::host:        return "host";
    case PolicyIndex::pv_max:      return "pv-max";
    case PolicyIndex::hvm_max:     return "hvm-max";
    case PolicyIndex::pv_default:  return "pv-default";
    case PolicyIndex::hvm_default: return "hvm-default";
    }
    return nullptr;
}

bool policy_index_from_name(const char *name, PolicyIndex *idx)
{
    for ( unsigned i = 0; i < NR_POLICY_INDEX; ++i )
    {
        const char *n = policy_index_name(static_cast<PolicyIndex>(i));
        unsigned j = 0;
        while ( n[j] && (name[j] == n[j] || (n[j] == '-' && name[j] == '_')) )
            ++j;
        if ( !n[j] && !name[j] )
        {
            *idx = static_cast<PolicyIndex>(i);
            return true;
        }
    }
    return false;
}

namespace {

// derive_host with raw's facts already worked out.
void host_internal(Policy &host, const Policy &raw, const Facts &F, const BootOptions &o)
{
    if ( &host != &raw )
        host = raw;
    clamp_max_leaves(host);
    policy_clear_out_of_range(host);

    Featureset fs = policy_to_featureset(host);
    // Rule BOOT-OPTIONS: cpuid=no-X clears X and everything that depends on it.
    fs = fs.and_not(boot_options_cleared_closure(o));
    // Rule DYNAMIC: OSXSAVE / OSPKE mirror the CR4 of whoever ran CPUID.
    fs.clear(f::osxsave);
    fs.clear(f::ospke);
    // Rule HOST-VENDOR: what Xen itself gives up on this hardware.
    if ( F.amd )
        fs.clear(f::sep);  // SYSENTER is unusable in long mode on AMD
    if ( F.intel && F.fm.family == 6 && F.fm.model == MODEL_SKYLAKE_X )
        fs.clear(f::clwb); // GDS microcode makes CLWB slow; CLFLUSHOPT is not
    apply_features(host, fs);

    recalculate_misc(host, F, o, Kind::host);
    // Layout and supported components from raw (which host may be: recalculate_xstate
    // reads its source before writing).
    xstate::recalculate_xstate(host, raw);
    policy_clear_out_of_range(host);

    host.platform_info = F.cpuid_faulting ? PLATFORM_INFO_CPUID_FAULTING : 0;
    host.pad_ = 0;
    host.hv_limit = host.hv2_limit = 0;
}

} // namespace

void derive_host(Policy &host, const Policy &raw, const BootOptions &o)
{
    host_internal(host, raw, make_raw_facts(raw, o), o);
}

void derive_max(Policy &max, const Policy &host, const Policy &raw, bool hvm,
                const BootOptions &o)
{
    const Facts F = make_facts(raw, host, o);
    max_internal(max, host, F, hvm, o);
}

void derive_default(Policy &def, const Policy &max, const Policy &host, const Policy &raw,
                    bool hvm, const BootOptions &o)
{
    const Facts F = make_facts(raw, host, o);
    default_internal(def, max, host, F, hvm, o);
}

int policy_derive_opts(Policy &out, const Policy &raw, PolicyIndex idx, const BootOptions &o)
{
    if ( static_cast<unsigned>(idx) >= NR_POLICY_INDEX )
        return -err::einval;
    if ( idx == PolicyIndex::raw )
    {
        out = raw;
        return 0;
    }
    if ( idx == PolicyIndex::host )
    {
        derive_host(out, raw, o);
        return 0;
    }

    bool hvm = idx == PolicyIndex::hvm_max || idx == PolicyIndex::hvm_default;
    Policy host;
    Facts F = make_raw_facts(raw, o);
    host_internal(host, raw, F, o);
    add_host_facts(F, raw, host, o);  // raw is not read after this: out may alias it
    max_internal(out, host, F, hvm, o);
    if ( idx == PolicyIndex::pv_default || idx == PolicyIndex::hvm_default )
        default_internal(out, out, host, F, hvm, o);
    return 0;
}

int policy_derive(Policy &out, const Policy &raw, PolicyIndex idx, const char *boot_options,
                  BootOptionsError *bad)
{
    BootOptions o;
    if ( int rc = boot_options_parse(o, boot_options, bad) )
        return rc;
    return policy_derive_opts(out, raw, idx, o);
}

Featureset derive_synthesised(PolicyIndex idx)
{
    static constexpr Feature max_common[] = {
        f::hypervisor, f::x2apic, f::htt, f::cmp_legacy, f::arch_caps, f::rsba, f::rrsba,
        f::md_clear, f::fb_clear, f::rfds_clear, f::rtm_always_abort, f::stibp,
        f::amd_stibp, f::ibpb, f::clwb,
    };
    static constexpr Feature hvm_only[] = {f::apic, f::no_lmsl, f::sep, f::virt_ssbd};

    Featureset r;
    if ( idx == PolicyIndex::raw || idx == PolicyIndex::host ||
         static_cast<unsigned>(idx) >= NR_POLICY_INDEX )
        return r;
    for ( Feature x : max_common )
        r.set(x);
    if ( idx == PolicyIndex::hvm_max || idx == PolicyIndex::hvm_default )
        for ( Feature x : hvm_only )
            r.set(x);
    return r;
}

} // namespace cpupolicy

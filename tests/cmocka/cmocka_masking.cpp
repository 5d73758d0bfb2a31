// SPDX-License-Identifier: MIT
// CMocka tests of levelling detection and the lazy context switch, with the platform seam
// replaced (-Wl,--wrap, see cmocka_masking.wrap): CPUID answers come from a scripted
// CPU, RDMSR/WRMSR act on a scripted MSR table, and every MSR access is recorded so each
// test asserts the EXACT sequence of reads and writes, printing expected against actual.
//
// CPU facts: the CPUID values are those of the Sandy Bridge-EP (0x206d5) and Interlagos
// (0x600f12) dumps in tests/data/cpuid-dumps; the MSR indices, layouts and Xen's rules are in
// masking.hpp.  Expected mask values were worked out by hand from those rules and are
// written out as numbers, not recomputed by the code under test.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>  // the 1.1 header has no extern "C" of its own
}

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cpupolicy/masking.hpp"
#include "cpupolicy/platform.hpp"

using namespace cpupolicy;

// --- The scripted platform -------------------------------------------------------------
namespace {

struct Access {
    char op;  // 'R' or 'W'
    uint32_t msr;
    uint64_t val;
    bool operator==(const Access &) const = default;
};

struct FakeCpu {
    std::map<uint64_t, Regs> cpuid;       // (leaf << 32 | subleaf) -> regs
    std::map<uint32_t, uint64_t> msrs;    // existing MSRs
    std::vector<Access> log;
    LevellingPerCpu percpu{};
    bool have_percpu = true;
};
FakeCpu cpu;

void set_leaf(uint32_t leaf, uint32_t sub, Regs r) { cpu.cpuid[(uint64_t{leaf} << 32) | sub] = r; }

std::string show(const std::vector<Access> &v)
{
    std::string s;
    char buf[64];
    for ( const auto &a : v )
    {
        snprintf(buf, sizeof(buf), "  %c %#x = %#018llx\n", a.op, a.msr,
                 static_cast<unsigned long long>(a.val));
        s += buf;
    }
    return s.empty() ? "  (none)\n" : s;
}

// Compare the recorded accesses with `want`, print both on mismatch, and clear the log.
void expect_accesses(const std::vector<Access> &want, const char *what)
{
    if ( cpu.log != want )
    {
        print_error("%s: MSR accesses differ\nexpected:\n%sactual:\n%s", what, show(want).c_str(),
                    show(cpu.log).c_str());
        fail();
    }
    cpu.log.clear();
}

} // namespace

extern "C" {
void __wrap_cpupolicy_plat_cpuid(uint32_t leaf, uint32_t subleaf, Regs *out)
{
    auto it = cpu.cpuid.find((uint64_t{leaf} << 32) | subleaf);
    if ( it == cpu.cpuid.end() )
        it = cpu.cpuid.find(uint64_t{leaf} << 32);  // plain leaves ignore ECX
    *out = it == cpu.cpuid.end() ? Regs{} : it->second;
}
int __wrap_cpupolicy_plat_rdmsr(uint32_t msr, uint64_t *val)
{
    auto it = cpu.msrs.find(msr);
    cpu.log.push_back({'R', msr, it == cpu.msrs.end() ? ~0ull : it->second});
    if ( it == cpu.msrs.end() )
        return -22;  // #GP
    *val = it->second;
    return 0;
}
int __wrap_cpupolicy_plat_wrmsr(uint32_t msr, uint64_t val)
{
    cpu.log.push_back({'W', msr, val});
    auto it = cpu.msrs.find(msr);
    if ( it == cpu.msrs.end() )
        return -22;
    it->second = val;
    return 0;
}
unsigned int __wrap_cpupolicy_plat_cpu_id(void) { return 0; }
LevellingPerCpu *__wrap_cpupolicy_plat_levelling_percpu(void)
{
    return cpu.have_percpu ? &cpu.percpu : nullptr;
}
}

// --- Scripted CPUs --------------------------------------------------------------------
namespace {

constexpr Regs INTEL_L0 = {0xd, 0x756e6547, 0x6c65746e, 0x49656e69};  // "GenuineIntel"
constexpr Regs AMD_L0 = {0xd, 0x68747541, 0x444d4163, 0x69746e65};    // "AuthenticAMD"

// Sandy Bridge-EP 0x206d5 (GenuineIntel00206D5_SandyBridgeEP.txt).
void sandybridge(bool platform_info_faulting)
{
    cpu = FakeCpu{};
    set_leaf(0, 0, INTEL_L0);
    set_leaf(1, 0, {0x000206d5, 0x00200800, 0x1fbee3ff, 0xbfebfbff});
    set_leaf(0xd, 1, {0x00000001, 0, 0, 0});
    set_leaf(0x80000000, 0, {0x80000008, 0, 0, 0});
    set_leaf(0x80000001, 0, {0, 0, 0x00000001, 0x2c100000});
    cpu.msrs[raw(msr::platform_info)] = platform_info_faulting ? 0x80000000ull | 0x0c006c011a00ull
                                                          : 0x0c006c011a00ull;
    if ( platform_info_faulting )
        cpu.msrs[raw(msr::misc_features_enables)] = 0;
    else
    {
        cpu.msrs[raw(msr::intel_mask_v3_cpuid1)] = ~0ull;
        cpu.msrs[raw(msr::intel_mask_v3_cpuid80000001)] = ~0ull;
        cpu.msrs[raw(msr::intel_mask_v3_cpuidd_01)] = ~0ull;
    }
}

// Interlagos 0x600f12 (AuthenticAMD0600F12_Interlagos.txt): family 15h.
void interlagos()
{
    cpu = FakeCpu{};
    set_leaf(0, 0, AMD_L0);
    set_leaf(1, 0, {0x00600f12, 0x00100800, 0x1e98220b, 0x178bfbff});
    set_leaf(6, 0, {0, 0, 0x00000001, 0});
    set_leaf(7, 0, {0, 0, 0, 0});
    set_leaf(0x80000000, 0, {0x8000001e, 0, 0, 0});
    set_leaf(0x80000001, 0, {0x00600f12, 0x30000000, 0x01c9bfff, 0x2fd3fbff});
    cpu.msrs[raw(msr::amd_hwcr)] = 0x1000010;
    cpu.msrs[raw(msr::amd_feature_mask)] = 0x1e98220b178bfbffull;
    cpu.msrs[raw(msr::amd_ext_feature_mask)] = 0x01c9bfff2fd3fbffull;
    cpu.msrs[raw(msr::amd_l7s0_feature_mask)] = 0;
    cpu.msrs[raw(msr::amd_thrm_feature_mask)] = 0x1;
}

Policy policy_with(Regs l0, Regs l1, Regs e1, Regs d1 = {}, Regs l7 = {}, Regs l6 = {})
{
    Policy p{};
    *at(p, Leaf{0}) = l0;
    *at(p, Leaf{1}) = l1;
    *at(p, Leaf{0x80000000}) = {0x80000008, 0, 0, 0};
    *at(p, Leaf{0x80000001}) = e1;
    *at(p, Leaf{0xd}, Subleaf{1}) = d1;
    *at(p, Leaf{7}, Subleaf{0}) = l7;
    *at(p, Leaf{6}) = l6;
    return p;
}

void check_caps(const LevellingCaps &c, uint32_t want_caps, uint32_t want_expected)
{
    if ( c.caps != want_caps || c.expected != want_expected )
    {
        print_error("caps: expected %#x (expected-caps %#x), actual %#x (%#x)\n", want_caps,
                    want_expected, c.caps, c.expected);
        fail();
    }
}

void check_u64(uint64_t want, uint64_t got, const char *what)
{
    if ( want != got )
    {
        print_error("%s: expected %#018llx, actual %#018llx\n", what,
                    static_cast<unsigned long long>(want), static_cast<unsigned long long>(got));
        fail();
    }
}

} // namespace

// --- Detection ---------------------------------------------------------------------------

// Sandy Bridge without faulting: PLATFORM_INFO is read (bit 31 clear, so 0x140 is not),
// then 0x132, 0x133, 0x134 are each probed by reading and writing back the same value.
static void detect_sandybridge_probes_three_v3_masks_in_order(void **)
{
    sandybridge(false);
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({{'R', 0xce, 0x0c006c011a00ull},
                     {'R', 0x132, ~0ull}, {'W', 0x132, ~0ull},
                     {'R', 0x133, ~0ull}, {'W', 0x133, ~0ull},
                     {'R', 0x134, ~0ull}, {'W', 0x134, ~0ull}},
                    "detect");
    check_caps(c, lcap::ecx | lcap::edx | lcap::extd_ecx | lcap::extd_edx | lcap::xsave_eax,
               0x3e);
    assert_true(c.faulting == FaultingMechanism::none);
    assert_int_equal(c.family, 6);
    assert_int_equal(c.model, 0x2d);
    // Defaults: all-ones reset value AND what CPUID says, APIC and OSXSAVE forced on.
    check_u64(0xbfebfbff1fbee3ffull, c.defaults[mask_1cd], "default 1cd (edx:ecx)");
    check_u64(0x2c10000000000001ull, c.defaults[mask_e1cd], "default e1cd (edx:ecx)");
    check_u64(0xffffffff00000001ull, c.defaults[mask_Da1], "default Da1");
}

// A CPU advertising faulting gets faulting only: no masking MSR is touched.
static void detect_faulting_wins_over_masking(void **)
{
    sandybridge(true);
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({{'R', 0xce, 0x80000000ull | 0x0c006c011a00ull}, {'R', 0x140, 0}},
                    "detect");
    check_caps(c, lcap::faulting, lcap::faulting);
    assert_true(c.faulting == FaultingMechanism::misc_features_enables);
    for ( unsigned i = 0; i < NR_MASK_MSRS; ++i )
        assert_int_equal(raw(c.msr[i]), 0);
}

// PLATFORM_INFO says faulting but MISC_FEATURES_ENABLES faults: no faulting (Xen checks
// both), and the masks are probed instead.
static void detect_faulting_needs_misc_features_enables(void **)
{
    sandybridge(false);
    cpu.msrs[raw(msr::platform_info)] |= 0x80000000ull;
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    assert_int_equal(cpu.log.size(), 2u + 6u);
    assert_true((cpu.log[1] == Access{'R', 0x140, ~0ull}));
    cpu.log.clear();
    check_caps(c, 0x3e, 0x3e);
}

// Running virtualised, a masking MSR the outer hypervisor does not emulate faults: that
// capability is missing, while `expected` still says what the model should have.
static void detect_missing_mask_msr_is_reported_not_fatal(void **)
{
    sandybridge(false);
    cpu.msrs.erase(raw(msr::intel_mask_v3_cpuidd_01));
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    cpu.log.clear();
    check_caps(c, 0x1e, 0x3e);
    assert_int_equal(raw(c.msr[mask_Da1]), 0);
}

// Family 0fh Intel: no faulting probe at all (spurious #GP on NetBurst) and no masks.
static void detect_intel_family_0f_touches_no_msr(void **)
{
    sandybridge(false);
    set_leaf(1, 0, {0x00000f65, 0, 0x0000e59d, 0xbfebfbff});  // Pentium D / Xeon 0xf65
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({}, "detect on family 0fh");
    check_caps(c, 0, 0);
    assert_int_equal(c.family, 0xf);
}

// Intel model without masking MSRs (Skylake-SP 0x50654) and no faulting: caps 0.
static void detect_intel_model_without_masks(void **)
{
    sandybridge(false);
    set_leaf(1, 0, {0x00050654, 0, 0x7ffefbff, 0xbfebfbff});
    cpu.msrs.erase(raw(msr::platform_info));
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({{'R', 0xce, ~0ull}}, "detect on Skylake without PLATFORM_INFO");
    check_caps(c, 0, 0);
}

// Interlagos (fam 15h): the four override MSRs, in Xen's order; 0xc0011002 because the
// max leaf is >= 7, 0xc0011003 because it is family 15h and leaf 6 ecx is non-zero.
static void detect_amd_family_15h_probes_four_overrides(void **)
{
    interlagos();
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({{'R', 0xc0011004, 0x1e98220b178bfbffull}, {'W', 0xc0011004, 0x1e98220b178bfbffull},
                     {'R', 0xc0011005, 0x01c9bfff2fd3fbffull}, {'W', 0xc0011005, 0x01c9bfff2fd3fbffull},
                     {'R', 0xc0011002, 0}, {'W', 0xc0011002, 0},
                     {'R', 0xc0011003, 1}, {'W', 0xc0011003, 1}},
                    "detect");
    check_caps(c, 0x1de, 0x1de);
    // ecx:edx with OSXSAVE (XSAVE is set), HYPERVISOR and APIC forced on.
    check_u64(0x9e98220b178bfbffull, c.defaults[mask_1cd], "default 1cd (ecx:edx)");
    check_u64(0x01c9bfff2fd3fbffull, c.defaults[mask_e1cd], "default e1cd (ecx:edx)");
    check_u64(0, c.defaults[mask_7ab0], "default 7ab0");
    check_u64(1, c.defaults[mask_6c], "default 6c");
}

// Family 11h has no masking: nothing is probed.
static void detect_amd_family_11h_touches_no_msr(void **)
{
    interlagos();
    set_leaf(1, 0, {0x00200f31, 0, 0x00002001, 0x178bfbff});  // Griffin, family 11h
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({}, "detect on family 11h");
    check_caps(c, 0, 0);
    assert_int_equal(c.family, 0x11);
}

// CpuidUserDis (0x80000021.eax[17], e.g. Genoa) is AMD's faulting: no MSR probe needed.
static void detect_amd_cpuid_user_dis_is_faulting(void **)
{
    interlagos();
    set_leaf(0x80000000, 0, {0x80000021, 0, 0, 0});
    set_leaf(0x80000021, 0, {0x00062fcf, 0, 0, 0});
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    expect_accesses({}, "detect with CpuidUserDis");
    check_caps(c, lcap::faulting, lcap::faulting);
    assert_true(c.faulting == FaultingMechanism::cpuid_user_dis);
}

// --- Per-domain masks ------------------------------------------------------------------

// Sandy Bridge PV domain without AVX and X2APIC, with HYPERVISOR: the mask keeps the
// host's X2APIC (forwarded), OSXSAVE and APIC (fast-forwarded), and cannot add HYPERVISOR
// (an AND mask never sets a bit the hardware lacks), which the gap reports as lost.
static void domain_masks_sandybridge(void **)
{
    sandybridge(false);
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    cpu.log.clear();
    Policy raw = policy_with(INTEL_L0, {0x206d5, 0, 0x1fbee3ff, 0xbfebfbff},
                             {0, 0, 0x1, 0x2c100000}, {0x1, 0, 0, 0});
    Regs l1 = {0x206d5, 0, (0x1fbee3ffu & ~(1u << 28) & ~(1u << 27) & ~(1u << 21)) | (1u << 31),
               0xbfebfbff};
    Policy guest = policy_with(INTEL_L0, l1, {0, 0, 0x1, 0x2c100000}, {0x1, 0, 0, 0});
    DomainLevelling d{};
    levelling_domain_compute(d, c, raw, guest, true);
    assert_false(d.faulting);
    check_u64(0xbfebfbff0fbee3ffull, d.masks[mask_1cd], "domain 1cd");
    check_u64(0x2c10000000000001ull, d.masks[mask_e1cd], "domain e1cd");
    check_u64(0xffffffff00000001ull, d.masks[mask_Da1], "domain Da1");
    assert_true(d.gap.applies);
    assert_false(d.gap.by_faulting);
    // Lost: HYPERVISOR (1.ecx[31]).  Forwarded: X2APIC (1.ecx[21]).  Nothing leaked.
    assert_int_equal(d.gap.lost.w[1], 1u << 31);
    assert_int_equal(d.gap.forwarded.w[1], 1u << 21);
    assert_true(d.gap.leaked.empty());
    // Words 0-4 are covered by the three MSRs; leaf 7, 0x80000007, 0x80000008 ... are not.
    assert_int_equal(d.gap.uncovered_words & 0x1f, 0);
    assert_int_equal(d.gap.uncovered_words & (1u << 5), 1u << 5);
}

// Interlagos PV domain without AES and FMA4, with HYPERVISOR: the override carries
// HYPERVISOR, keeps OSXSAVE/APIC set for fast-forwarding, forwards CMP_LEGACY.
static void domain_masks_amd_overrides(void **)
{
    interlagos();
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    cpu.log.clear();
    Policy raw = policy_with(AMD_L0, {0x600f12, 0, 0x1e98220b, 0x178bfbff},
                             {0x600f12, 0, 0x01c9bfff, 0x2fd3fbff}, {}, {}, {0, 0, 1, 0});
    Regs l1 = {0x600f12, 0, (0x1e98220bu & ~(1u << 25) & ~(1u << 27)) | (1u << 31), 0x178bfbff};
    Regs e1 = {0x600f12, 0, 0x01c9bfffu & ~(1u << 16), 0x2fd3fbff};
    Policy guest = policy_with(AMD_L0, l1, e1, {}, {}, {0, 0, 1, 0});
    DomainLevelling d{};
    levelling_domain_compute(d, c, raw, guest, true);
    check_u64(0x9c98220b178bfbffull, d.masks[mask_1cd], "domain 1cd");
    check_u64(0x01c8bfff2fd3fbffull, d.masks[mask_e1cd], "domain e1cd");
    check_u64(0, d.masks[mask_7ab0], "domain 7ab0");
    check_u64(1, d.masks[mask_6c], "domain 6c");
    assert_true(d.gap.complete());
}

// --- The context switch ----------------------------------------------------------------
namespace {

struct SnbDomains {
    LevellingCaps caps{};
    DomainLevelling a{}, b{}, hvm{};
};

// Domain A: SNB host minus AVX; domain B: A minus AES.  Both PV.
void snb_domains(SnbDomains &s)
{
    sandybridge(false);
    assert_int_equal(levelling_detect(s.caps), 0);
    cpu.log.clear();
    Policy raw = policy_with(INTEL_L0, {0x206d5, 0, 0x1fbee3ff, 0xbfebfbff},
                             {0, 0, 0x1, 0x2c100000}, {0x1, 0, 0, 0});
    Regs l1 = {0x206d5, 0, 0x1fbee3ffu & ~(1u << 28) & ~(1u << 27), 0xbfebfbff};
    Policy pa = policy_with(INTEL_L0, l1, {0, 0, 0x1, 0x2c100000}, {0x1, 0, 0, 0});
    l1.c &= ~(1u << 25);
    Policy pb = policy_with(INTEL_L0, l1, {0, 0, 0x1, 0x2c100000}, {0x1, 0, 0, 0});
    levelling_domain_compute(s.a, s.caps, raw, pa, true);
    levelling_domain_compute(s.b, s.caps, raw, pb, true);
    levelling_domain_compute(s.hvm, s.caps, raw, pa, false);
    assert_int_equal(levelling_cpu_init(s.caps), 0);
}

} // namespace

// The sequence a physical CPU sees: the first switch loads all three masks; a second vCPU
// of the same domain writes nothing; another domain writes only the MSR that differs;
// NULL restores the defaults that differ; a second NULL writes nothing.
static void ctxt_switch_masking_is_lazy(void **)
{
    SnbDomains s;
    snb_domains(s);
    expect_accesses({}, "levelling_cpu_init (masking host reads nothing)");

    VcpuLevelling v{};
    ctxt_switch_levelling(&s.a, &v);
    expect_accesses({{'W', 0x132, 0xbfebfbff0fbee3ffull},
                     {'W', 0x133, 0x2c10000000000001ull},
                     {'W', 0x134, 0xffffffff00000001ull}},
                    "first switch to domain A, vCPU 0");
    ctxt_switch_levelling(&s.a, &v);
    expect_accesses({}, "domain A, vCPU 1");
    ctxt_switch_levelling(&s.b, &v);
    expect_accesses({{'W', 0x132, 0xbfebfbff0dbee3ffull}}, "domain B (differs in leaf 1 only)");
    ctxt_switch_levelling(nullptr);
    expect_accesses({{'W', 0x132, 0xbfebfbff1fbee3ffull}}, "NULL: host defaults");
    ctxt_switch_levelling(nullptr);
    expect_accesses({}, "NULL again");
    ctxt_switch_levelling(&s.hvm, &v);
    expect_accesses({}, "HVM domain: host defaults, already loaded");
    assert_int_equal(cpu.percpu.nr_writes, 5);
}

// A PV vCPU whose kernel has CR4.OSXSAVE clear must not see OSXSAVE fast-forwarded: its
// leaf-1 mask drops bit 27, so two vCPUs of one domain can differ.
static void ctxt_switch_clears_osxsave_for_vcpu_without_it(void **)
{
    SnbDomains s;
    snb_domains(s);
    VcpuLevelling on{}, off{};
    off.cr4_osxsave = false;
    ctxt_switch_levelling(&s.a, &on);
    cpu.log.clear();
    ctxt_switch_levelling(&s.a, &off);
    expect_accesses({{'W', 0x132, 0xbfebfbff07bee3ffull}}, "vCPU with CR4.OSXSAVE=0");
    ctxt_switch_levelling(&s.a, &on);
    expect_accesses({{'W', 0x132, 0xbfebfbff0fbee3ffull}}, "vCPU with CR4.OSXSAVE=1");
}

// With faulting, MISC_FEATURES_ENABLES is read once at CPU init, then written only when
// the wanted state changes: PV on, PV (another domain) nothing, HVM off, NULL nothing,
// PV on, NULL off.
static void ctxt_switch_faulting_toggles_only_on_change(void **)
{
    sandybridge(true);
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    cpu.log.clear();
    Policy raw = policy_with(INTEL_L0, {0x206d5, 0, 0x1fbee3ff, 0xbfebfbff}, {0, 0, 1, 0x2c100000});
    DomainLevelling pv1{}, pv2{}, hvm{};
    levelling_domain_compute(pv1, c, raw, raw, true);
    levelling_domain_compute(pv2, c, raw, raw, true);
    levelling_domain_compute(hvm, c, raw, raw, false);
    assert_true(pv1.faulting && pv1.gap.by_faulting);
    assert_int_equal(levelling_cpu_init(c), 0);
    expect_accesses({{'R', 0x140, 0}}, "cpu init reads MISC_FEATURES_ENABLES");

    ctxt_switch_levelling(&pv1);
    expect_accesses({{'W', 0x140, 1}}, "PV domain 1: faulting on");
    ctxt_switch_levelling(&pv2);
    expect_accesses({}, "PV domain 2: already on");
    ctxt_switch_levelling(&hvm);
    expect_accesses({{'W', 0x140, 0}}, "HVM: off");
    ctxt_switch_levelling(nullptr);
    expect_accesses({}, "NULL: already off");
    ctxt_switch_levelling(&pv1);
    expect_accesses({{'W', 0x140, 1}}, "PV again: on");
    ctxt_switch_levelling(nullptr);
    expect_accesses({{'W', 0x140, 0}}, "NULL: off");
}

// AMD faulting lives in HWCR bit 35; the other HWCR bits are preserved.
static void ctxt_switch_amd_faulting_preserves_hwcr(void **)
{
    interlagos();
    set_leaf(0x80000000, 0, {0x80000021, 0, 0, 0});
    set_leaf(0x80000021, 0, {0x00062fcf, 0, 0, 0});
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    Policy raw = policy_with(AMD_L0, {0x600f12, 0, 0x1e98220b, 0x178bfbff}, {});
    DomainLevelling pv{};
    levelling_domain_compute(pv, c, raw, raw, true);
    assert_int_equal(levelling_cpu_init(c), 0);
    expect_accesses({{'R', 0xc0010015, 0x1000010}}, "cpu init reads HWCR");
    ctxt_switch_levelling(&pv);
    expect_accesses({{'W', 0xc0010015, 0x1000010ull | (1ull << 35)}}, "PV: CpuidUserDis on");
    ctxt_switch_levelling(nullptr);
    expect_accesses({{'W', 0xc0010015, 0x1000010}}, "NULL: off, other bits kept");
}

// AMD masking: the four overrides in order on the first switch, then nothing.
static void ctxt_switch_amd_masking_order(void **)
{
    interlagos();
    LevellingCaps c{};
    assert_int_equal(levelling_detect(c), 0);
    assert_int_equal(levelling_cpu_init(c), 0);
    cpu.log.clear();
    ctxt_switch_levelling(nullptr);
    expect_accesses({{'W', 0xc0011004, 0x9e98220b178bfbffull},
                     {'W', 0xc0011005, 0x01c9bfff2fd3fbffull},
                     {'W', 0xc0011002, 0},
                     {'W', 0xc0011003, 1}},
                    "first NULL switch loads every default");
    ctxt_switch_levelling(nullptr);
    expect_accesses({}, "second NULL switch");
}

// Without levelling_cpu_init (or without a per-CPU area) the switch does nothing.
static void ctxt_switch_without_percpu_does_nothing(void **)
{
    SnbDomains s;
    snb_domains(s);
    cpu.have_percpu = false;
    ctxt_switch_levelling(&s.a);
    expect_accesses({}, "no per-CPU area");
    assert_int_equal(levelling_cpu_init(s.caps), -err::enodev);
}

// A WRMSR that faults leaves the cached value unknown, so the next switch retries it.
static void ctxt_switch_failed_write_is_retried(void **)
{
    SnbDomains s;
    snb_domains(s);
    cpu.msrs.erase(raw(msr::intel_mask_v3_cpuid80000001));
    ctxt_switch_levelling(&s.a);
    cpu.log.clear();
    ctxt_switch_levelling(&s.a);
    expect_accesses({{'W', 0x133, 0x2c10000000000001ull}}, "retry of the failed MSR only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detect_sandybridge_probes_three_v3_masks_in_order),
        cmocka_unit_test(detect_faulting_wins_over_masking),
        cmocka_unit_test(detect_faulting_needs_misc_features_enables),
        cmocka_unit_test(detect_missing_mask_msr_is_reported_not_fatal),
        cmocka_unit_test(detect_intel_family_0f_touches_no_msr),
        cmocka_unit_test(detect_intel_model_without_masks),
        cmocka_unit_test(detect_amd_family_15h_probes_four_overrides),
        cmocka_unit_test(detect_amd_family_11h_touches_no_msr),
        cmocka_unit_test(detect_amd_cpuid_user_dis_is_faulting),
        cmocka_unit_test(domain_masks_sandybridge),
        cmocka_unit_test(domain_masks_amd_overrides),
        cmocka_unit_test(ctxt_switch_masking_is_lazy),
        cmocka_unit_test(ctxt_switch_clears_osxsave_for_vcpu_without_it),
        cmocka_unit_test(ctxt_switch_faulting_toggles_only_on_change),
        cmocka_unit_test(ctxt_switch_amd_faulting_preserves_hwcr),
        cmocka_unit_test(ctxt_switch_amd_masking_order),
        cmocka_unit_test(ctxt_switch_without_percpu_does_nothing),
        cmocka_unit_test(ctxt_switch_failed_write_is_retried),
    };
    int failed = cmocka_run_group_tests(tests, nullptr, nullptr);
    unsigned total = sizeof(tests) / sizeof(tests[0]);
    printf("%u passed, %d failed\n", total - static_cast<unsigned>(failed), failed);
    return failed ? 1 : 0;
}

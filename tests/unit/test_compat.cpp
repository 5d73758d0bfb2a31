// SPDX-License-Identifier: MIT
// Deep compatibility (hypervisor/core/include/cpupolicy/compat.hpp).
//
// Xen's test_is_compatible_success / test_is_compatible_failure vectors come first, as
// facts (Xen's extd.max_leaf = 1 is the raw value 0x80000001 here, since this object
// keeps 0x80000000.eax as the CPU reports it).  Then one vector per check this adds,
// each proving both that the check fires at the leaf/subleaf it names and that it is
// the only thing that fired; then facts over the twenty dumps.
#include "cpupolicy/compat.hpp"
#include "cpupolicy/features.hpp"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

constexpr uint32_t NONE = ~0u;

// A consistent Sapphire-Rapids-like host, built by hand so each vector can move one
// field: GenuineIntel, max leaf 0x24, extended 0x80000008, x87/SSE/AVX/PKRU xstate,
// PT, AMX palette 1, AVX10.1/512, 52/57-bit addresses, a few features in every word
// kind (CPUID register and ARCH_CAPS MSR half).
Policy base()
{
    Policy p{};
    S(p, 0) = {0x24, 0x756e6547, 0x6c65746e, 0x49656e69};
    S(p, 1) = {0x806f8, 0, (1u << 20) | (1u << 26) | (1u << 28), (1u << 0) | (1u << 25) | (1u << 26)};
    S(p, 7, 0) = {1, (1u << 5) | (1u << 16) | (1u << 30), 0, (1u << 29)};
    S(p, 7, 1) = {0x10, 0, 0, 0};
    S(p, 0xd, 0) = {0x207, 0xa88, 0xa88, 0};
    S(p, 0xd, 1) = {0xf, 0xa88, 0x100, 0};
    S(p, 0xd, 2) = {0x100, 0x240, 0, 0};
    S(p, 0xd, 8) = {0x80, 0, 1, 0};
    S(p, 0xd, 9) = {0x8, 0xa80, 0, 0};
    S(p, 0x14, 0) = {1, 0x5f, 0x7, 0};
    S(p, 0x14, 1) = {0x02490002, 0x003f003f, 0, 0};
    S(p, 0x1d, 0) = {1, 0, 0, 0};
    S(p, 0x1d, 1) = {0x04002000, 0x00080040, 0x10, 0};
    S(p, 0x1e, 0) = {1, 0x4010, 0, 0};
    S(p, 0x1e, 1) = {0xf, 0, 0, 0};
    S(p, 0x24, 0) = {1, 0x70001, 0, 0};
    S(p, 0x24, 1) = {0, 0, 0x2, 0};
    S(p, EXTD_FIRST) = {0x80000008, 0, 0, 0};
    S(p, 0x80000001) = {0, 0, 1, (1u << 11) | (1u << 20) | (1u << 29)};
    S(p, 0x80000008) = {0x3934, 0x200, 0, 0};
    p.platform_info = PLATFORM_INFO_CPUID_FAULTING;
    p.arch_caps = 0xeb;
    return p;
}

struct Vec {
    const char *name;
    void (*host)(Policy &);
    void (*guest)(Policy &);
    int rc;
    ErrNums err;
};

void run(const Vec &v, const Policy &start)
{
    Policy host = start, guest = start;
    v.host(host);
    v.guest(guest);
    ErrRecord e;
    e.leaf = 0x1234_leaf;  // must be overwritten on every return
    int rc = policy_is_compatible(host, guest, &e, nullptr);
    expect_eq(std::string(v.name) + ": rc", v.rc, rc);
    expect_err(std::string(v.name) + ": err", v.err, e);
    expect_eq(std::string(v.name) + ": rc without err/missing", v.rc,
              policy_is_compatible(host, guest, nullptr, nullptr));
}

void nothing(Policy &) {}

void xen_is_compatible_success()
{
    static const Vec vecs[] = {
        {"Host CPUID faulting, Guest not",
         [](Policy &h) { h.platform_info = PLATFORM_INFO_CPUID_FAULTING; }, nothing, 0, {}},
        {"Host CPUID faulting, Guest wanted",
         [](Policy &h) { h.platform_info = PLATFORM_INFO_CPUID_FAULTING; },
         [](Policy &g) { g.platform_info = PLATFORM_INFO_CPUID_FAULTING; }, 0, {}},
    };
    for ( const auto &v : vecs )
        run(v, Policy{});
}

void xen_is_compatible_failure()
{
    static const Vec vecs[] = {
        {"Host basic.max_leaf out of range", nothing, [](Policy &g) { S(g, 0).a = 1; },
         -EINVAL, {0, NONE, NONE}},
        {"Host extd.max_leaf out of range", nothing, [](Policy &g) { S(g, EXTD_FIRST).a = 0x80000001; },
         -EINVAL, {0x80000000, NONE, NONE}},
        {"Host no CPUID faulting, Guest wanted", nothing,
         [](Policy &g) { g.platform_info = PLATFORM_INFO_CPUID_FAULTING; }, -EINVAL, {NONE, NONE, 0xce}},
    };
    for ( const auto &v : vecs )
        run(v, Policy{});
}

void every_deep_check_fires_at_its_leaf()
{
    static const Vec vecs[] = {
        {"identical policies", nothing, nothing, 0, {}},
        {"vendor differs", nothing, [](Policy &g) { S(g, 0) = {0x24, 0x68747541, 0x444d4163, 0x69746e65}; },
         -EINVAL, {0, NONE, NONE}},
        // Two signatures the vendor table does not know ("GenuineTMx86", "CyrixInstead")
        // are two vendors, not one "unknown" vendor: compared as the 12 bytes.
        {"two unknown vendors differ",
         [](Policy &h) { S(h, 0) = {0x24, 0x756e6547, 0x3638784d, 0x54656e69}; },
         [](Policy &g) { S(g, 0) = {0x24, 0x69727943, 0x64616574, 0x736e4978}; }, -EINVAL, {0, NONE, NONE}},
        {"one unknown vendor on both",
         [](Policy &h) { S(h, 0) = {0x24, 0x69727943, 0x64616574, 0x736e4978}; },
         [](Policy &g) { S(g, 0) = {0x24, 0x69727943, 0x64616574, 0x736e4978}; }, 0, {}},
        // RSBA / RRSBA say "may behave worse": a guest told so runs on a host that does not.
        {"guest told RSBA, host without", nothing, [](Policy &g) { g.arch_caps |= 1u << 2; }, 0, {}},
        {"guest told RRSBA, host without", nothing, [](Policy &g) { g.arch_caps |= 1u << 19; }, 0, {}},
        {"7:0 max subleaf", nothing, [](Policy &g) { S(g, 7, 0).a = 2; }, -EINVAL, {7, 0, NONE}},
        {"feature in 7:0.ebx", [](Policy &h) { S(h, 7, 0).b &= ~(1u << 16); }, nothing, -EINVAL, {7, 0, NONE}},
        {"feature in 7:1.eax", [](Policy &h) { S(h, 7, 1).a = 0; }, nothing, -EINVAL, {7, 1, NONE}},
        {"feature in leaf 1", [](Policy &h) { S(h, 1).c &= ~(1u << 20); }, nothing, -EINVAL, {1, NONE, NONE}},
        {"feature in 0x80000001", [](Policy &h) { S(h, 0x80000001).d &= ~(1u << 29); }, nothing,
         -EINVAL, {0x80000001, NONE, NONE}},
        {"XCR0 component the host lacks", nothing, [](Policy &g) { S(g, 0xd, 0).a |= 1u << 5; },
         -EINVAL, {0xd, 0, NONE}},
        {"XCR0 high component the host lacks", nothing, [](Policy &g) { S(g, 0xd, 0).d = 1u << 30; },
         -EINVAL, {0xd, 0, NONE}},
        {"xsave max size larger", nothing, [](Policy &g) { S(g, 0xd, 0).c = 0xb00; }, -EINVAL, {0xd, 0, NONE}},
        {"xsave current size larger", nothing, [](Policy &g) { S(g, 0xd, 0).b = 0xb00; }, -EINVAL, {0xd, 0, NONE}},
        {"xsave XCR0|XSS size larger", nothing, [](Policy &g) { S(g, 0xd, 1).b = 0xb00; }, -EINVAL, {0xd, 1, NONE}},
        {"XSS component the host lacks", nothing, [](Policy &g) { S(g, 0xd, 1).c |= 1u << 11; },
         -EINVAL, {0xd, 1, NONE}},
        {"PKRU at another offset", nothing, [](Policy &g) { S(g, 0xd, 9).b = 0x980; }, -EINVAL, {0xd, 9, NONE}},
        {"PKRU of another size", nothing, [](Policy &g) { S(g, 0xd, 9).a = 0x40; }, -EINVAL, {0xd, 9, NONE}},
        {"PT component flags differ", nothing, [](Policy &g) { S(g, 0xd, 8).c = 3; }, -EINVAL, {0xd, 8, NONE}},
        {"guest does not enumerate PKRU", nothing, [](Policy &g) { S(g, 0xd, 9) = {}; }, 0, {}},
        {"host does not enumerate PKRU", [](Policy &h) { S(h, 0xd, 9) = {}; }, nothing, 0, {}},
        {"PT capability the host lacks", nothing, [](Policy &g) { S(g, 0x14, 0).b |= 1u << 7; },
         -EINVAL, {0x14, 0, NONE}},
        {"PT address ranges", nothing, [](Policy &g) { S(g, 0x14, 1).a = (S(g, 0x14, 1).a & ~7u) | 3; },
         -EINVAL, {0x14, 1, NONE}},
        {"AMX max palette", nothing, [](Policy &g) { S(g, 0x1d, 0).a = 2; }, -EINVAL, {0x1d, 0, NONE}},
        {"AMX max_rows", nothing, [](Policy &g) { S(g, 0x1d, 1).c = 0x20; }, -EINVAL, {0x1d, 1, NONE}},
        {"AMX max_names", nothing, [](Policy &g) { S(g, 0x1d, 1).b = 0x00100040; }, -EINVAL, {0x1d, 1, NONE}},
        {"AMX bytes_per_row", nothing, [](Policy &g) { S(g, 0x1d, 1).b = 0x00080080; }, -EINVAL, {0x1d, 1, NONE}},
        {"TMUL maxk", nothing, [](Policy &g) { S(g, 0x1e, 0).b = 0x4020; }, -EINVAL, {0x1e, 0, NONE}},
        {"TMUL maxn", nothing, [](Policy &g) { S(g, 0x1e, 0).b = 0x8010; }, -EINVAL, {0x1e, 0, NONE}},
        {"AMX instruction bit (1EH.1)", nothing, [](Policy &g) { S(g, 0x1e, 1).a |= 1u << 4; },
         -EINVAL, {0x1e, 1, NONE}},
        {"AVX10 version", nothing, [](Policy &g) { S(g, 0x24, 0).b = 0x70002; }, -EINVAL, {0x24, 0, NONE}},
        {"AVX10 512-bit vectors the host lacks", [](Policy &h) { S(h, 0x24, 0).b = 0x30001; }, nothing,
         -EINVAL, {0x24, 0, NONE}},
        {"AVX10 instruction bit (24H.1)", nothing, [](Policy &g) { S(g, 0x24, 1).c |= 1; },
         -EINVAL, {0x24, 1, NONE}},
        {"max extended leaf", nothing, [](Policy &g) { S(g, EXTD_FIRST).a = 0x80000021; },
         -EINVAL, {0x80000000, NONE, NONE}},
        {"maxphysaddr", [](Policy &h) { S(h, 0x80000008).a = 0x392e; }, nothing, -EINVAL, {0x80000008, NONE, NONE}},
        {"maxlinaddr", [](Policy &h) { S(h, 0x80000008).a = 0x3034; }, nothing, -EINVAL, {0x80000008, NONE, NONE}},
        {"ARCH_CAPS feature", [](Policy &h) { h.arch_caps &= ~1ull; }, nothing, -EINVAL, {NONE, NONE, 0x10a}},
        {"CPUID faulting", [](Policy &h) { h.platform_info = 0; }, nothing, -EINVAL, {NONE, NONE, 0xce}},
        // What does not fail.
        {"'|' feature only in the guest (md-clear)", nothing, [](Policy &g) { S(g, 7, 0).d |= 1u << 10; }, 0, {}},
        {"unnamed bit only in the guest (1.edx bit 10)", nothing, [](Policy &g) { S(g, 1).d |= 1u << 10; }, 0, {}},
        {"PLATFORM_INFO ratio bits differ", nothing, [](Policy &g) { g.platform_info |= 0x1a00; }, 0, {}},
        {"descriptive leaves differ (cache, topology, brand)", nothing,
         [](Policy &g) {
             S(g, 4, 0) = {0x121, 1, 2, 3};
             S(g, 0xb, 0) = {1, 2, 0x100, 4};
             S(g, 0x80000002) = {0x65746e49, 1, 2, 3};
             S(g, 1).a = 0x906ed;
         },
         0, {}},
        {"guest smaller in every numeric field", nothing,
         [](Policy &g) {
             S(g, 0).a = 0x20;
             S(g, 7, 0).a = 0;
             S(g, 7, 1) = {};
             S(g, 0xd, 0) = {0x7, 0x340, 0x340, 0};
             S(g, 0xd, 1) = {0xf, 0x340, 0, 0};
             S(g, 0x80000008).a = 0x3028;
             S(g, EXTD_FIRST).a = 0x80000001;
             g.platform_info = 0;
         },
         0, {}},
        {"a guest field beyond the guest's own max leaf is not seen", nothing,
         [](Policy &g) {
             S(g, 0).a = 0x1c;
             S(g, 0x1d, 1).c = 0xffff;
         },
         0, {}},
        {"a host field beyond the host's max leaf reads as zero", [](Policy &h) { S(h, 0).a = 0x1c; }, nothing,
         -EINVAL, {0, NONE, NONE}},
        {"the first failure in leaf order is named",
         [](Policy &h) {
             h.platform_info = 0;
             h.arch_caps = 0;
             S(h, 0x80000008).a = 0x3028;
             S(h, 0x1d, 1).c = 8;
             S(h, 7, 0).b &= ~(1u << 16);
         },
         nothing, -EINVAL, {7, 0, NONE}},
        {"MSRs come after every leaf",
         [](Policy &h) {
             h.platform_info = 0;
             S(h, 0x80000008).a = 0x3028;
         },
         nothing, -EINVAL, {0x80000008, NONE, NONE}},
        {"PLATFORM_INFO before ARCH_CAPS",
         [](Policy &h) {
             h.platform_info = 0;
             h.arch_caps = 0;
         },
         nothing, -EINVAL, {NONE, NONE, 0xce}},
    };
    const Policy b = base();
    for ( const auto &v : vecs )
        run(v, b);
}

void missing_is_the_complete_set_of_named_guest_features_the_host_lacks()
{
    Policy host = base(), guest = base();
    // Host lacks avx512f and avx512bw (7:0.ebx), sse4-2 (1.ecx), rdcl-no (ARCH_CAPS);
    // the guest also has md-clear ('|') and an unnamed bit, which are not reported.
    S(host, 7, 0).b &= ~((1u << 16) | (1u << 30));
    S(host, 1).c &= ~(1u << 20);
    host.arch_caps &= ~1ull;
    S(guest, 7, 0).d |= 1u << 10;
    S(guest, 1).d |= 1u << 10;

    Featureset expected;
    for ( const char *n : {"avx512f", "avx512bw", "sse4-2", "rdcl-no"} )
        expected.set(F(n));

    Featureset missing;
    ErrRecord e;
    expect_eq("rc", -EINVAL, policy_is_compatible(host, guest, &e, &missing));
    expect_eq("missing", feature_names(expected), feature_names(missing));
    expect_eq("policy_missing_features", feature_names(expected),
              feature_names(policy_missing_features(host, guest)));
    expect_err("first failure: leaf 1 comes before leaf 7 and the MSR", err_rec(1, NONE, NONE), e);

    // Compatible: missing is written, and empty.
    missing.set(F("avx"));
    expect_eq("compatible: rc", 0, policy_is_compatible(base(), base(), &e, &missing));
    expect("compatible: missing emptied", missing.empty());
}

// --- Facts over the dumps -----------------------------------------------------------------
void every_dump_is_compatible_with_itself()
{
    for ( const auto &d : dumps() )
    {
        ErrRecord e;
        Featureset m;
        expect_eq(d.name + ": rc", 0, policy_is_compatible(d.p, d.p, &e, &m));
        expect_err(d.name + ": err", ErrRecord{}, e);
        expect(d.name + ": nothing missing", m.empty());
    }
}

void a_nehalem_guest_runs_on_every_later_intel_host()
{
    const Policy &nhm = dump("Nehalem");
    for ( const char *host : {"SandyBridge", "IvyBridge", "Haswell", "Broadwell", "SkylakeXeon", "CascadeLake",
                              "ICX", "SapphireRapids", "GraniteRapids", "EmeraldRapids"} )
    {
        ErrRecord e;
        Featureset m;
        expect_eq(std::string(host) + ": rc", 0, policy_is_compatible(dump(host), nhm, &e, &m));
        expect_eq(std::string(host) + ": missing", std::string("(none)"), feature_names(m));
    }
}

void a_granite_rapids_guest_cannot_run_on_nehalem()
{
    ErrRecord e;
    Featureset m;
    expect_eq("rc", -EINVAL, policy_is_compatible(dump("Nehalem"), dump("GraniteRapids"), &e, &m));
    // Leaf 0 first: max leaf 0x24 against 0xb.
    expect_err("err", err_rec(0, NONE, NONE), e);
    for ( const char *n : {"avx", "avx2", "avx512f", "avx512bw", "amx-tile", "xsave", "aesni", "sha"} )
        expect(std::string("missing has ") + n, m.test(F(n)));
    // md-clear is a '|' feature: Granite Rapids has it, Nehalem does not, no failure.
    expect("Granite Rapids has md-clear", policy_effective_featureset(dump("GraniteRapids")).test(F("md-clear")));
    expect("md-clear not reported", !m.test(F("md-clear")));
    expect("nothing Nehalem has is reported", (m & policy_effective_featureset(dump("Nehalem"))).empty());
}

void specific_pairs_fail_where_the_hardware_differs()
{
    struct PairVec {
        const char *host, *guest;
        ErrNums err;
        const char *missing;
    };
    static const PairVec vecs[] = {
        // Zen 2 puts PKRU (component 9, 0x40 bytes) at 0x340, Zen 4 (8 bytes) at 0x980:
        // the only difference that matters, found through the layout check.
        {"Genoa", "Rome", {0xd, 9, NONE}, "(none)"},
        // Sapphire Rapids reports 52 physical address bits, this Emerald Rapids 46.
        {"EmeraldRapids", "SapphireRapids", {0x80000008, NONE, NONE}, "(none)"},
        // Ice Lake dropped MPX.
        {"ICX", "SkylakeXeon", {7, 0, NONE}, "mpx"},
        // Zen dropped XOP, FMA4 and LWP (LWP is xstate component 62: 0xd:0 fails first);
        // this Zen dump does not report IBS either.
        {"K17_Zen", "Interlagos", {0xd, 0, NONE}, "ibs xop lwp fma4 nodeid-msr"},
        // Cross-vendor.
        {"GraniteRapids", "Genoa", {0, NONE, NONE}, nullptr},
        {"Genoa", "Hygon", {0, NONE, NONE}, nullptr},
    };
    for ( const auto &v : vecs )
    {
        std::string name = std::string(v.guest) + " on " + v.host;
        ErrRecord e;
        Featureset m;
        expect_eq(name + ": rc", -EINVAL, policy_is_compatible(dump(v.host), dump(v.guest), &e, &m));
        expect_err(name + ": err", v.err, e);
        if ( v.missing )
            expect_eq(name + ": missing", std::string(v.missing), feature_names(m));
    }
    // And some that work: Zen 1 on every later Zen, Bergamo and Genoa both ways.
    for ( const char *host : {"Rome", "Milan", "Genoa", "Bergamo", "Turin"} )
        expect_eq(std::string("K17_Zen on ") + host, 0,
                  policy_is_compatible(dump(host), dump("K17_Zen"), nullptr, nullptr));
    expect_eq("Genoa on Bergamo", 0, policy_is_compatible(dump("Bergamo"), dump("Genoa"), nullptr, nullptr));
    expect_eq("Bergamo on Genoa", 0, policy_is_compatible(dump("Genoa"), dump("Bergamo"), nullptr, nullptr));
}

void verdict_missing_and_err_agree_over_all_pairs()
{
    unsigned pairs = 0, compatible = 0;
    for ( const auto &h : dumps() )
        for ( const auto &g : dumps() )
        {
            ++pairs;
            ErrRecord e;
            Featureset m;
            int rc = policy_is_compatible(h.p, g.p, &e, &m);
            std::string name = g.name + " on " + h.name;
            if ( rc == 0 )
            {
                ++compatible;
                expect(name + ": compatible means nothing missing", m.empty());
                expect(name + ": compatible means err all ~0", same_err(e, ErrRecord{}));
            }
            else
            {
                expect_eq(name + ": rc", -EINVAL, rc);
                bool one = (raw(e.leaf) != NONE && raw(e.msr) == NONE) ||
                           (raw(e.leaf) == NONE && raw(e.subleaf) == NONE && raw(e.msr) != NONE);
                expect(name + ": err names one leaf or one MSR", one);
            }
            if ( !m.empty() )
                expect_eq(name + ": missing features means incompatible", -EINVAL, rc);
            expect(name + ": missing equals policy_missing_features", m == policy_missing_features(h.p, g.p));
        }
    expect_eq("pairs", 400u, pairs);
    // Pinned so that a change in what is compared shows up here: the twenty diagonal
    // pairs plus the compatible cross pairs the dumps allow (see the facts above).
    // 64 since the importer reads SYSCALL as a 64-bit hypervisor does (docs/import.md,
    // "Corrections"): ICX (dumped in 64-bit mode, syscall set) now fits on Emerald
    // Rapids, whose 32-bit-mode dump used to lack syscall.
    expect_eq("compatible pairs", 64u, compatible);
}

} // namespace

int main()
{
    TEST(xen_is_compatible_success);
    TEST(xen_is_compatible_failure);
    TEST(every_deep_check_fires_at_its_leaf);
    TEST(missing_is_the_complete_set_of_named_guest_features_the_host_lacks);
    TEST(every_dump_is_compatible_with_itself);
    TEST(a_nehalem_guest_runs_on_every_later_intel_host);
    TEST(a_granite_rapids_guest_cannot_run_on_nehalem);
    TEST(specific_pairs_fail_where_the_hardware_differs);
    TEST(verdict_missing_and_err_agree_over_all_pairs);
    return finish();
}

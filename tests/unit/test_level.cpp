// SPDX-License-Identifier: MIT
// Levelling (hypervisor/core/include/cpupolicy/level.hpp): the most capable policy
// compatible with every policy of a pool.
//
// The central property is proved exhaustively over the dumps: for every non-empty
// same-vendor subset of the twenty CPUs, every member is compatible with the level of
// the subset (2047 Intel subsets, 255 AMD, 1 Hygon).  The rest pins how each kind of
// field is combined, with hand-built policies where one field at a time differs.
#include "cpupolicy/compat.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/level.hpp"
#include "cpupolicy/policy_ranges.hpp"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

bool same_bytes(const Policy &a, const Policy &b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// The policy as levelling one policy should leave it, computed the plain way: cut to
// its own ranges, features sanitised, cut again.
Policy normalised(const Policy &p)
{
    Policy q = p;
    policy_clear_out_of_range(q);
    Featureset fs = policy_effective_featureset(q);
    featureset_sanitise(fs);
    policy_apply_featureset(q, fs);
    policy_clear_out_of_range(q);
    return q;
}

int level(Policy &out, const std::vector<const Policy *> &in, uint32_t *bad = nullptr)
{
    return policy_level(out, in.data(), static_cast<uint32_t>(in.size()), bad);
}

std::vector<const Policy *> of_vendor(Vendor v)
{
    std::vector<const Policy *> r;
    for ( const auto &d : dumps() )
        if ( policy_vendor(d.p) == v )
            r.push_back(&d.p);
    return r;
}

std::string name_of(const Policy *p)
{
    for ( const auto &d : dumps() )
        if ( &d.p == p )
            return d.name;
    return "?";
}

// --- Errors ---------------------------------------------------------------------------------
void level_of_nothing_is_einval()
{
    Policy out = dump("Haswell"), before = out;
    uint32_t bad = 77;
    expect_eq("n == 0", -EINVAL, policy_level(out, nullptr, 0, &bad));
    expect_eq("n == 0: bad_index untouched", 77u, bad);
    const Policy *one[] = {&dump("Haswell"), nullptr};
    expect_eq("NULL input", -EINVAL, policy_level(out, one, 2, &bad));
    expect_eq("NULL input: bad_index", 1u, bad);
    expect("out untouched", same_bytes(before, out));
}

void mixed_vendors_are_refused_naming_the_first_offender()
{
    struct Vec {
        const char *name;
        std::vector<const char *> pool;
        uint32_t bad;
    };
    const std::vector<Vec> vecs = {
        {"Intel, Intel, AMD, Hygon", {"GraniteRapids", "SapphireRapids", "Genoa", "Hygon"}, 2},
        {"AMD, AMD, Hygon", {"Genoa", "Milan", "Hygon"}, 2},
        {"Hygon, AMD", {"Hygon", "Genoa"}, 1},
        {"AMD, Intel, AMD", {"Turin", "Nehalem", "Rome"}, 1},
    };
    // Two signatures the vendor table does not know are still two vendors: compared as
    // the 12 bytes of leaf 0 (Xen's test vectors expect the failure at leaf 0).
    {
        Policy tm = dump("Haswell"), cyrix = dump("Haswell"), cyrix2 = dump("Haswell");
        S(tm, 0) = {G(tm, 0).a, 0x756e6547, 0x3638784d, 0x54656e69};       // "GenuineTMx86"
        S(cyrix, 0) = {G(cyrix, 0).a, 0x69727943, 0x64616574, 0x736e4978}; // "CyrixInstead"
        S(cyrix2, 0) = G(cyrix, 0);
        Policy out;
        std::memset(&out, 0xa5, sizeof(out));
        Policy before = out;
        uint32_t bad = ~0u;
        expect_eq("GenuineTMx86, CyrixInstead: rc", -EINVAL, level(out, {&tm, &cyrix}, &bad));
        expect_eq("GenuineTMx86, CyrixInstead: bad_index", 1u, bad);
        expect("GenuineTMx86, CyrixInstead: out untouched", same_bytes(before, out));
        expect_eq("CyrixInstead twice: rc", 0, level(out, {&cyrix, &cyrix2}));
        ErrRecord e;
        expect_eq("CyrixInstead on GenuineTMx86: incompatible", -EINVAL,
                  policy_is_compatible(tm, cyrix, &e, nullptr));
        expect_eq("CyrixInstead on GenuineTMx86: at leaf 0", 0u, raw(e.leaf));
    }
    for ( const auto &v : vecs )
    {
        std::vector<const Policy *> in;
        for ( const char *n : v.pool )
            in.push_back(&dump(n));
        Policy out;
        std::memset(&out, 0xa5, sizeof(out));
        Policy before = out;
        uint32_t bad = ~0u;
        expect_eq(std::string(v.name) + ": rc", -EINVAL, level(out, in, &bad));
        expect_eq(std::string(v.name) + ": bad_index", v.bad, bad);
        expect(std::string(v.name) + ": out untouched", same_bytes(before, out));
        expect_eq(std::string(v.name) + ": bad_index may be NULL", -EINVAL, level(out, in));
    }
}

// --- Properties over the dumps -----------------------------------------------------------------
void level_of_one_policy_is_that_policy_normalised()
{
    for ( const auto &d : dumps() )
    {
        Policy out;
        expect_eq(d.name + ": rc", 0, level(out, {&d.p}));
        expect(d.name + ": equals the normalised dump byte for byte", same_bytes(normalised(d.p), out));
        Policy again;
        expect_eq(d.name + ": rc again", 0, level(again, {&out}));
        expect(d.name + ": a normalised policy levels to itself", same_bytes(out, again));
    }
}

void every_input_is_compatible_with_the_level_of_every_same_vendor_subset()
{
    unsigned subsets = 0, checks = 0;
    for ( Vendor v : {Vendor::intel, Vendor::amd, Vendor::hygon} )
    {
        auto all = of_vendor(v);
        for ( uint32_t mask = 1; mask < (1u << all.size()); ++mask )
        {
            std::vector<const Policy *> in;
            for ( size_t i = 0; i < all.size(); ++i )
                if ( mask & (1u << i) )
                    in.push_back(all[i]);
            Policy out;
            if ( !expect_eq("level rc", 0, level(out, in)) )
                continue;
            ++subsets;
            for ( const Policy *host : in )
            {
                ++checks;
                ErrRecord e;
                Featureset m;
                if ( policy_is_compatible(*host, out, &e, &m) != 0 )
                {
                    std::string pool;
                    for ( const Policy *p : in )
                        pool += " " + name_of(p);
                    expect_eq("host " + name_of(host) + " in pool" + pool,
                              std::string("compatible"), str(e) + " missing " + feature_names(m));
                }
                else
                    ++nr_passed;
            }
        }
    }
    expect_eq("subsets levelled", 2047u + 255u + 1u, subsets);
    std::printf("  %u subsets, %u compatibility checks\n", subsets, checks);
}

void levelling_is_idempotent_and_absorbs_its_own_result()
{
    for ( Vendor v : {Vendor::intel, Vendor::amd} )
    {
        auto pool = of_vendor(v);
        Policy l;
        expect_eq("pool rc", 0, level(l, pool));
        Policy again;
        expect_eq("level of the level rc", 0, level(again, {&l}));
        expect(std::string(vendor_name(v)) + ": level({L}) == L", same_bytes(l, again));

        std::vector<const Policy *> with = {&l};
        with.insert(with.end(), pool.begin(), pool.end());
        Policy absorbed;
        expect_eq("absorb rc", 0, level(absorbed, with));
        expect(std::string(vendor_name(v)) + ": level({L} + pool) == L", same_bytes(l, absorbed));
    }
}

void capabilities_do_not_depend_on_input_order()
{
    for ( Vendor v : {Vendor::intel, Vendor::amd} )
    {
        auto pool = of_vendor(v);
        auto rev = pool;
        std::reverse(rev.begin(), rev.end());
        Policy a, b;
        expect_eq("rc", 0, level(a, pool));
        expect_eq("rc reversed", 0, level(b, rev));
        std::string vn = vendor_name(v);
        expect_eq(vn + ": features", feature_names(policy_effective_featureset(a)),
                  feature_names(policy_effective_featureset(b)));
        for ( const NumericField &nf : numeric_fields )
        {
            const Field &f = nf.field;
            expect_eq(vn + ": " + nf.what,
                      hex(field_of(policy_effective(a, f.leaf, f.subleaf), f)),
                      hex(field_of(policy_effective(b, f.leaf, f.subleaf), f)));
        }
        expect_eq(vn + ": extended limit", hex(policy_extd_limit(a)), hex(policy_extd_limit(b)));
        expect_eq(vn + ": faulting", a.platform_info >> 31, b.platform_info >> 31);
        // Identification comes from in[0].
        expect_eq(vn + ": leaf 1 eax from in[0]", hex(G(*pool[0], 1).a), hex(G(a, 1).a));
        expect_eq(vn + ": leaf 1 eax from in[0], reversed", hex(G(*rev[0], 1).a), hex(G(b, 1).a));
    }
}

void out_may_be_one_of_the_inputs()
{
    Policy a = dump("GraniteRapids"), b = dump("SkylakeXeon");
    Policy expected;
    expect_eq("rc", 0, level(expected, {&a, &b}));
    const Policy *in[] = {&a, &b};
    expect_eq("aliased rc", 0, policy_level(a, in, 2, nullptr));
    expect("out aliasing in[0] gives the same result", same_bytes(expected, a));
}

// --- How each kind of field is combined ---------------------------------------------------------
Policy intel_base()
{
    Policy p{};
    S(p, 0) = {0x24, 0x756e6547, 0x6c65746e, 0x49656e69};
    S(p, 1) = {0x806f8, 0, (1u << 20) | (1u << 26) | (1u << 28), 1u};
    S(p, 7, 0) = {1, (1u << 5) | (1u << 16) | (1u << 30), 1u << 3, (1u << 26) | (1u << 29)};  // ibrsb arch-caps
    S(p, 7, 1) = {0x10, 0, 0, 0};
    S(p, 0xd, 0) = {0x207, 0xa88, 0xa88, 0};
    S(p, 0xd, 1) = {0xf, 0xa88, 0, 0};
    S(p, 0xd, 2) = {0x100, 0x240, 0, 0};
    S(p, 0xd, 9) = {0x8, 0xa80, 0, 0};
    S(p, 0x1d, 0) = {1, 0, 0, 0};
    S(p, 0x1d, 1) = {0x04002000, 0x00080040, 0x10, 0};
    S(p, 0x1e, 0) = {0, 0x4010, 0, 0};
    S(p, 0x24, 0) = {0, 0x70002, 0, 0};
    S(p, EXTD_FIRST) = {0x80000008, 0, 0, 0};
    S(p, 0x80000001) = {0, 0, 1, (1u << 11) | (1u << 20) | (1u << 29)};
    S(p, 0x80000008) = {0x3934, 0x200, 0, 0};
    p.platform_info = PLATFORM_INFO_CPUID_FAULTING | 0x1a00;
    p.arch_caps = 0xeb;
    return p;
}

void each_kind_of_field_is_combined_as_documented()
{
    Policy a = intel_base(), b = intel_base();
    // b: older and smaller in every dimension.
    S(b, 0).a = 0x20;                               // max leaf
    S(b, 1).a = 0x606a6;                            // identification (in[0] wins)
    S(b, 7, 0).b &= ~(1u << 16);                    // no avx512f ...
    S(b, 7, 0).b |= 1u << 30;                       // ... but avx512bw set (inconsistent)
    S(b, 7, 0).d |= 1u << 10;                       // md-clear, a '|' feature
    S(b, 0x80000008).a = 0x302e;                    // 46 physical, 48 linear bits
    S(b, 0x1d, 1).c = 0x8;                          // fewer tile rows
    b.platform_info = 0x1100;                       // no CPUID faulting
    b.arch_caps = 0x0b;
    a.hv_limit = 0x40000005;
    b.hv_limit = 0x40000003;

    Policy out;
    expect_eq("rc", 0, level(out, {&a, &b}));
    Featureset fs = policy_effective_featureset(out);
    expect_eq("max leaf: minimum", hex(0x20), hex(G(out, 0).a));
    expect_eq("leaf 1 eax: from in[0]", hex(0x806f8), hex(G(out, 1).a));
    expect("avx512f: AND drops it", !fs.test(F("avx512f")));
    expect("avx512bw: in both, but its prerequisite avx512f did not survive", !fs.test(F("avx512bw")));
    expect("avx2: in both, kept", fs.test(F("avx2")));
    expect("md-clear: '|', one host is enough", fs.test(F("md-clear")));
    expect_eq("maxphysaddr: minimum", hex(0x2e), hex(G(out, 0x80000008).a & 0xff));
    expect_eq("maxlinaddr: minimum", hex(0x30), hex((G(out, 0x80000008).a >> 8) & 0xff));
    expect_eq("AMX max_rows: minimum", hex(0x8), hex(G(out, 0x1d, 1).c));
    expect_eq("AMX bytes_per_tile: equal in both", hex(0x0400), hex(G(out, 0x1d, 1).a >> 16));
    expect_eq("ARCH_CAPS: AND", hex(0x0b), hex(out.arch_caps));
    expect_eq("CPUID faulting: AND; other PLATFORM_INFO bits from in[0]", hex(0x1a00), hex(out.platform_info));
    expect_eq("hypervisor limit: minimum", hex(0x40000003), hex(out.hv_limit));
    expect_eq("leaf 0x24 beyond the levelled max leaf: cleared", std::string("0"),
              hex(G(out, 0x24, 0).b));
    expect_eq("leaf 0x20 within range: kept", hex(0x20), hex(G(out, 0).a));
}

void avx10_and_xstate_numbers_are_minimised_and_sizes_recomputed()
{
    Policy a = intel_base(), b = intel_base();
    // b: AVX10 version 1 with 256-bit vectors only; no PKRU.
    S(b, 0x24, 0).b = 0x30001;
    S(b, 0xd, 0) = {0x7, 0x340, 0x340, 0};
    S(b, 0xd, 9) = {};
    S(b, 7, 0).c &= ~(1u << 3);  // no pku either (consistent)
    Policy out;
    expect_eq("rc", 0, level(out, {&a, &b}));
    expect_eq("AVX10 version: minimum", hex(1), hex(G(out, 0x24, 0).b & 0xff));
    expect_eq("AVX10 vector lengths: AND", hex(0x3), hex((G(out, 0x24, 0).b >> 16) & 7));
    expect_eq("XCR0 components: AND", hex(0x7), hex(G(out, 0xd, 0).a));
    expect_eq("0xd:0.ecx: recomputed for x87|SSE|AVX", hex(0x340), hex(G(out, 0xd, 0).c));
    expect_eq("0xd:0.ebx: minimum", hex(0x340), hex(G(out, 0xd, 0).b));
    expect_eq("0xd:9 cleared with its component", std::string("0"), hex(G(out, 0xd, 9).b));

    // Recomputed below the smallest input: in[0]'s ecx also counts a component
    // (PKRU) the other host lacks, and the other host reports a padded size.
    Policy c = intel_base(), d = intel_base();
    S(d, 0xd, 0) = {0x7, 0x400, 0x400, 0};
    S(d, 0xd, 9) = {};
    S(d, 7, 0).c &= ~(1u << 3);
    expect_eq("rc", 0, level(out, {&c, &d}));
    expect_eq("0xd:0.ecx: exact size of the levelled components", hex(0x340), hex(G(out, 0xd, 0).c));
    for ( const Policy *host : {&c, &d} )
        expect_eq("compatible with each", 0, policy_is_compatible(*host, out, nullptr, nullptr));
}

void a_component_with_two_layouts_is_dropped_with_its_features()
{
    // Hand-built: PKRU at 0xa80 on one host, 0x980 on the other, pku on both.
    Policy a = intel_base(), b = intel_base();
    S(b, 0xd, 9).b = 0x980;
    S(b, 0xd, 0).c = S(b, 0xd, 0).b = 0x988;
    Policy out;
    expect_eq("rc", 0, level(out, {&a, &b}));
    expect("pku dropped", !policy_effective_featureset(out).test(F("pku")));
    expect_eq("component 9 dropped from XCR0", hex(0x7), hex(G(out, 0xd, 0).a));
    expect("0xd:9 cleared", G(out, 0xd, 9) == Regs{});
    expect_eq("0xd:0.ecx recomputed", hex(0x340), hex(G(out, 0xd, 0).c));
    for ( const Policy *host : {&a, &b} )
        expect_eq("compatible with each", 0, policy_is_compatible(*host, out, nullptr, nullptr));

    // The same in the dumps: Zen 2 (Rome) and Zen 3 (Milan) both have PKRU state.
    for ( auto pool : {std::vector<const Policy *>{&dump("Rome"), &dump("Milan")},
                       std::vector<const Policy *>{&dump("Milan"), &dump("Rome")}} )
    {
        expect_eq("Rome/Milan rc", 0, level(out, pool));
        expect_eq("Rome/Milan: XCR0 components x87|SSE|AVX", hex(0x7), hex(G(out, 0xd, 0).a));
        expect_eq("Rome/Milan: 0xd:0.ecx", hex(0x340), hex(G(out, 0xd, 0).c));
        expect("Rome/Milan: no pku", !policy_effective_featureset(out).test(F("pku")));
        for ( const Policy *host : pool )
            expect_eq("Rome/Milan: compatible with " + name_of(host), 0,
                      policy_is_compatible(*host, out, nullptr, nullptr));
    }
}

// The component -> feature map is the one in xstate.hpp (xstate::enablers).  A second,
// hand-kept copy in level.cpp once lacked PT -> proc-trace and CET_S -> cet-ibt, so
// levelling two hosts whose PT layouts differ kept proc-trace without its state, and a
// CET_S mismatch dropped cet-ss but kept cet-ibt.  Supervisor components on both hosts:
// PT (8), CET_U (11), CET_S (12); one host at a time describes one of them differently.
void a_supervisor_component_with_two_layouts_takes_every_feature_that_needs_it()
{
    auto with_supervisor_state = [] {
        Policy p = intel_base();
        S(p, 7, 0).b |= 1u << 25;                // proc-trace
        S(p, 7, 0).c |= 1u << 7;                 // cet-ss
        S(p, 7, 0).d |= 1u << 20;                // cet-ibt
        S(p, 0x14, 0) = {1, 0xf, 0x7, 0};
        S(p, 0x14, 1) = {0x02490002, 0x003f3fff, 0, 0};
        S(p, 0xd, 1).c = 0x1900;                 // XSS: PT | CET_U | CET_S
        S(p, 0xd, 8) = {0x80, 0, 1, 0};
        S(p, 0xd, 11) = {0x10, 0, 1, 0};
        S(p, 0xd, 12) = {0x18, 0, 1, 0};
        return p;
    };
    struct Case {
        const char *what;
        unsigned component;
        Regs other_layout;
        std::vector<const char *> gone, kept;
    };
    const std::vector<Case> cases = {
        {"PT 0x80 vs 0x90 bytes", 8, {0x90, 0, 1, 0}, {"proc-trace"}, {"cet-ss", "cet-ibt"}},
        {"CET_S 0x18 vs 0x20 bytes", 12, {0x20, 0, 1, 0}, {"cet-ss", "cet-ibt"}, {"proc-trace"}},
        {"CET_U 0x10 vs 0x18 bytes", 11, {0x18, 0, 1, 0}, {"cet-ss", "cet-ibt"}, {"proc-trace"}},
    };
    for ( const Case &c : cases )
    {
        Policy a = with_supervisor_state(), b = with_supervisor_state();
        S(b, 0xd, c.component) = c.other_layout;
        Policy same;
        expect_eq(std::string(c.what) + ": control, equal layouts rc", 0, level(same, {&a, &a}));
        for ( const char *n : {"proc-trace", "cet-ss", "cet-ibt"} )
            expect(std::string(c.what) + ": control keeps " + n,
                   policy_effective_featureset(same).test(F(n)));
        Policy out;
        expect_eq(std::string(c.what) + ": rc", 0, level(out, {&a, &b}));
        const Featureset fs = policy_effective_featureset(out);
        for ( const char *n : c.gone )
            expect(std::string(c.what) + ": " + n + " dropped with the component", !fs.test(F(n)));
        for ( const char *n : c.kept )
            expect(std::string(c.what) + ": " + n + " kept", fs.test(F(n)));
        expect_eq(std::string(c.what) + ": component dropped from XSS", std::string("0"),
                  hex(G(out, 0xd, 1).c & (1u << c.component)));
        expect("0xd:n of the dropped component cleared", G(out, 0xd, c.component) == Regs{});
        for ( const Policy *host : {&a, &b} )
            expect_eq(std::string(c.what) + ": compatible with each", 0,
                      policy_is_compatible(*host, out, nullptr, nullptr));
    }
}

// AMD mirrors leaf 1 EDX's FPU..APIC, MTRR..PSE36, MMX and FXSR into 0x80000001 EDX (APM
// vol. 3 Fn8000_0001_EDX); Xen re-derives the mirror for every AMD policy
// (recalculate_misc() in xen/arch/x86/cpu-policy.c).  The feature table does not name
// those bits in word 2, so the featureset sanitise at the end of levelling used to drop
// them: levelling Genoa's own HVM default gave 0x80000001.edx 2e500800 where the default
// itself says 2fd3fbff.  Every levelled AMD/Hygon policy mirrors leaf 1; Intel's has none.
void levelled_amd_policies_keep_the_leaf_1_edx_mirror()
{
    constexpr uint32_t COMMON_1D = 0x0183f3ffu;
    Policy genoa_default;
    expect_eq("derive Genoa hvm-default", 0,
              policy_derive(genoa_default, dump("Genoa"), PolicyIndex::hvm_default, nullptr, nullptr));
    expect_eq("Genoa hvm-default 0x80000001.edx", hex(0x2fd3fbff), hex(G(genoa_default, 0x80000001).d));

    struct Case {
        const char *what;
        std::vector<const Policy *> pool;
        bool mirrored;
    };
    const std::vector<Case> cases = {
        {"Genoa hvm-default alone", {&genoa_default}, true},
        {"Genoa", {&dump("Genoa")}, true},
        {"Genoa Bergamo Turin", {&dump("Genoa"), &dump("Bergamo"), &dump("Turin")}, true},
        {"Rome Milan", {&dump("Rome"), &dump("Milan")}, true},
        {"Istanbul Interlagos Zen", {&dump("Istanbul"), &dump("Interlagos"), &dump("Zen")}, true},
        {"Hygon", {&dump("Hygon")}, true},
        {"Intel: SapphireRapids Haswell", {&dump("SapphireRapids"), &dump("Haswell")}, false},
    };
    for ( const Case &c : cases )
    {
        Policy out;
        expect_eq(std::string(c.what) + ": rc", 0, level(out, c.pool));
        uint32_t l1d = G(out, 1).d & COMMON_1D, e1d = G(out, 0x80000001).d & COMMON_1D;
        expect_eq(std::string(c.what) + ": 0x80000001.edx common bits",
                  hex(c.mirrored ? l1d : 0), hex(e1d));
        if ( c.mirrored )
            expect(std::string(c.what) + ": leaf 1 edx has them (fpu at least)", (l1d & 1) != 0);
    }
    Policy out;
    expect_eq("Genoa hvm-default levelled: rc", 0, level(out, {&genoa_default}));
    expect_eq("Genoa hvm-default levelled: 0x80000001.edx as the default's", hex(0x2fd3fbff),
              hex(G(out, 0x80000001).d));
}

// RSBA (ARCH_CAPS bit 2) and RRSBA (bit 19) mean "this CPU may behave worse" (retpoline
// not safe).  A guest may run on every host of its pool, so it must be told if any of
// them has either (Xen's guest_common_max_feature_adjustments(): "even when it's only
// some other server in the pool which suffers the identified behaviour"): OR, not AND;
// RRSBA needs eIBRS (bit 1), and where it went with eIBRS the guest is told RSBA.
// Before, levelling ANDed them: a pool with one RSBA host gave a guest neither bit.
void rsba_and_rrsba_are_told_if_any_host_has_them()
{
    constexpr uint64_t EIBRS = 1u << 1, RSBA = 1u << 2, RRSBA = 1u << 19;
    constexpr uint64_t BASE = 0xeb & ~EIBRS;  // rdcl-no, skip-l1dfl, mds-no, ...
    struct Case {
        const char *what;
        uint64_t a, b;        // the two hosts' ARCH_CAPS
        bool b_arch_caps;     // host b enumerates ARCH_CAPS (7:0.edx[29]) at all
        uint64_t expected;    // the guest's RSBA | RRSBA | EIBRS bits
    };
    const Case cases[] = {
        {"neither host", BASE | EIBRS, BASE | EIBRS, true, EIBRS},
        {"one host RRSBA, eIBRS on both", BASE | EIBRS, BASE | EIBRS | RRSBA, true, EIBRS | RRSBA},
        {"one host RSBA, eIBRS on both", BASE | EIBRS | RSBA, BASE | EIBRS, true, EIBRS | RSBA},
        {"one host RRSBA, eIBRS on it only: RSBA", BASE, BASE | EIBRS | RRSBA, true, RSBA},
        {"one host RSBA, no eIBRS", BASE | RSBA, BASE, true, RSBA},
        {"both hosts RSBA", BASE | RSBA, BASE | RSBA, true, RSBA},
        {"one host RSBA, the other RRSBA", BASE | EIBRS | RSBA, BASE | EIBRS | RRSBA, true,
         EIBRS | RSBA | RRSBA},
        {"RSBA host, other host without ARCH_CAPS: nowhere to say it", BASE | RSBA, 0, false, 0},
    };
    for ( const Case &c : cases )
    {
        Policy a = intel_base(), b = intel_base();
        a.arch_caps = c.a;
        b.arch_caps = c.b;
        if ( !c.b_arch_caps )
            S(b, 7, 0).d &= ~(1u << 29);
        for ( bool reversed : {false, true} )
        {
            std::string w = std::string(c.what) + (reversed ? " (reversed)" : "");
            Policy out;
            expect_eq(w + ": rc", 0, reversed ? level(out, {&b, &a}) : level(out, {&a, &b}));
            expect_eq(w + ": ARCH_CAPS RSBA/RRSBA/EIBRS", hex(c.expected),
                      hex(out.arch_caps & (RSBA | RRSBA | EIBRS)));
            for ( const Policy *host : {&a, &b} )
                expect_eq(w + ": compatible with each host", 0,
                          policy_is_compatible(*host, out, nullptr, nullptr));
        }
    }
}

void pool_facts()
{
    Policy out;
    // All eleven Intel CPUs: Nehalem bounds the range and most features.
    expect_eq("Intel rc", 0, level(out, of_vendor(Vendor::intel)));
    Featureset fs = policy_effective_featureset(out);
    expect_eq("Intel: max leaf from Nehalem", hex(0xb), hex(G(out, 0).a));
    expect("Intel: sse4-2 (Nehalem has it)", fs.test(F("sse4-2")));
    expect("Intel: no avx (Nehalem lacks it)", !fs.test(F("avx")));
    expect("Intel: no aesni (this Haswell reports it disabled)", !fs.test(F("aesni")));
    expect_eq("Intel: maxphysaddr 40 (Nehalem)", 40u, G(out, 0x80000008).a & 0xff);
    expect("Intel: subset of normalised Nehalem",
           fs.subset_of(policy_effective_featureset(normalised(dump("Nehalem"))) | features::or_mask));

    // The AMX generation.
    expect_eq("SPR/GNR/EMR rc", 0, level(out, {&dump("SapphireRapids"), &dump("GraniteRapids"), &dump("EmeraldRapids")}));
    fs = policy_effective_featureset(out);
    for ( const char *n : {"amx-tile", "amx-int8", "amx-bf16", "avx512f", "avx512-fp16"} )
        expect(std::string("SPR/GNR/EMR: ") + n, fs.test(F(n)));
    expect("SPR/GNR/EMR: no sgx (EMR's dump is the only one with it)", !fs.test(F("sgx")));
    expect_eq("SPR/GNR/EMR: max leaf 0x20", hex(0x20), hex(G(out, 0).a));
    expect_eq("SPR/GNR/EMR: maxphysaddr 46 (EMR)", 46u, G(out, 0x80000008).a & 0xff);
    expect_eq("SPR/GNR/EMR: AMX max_rows", hex(0x10), hex(G(out, 0x1d, 1).c));
    expect_eq("SPR/GNR/EMR: 0xd:0.ecx with AMX", hex(0x2b00), hex(G(out, 0xd, 0).c));

    // Zen 4 and Zen 5.
    expect_eq("Genoa/Bergamo/Turin rc", 0, level(out, {&dump("Genoa"), &dump("Bergamo"), &dump("Turin")}));
    fs = policy_effective_featureset(out);
    expect("Genoa/Bergamo/Turin: avx512f", fs.test(F("avx512f")));
    expect("Genoa/Bergamo/Turin: no avx-vnni (Turin only)", !fs.test(F("avx-vnni")));
    expect_eq("Genoa/Bergamo/Turin: extended max", hex(0x80000028), hex(G(out, EXTD_FIRST).a));
}

// --- What levelling reads of each input ---------------------------------------------------
// Levelling evaluates the subleaf rules of the few indexed leaves it reads
// (policy_ranges_of): on those and on every plain leaf the answer must be
// policy_ranges()'s, and the subleaves of the other indexed leaves read as out of range.
void ranges_of_some_leaves_agree_with_policy_ranges_on_those_leaves()
{
    const uint64_t sets[] = {
        0,
        indexed_leaf_bit(0x7_leaf) | indexed_leaf_bit(0xd_leaf) | indexed_leaf_bit(0x14_leaf),
        indexed_leaf_bit(0x4_leaf) | indexed_leaf_bit(0x12_leaf) | indexed_leaf_bit(0x8000001d_leaf),
        ~0ull,
    };
    expect("leaf 0x1 is not indexed", indexed_leaf_bit(0x1_leaf) == 0);
    for ( const auto &d : dumps() )
        for ( PolicyIndex idx : {PolicyIndex::raw, PolicyIndex::hvm_max, PolicyIndex::pv_default} )
        {
            Policy p;
            expect_eq(d.name + ": derive", 0, policy_derive(p, d.p, idx, nullptr));
            const PolicyRanges all = policy_ranges(p);
            for ( uint64_t set : sets )
            {
                const PolicyRanges r = policy_ranges_of(p, set);
                unsigned wrong = 0;
                for ( uint32_t leaf = 0;; leaf = leaf == BASIC_LAST ? EXTD_FIRST : leaf + 1 )
                {
                    uint32_t nr = 1;
                    bool plain = leaf_kind(Leaf{leaf}, &nr) == LeafKind::plain;
                    uint64_t bit = indexed_leaf_bit(Leaf{leaf});
                    for ( uint32_t s = 0; s < nr; ++s )
                    {
                        int slot = slot_exact(Leaf{leaf}, Subleaf{plain ? NO_SUBLEAF : s});
                        bool want = (!bit || (set & bit)) && all.slot(slot);
                        wrong += r.slot(slot) != want;
                    }
                    if ( leaf == EXTD_LAST )
                        break;
                }
                expect_eq(d.name + " " + policy_index_name(idx) + " leaves " + hex(set) +
                              ": slots that differ",
                          0u, wrong);
            }
        }
}

} // namespace

int main()
{
    TEST(level_of_nothing_is_einval);
    TEST(mixed_vendors_are_refused_naming_the_first_offender);
    TEST(level_of_one_policy_is_that_policy_normalised);
    TEST(every_input_is_compatible_with_the_level_of_every_same_vendor_subset);
    TEST(levelling_is_idempotent_and_absorbs_its_own_result);
    TEST(capabilities_do_not_depend_on_input_order);
    TEST(out_may_be_one_of_the_inputs);
    TEST(each_kind_of_field_is_combined_as_documented);
    TEST(avx10_and_xstate_numbers_are_minimised_and_sizes_recomputed);
    TEST(a_component_with_two_layouts_is_dropped_with_its_features);
    TEST(a_supervisor_component_with_two_layouts_takes_every_feature_that_needs_it);
    TEST(levelled_amd_policies_keep_the_leaf_1_edx_mirror);
    TEST(rsba_and_rrsba_are_told_if_any_host_has_them);
    TEST(pool_facts);
    TEST(ranges_of_some_leaves_agree_with_policy_ranges_on_those_leaves);
    return finish();
}

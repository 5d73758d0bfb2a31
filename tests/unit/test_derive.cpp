// SPDX-License-Identifier: MIT
// Derivations raw -> host -> {pv,hvm}-max -> {pv,hvm}-default (derive.hpp), the boot
// options that steer them (boot_options.hpp) and the xstate leaf they recompute.
//
// Two kinds of test: table-driven rule tests that name one rule of docs/policy.md and
// check it on a dump (or a dump with one fact changed), and properties over all twenty
// dumps (nesting of the feature sets, featureset_check_deps, determinism, compatibility of
// each default with its max).  Expected values are facts from the manuals, from the
// dumps themselves (what the hardware reported) or from Xen's behaviour, spelt out
// rather than recomputed by the code under test.
#include <sstream>

#include "cpupolicy/compat.hpp"
#include "cpupolicy/derive.hpp"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

bool has(const Policy &p, const char *name)
{
    return policy_to_featureset(p).test(Feature{feature_number(name)});
}

const PolicyIndex ALL[] = {PolicyIndex::host, PolicyIndex::pv_max, PolicyIndex::hvm_max,
                           PolicyIndex::pv_default, PolicyIndex::hvm_default};
const PolicyIndex GUESTS[] = {PolicyIndex::pv_max, PolicyIndex::hvm_max,
                              PolicyIndex::pv_default, PolicyIndex::hvm_default};

// ====================================================================================
// Boot options
// ====================================================================================

struct BootCase {
    const char *text;
    int rc;
    size_t pos, len;           // where the error is (rc != 0)
    const char *cleared;       // space-separated features named "no-" (rc == 0)
    const char *forced;        // named positively
};

void boot_options_parse_table()
{
    const BootCase cases[] = {
        {"", 0, 0, 0, "", ""},
        {"   ", 0, 0, 0, "", ""},
        {"cpuid=no-avx512f", 0, 0, 0, "avx512f", ""},
        {"cpuid=no-avx512f,rtm", 0, 0, 0, "avx512f", "rtm"},
        // Aliases and spellings features::lookup accepts.
        {"cpuid=no-sse4.2,no-AVX512_VNNI,pni=0", 0, 0, 0, "sse4-2 avx512-vnni sse3", ""},
        {"cpuid=avx2=off,fma=false,rdrand=on", 0, 0, 0, "avx2 fma", "rdrand"},
        // A canonical name that itself begins with "no-".
        {"cpuid=no-lmsl", 0, 0, 0, "", "no-lmsl"},
        {"cpuid=no-no-lmsl", 0, 0, 0, "no-lmsl", ""},
        {"  cpuid=no-avx  tsx=0\tvpmu  ", 0, 0, 0, "avx", ""},
        // Errors name the offending item.
        {"cpuid=no-avx512fx", -err::enoent, 9, 8, "", ""},
        {"tsx=0 cpuid=avx,bogus,sse", -err::enoent, 16, 5, "", ""},
        {"cpuid=avx,,sse", -err::einval, 10, 0, "", ""},
        {"cpuid=", -err::einval, 6, 0, "", ""},
        {"cpuid=avx2=maybe", -err::einval, 11, 5, "", ""},
        {"tsx=2", -err::einval, 4, 1, "", ""},
        {"console=vga", -err::einval, 0, 11, "", ""},
        {"cpuids=no-avx", -err::einval, 0, 13, "", ""},
        {"spec-ctrl=bti-thunk=jmp", -err::einval, 10, 13, "", ""},
        {"spec-ctrl=yes", -err::einval, 10, 3, "", ""},
        {"hap=sometimes", -err::einval, 4, 9, "", ""},
    };
    for ( const auto &c : cases )
    {
        BootOptions o;
        o.vpmu = true;  // sentinel: must survive a failed parse
        o.cpuid_clear.set(Feature{0});
        BootOptions before = o;
        BootOptionsError e{99, 99};
        int rc = boot_options_parse(o, c.text, &e);
        std::string what = std::string("'") + c.text + "'";
        expect_eq(what + " rc", c.rc, rc);
        if ( c.rc )
        {
            expect_eq(what + " error position", c.pos, e.pos);
            expect_eq(what + " error length", c.len, e.len);
            expect(what + " leaves the options untouched", o == before);
            continue;
        }
        Featureset want_clear, want_force;
        for ( const char *list : {c.cleared, c.forced} )
        {
            std::istringstream in(list);
            std::string n;
            while ( in >> n )
                (list == c.cleared ? want_clear : want_force).set(Feature{feature_number(n.c_str())});
        }
        expect_eq(what + " cleared", feature_names(want_clear), feature_names(o.cpuid_clear));
        expect_eq(what + " forced", feature_names(want_force), feature_names(o.cpuid_force));
    }
}

void boot_options_parse_null_is_no_options()
{
    BootOptions o;
    o.hap = false;
    expect_eq("rc", 0, boot_options_parse(o, nullptr));
    expect("defaults", o == BootOptions{});
}

struct KnobCase {
    const char *text;
    int tsx;
    bool vpmu, hap, sc_pv, sc_hvm, bp;
};

void boot_options_knobs_table()
{
    const KnobCase cases[] = {
        {"", -1, false, true, true, true, true},
        {"tsx=0", 0, false, true, true, true, true},
        {"no-tsx", 0, false, true, true, true, true},
        {"tsx", 1, false, true, true, true, true},
        {"tsx=enable", 1, false, true, true, true, true},
        {"vpmu=1", -1, true, true, true, true, true},
        {"no-hap", -1, false, false, true, true, true},
        {"hap=0", -1, false, false, true, true, true},
        {"spec-ctrl=no", -1, false, true, false, false, true},
        {"spec-ctrl=msr-sc=0", -1, false, true, false, false, true},
        {"spec-ctrl=pv=0", -1, false, true, false, true, true},
        {"spec-ctrl=hvm=off,bp-spec-reduce=0", -1, false, true, true, false, false},
        {"spec-ctrl=no-msr-sc", -1, false, true, false, false, true},
    };
    for ( const auto &c : cases )
    {
        BootOptions o;
        std::string w = std::string("'") + c.text + "' ";
        expect_eq(w + "rc", 0, boot_options_parse(o, c.text));
        expect_eq(w + "tsx", c.tsx, int(o.tsx));
        expect_eq(w + "vpmu", c.vpmu, o.vpmu);
        expect_eq(w + "hap", c.hap, o.hap);
        expect_eq(w + "msr-sc pv", c.sc_pv, o.msr_sc_pv);
        expect_eq(w + "msr-sc hvm", c.sc_hvm, o.msr_sc_hvm);
        expect_eq(w + "bp-spec-reduce", c.bp, o.bp_spec_reduce);
    }
}

void boot_options_closure_of_a_clear()
{
    BootOptions o;
    expect_eq("rc", 0, boot_options_parse(o, "cpuid=no-avx"));
    Featureset c = boot_options_cleared_closure(o);
    for ( const char *n : {"avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512-vbmi",
                           "vaes", "avx-vnni", "xop", "fma4", "avx512-fp16"} )
        expect(std::string("no-avx clears ") + n, c.test(Feature{feature_number(n)}));
    for ( const char *n : {"xsave", "sse", "sse4-2", "aesni", "pclmulqdq"} )
        expect(std::string("no-avx keeps ") + n, !c.test(Feature{feature_number(n)}));
}

// ====================================================================================
// Properties over every dump
// ====================================================================================

void every_dump_is_loaded()
{
    expect_eq("dumps", size_t{20}, dumps().size());
}

// default <= max <= host <= raw for features, apart from what a rule synthesises.
void derived_features_nest()
{
    for ( const auto &d : dumps() )
        for ( const char *opts : {static_cast<const char *>(nullptr), "cpuid=no-avx2,no-sse4.1",
                                  "tsx=0 hap=0 spec-ctrl=no"} )
        {
            std::string w = d.name + (opts ? std::string(" [") + opts + "]" : "") + ": ";
            Featureset raw = policy_to_featureset(d.p) & features::known;
            Featureset host = policy_to_featureset(derive(d.p, PolicyIndex::host, opts)) &
                              features::known;
            expect_eq(w + "host features not in raw", feature_names(Featureset{}),
                      feature_names(host.and_not(raw)));
            for ( bool hvm : {false, true} )
            {
                PolicyIndex mi = hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max;
                PolicyIndex di = hvm ? PolicyIndex::hvm_default : PolicyIndex::pv_default;
                Featureset max = policy_to_featureset(derive(d.p, mi, opts)) & features::known;
                Featureset def = policy_to_featureset(derive(d.p, di, opts)) & features::known;
                Featureset syn_m = derive_synthesised(mi), syn_d = derive_synthesised(di);
                expect_eq(w + policy_index_name(mi) + " features beyond host and rules",
                          feature_names(Featureset{}), feature_names(max.and_not(host).and_not(syn_m)));
                expect_eq(w + policy_index_name(di) + " features not in max",
                          feature_names(Featureset{}), feature_names(def.and_not(max)));
                expect_eq(w + policy_index_name(di) + " features beyond host and rules",
                          feature_names(Featureset{}), feature_names(def.and_not(host).and_not(syn_d)));
                expect_eq(w + policy_index_name(mi) + " features beyond raw and rules",
                          feature_names(Featureset{}), feature_names(max.and_not(raw).and_not(syn_m)));
            }
        }
}

void derived_policies_pass_featureset_verify()
{
    for ( const auto &d : dumps() )
        for ( const char *opts : {static_cast<const char *>(nullptr), "cpuid=no-xsave,no-apic",
                                  "cpuid=no-arch-caps,no-ibrsb,no-lm tsx=1 vpmu"} )
            for ( PolicyIndex i : ALL )
            {
                Policy p = derive(d.p, i, opts);
                uint32_t bad = ~0u;
                int rc = featureset_check_deps(policy_to_featureset(p), &bad);
                const char *n = rc ? features::name(Feature{bad}) : "";
                expect_eq(d.name + " " + policy_index_name(i) + (opts ? std::string(" ") + opts : "") +
                              " verify (feature " + (n ? n : "?") + ")",
                          0, rc);
            }
}

void deriving_is_deterministic_and_alias_safe()
{
    for ( const auto &d : dumps() )
        for ( PolicyIndex i : ALL )
        {
            Policy a = derive(d.p, i, "cpuid=no-rtm"), b = derive(d.p, i, "cpuid=no-rtm");
            expect(d.name + " " + policy_index_name(i) + " twice equal", a == b);
            Policy c = d.p;  // out aliasing raw
            expect_eq(d.name + " aliased rc", 0, policy_derive(c, c, i, "cpuid=no-rtm"));
            expect(d.name + " " + policy_index_name(i) + " aliased equal", a == c);
        }
}

// Each default is a policy its own max accepts (compat.hpp, an independent check).
void every_default_is_compatible_with_its_max()
{
    for ( const auto &d : dumps() )
        for ( bool hvm : {false, true} )
        {
            Policy max = derive(d.p, hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max);
            Policy def = derive(d.p, hvm ? PolicyIndex::hvm_default : PolicyIndex::pv_default);
            ErrRecord e;
            int rc = policy_is_compatible(max, def, &e, nullptr);
            expect_eq(d.name + (hvm ? " hvm" : " pv") + " default vs max " + fixture::str(e), 0, rc);
        }
}

void raw_index_copies_raw()
{
    for ( const auto &d : dumps() )
        expect(d.name + " raw", derive(d.p, PolicyIndex::raw) == d.p);
}

void bad_arguments_leave_out_untouched()
{
    const Policy &raw = dump("SapphireRapids");
    Policy out{};
    out.hv_limit = 0x1234;  // sentinel
    const Policy before = out;
    BootOptionsError e{};

    expect_eq("unknown feature rc", -err::enoent,
              policy_derive(out, raw, PolicyIndex::hvm_default, "cpuid=no-avx,no-avx9000", &e));
    expect_eq("unknown feature pos", size_t{16}, e.pos);
    expect_eq("unknown feature len", size_t{7}, e.len);
    expect("out untouched after -ENOENT", out == before);

    expect_eq("bad option rc", -err::einval,
              policy_derive(out, raw, PolicyIndex::host, "tsx=perhaps", &e));
    expect("out untouched after -EINVAL", out == before);

    expect_eq("index 6 rc", -err::einval,
              policy_derive(out, raw, static_cast<PolicyIndex>(6), nullptr));
    expect_eq("index 255 rc", -err::einval,
              policy_derive(out, raw, static_cast<PolicyIndex>(255), nullptr));
    expect("out untouched after bad index", out == before);
}

void policy_index_names_round_trip()
{
    const char *names_[] = {"raw", "host", "pv-max", "hvm-max", "pv-default", "hvm-default"};
    for ( unsigned i = 0; i < NR_POLICY_INDEX; ++i )
    {
        expect_eq("name", std::string(names_[i]),
                  std::string(policy_index_name(static_cast<PolicyIndex>(i))));
        PolicyIndex idx{};
        expect(std::string("parse ") + names_[i], policy_index_from_name(names_[i], &idx) &&
                                                      static_cast<unsigned>(idx) == i);
    }
    PolicyIndex idx{};
    expect("pv_max accepted", policy_index_from_name("pv_max", &idx) && idx == PolicyIndex::pv_max);
    expect("pv-maximum refused", !policy_index_from_name("pv-maximum", &idx));
    expect("hvm refused", !policy_index_from_name("hvm", &idx));
    expect("index 6 has no name", policy_index_name(static_cast<PolicyIndex>(6)) == nullptr);
}

// ====================================================================================
// Rules, one at a time
// ====================================================================================

// Rule BOOT-OPTIONS: the closure of a cleared feature is gone from every policy, and
// so are the xstate components it enabled.
void boot_option_clear_reaches_every_policy_and_leaf_0xd()
{
    const Policy &raw = dump("SapphireRapids");
    for ( PolicyIndex i : ALL )
    {
        Policy p = derive(raw, i, "cpuid=no-avx512f");
        std::string w = std::string(policy_index_name(i)) + ": ";
        for ( const char *n : {"avx512f", "avx512bw", "avx512-vbmi", "avx512-fp16", "avx512-bf16"} )
            expect(w + n + " cleared", !has(p, n));
        expect(w + "avx2 kept", has(p, "avx2"));
        expect_eq(w + "XCR0 has no AVX-512 state", 0u, R(p, 0xd, 0).a & 0xe0);
        for ( uint32_t s : {5u, 6u, 7u} )
            expect_eq(w + "subleaf " + str(s) + " zero", show(Regs{}), show(R(p, 0xd, s)));
    }
    // Host: x87|SSE|AVX|PKRU|AMX.  The standard-format size is still 11008: AMX TILEDATA
    // ends there whatever comes before it (SDM vol. 1 13.4.2, fixed offsets).
    Policy host = derive(raw, PolicyIndex::host, "cpuid=no-avx512f");
    expect_eq("host XCR0", 0x60207u, R(host, 0xd, 0).a);
    expect_eq("host max size", 11008u, R(host, 0xd, 0).c);
    // HVM default: x87|SSE|AVX|PKRU: PKRU still ends at 2688+8.
    Policy hd = derive(raw, PolicyIndex::hvm_default, "cpuid=no-avx512f");
    expect_eq("hvm-default XCR0", 0x207u, R(hd, 0xd, 0).a);
    expect_eq("hvm-default max size", 2696u, R(hd, 0xd, 0).c);
    // Compacted: 576 + 256 (YMM) + 8 (PKRU).
    expect_eq("hvm-default compacted size", 840u, R(hd, 0xd, 1).b);
}

// Rule DYNAMIC and MISC leaf 1.
void host_drops_dynamic_bits_and_apic_id()
{
    for ( const auto &d : dumps() )
        for ( PolicyIndex i : ALL )
        {
            Policy p = derive(d.p, i);
            std::string w = d.name + " " + policy_index_name(i) + ": ";
            expect(w + "no osxsave", !has(p, "osxsave"));
            expect(w + "no ospke", !has(p, "ospke"));
            expect_eq(w + "initial APIC ID 0", 0u, R(p, 1).b >> 24);
            expect_eq(w + "family/model/stepping kept", R(d.p, 1).a & 0x0fff0fffu, R(p, 1).a);
        }
}

// Rule GUEST-COMMON / HVM-MAX / PV-MAX: HYPERVISOR for every guest; the emulated
// (x2)APIC for HVM even where the host has no x2APIC (K10 Istanbul).
void guests_see_hypervisor_and_hvm_gets_x2apic()
{
    const Policy &k10 = dump("Istanbul");
    expect("Istanbul raw lacks x2apic", !has(k10, "x2apic"));
    expect("Istanbul raw lacks hypervisor", !has(k10, "hypervisor"));
    for ( PolicyIndex i : GUESTS )
        expect(std::string(policy_index_name(i)) + " hypervisor",
               has(derive(k10, i), "hypervisor"));
    expect("host has no hypervisor", !has(derive(k10, PolicyIndex::host), "hypervisor"));
    expect("hvm-max x2apic", has(derive(k10, PolicyIndex::hvm_max), "x2apic"));
    expect("hvm-default x2apic", has(derive(k10, PolicyIndex::hvm_default), "x2apic"));
    expect("pv-max x2apic (incoming migration)", has(derive(k10, PolicyIndex::pv_max), "x2apic"));
    expect("pv-default no x2apic", !has(derive(k10, PolicyIndex::pv_default), "x2apic"));
    // Without an APIC at all (cpuid=no-apic), HVM still gets the emulated one.
    Policy hd = derive(k10, PolicyIndex::hvm_default, "cpuid=no-apic");
    expect("no-apic: hvm-default apic", has(hd, "apic"));
    expect("no-apic: hvm-default x2apic", has(hd, "x2apic"));
    expect("no-apic: pv-default apic", !has(derive(k10, PolicyIndex::pv_default, "cpuid=no-apic"), "apic"));
}

// Rule GUEST-MAX/DEFAULT topology: HTT and CMP_LEGACY always in max, host's in default.
struct TopoCase {
    const char *dump;
    bool htt, cmp;  // expected in the defaults (= the host's)
};
void htt_and_cmp_legacy_follow_the_host_in_default()
{
    const TopoCase cases[] = {
        {"SapphireRapids", true, false}, // Intel: HTT, never CMP_LEGACY
        {"Nehalem", true, false},
        {"Genoa", true, true},           // AMD multi-core: both
        {"Istanbul", true, true},
        {"Hygon", true, true},
    };
    for ( const auto &c : cases )
    {
        const Policy &raw = dump(c.dump);
        std::string w = std::string(c.dump) + ": ";
        for ( PolicyIndex i : {PolicyIndex::pv_max, PolicyIndex::hvm_max} )
        {
            Policy m = derive(raw, i);
            expect(w + policy_index_name(i) + " htt", has(m, "htt"));
            expect(w + policy_index_name(i) + " cmp-legacy", has(m, "cmp-legacy"));
        }
        for ( PolicyIndex i : {PolicyIndex::pv_default, PolicyIndex::hvm_default} )
        {
            Policy p = derive(raw, i);
            expect_eq(w + policy_index_name(i) + " htt", c.htt, has(p, "htt"));
            expect_eq(w + policy_index_name(i) + " cmp-legacy", c.cmp, has(p, "cmp-legacy"));
        }
    }
}

// Rule TSX.
struct TsxCase {
    const char *what;
    const char *dump;
    uint64_t arch_caps_set, arch_caps_clear;  // facts changed in raw (0: as dumped)
    uint32_t l7d_set;                          // 7:0.EDX bits added to raw
    const char *opts;
    bool host_rtm, max_rtm, max_raa, def_rtm, def_raa;
};
constexpr uint64_t AC_MDS_NO = 1u << 5, AC_TSX_CTRL = 1u << 7, AC_TAA_NO = 1u << 8;
constexpr uint32_t L7D_RTM_ALWAYS_ABORT = 1u << 11, L7D_TSX_FORCE_ABORT = 1u << 13;

void tsx_rtm_visible_in_max_hidden_in_default_when_aborting()
{
    const TsxCase cases[] = {
        // SPR: TSX_CTRL, TAA_NO: TSX stays on.
        {"SPR default", "SapphireRapids", 0, 0, 0, nullptr, true, true, true, true, false},
        {"SPR tsx=0", "SapphireRapids", 0, 0, 0, "tsx=0", true, true, true, false, true},
        {"SPR cpuid=no-rtm", "SapphireRapids", 0, 0, 0, "cpuid=no-rtm", false, false, false, false, false},
        // TAA-vulnerable (MDS_NO without TAA_NO, TSX_CTRL present): off by default.
        {"TAA part", "SapphireRapids", 0, AC_TAA_NO, 0, nullptr, true, true, true, false, true},
        {"TAA part tsx=1", "SapphireRapids", 0, AC_TAA_NO, 0, "tsx=1", true, true, true, true, false},
        // Haswell: no TSX control, so tsx=0 cannot do anything (Xen ignores it).
        {"Haswell tsx=0", "HaswellEP", 0, 0, 0, "tsx=0", true, true, true, true, false},
        // TSX_FORCE_ABORT with RTM_ALWAYS_ABORT (de-featured client parts): off.
        {"TFA+RAA", "SkylakeXeon", 0, 0, L7D_TSX_FORCE_ABORT | L7D_RTM_ALWAYS_ABORT, nullptr,
         true, true, true, false, true},
        // TSX_FORCE_ABORT alone (SKX-era server, TSX still supported): on.
        {"TFA", "SkylakeXeon", 0, 0, L7D_TSX_FORCE_ABORT, nullptr, true, true, true, true, false},
        {"TFA tsx=0", "SkylakeXeon", 0, 0, L7D_TSX_FORCE_ABORT, "tsx=0", true, true, true, false, true},
    };
    for ( const auto &c : cases )
    {
        Policy raw = dump(c.dump);
        raw.arch_caps = (raw.arch_caps | c.arch_caps_set) & ~c.arch_caps_clear;
        Regs *l7 = at(raw, Leaf{7}, Subleaf{0});
        l7->d |= c.l7d_set;
        std::string w = std::string(c.what) + ": ";
        expect_eq(w + "host rtm", c.host_rtm, has(derive(raw, PolicyIndex::host, c.opts), "rtm"));
        for ( bool hvm : {false, true} )
        {
            Policy m = derive(raw, hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max, c.opts);
            Policy d = derive(raw, hvm ? PolicyIndex::hvm_default : PolicyIndex::pv_default, c.opts);
            std::string g = w + (hvm ? "hvm " : "pv ");
            expect_eq(g + "max rtm", c.max_rtm, has(m, "rtm"));
            expect_eq(g + "max rtm-always-abort", c.max_raa, has(m, "rtm-always-abort"));
            // HLE is independent of RTM (no dependency edge): max has the host's.
            expect_eq(g + "max hle = host's", has(derive(raw, PolicyIndex::host, c.opts), "hle"),
                      has(m, "hle"));
            expect_eq(g + "default rtm", c.def_rtm, has(d, "rtm"));
            expect_eq(g + "default rtm-always-abort", c.def_raa, has(d, "rtm-always-abort"));
            expect(g + "default never hle", !has(d, "hle"));
        }
    }
}

// Rule GUEST-MAX / RSBA: ARCH_CAPS on Intel; which MSR bits each policy offers.
struct ArchCapsCase {
    const char *what;
    const char *dump;
    uint64_t raw_override;  // ~0: as dumped
    const char *opts;
    uint64_t host, max, def;
};
void arch_caps_word_and_bits()
{
    // SPR as dumped: 0x28fdeb = RDCL_NO, EIBRS, SKIP_L1DFL, MDS_NO, IF_PSCHANGE_MC_NO,
    // TSX_CTRL, TAA_NO, MISC_PKG_CTRL, ENERGY_FILTERING, DOITM, SBDR_SSDP_NO, FBSDP_NO,
    // PSDP_NO, RRSBA, XAPIC_STATUS.  Guests get the 'A' bits (0,1,5,6,8,13,14,15) plus
    // RRSBA by rule (eIBRS visible) = 0x8e163; max adds RSBA, FB_CLEAR, RFDS_CLEAR.
    const ArchCapsCase cases[] = {
        {"SPR", "SapphireRapids", ~0ull, nullptr, 0x28fdebull, 0x100ae167ull, 0x8e163ull},
        // RSBA without eIBRS (raw 0x20fded: SPR's bits minus EIBRS and RRSBA, plus
        // RSBA): the default tells the guest RSBA; RRSBA needs eIBRS, so max cannot
        // offer it either.
        {"RSBA without eIBRS", "SapphireRapids", 0x20fdedull, nullptr, 0x20fdedull,
         0x1002e165ull, 0x0e165ull},
        // Intel without the MSR in the dump: guests still get ARCH_CAPS (value from
        // the rules only: max RSBA|FB_CLEAR|RFDS_CLEAR, default nothing).
        {"Nehalem", "Nehalem", ~0ull, nullptr, 0, 0x10020004ull, 0},
        // cpuid=no-arch-caps: the host loses the MSR, Intel guests still see max's.
        {"SPR no-arch-caps", "SapphireRapids", ~0ull, "cpuid=no-arch-caps", 0, 0x10020004ull, 0},
        // AMD: no ARCH_CAPS anywhere.
        {"Genoa", "Genoa", ~0ull, nullptr, 0, 0, 0},
    };
    for ( const auto &c : cases )
    {
        Policy raw = dump(c.dump);
        if ( c.raw_override != ~0ull )
            raw.arch_caps = c.raw_override;
        std::string w = std::string(c.what) + ": ";
        Policy host = derive(raw, PolicyIndex::host, c.opts);
        expect_eq(w + "host ARCH_CAPS", hex(c.host), hex(host.arch_caps));
        expect_eq(w + "host arch-caps feature", c.host != 0, has(host, "arch-caps"));
        for ( bool hvm : {false, true} )
        {
            Policy m = derive(raw, hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max, c.opts);
            Policy d = derive(raw, hvm ? PolicyIndex::hvm_default : PolicyIndex::pv_default, c.opts);
            std::string g = w + (hvm ? "hvm " : "pv ");
            expect_eq(g + "max ARCH_CAPS", hex(c.max), hex(m.arch_caps));
            expect_eq(g + "default ARCH_CAPS", hex(c.def), hex(d.arch_caps));
            bool intel = policy_vendor(raw) == Vendor::intel;
            expect_eq(g + "max arch-caps feature", intel, has(m, "arch-caps"));
            // Xen offers ARCH_CAPS on every Intel host, also after cpuid=no-arch-caps.
            expect_eq(g + "default arch-caps feature", intel, has(d, "arch-caps"));
        }
    }
}

// Rule GUEST-DEFAULT: MD_CLEAR follows the host in default, always in max (Intel).
void md_clear_in_max_host_value_in_default()
{
    const Policy &neh = dump("Nehalem"), &clx = dump("CascadeLake");
    expect("Nehalem raw lacks md-clear", !has(neh, "md-clear"));
    expect("Nehalem max md-clear", has(derive(neh, PolicyIndex::hvm_max), "md-clear"));
    expect("Nehalem default no md-clear", !has(derive(neh, PolicyIndex::hvm_default), "md-clear"));
    expect("CLX raw md-clear", has(clx, "md-clear"));
    expect("CLX default md-clear", has(derive(clx, PolicyIndex::pv_default), "md-clear"));
    expect("Genoa max no md-clear (AMD)", !has(derive(dump("Genoa"), PolicyIndex::hvm_max), "md-clear"));
}

// Rule GUEST-DEFAULT: RDRAND hidden by default on client IvyBridge (SRBDS, XSA-320)
// unless cpuid=rdrand.
void ivybridge_rdrand_hidden_by_default()
{
    Policy ivb = dump("IvyBridgeEP");  // 0x306e4: model 0x3e (server): not affected
    expect("IvyBridge-EP default keeps rdrand", has(derive(ivb, PolicyIndex::hvm_default), "rdrand"));
    at(ivb, Leaf{1})->a = 0x000306a9;  // family 6 model 0x3a stepping 9: client IvyBridge
    expect_eq("family/model", 0x3au, policy_family_model(ivb).model);
    for ( bool hvm : {false, true} )
    {
        std::string g = hvm ? "hvm " : "pv ";
        PolicyIndex mi = hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max;
        PolicyIndex di = hvm ? PolicyIndex::hvm_default : PolicyIndex::pv_default;
        expect(g + "max rdrand", has(derive(ivb, mi), "rdrand"));
        expect(g + "default no rdrand", !has(derive(ivb, di), "rdrand"));
        expect(g + "default rdrand with cpuid=rdrand", has(derive(ivb, di, "cpuid=rdrand"), "rdrand"));
    }
}

// Rule HOST-VENDOR / GUEST-MAX: CLWB on SKX/CLX/CPX (model 0x55).
void skylake_x_clwb_only_in_max()
{
    for ( const char *n : {"SkylakeXeon", "CascadeLake"} )
    {
        const Policy &raw = dump(n);
        std::string w = std::string(n) + ": ";
        expect(w + "raw clwb", has(raw, "clwb"));
        expect(w + "host no clwb", !has(derive(raw, PolicyIndex::host), "clwb"));
        expect(w + "max clwb", has(derive(raw, PolicyIndex::hvm_max), "clwb"));
        expect(w + "default no clwb", !has(derive(raw, PolicyIndex::hvm_default), "clwb"));
    }
    const Policy &icx = dump("ICX");
    expect("ICX default keeps clwb", has(derive(icx, PolicyIndex::pv_default), "clwb"));
}

// Rule HOST-VENDOR / HVM-MAX: SYSENTER on AMD, only for HVM.
void amd_sep_only_for_hvm()
{
    for ( const char *n : {"Genoa", "Istanbul", "Hygon"} )
    {
        const Policy &raw = dump(n);
        std::string w = std::string(n) + ": ";
        expect(w + "raw sep", has(raw, "sep"));
        expect(w + "host no sep", !has(derive(raw, PolicyIndex::host), "sep"));
        expect(w + "pv-default no sep", !has(derive(raw, PolicyIndex::pv_default), "sep"));
        expect(w + "hvm-default sep", has(derive(raw, PolicyIndex::hvm_default), "sep"));
    }
    expect("Intel host keeps sep", has(derive(dump("ICX"), PolicyIndex::host), "sep"));
}

// Rules SPEC_CTRL and PV-MAX SRSO_US_NO.
void spec_ctrl_knobs_reach_the_guests()
{
    const Policy &spr = dump("SapphireRapids"), &turin = dump("Turin");
    expect("SPR hvm-default ibrsb", has(derive(spr, PolicyIndex::hvm_default), "ibrsb"));
    expect("SPR hvm-default stibp (with ibrsb)", has(derive(spr, PolicyIndex::hvm_default), "stibp"));
    expect("SPR hvm-default ibpb (host has ibrsb)", has(derive(spr, PolicyIndex::hvm_default), "ibpb"));
    Policy pv = derive(spr, PolicyIndex::pv_default, "spec-ctrl=pv=0");
    expect("pv=0: pv no ibrsb", !has(pv, "ibrsb"));
    expect("pv=0: pv no ssbd (depends on ibrsb)", !has(pv, "ssbd"));
    expect("pv=0: hvm keeps ibrsb", has(derive(spr, PolicyIndex::hvm_default, "spec-ctrl=pv=0"), "ibrsb"));
    expect("msr-sc=0: hvm no ibrsb",
           !has(derive(spr, PolicyIndex::hvm_max, "spec-ctrl=msr-sc=0"), "ibrsb"));
    expect("Turin hvm-default ibrs", has(derive(turin, PolicyIndex::hvm_default), "ibrs"));
    expect("Turin hvm-default amd-stibp", has(derive(turin, PolicyIndex::hvm_default), "amd-stibp"));
    expect("Turin hvm=0: no ibrs", !has(derive(turin, PolicyIndex::hvm_default, "spec-ctrl=hvm=0"), "ibrs"));

    // SRSO_US_NO for PV needs SRSO_MSR_FIX (BP_SPEC_REDUCE) in use.
    expect("Turin raw srso-us-no", has(turin, "srso-us-no"));
    bool fix = has(turin, "srso-msr-fix");
    expect_eq("Turin pv-max srso-us-no = srso-msr-fix", fix,
              has(derive(turin, PolicyIndex::pv_max), "srso-us-no"));
    expect("Turin bp-spec-reduce=0: pv-max no srso-us-no",
           !has(derive(turin, PolicyIndex::pv_max, "spec-ctrl=bp-spec-reduce=0"), "srso-us-no"));
    expect("Turin hvm-max srso-us-no", has(derive(turin, PolicyIndex::hvm_max), "srso-us-no"));
}

// Rule VIRT_SSBD.
struct VirtSsbdCase {
    const char *dump;
    bool max, def;
};
void virt_ssbd_for_hvm()
{
    const VirtSsbdCase cases[] = {
        {"Interlagos", true, true},  // fam 15h, no AMD_SSBD: LS_CFG -> VIRT_SPEC_CTRL
        {"K17_Zen", true, true},     // fam 17h Zen1, same
        {"Hygon", true, true},       // Hygon fam 18h, same
        {"Istanbul", false, false},  // fam 10h: no SSBD mechanism known to Xen
        {"Genoa", true, false},      // AMD_SSBD: VIRT_SSBD offered in max only
        {"SapphireRapids", false, false},
    };
    for ( const auto &c : cases )
    {
        const Policy &raw = dump(c.dump);
        std::string w = std::string(c.dump) + ": ";
        expect_eq(w + "hvm-max virt-ssbd", c.max, has(derive(raw, PolicyIndex::hvm_max), "virt-ssbd"));
        expect_eq(w + "hvm-default virt-ssbd", c.def,
                  has(derive(raw, PolicyIndex::hvm_default), "virt-ssbd"));
        expect(w + "pv never virt-ssbd", !has(derive(raw, PolicyIndex::pv_max), "virt-ssbd"));
    }
}

// Rule HVM-MAX: NO_LMSL for HVM; hap=0 selects the shadow masks.
void hvm_no_lmsl_and_hap_off()
{
    const Policy &spr = dump("SapphireRapids");
    expect("hvm-max no-lmsl", has(derive(spr, PolicyIndex::hvm_max), "no-lmsl"));
    expect("pv-max no no-lmsl", !has(derive(spr, PolicyIndex::pv_max), "no-lmsl"));
    Policy hap = derive(spr, PolicyIndex::hvm_default), shadow = derive(spr, PolicyIndex::hvm_default, "hap=0");
    for ( const char *n : {"pcid", "invpcid", "page1gb", "pku", "pks"} )
        expect(std::string("hap=0 hides ") + n, !has(shadow, n));
    expect("hap has pku", has(hap, "pku"));
    expect_eq("hap XCR0 with PKRU", 0x2e7u, R(hap, 0xd, 0).a);
    expect_eq("shadow XCR0 without PKRU", 0xe7u, R(shadow, 0xd, 0).a);
    expect_eq("shadow maxphysaddr capped at 44", 44u, R(shadow, 0x80000008).a & 0xff);
    expect("hap=0: 1G TLB leaf gone", R(shadow, 0x80000019) == Regs{});
}

// Rule ADDRESS-WIDTHS.
struct WidthCase {
    const char *dump;
    PolicyIndex idx;
    const char *opts;
    uint32_t phys, lin;
};
void address_widths()
{
    const WidthCase cases[] = {
        // Genoa reports 52 physical / 57 linear bits (LA57).  The host keeps both;
        // guests get 48 linear bits (no LA57 for guests) and 52 physical.
        {"Genoa", PolicyIndex::host, nullptr, 52, 57},
        {"Genoa", PolicyIndex::pv_default, nullptr, 52, 48},
        {"Genoa", PolicyIndex::hvm_max, nullptr, 52, 48},
        {"Genoa", PolicyIndex::hvm_default, "hap=0", 44, 48},
        // Haswell-EP: 46 / 48.
        {"HaswellEP", PolicyIndex::hvm_default, nullptr, 46, 48},
        // Without long mode: 32 linear bits; PAE keeps at least 36 physical.
        {"HaswellEP", PolicyIndex::hvm_default, "cpuid=no-lm", 46, 32},
    };
    for ( const auto &c : cases )
    {
        Regs e8 = R(derive(dump(c.dump), c.idx, c.opts), 0x80000008);
        std::string w = std::string(c.dump) + " " + policy_index_name(c.idx) + " " +
                        (c.opts ? c.opts : "") + ": ";
        expect_eq(w + "maxphysaddr", c.phys, e8.a & 0xff);
        expect_eq(w + "maxlinaddr", c.lin, (e8.a >> 8) & 0xff);
        expect_eq(w + "GuestPhysAddrSize hidden", 0u, e8.a >> 16);
    }
    // No PAE/PSE36 and a (hand-set) 30-bit host: the floor is 32.
    Policy raw = dump("HaswellEP");
    at(raw, Leaf{0x80000008})->a = 0x301e;
    Regs e8 = R(derive(raw, PolicyIndex::hvm_default, "cpuid=no-pae,no-pse36"), 0x80000008);
    expect_eq("floor 32 without PAE/PSE36", 32u, e8.a & 0xff);
    e8 = R(derive(raw, PolicyIndex::hvm_default), 0x80000008);
    expect_eq("floor 36 with PAE", 36u, e8.a & 0xff);
}

// Rules LEAVES-HOST / LEAVES-MAX / LEAVES-DEFAULT.
void max_leaf_limits()
{
    for ( const auto &d : dumps() )
    {
        Policy host = derive(d.p, PolicyIndex::host);
        std::string w = d.name + ": ";
        uint32_t raw_basic = basic_max_leaf(d.p);
        expect_eq(w + "host basic max", raw_basic < BASIC_LAST ? raw_basic : BASIC_LAST,
                  basic_max_leaf(host));
        uint32_t raw_extd = extd_max_leaf(d.p);
        expect_eq(w + "host extd max", hex(raw_extd < EXTD_LAST ? raw_extd : EXTD_LAST),
                  hex(extd_max_leaf(host)));
        for ( PolicyIndex i : {PolicyIndex::pv_max, PolicyIndex::hvm_max} )
        {
            Policy m = derive(d.p, i);
            expect_eq(w + policy_index_name(i) + " basic max", BASIC_LAST, basic_max_leaf(m));
            expect_eq(w + policy_index_name(i) + " leaf 7 max subleaf", 3u, R(m, 7, 0).a);
            expect_eq(w + policy_index_name(i) + " extd max", hex(EXTD_LAST), hex(extd_max_leaf(m)));
        }
        for ( PolicyIndex i : {PolicyIndex::pv_default, PolicyIndex::hvm_default} )
        {
            Policy p = derive(d.p, i);
            expect_eq(w + policy_index_name(i) + " basic max", basic_max_leaf(host), basic_max_leaf(p));
            expect_eq(w + policy_index_name(i) + " leaf 7 max subleaf", R(host, 7, 0).a, R(p, 7, 0).a);
            expect_eq(w + policy_index_name(i) + " extd max", hex(extd_max_leaf(host)), hex(extd_max_leaf(p)));
        }
    }
    // A raw claiming more than the object holds is clamped.
    Policy raw = dump("GraniteRapids");
    at(raw, Leaf{0})->a = 0x40;
    at(raw, Leaf{7}, Subleaf{0})->a = 9;
    at(raw, Leaf{0x80000000})->a = 0x80000030;
    Policy host = derive(raw, PolicyIndex::host);
    expect_eq("clamped basic", BASIC_LAST, basic_max_leaf(host));
    expect_eq("clamped leaf 7", 3u, R(host, 7, 0).a);
    expect_eq("clamped extd", hex(EXTD_LAST), hex(extd_max_leaf(host)));
}

// Rules MISC / GATE / VENDOR: what each policy keeps of the non-feature leaves.
struct LeafCase {
    const char *dump;
    PolicyIndex idx;
    uint32_t leaf, subleaf;
    enum { zero, kept, nonzero } expect_;
    const char *why;
};
void leaf_zeroing_table()
{
    using P = PolicyIndex;
    const LeafCase cases[] = {
        {"SapphireRapids", P::host, 0x14, 0, LeafCase::kept, "PT kept where proc-trace is"},
        {"SapphireRapids", P::hvm_max, 0x14, 0, LeafCase::zero, "PT: not offered to guests"},
        {"SapphireRapids", P::host, 0x1d, 1, LeafCase::kept, "AMX palette kept with amx-tile"},
        {"SapphireRapids", P::hvm_default, 0x1d, 1, LeafCase::zero, "AMX not offered"},
        {"SapphireRapids", P::hvm_default, 0x1e, 0, LeafCase::zero, "AMX TMUL not offered"},
        {"SapphireRapids", P::hvm_default, 0x12, 0, LeafCase::zero, "SGX never"},
        {"SapphireRapids", P::host, 0xf, 0, LeafCase::kept, "RDT monitoring on the host"},
        {"SapphireRapids", P::pv_default, 0xf, 0, LeafCase::zero, "RDT never for guests"},
        {"SapphireRapids", P::pv_default, 0x10, 0, LeafCase::zero, "RDT never for guests"},
        {"SapphireRapids", P::host, 0x5, NO_SUBLEAF, LeafCase::zero, "MONITOR hidden"},
        {"SapphireRapids", P::host, 0x6, NO_SUBLEAF, LeafCase::zero, "thermal/power hidden"},
        {"SapphireRapids", P::host, 0xb, 0, LeafCase::zero, "topology: toolstack's"},
        {"SapphireRapids", P::host, 0x1f, 0, LeafCase::zero, "v2 topology: toolstack's"},
        {"SapphireRapids", P::host, 0x15, NO_SUBLEAF, LeafCase::zero, "TSC ratio: host specific"},
        {"SapphireRapids", P::host, 0x16, NO_SUBLEAF, LeafCase::zero, "frequency: host specific"},
        {"SapphireRapids", P::host, 0xa, NO_SUBLEAF, LeafCase::zero, "no vPMU by default"},
        {"SapphireRapids", P::hvm_default, 0x4, 0, LeafCase::nonzero, "Intel cache leaf kept"},
        {"SapphireRapids", P::hvm_default, 0x2, NO_SUBLEAF, LeafCase::nonzero, "Intel leaf 2 kept"},
        {"SapphireRapids", P::hvm_default, 0x80000006, NO_SUBLEAF, LeafCase::nonzero, "L2 in ECX"},
        {"SapphireRapids", P::hvm_default, 0x80000002, NO_SUBLEAF, LeafCase::kept, "brand string"},
        {"Genoa", P::hvm_default, 0x4, 0, LeafCase::zero, "no Intel cache leaf on AMD"},
        {"Genoa", P::hvm_default, 0x2, NO_SUBLEAF, LeafCase::zero, "no leaf 2 on AMD"},
        {"Genoa", P::hvm_default, 0x8000001d, 0, LeafCase::zero, "TopoExt cache: not offered"},
        {"Genoa", P::hvm_default, 0x8000001e, NO_SUBLEAF, LeafCase::zero, "TopoExt IDs: per CPU"},
        {"Genoa", P::host, 0x8000001f, NO_SUBLEAF, LeafCase::zero, "SEV never"},
        {"Genoa", P::hvm_default, 0x80000005, NO_SUBLEAF, LeafCase::kept, "AMD L1 info kept"},
        {"Genoa", P::hvm_default, 0x80000006, NO_SUBLEAF, LeafCase::kept, "AMD L2/L3 info kept"},
        {"Genoa", P::hvm_default, 0x80000019, NO_SUBLEAF, LeafCase::kept, "1G TLB with page1gb"},
        {"Genoa", P::pv_default, 0x80000019, NO_SUBLEAF, LeafCase::zero, "no page1gb for PV"},
        {"Genoa", P::hvm_max, 0x8000000a, NO_SUBLEAF, LeafCase::nonzero, "SVM in hvm-max"},
        {"Genoa", P::hvm_default, 0x8000000a, NO_SUBLEAF, LeafCase::zero, "nested off by default"},
        {"Genoa", P::pv_max, 0x8000000a, NO_SUBLEAF, LeafCase::zero, "no SVM for PV"},
        {"Genoa", P::host, 0x80000022, NO_SUBLEAF, LeafCase::zero, "PerfMonV2: no vPMU"},
        {"Turin", P::host, 0x80000026, 0, LeafCase::zero, "extended topology: toolstack's"},
        {"Interlagos", P::host, 0x8000001c, NO_SUBLEAF, LeafCase::kept, "LWP kept on the host"},
        {"Interlagos", P::hvm_max, 0x8000001c, NO_SUBLEAF, LeafCase::zero, "LWP not offered"},
    };
    for ( const auto &c : cases )
    {
        const Policy &raw = dump(c.dump);
        Regs want = R(raw, c.leaf, c.subleaf), got = R(derive(raw, c.idx), c.leaf, c.subleaf);
        char w[160];
        std::snprintf(w, sizeof(w), "%s %s %#x:%#x (%s)", c.dump, policy_index_name(c.idx),
                      c.leaf, c.subleaf, c.why);
        if ( c.expect_ != LeafCase::zero )
            expect(std::string(w) + ": raw has data (test premise)", !(want == Regs{}));
        if ( c.expect_ == LeafCase::zero )
            expect_eq(std::string(w), show(Regs{}), show(got));
        else if ( c.expect_ == LeafCase::kept )
            expect_eq(std::string(w), show(want), show(got));
        else
            expect(std::string(w) + " non-zero", !(got == Regs{}));
    }
}

// Rule VENDOR details with exact values.
void vendor_specific_register_cleanup()
{
    const Policy &genoa = dump("Genoa");
    Policy g = derive(genoa, PolicyIndex::hvm_default);
    Regs l0 = R(genoa, 0), e0 = R(g, 0x80000000);
    expect_eq("AMD: extended vendor = basic vendor",
              show(Regs{e0.a, l0.b, l0.c, l0.d}), show(e0));
    expect_eq("AMD: 0x80000001.EAX = leaf 1 EAX", R(g, 1).a, R(g, 0x80000001).a);
    expect_eq("AMD: 0x80000001.EDX APIC mirrors leaf 1", R(g, 1).d & (1u << 9),
              R(g, 0x80000001).d & (1u << 9));
    expect_eq("AMD: 0x80000008.ECX keeps NC/ApicIdSize only", R(genoa, 0x80000008).c & 0x3f0ffu,
              R(g, 0x80000008).c);

    const Policy &spr = dump("SapphireRapids");
    Policy s = derive(spr, PolicyIndex::hvm_default);
    expect_eq("Intel: leaf 2 AL = 1", 1u, R(s, 2).a & 0xff);
    expect_eq("Intel: no extended vendor", show(Regs{R(s, 0x80000000).a, 0, 0, 0}),
              show(R(s, 0x80000000)));
    expect_eq("Intel: 0x80000006 ECX only", show(Regs{0, 0, R(spr, 0x80000006).c, 0}),
              show(R(s, 0x80000006)));
    // Leaf 4: valid subleaves kept (reserved bits clear), first invalid and beyond zero.
    for ( uint32_t sl = 0; sl < 8; ++sl )
    {
        Regs r = R(spr, 4, sl), got = R(s, 4, sl);
        bool valid = (r.a & 0x1f) >= 1 && (r.a & 0x1f) <= 3;
        Regs want = valid ? Regs{r.a & 0xffffc3ffu, r.b, r.c, r.d & 7} : Regs{};
        expect_eq("leaf 4 subleaf " + str(sl), show(want), show(got));
    }
}

// Rule VPMU.
void vpmu_option_keeps_leaf_0xa_on_intel()
{
    const Policy &spr = dump("SapphireRapids");
    Regs raw_a = R(spr, 0xa);
    expect("premise: SPR reports PMU v5", (raw_a.a & 0xff) == 5);
    expect_eq("host vpmu", show(raw_a), show(R(derive(spr, PolicyIndex::host, "vpmu"), 0xa)));
    Regs g = R(derive(spr, PolicyIndex::hvm_default, "vpmu"), 0xa);
    expect_eq("guest version clamped to 3", 3u, g.a & 0xff);
    expect_eq("guest counters kept", raw_a.a & ~0xffu, g.a & ~0xffu);
    expect_eq("Genoa vpmu: still zero", show(Regs{}),
              show(R(derive(dump("Genoa"), PolicyIndex::host, "vpmu"), 0xa)));
}

// Rules FAULTING and HV-LIMITS.
struct MsrCase {
    const char *dump;
    uint32_t host_pi, pv_pi;
};
void platform_info_and_hypervisor_limits()
{
    const MsrCase cases[] = {
        {"SapphireRapids", 0x80000000u, 0x80000000u},  // PLATFORM_INFO bit 31 in the dump
        {"Nehalem", 0, 0},                             // no faulting
        {"Genoa", 0x80000000u, 0x80000000u},           // AMD CpuidUserDis
        {"Milan", 0, 0},
    };
    for ( const auto &c : cases )
    {
        // The importer keeps only PLATFORM_INFO's faulting bit (dump_policy.hpp); give
        // the raw policy the ratio bits a real register has (MSR_PLATFORM_INFO[15:8],
        // maximum non-turbo ratio, SDM vol. 4) to prove no derived policy passes them on.
        Policy raw = dump(c.dump);
        raw.platform_info |= 0x1a00;
        std::string w = std::string(c.dump) + ": ";
        Policy h = derive(raw, PolicyIndex::host);
        expect_eq(w + "host platform_info", hex(c.host_pi), hex(h.platform_info));
        expect_eq(w + "host hv limits", hex(0), hex(h.hv_limit | h.hv2_limit));
        for ( PolicyIndex i : {PolicyIndex::pv_max, PolicyIndex::pv_default} )
        {
            Policy p = derive(raw, i);
            expect_eq(w + policy_index_name(i) + " platform_info", hex(c.pv_pi), hex(p.platform_info));
            expect_eq(w + policy_index_name(i) + " hv_limit", hex(0x40000005), hex(p.hv_limit));
            expect_eq(w + policy_index_name(i) + " hv2_limit", hex(0), hex(p.hv2_limit));
        }
        Policy hm = derive(raw, PolicyIndex::hvm_max), hd = derive(raw, PolicyIndex::hvm_default);
        expect_eq(w + "hvm-max platform_info", hex(0x80000000u), hex(hm.platform_info));
        expect_eq(w + "hvm-default platform_info", hex(0x80000000u), hex(hd.platform_info));
        expect_eq(w + "hvm-max hv_limit", hex(0x40000004), hex(hm.hv_limit));
        expect_eq(w + "hvm-max hv2_limit", hex(0x40000104), hex(hm.hv2_limit));
        expect_eq(w + "hvm-default hv2_limit", hex(0), hex(hd.hv2_limit));
    }
}

// Rule HOST-BEHAVIOUR: FDP_EXCP_ONLY / NO_FPU_SEL follow the host into guests.
void fpu_behaviour_bits_follow_the_host()
{
    for ( const auto &d : dumps() )
    {
        Policy host = derive(d.p, PolicyIndex::host);
        for ( PolicyIndex i : GUESTS )
        {
            Policy p = derive(d.p, i);
            for ( const char *n : {"fdp-excp-only", "no-fpu-sel"} )
                expect_eq(d.name + " " + policy_index_name(i) + " " + n, has(host, n), has(p, n));
        }
    }
}

// Rule XSTATE: leaf 0xd from the features left, layout from the hardware.
struct XstateCase {
    const char *dump;
    PolicyIndex idx;
    uint64_t xcr0, xss;
    uint32_t max_std, max_cmp;
};
void leaf_0xd_recomputed_from_features()
{
    using P = PolicyIndex;
    const XstateCase cases[] = {
        // SDM offsets: AVX 256@576, AVX-512 64@1088 512@1152 1024@1664, PKRU 8@2688,
        // TILECFG 64@2752, TILEDATA 8192@2816.
        {"SapphireRapids", P::host, 0x602e7, 0xdd00, 11008, 0},
        {"SapphireRapids", P::hvm_default, 0x2e7, 0, 2696, 2440},
        {"SapphireRapids", P::pv_default, 0xe7, 0, 2688, 2432},
        {"SkylakeXeon", P::hvm_max, 0x2ff, 0, 2696, 2568},  // MPX in max ('s')
        {"SkylakeXeon", P::hvm_default, 0x2e7, 0, 2696, 2440},
        {"HaswellEP", P::hvm_default, 0x7, 0, 832, 0},       // no XSAVEC
        // AMD offsets: AVX-512 directly after YMM: 64@832 512@896 1024@1408, PKRU @2432.
        {"Genoa", P::hvm_default, 0x2e7, 0, 2440, 2440},
        {"Genoa", P::host, 0x2e7, 0x1800, 2440, 0},
        {"Milan", P::hvm_default, 0x207, 0, 2440, 840},
        // LWP (component 62) at 832, 128 bytes: the host has it, guests do not.
        {"Interlagos", P::host, 0x4000000000000007ull, 0, 960, 0},
        {"Interlagos", P::hvm_max, 0x7, 0, 832, 0},
        {"Nehalem", P::hvm_max, 0, 0, 0, 0},                 // no XSAVE: leaf all zero
    };
    for ( const auto &c : cases )
    {
        Policy p = derive(dump(c.dump), c.idx);
        std::string w = std::string(c.dump) + " " + policy_index_name(c.idx) + ": ";
        Regs s0 = R(p, 0xd, 0), s1 = R(p, 0xd, 1);
        expect_eq(w + "XCR0", hex(c.xcr0), hex(s0.a | (uint64_t{s0.d} << 32)));
        expect_eq(w + "XSS", hex(c.xss), hex(s1.c | (uint64_t{s1.d} << 32)));
        expect_eq(w + "ECX max size", c.max_std, s0.c);
        expect_eq(w + "EBX = size with everything enabled", c.max_std, s0.b);
        if ( c.max_cmp )
            expect_eq(w + "(0xd,1).EBX compacted, everything enabled", c.max_cmp, s1.b);
        for ( uint32_t sl = 2; sl < 63; ++sl )
        {
            bool in = ((c.xcr0 | c.xss) >> sl) & 1;
            Regs r = R(p, 0xd, sl);
            if ( !in )
                expect_eq(w + "subleaf " + str(sl) + " zero", show(Regs{}), show(r));
            else
            {
                // From the hardware; where the dump has no data for an enumerated
                // component (SKX reports PKRU's subleaf as zeros; the Interlagos dump
                // has no subleaf 62), the architectural table's values.
                Regs hw = R(dump(c.dump), 0xd, sl);
                if ( !hw.a )
                {
                    const xstate::ArchComponent *a = xstate::arch_component(sl);
                    bool amd = policy_vendor(dump(c.dump)) != Vendor::intel;
                    hw = Regs{a->size, amd ? a->amd_offset : a->intel_offset, 0, 0};
                }
                expect_eq(w + "subleaf " + str(sl) + " size", hw.a, r.a);
                expect_eq(w + "subleaf " + str(sl) + " offset", hw.b, r.b);
            }
        }
    }
    // The SPR host keeps the attribute bits the hardware reports (it has XSAVEC, XFD
    // is not a guest feature): TILECFG align64, TILEDATA align64 + XFD.
    Policy h = derive(dump("SapphireRapids"), PolicyIndex::host);
    expect_eq("SPR host TILECFG ecx", 2u, R(h, 0xd, 17).c);
    expect_eq("SPR host TILEDATA ecx", 6u, R(h, 0xd, 18).c);
    expect_eq("SPR host PT ecx (supervisor)", 1u, R(h, 0xd, 8).c);
}

// Tests can fail: a broken derivation is caught (a guard for the properties above).
void the_nesting_check_catches_a_violation()
{
    const Policy &raw = dump("SapphireRapids");
    Policy d = derive(raw, PolicyIndex::hvm_default);
    Featureset def = policy_to_featureset(d);
    def.set(Feature{feature_number("amx-tile")});  // never offered: must show up as a violation
    Featureset max = policy_to_featureset(derive(raw, PolicyIndex::hvm_max));
    expect_eq("violation found", std::string("amx-tile"), feature_names(def.and_not(max)));
}

} // namespace

int main()
{
    TEST(boot_options_parse_table);
    TEST(boot_options_parse_null_is_no_options);
    TEST(boot_options_knobs_table);
    TEST(boot_options_closure_of_a_clear);
    TEST(every_dump_is_loaded);
    TEST(derived_features_nest);
    TEST(derived_policies_pass_featureset_verify);
    TEST(deriving_is_deterministic_and_alias_safe);
    TEST(every_default_is_compatible_with_its_max);
    TEST(raw_index_copies_raw);
    TEST(bad_arguments_leave_out_untouched);
    TEST(policy_index_names_round_trip);
    TEST(boot_option_clear_reaches_every_policy_and_leaf_0xd);
    TEST(host_drops_dynamic_bits_and_apic_id);
    TEST(guests_see_hypervisor_and_hvm_gets_x2apic);
    TEST(htt_and_cmp_legacy_follow_the_host_in_default);
    TEST(tsx_rtm_visible_in_max_hidden_in_default_when_aborting);
    TEST(arch_caps_word_and_bits);
    TEST(md_clear_in_max_host_value_in_default);
    TEST(ivybridge_rdrand_hidden_by_default);
    TEST(skylake_x_clwb_only_in_max);
    TEST(amd_sep_only_for_hvm);
    TEST(spec_ctrl_knobs_reach_the_guests);
    TEST(virt_ssbd_for_hvm);
    TEST(hvm_no_lmsl_and_hap_off);
    TEST(address_widths);
    TEST(max_leaf_limits);
    TEST(leaf_zeroing_table);
    TEST(vendor_specific_register_cleanup);
    TEST(vpmu_option_keeps_leaf_0xa_on_intel);
    TEST(platform_info_and_hypervisor_limits);
    TEST(fpu_behaviour_bits_follow_the_host);
    TEST(leaf_0xd_recomputed_from_features);
    TEST(the_nesting_check_catches_a_violation);
    return finish();
}

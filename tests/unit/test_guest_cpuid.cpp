// SPDX-License-Identifier: MIT
// Guest CPUID (guest_cpuid.hpp) and the constant-time xsave size tables behind it
// (xstate.hpp SizeTables).
//
// The sizes are checked three ways: against the SDM's component sizes and offsets
// (a policy built by hand from the architectural table), against what real CPUs
// reported in the dumps for the XCR0/XSS their OS had loaded, and against the
// component walk for every combination of components every dump's policies allow.
#include "cpupolicy/derive.hpp"
#include "cpupolicy/guest_cpuid.hpp"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

// Every question is asked twice: computed from scratch (guest_cpuid_compute) and from a
// vCPU prepared with the same state (guest_cpuid); the two must agree.
Regs Q(const GuestCpuidCtx &c, const Policy &p, const VcpuState &v, uint32_t leaf,
       uint32_t sub = 0)
{
    Regs ref = guest_cpuid_compute(c, p, v, Leaf{leaf}, Subleaf{sub});
    if ( &p == c.policy )
    {
        VcpuCpuid vc;
        vc.load(c, v);
        Regs fast = guest_cpuid(c, vc, Leaf{leaf}, Subleaf{sub});
        if ( !(fast == ref) )
            expect_eq("prepared " + hex(leaf) + ":" + hex(sub), show(ref), show(fast));
    }
    return ref;
}
GuestCpuidCtx prepare(const Policy &p, const GuestConfig &cfg = {})
{
    GuestCpuidCtx c{};
    if ( int rc = guest_cpuid_prepare(c, p, cfg) )
        std::printf("FAIL %s: prepare returned %d\n", current_test, rc);
    return c;
}

// An Intel policy built from the SDM alone: XSAVE, AVX, AVX-512, PKU, AMX, XSAVEC and
// XSAVES, XCR0-supported 0x602e7 (x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU TILECFG
// TILEDATA); the subleaves are filled from xstate::arch_components.
Policy sdm_policy()
{
    Policy p{};
    *at(p, Leaf{0}) = Regs{0xd, 0x756e6547, 0x6c65746e, 0x49656e69};  // GenuineIntel
    at(p, Leaf{1})->c = (1u << 26) | (1u << 28);                     // xsave, avx
    at(p, Leaf{7}, Subleaf{0})->b = (1u << 5) | (1u << 16);          // avx2, avx512f
    at(p, Leaf{7}, Subleaf{0})->c = 1u << 3;                         // pku
    at(p, Leaf{7}, Subleaf{0})->d = 1u << 24;                        // amx-tile
    at(p, Leaf{0xd}, Subleaf{0})->a = 0x602e7;
    at(p, Leaf{0xd}, Subleaf{1})->a = 0xb;                           // xsaveopt xsavec xsaves
    xstate::recalculate_xstate(p, p);
    return p;
}

// ====================================================================================
// xsave sizes
// ====================================================================================

struct SizeCase {
    uint64_t xcr0, xss;
    uint32_t standard, compacted;
    const char *what;
};

// SDM vol. 1 13.4 / table 13-1: YMM 256@576; opmask 64@1088; ZMM_Hi256 512@1152;
// Hi16_ZMM 1024@1664; PKRU 8@2688; TILECFG 64@2752; TILEDATA 8192@2816 (both 64-byte
// aligned when compacted).  Compacted sums from 576 in component order.
void xsave_sizes_from_the_sdm_table()
{
    const SizeCase cases[] = {
        {0x1, 0, 576, 576, "x87 only (reset value)"},
        {0x3, 0, 576, 576, "x87+SSE: legacy area + header"},
        {0x7, 0, 832, 832, "+AVX: 576+256"},
        {0xe7, 0, 2688, 2432, "+AVX-512: Hi16_ZMM ends at 1664+1024"},
        {0x2e7, 0, 2696, 2440, "+PKRU 8@2688"},
        {0x207, 0, 2696, 840, "AVX+PKRU: standard format keeps PKRU's fixed offset"},
        {0x602e7, 0, 11008, 10752, "+AMX: TILEDATA ends at 2816+8192"},
        {0x60007, 0, 11008, 9088, "AVX+AMX: 832, aligned 832+64, 896+8192"},
        // XSETBV refuses half of a unit; were it loaded, the unit counts by its first
        // component: TILEDATA alone is off, TILECFG alone is on.
        {0x40207, 0, 2696, 840, "TILEDATA without TILECFG counts as no AMX"},
        {0x20207, 0, 11008, 9152, "TILECFG without TILEDATA counts as AMX"},
        // Bits the policy does not offer are ignored (MPX, APX, LWP here).
        {0x8000000000000007ull | (1ull << 62) | 0x18, 0, 832, 832, "unsupported bits ignored"},
    };
    Policy p = sdm_policy();
    GuestCpuidCtx c = prepare(p);
    xstate::Layout l;
    xstate::layout_of(l, p);
    for ( const auto &k : cases )
    {
        VcpuState v;
        v.cr4 = CR4_OSXSAVE;
        v.xcr0 = k.xcr0;
        v.xss = k.xss;
        std::string w = std::string(k.what) + " (xcr0 " + hex(k.xcr0) + "): ";
        expect_eq(w + "0xd:0 EBX", k.standard, Q(c, p, v, 0xd, 0).b);
        expect_eq(w + "0xd:1 EBX", k.compacted, Q(c, p, v, 0xd, 1).b);
        // The component walk agrees (for legal values).
        uint64_t amx = (k.xcr0 >> 17) & 3;
        if ( !(k.xcr0 & ~0x602e7ull) && (amx == 0 || amx == 3) )
        {
            expect_eq(w + "walk standard", k.standard, xstate::uncompressed_size(l, k.xcr0));
            expect_eq(w + "walk compacted", k.compacted, xstate::compacted_size(l, k.xcr0));
        }
    }
    // The static fields: XCR0-supported and the size with all of it enabled.
    Regs s0 = R(p, 0xd, 0);
    expect_eq("policy XCR0", 0x602e7u, s0.a);
    expect_eq("policy max size", 11008u, s0.c);
    expect_eq("TILECFG subleaf", show(Regs{64, 2752, 2, 0}), show(R(p, 0xd, 17)));
    expect_eq("TILEDATA subleaf", show(Regs{8192, 2816, 2, 0}), show(R(p, 0xd, 18)));
}

// What the hardware itself reported (raw 0xd:0 EBX / 0xd:1 EBX) for the XCR0 / XSS
// its OS had loaded when the dump was taken: the host policy's guest CPUID must give
// the same numbers for the same state.
struct HwCase {
    const char *dump;
    uint64_t xcr0, xss;
    uint32_t standard, compacted;
};
void xsave_sizes_match_the_hardware()
{
    const HwCase cases[] = {
        {"SapphireRapids", 0x602e7, 0x100, 0x2b00, 0x2a80},  // 11008; PT makes 10880
        {"GraniteRapids", 0x602e7, 0x100, 0x2b00, 0x2a80},
        {"EmeraldRapids", 0x602e7, 0x100, 0x2b00, 0x2a80},
        {"CascadeLake", 0xff, 0x100, 0xa80, 0xa80},         // MPX on, PKRU off: 2688/2688
        {"ICX", 0xe7, 0x100, 0xa80, 0xa00},                 // 2688 / 2432+128
        {"SkylakeXeon", 0x7, 0, 0x340, 0x340},
        {"Genoa", 0xe7, 0x800, 0x980, 0x990},               // AMD offsets; CET_U 16
        {"Bergamo", 0xe7, 0x800, 0x980, 0x990},
        {"Turin", 0xe7, 0x800, 0x980, 0x990},
        {"Milan", 0x7, 0, 0x340, 0x340},
        {"K17_Zen", 0x7, 0, 0x340, 0x340},
        {"Hygon", 0x3, 0, 0x240, 0x240},                    // x87+SSE only: 576
    };
    for ( const auto &k : cases )
    {
        const Policy &raw = dump(k.dump);
        std::string w = std::string(k.dump) + ": ";
        expect_eq(w + "premise: hardware 0xd:0 EBX", hex(k.standard), hex(R(raw, 0xd, 0).b));
        expect_eq(w + "premise: hardware 0xd:1 EBX", hex(k.compacted), hex(R(raw, 0xd, 1).b));
        Policy host = derive(raw, PolicyIndex::host);
        GuestCpuidCtx c = prepare(host);
        VcpuState v;
        v.cr4 = CR4_OSXSAVE;
        v.xcr0 = k.xcr0;
        v.xss = k.xss;
        expect_eq(w + "0xd:0 EBX", hex(k.standard), hex(Q(c, host, v, 0xd, 0).b));
        expect_eq(w + "0xd:1 EBX", hex(k.compacted), hex(Q(c, host, v, 0xd, 1).b));
    }
}

// Property: the tables equal the component walk for every XCR0/XSS combination the
// policy allows (2^units values), over every dump's host and guest policies.
void size_tables_equal_the_walk_everywhere()
{
    unsigned nr_checked = 0, nr_bad = 0;
    for ( const auto &d : dumps() )
        for ( PolicyIndex i : {PolicyIndex::host, PolicyIndex::hvm_max, PolicyIndex::hvm_default,
                               PolicyIndex::pv_default} )
        {
            Policy p = derive(d.p, i);
            xstate::Layout l;
            xstate::layout_of(l, p);
            uint64_t xcr0 = xstate::policy_xcr0(p), xss = xstate::policy_xss(p);
            xstate::SizeTables t;
            if ( xstate::size_tables_build(t, l, xcr0, xss) != 0 )
            {
                expect(d.name + " build", false);
                continue;
            }
            // Enumerate unit subsets: each unit on means all of its components on.
            uint64_t unit_mask[xstate::MAX_UNITS] = {};
            for ( unsigned u = 0; u < t.nr_units; ++u )
                for ( unsigned comp = t.lead[u]; comp < 63; ++comp )
                {
                    bool next_lead = u + 1 < t.nr_units && comp == t.lead[u + 1];
                    if ( next_lead )
                        break;
                    if ( ((xcr0 | xss) >> comp) & 1 )
                        unit_mask[u] |= uint64_t{1} << comp;
                }
            for ( uint32_t m = 0; m < (1u << t.nr_units); ++m )
            {
                uint64_t v = xstate::FP_SSE;
                for ( unsigned u = 0; u < t.nr_units; ++u )
                    if ( m & (1u << u) )
                        v |= unit_mask[u];
                uint64_t vx = v & xcr0, vs = v & xss;
                uint32_t ws = xstate::uncompressed_size(l, vx), wc = xstate::compacted_size(l, vx | vs);
                uint32_t ts = xstate::table_uncompressed(t, vx), tc = xstate::table_compacted(t, vx, vs);
                ++nr_checked;
                if ( ws != ts || wc != tc )
                {
                    if ( ++nr_bad <= 5 )
                        std::printf("FAIL %s: %s %s xcr0 %#llx xss %#llx: walk %u/%u table %u/%u\n",
                                    current_test, d.name.c_str(), policy_index_name(i),
                                    (unsigned long long)vx, (unsigned long long)vs, ws, wc, ts, tc);
                }
            }
        }
    expect_eq("combinations disagreeing", 0u, nr_bad);
    expect("combinations checked > 3000 (" + str(nr_checked) + ")", nr_checked > 3000);
}

void size_tables_refuse_impossible_layouts()
{
    xstate::Layout l{};
    l.size[2] = 250;  // not a multiple of 8
    l.offset[2] = 576;
    xstate::SizeTables t;
    expect_eq("odd size", -err::einval, xstate::size_tables_build(t, l, 0x7, 0));
    xstate::Layout many{};
    uint64_t mask = 3;
    for ( unsigned c = 20; c < 40; ++c )  // 20 singleton units > MAX_UNITS
    {
        many.size[c] = 8;
        mask |= uint64_t{1} << c;
    }
    expect_eq("too many units", -err::e2big, xstate::size_tables_build(t, many, mask, 0));
    // guest_cpuid_prepare passes the refusal on and leaves the context alone.
    Policy p = sdm_policy();
    at(p, Leaf{0xd}, Subleaf{2})->a = 250;
    GuestCpuidCtx c{};
    c.basic_max = 0x77;
    expect_eq("prepare refuses", -err::einval, guest_cpuid_prepare(c, p));
    expect_eq("context untouched", 0x77u, c.basic_max);
}

// ====================================================================================
// Ranges
// ====================================================================================

struct RangeCase {
    uint32_t leaf, subleaf;
    const char *why;
};
void out_of_range_leaves_read_zero()
{
    const Policy &raw = dump("SapphireRapids");
    Policy p = derive(raw, PolicyIndex::hvm_default);
    GuestCpuidCtx c = prepare(p);
    VcpuState v;
    const uint32_t basic_max = basic_max_leaf(p);
    expect("premise: SPR max basic leaf < 0x24", basic_max < 0x24);
    const RangeCase cases[] = {
        {basic_max + 1, 0, "above the max basic leaf (Xen/AMD model, not Intel's)"},
        {0x24, 0, "last leaf the object holds, above max"},
        {0x25, 0, "beyond the object"},
        {0x3fffffff, 0, "below the hypervisor range"},
        {0x40000200, 0, "above Xen's windows"},
        {0x80000029, 0, "beyond the object's extended range"},
        {0x8000ffff, 0, "extended, far out"},
        {0xc0000000, 0, "Centaur range"},
        {0xffffffff, 0, "top"},
        {0x7, 4, "leaf 7 subleaf above 7:0.EAX"},
        {0x7, 0xffffffff, "leaf 7 subleaf far out"},
        {0x4, 8, "leaf 4 subleaf beyond the object"},
        {0xd, 63, "xstate subleaf 63"},
        {0xd, 17, "TILECFG: not offered"},
        {0x8000001d, 9, "indexed extended leaf beyond the object"},
    };
    for ( const auto &k : cases )
    {
        char w[128];
        std::snprintf(w, sizeof(w), "%#x:%#x (%s)", k.leaf, k.subleaf, k.why);
        expect_eq(std::string(w), show(Regs{}), show(Q(c, p, v, k.leaf, k.subleaf)));
    }

    // A default policy whose host has a lower extended max: above it, zeros.
    Policy neh = derive(dump("Nehalem"), PolicyIndex::hvm_default);
    GuestCpuidCtx cn = prepare(neh);
    expect("premise: Nehalem max basic leaf 0xb", basic_max_leaf(neh) == 0xb);
    expect_eq("Nehalem: leaf 0xd above max", show(Regs{}), show(Q(cn, neh, v, 0xd, 0)));
    expect_eq("Nehalem: extended above max", show(Regs{}),
              show(Q(cn, neh, v, extd_max_leaf(neh) + 1)));
    // No XSAVE: leaf 0xd reads zero even within range.
    Policy hsw = derive(dump("HaswellEP"), PolicyIndex::hvm_default, "cpuid=no-xsave");
    GuestCpuidCtx ch = prepare(hsw);
    expect_eq("no xsave: 0xd:0", show(Regs{}), show(Q(ch, hsw, v, 0xd, 0)));
}

// Everything that is not dynamic is the policy's own slot, leaf for leaf.
void static_leaves_come_from_the_policy()
{
    const uint32_t dynamic[] = {0x1, 0x7, 0xb, 0xd, 0x1f, 0x80000001};
    unsigned n = 0;
    for ( const auto &d : dumps() )
    {
        Policy p = derive(d.p, PolicyIndex::hvm_default);
        GuestCpuidCtx c = prepare(p);
        VcpuState v;
        for ( uint32_t i = 0; i < NR_BASIC + NR_EXTD; ++i )
        {
            uint32_t leaf = i < NR_BASIC ? i : EXTD_FIRST + (i - NR_BASIC);
            bool dyn = false;
            for ( uint32_t x : dynamic )
                dyn = dyn || x == leaf;
            if ( dyn )
                continue;
            uint32_t nr = 1;
            bool indexed = leaf_kind(Leaf{leaf}, &nr) == LeafKind::indexed;
            for ( uint32_t s = 0; s < nr; ++s )
            {
                bool in = policy_in_range(p, Leaf{leaf}, Subleaf{indexed ? s : NO_SUBLEAF});
                Regs want = in ? R(p, leaf, indexed ? s : NO_SUBLEAF) : Regs{};
                Regs got = Q(c, p, v, leaf, s);
                ++n;
                if ( !(want == got) )
                    expect_eq(d.name + " " + hex(leaf) + ":" + str(s), show(want), show(got));
            }
        }
    }
    // Every slot but the 79 of the dynamic leaves (1, 7 x4, 0xb x4, 0xd x63, 0x1f x6,
    // 0x80000001), in each of the twenty dumps.
    expect_eq("slots compared", 20u * (NR_POLICY_SLOTS - 79), n);
}

// ====================================================================================
// Dynamic parts
// ====================================================================================

struct ApicCase {
    uint32_t vcpu_id;
    uint32_t initial_apic_id;  // leaf 1 EBX[31:24]: 8 bits
    uint32_t x2apic_id;        // 0xb / 0x1f EDX: 32 bits
};
void apic_ids_follow_the_vcpu_id()
{
    const ApicCase cases[] = {
        {0, 0, 0}, {1, 2, 2}, {5, 10, 10}, {127, 254, 254}, {128, 0, 256}, {1000, 0xd0, 2000},
    };
    const Policy &raw = dump("SapphireRapids");
    Policy p = derive(raw, PolicyIndex::hvm_default);
    GuestCpuidCtx c = prepare(p);
    Policy pv = derive(raw, PolicyIndex::pv_default);
    GuestConfig pvcfg;
    pvcfg.hvm = false;
    GuestCpuidCtx cpv = prepare(pv, pvcfg);
    for ( const auto &k : cases )
    {
        VcpuState v;
        v.vcpu_id = k.vcpu_id;
        std::string w = "vcpu " + str(k.vcpu_id) + ": ";
        Regs l1 = Q(c, p, v, 1);
        expect_eq(w + "leaf 1 initial APIC ID", k.initial_apic_id, l1.b >> 24);
        expect_eq(w + "leaf 1 rest of EBX", R(p, 1).b & 0x00ffffffu, l1.b & 0x00ffffffu);
        for ( uint32_t leaf : {0xbu, 0x1fu} )
            for ( uint32_t s : {0u, 1u, 5u} )
            {
                Regs t = Q(c, p, v, leaf, s);
                expect_eq(w + hex(leaf) + ":" + str(s) + " x2APIC ID", k.x2apic_id, t.d);
                expect_eq(w + hex(leaf) + ":" + str(s) + " ECX[7:0] = subleaf", s, t.c & 0xff);
            }
        expect_eq(w + "PV: no initial APIC ID", 0u, Q(cpv, pv, v, 1).b >> 24);
    }
    // Without x2APIC in the policy the topology leaves stay as the policy has them.
    Policy nox = derive(raw, PolicyIndex::pv_default);
    GuestCpuidCtx cn = prepare(nox, pvcfg);
    VcpuState v;
    v.vcpu_id = 3;
    expect("premise: pv-default has no x2apic", !policy_to_featureset(nox).test(feature_named("x2apic")));
    expect_eq("no x2apic: 0xb:0", show(R(nox, 0xb, 0)), show(Q(cn, nox, v, 0xb, 0)));
}

struct Cr4Case {
    uint64_t cr4;
    bool osxsave, ospke;
};
void osxsave_and_ospke_follow_cr4()
{
    const Cr4Case cases[] = {
        {0, false, false},
        {CR4_OSXSAVE, true, false},
        {CR4_PKE, false, true},
        {CR4_OSXSAVE | CR4_PKE, true, true},
        {~0ull & ~(CR4_OSXSAVE | CR4_PKE), false, false},  // every other bit is ignored
    };
    const Policy &raw = dump("SapphireRapids");
    Policy p = derive(raw, PolicyIndex::hvm_default);
    GuestCpuidCtx c = prepare(p);
    for ( const auto &k : cases )
    {
        VcpuState v;
        v.cr4 = k.cr4;
        std::string w = "cr4 " + hex(k.cr4) + ": ";
        Regs l1 = Q(c, p, v, 1), l7 = Q(c, p, v, 7, 0);
        expect_eq(w + "OSXSAVE", k.osxsave, bool(l1.c & (1u << 27)));
        expect_eq(w + "OSPKE", k.ospke, bool(l7.c & (1u << 4)));
        expect_eq(w + "other leaf 1 ECX bits", R(p, 1).c, l1.c & ~(1u << 27));
        expect_eq(w + "other 7:0 ECX bits", R(p, 7, 0).c, l7.c & ~(1u << 4));
        expect_eq(w + "7:1 untouched", show(R(p, 7, 1)), show(Q(c, p, v, 7, 1)));
    }
    // A policy without PKU: CR4.PKE cannot make OSPKE appear.
    Policy pv = derive(raw, PolicyIndex::pv_default);
    GuestCpuidCtx cpv = prepare(pv);
    VcpuState v;
    v.cr4 = CR4_PKE;
    expect("no pku: no ospke", !(Q(cpv, pv, v, 7, 0).c & (1u << 4)));
}

void apic_disable_and_long_mode()
{
    // ICX: its dump was taken in 64-bit mode, so SYSCALL is set (SPR's was not).
    const Policy &spr = dump("ICX"), &genoa = dump("Genoa");
    Policy pi = derive(spr, PolicyIndex::hvm_default), pa = derive(genoa, PolicyIndex::hvm_default);
    GuestCpuidCtx ci = prepare(pi), ca = prepare(pa);
    VcpuState v;
    expect("APIC visible", Q(ci, pi, v, 1).d & (1u << 9));
    v.apic_enabled = false;
    expect("APIC hidden while disabled (leaf 1)", !(Q(ci, pi, v, 1).d & (1u << 9)));
    expect("AMD: APIC mirror hidden too", !(Q(ca, pa, v, 0x80000001).d & (1u << 9)));
    v.apic_enabled = true;
    expect("AMD: APIC mirror visible", Q(ca, pa, v, 0x80000001).d & (1u << 9));

    expect("Intel SYSCALL in long mode", Q(ci, pi, v, 0x80000001).d & (1u << 11));
    v.long_mode = false;
    expect("Intel SYSCALL hidden outside long mode", !(Q(ci, pi, v, 0x80000001).d & (1u << 11)));
    expect("AMD SYSCALL always", Q(ca, pa, v, 0x80000001).d & (1u << 11));
}

// ====================================================================================
// Xen's leaves
// ====================================================================================

struct HvCase {
    const char *what;
    bool hvm;
    uint32_t hv_limit, hv2_limit;
    uint32_t base, last;  // expected window and highest index
};
void xen_hypervisor_leaves()
{
    const HvCase cases[] = {
        {"HVM default", true, 0x40000004, 0, 0x40000000, 4},
        {"PV default", false, 0x40000005, 0, 0x40000000, 5},
        {"HVM limit 0 = default", true, 0, 0, 0x40000000, 4},
        {"HVM limit clamped to 2", true, 0x40000001, 0, 0x40000000, 2},
        {"PV limit above 5 clamped", false, 0x400000ff, 0, 0x40000000, 5},
        {"Xen wire form (index)", true, 3, 0, 0x40000000, 3},
        {"Viridian: Xen at 0x40000100", true, 0x40000004, 0x40000104, 0x40000100, 4},
        {"PV ignores hv2_limit", false, 0x40000005, 0x40000104, 0x40000000, 5},
    };
    const Policy &raw = dump("SapphireRapids");
    Policy base = derive(raw, PolicyIndex::hvm_default);
    for ( const auto &k : cases )
    {
        Policy p = base;
        p.hv_limit = k.hv_limit;
        p.hv2_limit = k.hv2_limit;
        GuestConfig cfg;
        cfg.hvm = k.hvm;
        cfg.domid = 7;
        GuestCpuidCtx c = prepare(p, cfg);
        VcpuState v;
        v.vcpu_id = 3;
        std::string w = std::string(k.what) + ": ";
        expect_eq(w + "signature leaf",
                  show(Regs{k.base + k.last, XEN_SIGNATURE_EBX, XEN_SIGNATURE_ECX, XEN_SIGNATURE_EDX}),
                  show(Q(c, p, v, k.base)));
        expect_eq(w + "version", show(Regs{0x00040011, 0, 0, 0}), show(Q(c, p, v, k.base + 1)));
        expect_eq(w + "hypercall page",
                  show(Regs{1, k.base == 0x40000100 ? 0x40000200u : 0x40000000u,
                            k.hvm ? 0u : 1u, 0}),
                  show(Q(c, p, v, k.base + 2)));
        expect_eq(w + "beyond the last leaf", show(Regs{}), show(Q(c, p, v, k.base + k.last + 1)));
        if ( k.last >= 4 )
            expect_eq(w + "leaf 4",
                      show(k.hvm ? Regs{(1u << 2) | (1u << 3) | (1u << 4), 3, 7, 0} : Regs{}),
                      show(Q(c, p, v, k.base + 4, 0)));
        if ( k.last >= 5 )
            expect_eq(w + "leaf 5 (PV: machine address width)",
                      show(Regs{0, R(p, 0x80000008).a & 0xff, 0, 0}), show(Q(c, p, v, k.base + 5, 0)));
        if ( k.base == 0x40000100 )
            expect_eq(w + "Viridian window not implemented: zeros", show(Regs{}),
                      show(Q(c, p, v, 0x40000000)));
    }
    // The signature spells XenVMMXenVMM.
    expect_eq("signature", std::string("XenVMMXenVMM"),
              std::string(reinterpret_cast<const char *>(&XEN_SIGNATURE_EBX), 4) +
                  std::string(reinterpret_cast<const char *>(&XEN_SIGNATURE_ECX), 4) +
                  std::string(reinterpret_cast<const char *>(&XEN_SIGNATURE_EDX), 4));
}

void context_is_bound_to_its_policy()
{
    const Policy &raw = dump("SapphireRapids");
    Policy a = derive(raw, PolicyIndex::hvm_default), b = a;
    GuestCpuidCtx c = prepare(a);
    VcpuState v;
    expect("own policy answers", !(Q(c, a, v, 0) == Regs{}));
    expect_eq("another policy object: zeros", show(Regs{}), show(Q(c, b, v, 0)));
}


// ====================================================================================
// Prepared answers (VcpuCpuid) against the answer computed from scratch
// ====================================================================================

// Every question a guest can ask, as far as the answers can differ: each leaf of the
// basic and extended ranges and two past each, Xen's two windows, far leaves; each with
// every subleaf the object holds, two beyond, and far subleaves.
std::vector<std::pair<uint32_t, uint32_t>> all_questions()
{
    std::vector<std::pair<uint32_t, uint32_t>> q;
    auto add = [&](uint32_t leaf) {
        uint32_t nr = 1;
        leaf_kind(Leaf{leaf}, &nr);
        for ( uint32_t s = 0; s < nr + 2; ++s )
            q.push_back({leaf, s});
        for ( uint32_t s : {63u, 64u, 0x100u, 0x80000000u, NO_SUBLEAF} )
            q.push_back({leaf, s});
    };
    for ( uint32_t l = BASIC_FIRST; l <= BASIC_LAST + 2; ++l )
        add(l);
    for ( uint32_t l = EXTD_FIRST; l <= EXTD_LAST + 2; ++l )
        add(l);
    for ( uint32_t base : {HV_LEAF, HV2_LEAF} )
        for ( uint32_t i = 0; i < 8; ++i )
            add(base + i);
    for ( uint32_t l : {0x3fffffffu, 0x400000ffu, 0x400001ffu, 0x40000200u, 0x7fffffffu, 0x8000ffffu,
                        0xc0000000u, 0xffffffffu} )
        add(l);
    return q;
}

// The prepared answer to every question equals guest_cpuid_compute on the vCPU's state;
// the number of questions that differ (the first few printed).
unsigned nr_differing(const GuestCpuidCtx &c, const Policy &p, const VcpuCpuid &vc,
                      const std::string &what)
{
    static const std::vector<std::pair<uint32_t, uint32_t>> qs = all_questions();
    unsigned bad = 0;
    for ( const auto &[leaf, sub] : qs )
    {
        Regs want = guest_cpuid_compute(c, p, vc.state(), Leaf{leaf}, Subleaf{sub});
        Regs got = guest_cpuid(c, vc, Leaf{leaf}, Subleaf{sub});
        if ( !(want == got) && ++bad <= 3 )
            std::printf("FAIL %s: %s %s:%s: computed %s, prepared %s\n", current_test, what.c_str(),
                        hex(leaf).c_str(), hex(sub).c_str(), show(want).c_str(), show(got).c_str());
    }
    return bad;
}

// vCPU states that exercise every fix-up: the reset state, everything the policy offers
// enabled, an APIC ID that no longer fits leaf 1's 8 bits, the APIC disabled outside long
// mode, and XCR0/XSS with bits the policy does not offer (ignored by the sizes).
std::vector<std::pair<std::string, VcpuState>> states_for(const Policy &p)
{
    std::vector<std::pair<std::string, VcpuState>> v;
    VcpuState s;
    v.push_back({"reset", s});
    s.vcpu_id = 5;
    s.cr4 = CR4_OSXSAVE | CR4_PKE;
    s.xcr0 = xstate::policy_xcr0(p) | 1;
    s.xss = xstate::policy_xss(p);
    v.push_back({"all offered", s});
    s.vcpu_id = 200;
    s.xcr0 = 0x7;
    s.xss = 0;
    v.push_back({"vcpu 200, x87|SSE|AVX", s});
    s.apic_enabled = false;
    s.long_mode = false;
    s.cr4 = CR4_PKE;
    v.push_back({"APIC off, not long mode", s});
    s.xcr0 = ~0ull;
    s.xss = ~0ull;
    s.cr4 = ~0ull;
    v.push_back({"every bit set", s});
    return v;
}

void prepared_answers_equal_the_reference_everywhere()
{
    unsigned nr_sweeps = 0, nr_bad = 0;
    for ( const auto &d : dumps() )
        for ( int n = 0; n < 5; ++n )
        {
            // Four derived policies, and one whose limits were cut below data it still
            // holds (derivation clears what is out of range; a policy set by a toolstack
            // need not): max basic leaf 7 with 7:0.EAX 0, max extended leaf 0x80000001,
            // XSAVE cleared with leaf 0xd kept - all of which must read as zeros.
            const PolicyIndex idx[] = {PolicyIndex::host, PolicyIndex::hvm_max,
                                       PolicyIndex::hvm_default, PolicyIndex::pv_default,
                                       PolicyIndex::host};
            const PolicyIndex i = idx[n];
            Policy p = derive(d.p, i);
            if ( n == 4 )
            {
                at(p, Leaf{0})->a = min32(at(p, Leaf{0})->a, 7);
                at(p, Leaf{7}, Subleaf{0})->a = 0;
                at(p, Leaf{0x80000000u})->a = 0x80000001u;
                at(p, Leaf{1})->c &= ~(1u << 26);
            }
            p.hv2_limit = nr_sweeps % 3 == 0 ? 0x40000104 : 0;  // Xen's leaves in either window
            GuestConfig cfg;
            cfg.hvm = i != PolicyIndex::pv_default;
            cfg.domid = 9;
            GuestCpuidCtx c = prepare(p, cfg);
            for ( const auto &[what, st] : states_for(p) )
            {
                VcpuCpuid vc;
                vc.load(c, st);
                nr_bad += nr_differing(c, p, vc,
                                       d.name + " " + policy_index_name(i) + " " + what) != 0;
                ++nr_sweeps;
            }
        }
    expect_eq("sweeps with a differing answer", 0u, nr_bad);
    expect_eq("sweeps (20 dumps x 5 policies x 5 states)", 500u, nr_sweeps);
}

// A vCPU's prepared answers follow every state change through the calls that make it,
// step by step on one vCPU (GNR host policy: XCR0 0x602e7 and XSS 0xdd00 offered, PKU).
// A refused write changes nothing.  After each step the sizes are checked against the
// SDM's numbers (and what the hardware itself reported for 0x602e7|PT), against the
// component walk, and the whole answer set against guest_cpuid_compute - so an answer
// left stale by XSETBV, an XSS write or a CR4 write fails here.
enum class Op { cr4, xcr0, xss };
struct Step {
    const char *what;
    Op op;
    uint64_t value;
    int rc;
    bool osxsave, ospke;
    uint32_t standard, compacted;  // 0xd:0 EBX, 0xd:1 EBX; compacted 0: the walk's value
};
void prepared_answers_follow_cr4_xcr0_and_xss()
{
    constexpr uint64_t OSX = CR4_OSXSAVE, PKE = CR4_PKE, CET = 0x1800, PT = 0x100;
    const Step steps[] = {
        {"XSETBV before CR4.OSXSAVE: #UD", Op::xcr0, 0x7, -err::einval, false, false, 576, 576},
        {"CR4.OSXSAVE", Op::cr4, OSX, 0, true, false, 576, 576},
        {"XCR0 x87|SSE|AVX", Op::xcr0, 0x7, 0, true, false, 832, 832},
        {"XCR0 + AVX-512", Op::xcr0, 0xe7, 0, true, false, 2688, 2432},
        {"XSS CET_U|CET_S", Op::xss, CET, 0, true, false, 2688, 0},
        {"XCR0 opmask without ZMM state: #GP", Op::xcr0, 0x27, -err::einval, true, false, 2688, 0},
        {"XSS with a bit not offered: #GP", Op::xss, CET | 0x1, -err::einval, true, false, 2688, 0},
        {"CR4.PKE", Op::cr4, OSX | PKE, 0, true, true, 2688, 0},
        {"XCR0 + PKRU + AMX", Op::xcr0, 0x602e7, 0, true, true, 11008, 0},
        {"XSS PT (as the dump's OS had it)", Op::xss, PT, 0, true, true, 11008, 0x2a80},
        {"XSS 0", Op::xss, 0, 0, true, true, 11008, 10752},
        {"CR4 0: OSXSAVE and OSPKE clear, XCR0 kept", Op::cr4, 0, 0, false, false, 11008, 10752},
        {"XSETBV after CR4.OSXSAVE cleared: #UD", Op::xcr0, 0x7, -err::einval, false, false, 11008, 10752},
    };
    Policy p = derive(dump("GraniteRapids"), PolicyIndex::host);
    expect_eq("premise: XCR0 offered", hex(0x602e7), hex(xstate::policy_xcr0(p)));
    expect_eq("premise: XSS offered", hex(0xdd00), hex(xstate::policy_xss(p)));
    expect("premise: PKU offered", policy_to_featureset(p).test(feature_named("pku")));
    GuestCpuidCtx c = prepare(p);
    xstate::Layout l;
    xstate::layout_of(l, p);
    VcpuCpuid vc;
    vc.load(c, VcpuState{});
    for ( const Step &k : steps )
    {
        const VcpuState before = vc.state();
        int rc = k.op == Op::cr4 ? (vc.set_cr4(c, k.value), 0)
                 : k.op == Op::xcr0 ? vc.set_xcr0(c, k.value)
                                    : vc.set_xss(c, k.value);
        const std::string w = std::string(k.what) + ": ";
        expect_eq(w + "rc", k.rc, rc);
        const VcpuState &s = vc.state();
        if ( rc )
            expect(w + "refused: state unchanged", s.cr4 == before.cr4 && s.xcr0 == before.xcr0 &&
                                                       s.xss == before.xss);
        Regs l1 = guest_cpuid(c, vc, Leaf{1}, Subleaf{0});
        Regs l7 = guest_cpuid(c, vc, Leaf{7}, Subleaf{0});
        Regs x0 = guest_cpuid(c, vc, Leaf{0xd}, Subleaf{0});
        Regs x1 = guest_cpuid(c, vc, Leaf{0xd}, Subleaf{1});
        expect_eq(w + "leaf 1 OSXSAVE", k.osxsave, bool(l1.c & (1u << 27)));
        expect_eq(w + "7:0 OSPKE", k.ospke, bool(l7.c & (1u << 4)));
        expect_eq(w + "0xd:0 EBX", k.standard, x0.b);
        expect_eq(w + "0xd:0 EBX = the walk", xstate::uncompressed_size(l, s.xcr0), x0.b);
        expect_eq(w + "0xd:1 EBX = the walk", xstate::compacted_size(l, s.xcr0 | s.xss), x1.b);
        if ( k.compacted )
            expect_eq(w + "0xd:1 EBX", k.compacted, x1.b);
        expect_eq(w + "every answer as computed", 0u, nr_differing(c, p, vc, k.what));
    }
}

// A context prepared again for another policy, and the vCPU loaded with it, answers from
// the new policy and keeps the vCPU's own parts (its APIC ID, XCR0).
void prepared_answers_follow_a_new_policy()
{
    const Policy &raw = dump("SapphireRapids");
    Policy a = derive(raw, PolicyIndex::hvm_default);
    Policy b = derive(raw, PolicyIndex::hvm_default, "cpuid=no-avx512f");
    GuestCpuidCtx c = prepare(a);
    VcpuState st;
    st.vcpu_id = 3;
    st.cr4 = CR4_OSXSAVE;
    VcpuCpuid vc;
    vc.load(c, st);
    expect_eq("premise: XSETBV AVX-512", 0, vc.set_xcr0(c, 0xe7));
    expect_eq("a: 0xd:0 EBX", 2688u, guest_cpuid(c, vc, Leaf{0xd}, Subleaf{0}).b);
    expect("a: AVX512F", guest_cpuid(c, vc, Leaf{7}, Subleaf{0}).b & (1u << 16));
    if ( int rc = guest_cpuid_prepare(c, b) )
        expect_eq("prepare b", 0, rc);
    vc.load(c, vc.state());
    expect("b: no AVX512F", !(guest_cpuid(c, vc, Leaf{7}, Subleaf{0}).b & (1u << 16)));
    expect_eq("b: 0xd:0 EBX, AVX-512 no longer offered", 832u,
              guest_cpuid(c, vc, Leaf{0xd}, Subleaf{0}).b);
    expect_eq("b: APIC ID kept", 6u, guest_cpuid(c, vc, Leaf{1}, Subleaf{0}).b >> 24);
    expect_eq("b: every answer as computed", 0u, nr_differing(c, b, vc, "b"));
}

} // namespace

int main()
{
    TEST(xsave_sizes_from_the_sdm_table);
    TEST(xsave_sizes_match_the_hardware);
    TEST(size_tables_equal_the_walk_everywhere);
    TEST(size_tables_refuse_impossible_layouts);
    TEST(out_of_range_leaves_read_zero);
    TEST(static_leaves_come_from_the_policy);
    TEST(apic_ids_follow_the_vcpu_id);
    TEST(osxsave_and_ospke_follow_cr4);
    TEST(apic_disable_and_long_mode);
    TEST(xen_hypervisor_leaves);
    TEST(context_is_bound_to_its_policy);
    TEST(prepared_answers_equal_the_reference_everywhere);
    TEST(prepared_answers_follow_cr4_xcr0_and_xss);
    TEST(prepared_answers_follow_a_new_policy);
    return finish();
}

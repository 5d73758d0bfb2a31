// SPDX-License-Identifier: MIT
// Micro-benchmarks of the policy core (issue 3 item 10): guest CPUID lookups, serialise,
// deserialise, deep compatibility, levelling, derivation.  A measurement, never a
// timed test: `make bench` runs it, docs/performance.md records the figures.
//
// Inputs are the real dumps (CPUPOLICY_DUMPS, default tests/data/cpuid-dumps as for the
// tests), imported once before any timing.  The core C++ API is called directly: the
// hypervisor calls it that way, and the C ABI adds only argument checks and a copy.
//
// When Xen 4.17's libxenguest is installed (libxen-dev), the xc_cpu_policy_* calls that
// work without a hypervisor (a "dummy" xc_interface) are measured on the same data for
// a side-by-side: serialise, update_cpuid (deserialise), is_compatible.  They are
// reached through dlopen() so that the build does not depend on libxen-dev.  Xen's
// object holds fewer leaves (basic 0..0xd, 4:0..5, 7:0..2, 0xb:0..1, extended up to
// 0x80000021), so the deserialise comparison feeds both the same Xen-sized entry set.
#include <benchmark/benchmark.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <cstring>
#include <map>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpupolicy/compat.hpp"
#include "cpupolicy/derive.hpp"
#include "cpupolicy/guest_cpuid.hpp"
#include "cpupolicy/level.hpp"
#include "cpupolicy/policy_ranges.hpp"
#include "cpupolicy/wire.hpp"
#include "dump_policy.hpp"

using namespace cpupolicy;

namespace {

std::string dumps_dir()
{
    const char *d = std::getenv("CPUPOLICY_DUMPS");
    return d && *d ? d : "tests/data/cpuid-dumps";
}

Policy import_or_die(const char *name)
{
    Policy p{};
    import::ImportError e;
    std::string path = dumps_dir() + "/" + name;
    if ( policy_import(p, path, 0, e) )
    {
        std::fprintf(stderr, "bench: cannot import %s: %s\n", path.c_str(),
                     import::format_error(e).c_str());
        std::exit(2);
    }
    return p;
}

Policy derive_or_die(const Policy &raw, PolicyIndex idx)
{
    Policy p{};
    if ( policy_derive(p, raw, idx, nullptr) )
    {
        std::fprintf(stderr, "bench: derive failed\n");
        std::exit(2);
    }
    return p;
}

constexpr const char *GNR = "GenuineIntel00A06D1_GraniteRapids_03.txt";
constexpr const char *SNB = "GenuineIntel00206D5_SandyBridgeEP.txt";
// Ten of the eleven Intel dumps (all but Emerald Rapids), oldest first.
constexpr const char *intel10[] = {
    "GenuineIntel00106A2_Nehalem-EP.txt",   "GenuineIntel00206D5_SandyBridgeEP.txt",
    "GenuineIntel00306E4_IvyBridgeEP.txt",  "GenuineIntel00306F2_HaswellEP.txt",
    "GenuineIntel00406F1_BroadwellE.txt",   "GenuineIntel0050654_SkylakeXeon.txt",
    "GenuineIntel0050657_CascadeLakeXeon.txt", "GenuineIntel00606A6_ICX_04.txt",
    "GenuineIntel00806F8_SapphireRapids_05.txt", "GenuineIntel00A06D1_GraniteRapids_03.txt",
};

// Leaf 0xd with XCR0 and XSS changing, on the GNR host policy (Fixture): the values the
// rows cycle through, each loaded by XSETBV / WRMSR IA32_XSS (VcpuCpuid::set_xcr0,
// set_xss - the hypervisor's paths, which check the value and refresh the vCPU's 0xd
// answers).
constexpr uint64_t X87 = 1, SSE = 2, AVX = 4, OPMASK = 0x20, ZMM = 0x40, HI16 = 0x80,
                   PKRU = 0x200, TILE = 0x60000, CET = 0x1800;
constexpr uint64_t xs_xcr0[4] = {X87 | SSE | AVX, X87 | SSE | AVX | OPMASK | ZMM | HI16,
                                 X87 | SSE | AVX | OPMASK | ZMM | HI16 | PKRU | TILE, X87 | SSE};
constexpr uint64_t xs_xss[4] = {0, 0, CET, CET};
void xs_set_or_die(VcpuCpuid &vc, const GuestCpuidCtx &ctx, unsigned i)
{
    if ( vc.set_xcr0(ctx, xs_xcr0[i & 3]) || vc.set_xss(ctx, xs_xss[i & 3]) )
    {
        std::fprintf(stderr, "bench: XSETBV/XSS write refused\n");
        std::exit(2);
    }
}

struct Fixture {
    Policy gnr_raw, gnr_hvm_max, gnr_hvm_def, snb_hvm_max, snb_hvm_def;
    // GNR hvm-max with its limits cut to the leaves Xen 4.17's object holds (max basic
    // leaf 0xd, max extended leaf 0x80000021): serialises to Xen's leaf set (64 entries;
    // Xen's 65th is leaf 4's all-zero type-0 terminator, which our format leaves out).
    Policy gnr_xen_leafset;
    Policy intel_max[10];
    std::vector<WireLeaf> gnr_leaves, xen_sized_leaves;
    std::vector<WireMsr> gnr_msrs;
    // Guest CPUID on the GNR HVM default policy, and - for the rows that change XCR0 and
    // IA32_XSS through the real set path - on the GNR host policy: it offers XCR0 0x602e7
    // and XSS 0xdd00, where no guest policy derived from the dumps offers any XSS
    // component (as Xen 4.17: none for guests), so set_xss would refuse CET there.
    Policy gnr_host;
    GuestCpuidCtx ctx, xs_ctx;
    // Prepared once, outside the timed loops (the operations run in batches of 16):
    // vCPU 3 with CR4.OSXSAVE|PKE on ctx; on xs_ctx one vCPU per XCR0/XSS state the 0xd
    // rows cycle through, and one whose state the rows change.
    VcpuCpuid vcpu, xs_vcpus[4], xs_vcpu;

    Fixture()
    {
        gnr_raw = import_or_die(GNR);
        gnr_hvm_max = derive_or_die(gnr_raw, PolicyIndex::hvm_max);
        gnr_hvm_def = derive_or_die(gnr_raw, PolicyIndex::hvm_default);
        gnr_xen_leafset = gnr_hvm_max;
        field_set(gnr_xen_leafset, field::max_basic_leaf, 0xd);
        field_set(gnr_xen_leafset, field::max_extd_leaf, 0x80000021u);
        Policy snb = import_or_die(SNB);
        snb_hvm_max = derive_or_die(snb, PolicyIndex::hvm_max);
        snb_hvm_def = derive_or_die(snb, PolicyIndex::hvm_default);
        for ( unsigned i = 0; i < 10; ++i )
            intel_max[i] = derive_or_die(import_or_die(intel10[i]), PolicyIndex::hvm_max);

        uint32_t nl = 0, nm = 0;
        (void)policy_serialise(gnr_hvm_max, nullptr, &nl, nullptr, &nm);
        gnr_leaves.resize(nl);
        gnr_msrs.resize(nm);
        if ( policy_serialise(gnr_hvm_max, gnr_leaves.data(), &nl, gnr_msrs.data(), &nm) )
            std::exit(2);
        for ( const WireLeaf &l : gnr_leaves )
            if ( xen417_holds(l.leaf, l.subleaf) )
                xen_sized_leaves.push_back(l);

        gnr_host = derive_or_die(gnr_raw, PolicyIndex::host);
        GuestConfig cfg;
        if ( guest_cpuid_prepare(ctx, gnr_hvm_def, cfg) || guest_cpuid_prepare(xs_ctx, gnr_host, cfg) )
        {
            std::fprintf(stderr, "bench: guest_cpuid_prepare failed\n");
            std::exit(2);
        }
        VcpuState v;
        v.vcpu_id = 3;
        v.cr4 = CR4_OSXSAVE | CR4_PKE;
        vcpu.load(ctx, v);
        VcpuState xv;
        xv.cr4 = CR4_OSXSAVE;
        xs_vcpu.load(xs_ctx, xv);
        for ( unsigned k = 0; k < 4; ++k )
        {
            xs_vcpus[k].load(xs_ctx, xv);
            xs_set_or_die(xs_vcpus[k], xs_ctx, k);
        }
    }

    // Xen 4.17's CPUID_GUEST_NR_* (xen/include/xen/lib/x86/cpuid.h).
    static bool xen417_holds(uint32_t leaf, uint32_t sub)
    {
        switch ( leaf ) {
        case 0x4: return sub < 6;
        case 0x7: return sub < 3;
        case 0xb: return sub < 2;
        case 0xd: return sub < 63;
        case 0x40000000u: case 0x40000100u: return sub == NO_SUBLEAF;
        default:
            return sub == NO_SUBLEAF && (leaf <= 0xd || (leaf >= 0x80000000u && leaf <= 0x80000021u));
        }
    }
};

Fixture &fx()
{
    static Fixture f;
    return f;
}

// --- guest CPUID ------------------------------------------------------------------------
struct Query {
    const char *name;
    uint32_t leaf, subleaf;
    uint64_t xcr0, xss;
};
constexpr Query queries[] = {
    {"leaf 0x1", 0x1, 0, X87 | SSE, 0},
    {"leaf 0x7:0", 0x7, 0, X87 | SSE, 0},
    {"leaf 0xd:0 xcr0=x87|sse|avx", 0xd, 0, X87 | SSE | AVX, 0},
    {"leaf 0xd:0 xcr0=avx512|pkru|amx", 0xd, 0, X87 | SSE | AVX | OPMASK | ZMM | HI16 | PKRU | TILE, 0},
    {"leaf 0xd:1 xcr0|xss=avx512|cet", 0xd, 1, X87 | SSE | AVX | OPMASK | ZMM | HI16, CET},
    {"leaf 0xd:2", 0xd, 2, X87 | SSE | AVX, 0},
    {"leaf 0xb:1 (x2APIC id)", 0xb, 1, X87 | SSE, 0},
    {"leaf 0x80000001", 0x80000001u, 0, X87 | SSE, 0},
    {"leaf 0x40000000 (Xen)", 0x40000000u, 0, X87 | SSE, 0},
    {"leaf 0x30 (out of range)", 0x30, 0, X87 | SSE, 0},
};

// The leaf and subleaf come from the guest's registers: opaque to the compiler
// (DoNotOptimize), so that the inline lookup cannot be folded for a known leaf.
void BM_guest_cpuid(benchmark::State &st, const Query &q)
{
    Fixture &f = fx();
    VcpuState v;
    v.vcpu_id = 3;
    v.cr4 = CR4_OSXSAVE | CR4_PKE;
    v.xcr0 = q.xcr0;
    v.xss = q.xss;
    VcpuCpuid vc;
    vc.load(f.ctx, v);
    for ( auto _ : st )
    {
        uint32_t l = q.leaf, s = q.subleaf;
        benchmark::DoNotOptimize(l);
        benchmark::DoNotOptimize(s);
        Regs r = guest_cpuid(f.ctx, vc, Leaf{l}, Subleaf{s});
        benchmark::DoNotOptimize(r);
    }
}

// A mix: a guest's boot-time CPUID sweep of 16 (leaf, subleaf) pairs, XCR0 changing
// (XSETBV) before each sweep.
void BM_guest_cpuid_mix(benchmark::State &st)
{
    Fixture &f = fx();
    static constexpr uint32_t mix[16][2] = {
        {0, 0}, {1, 0}, {7, 0}, {7, 1}, {0xd, 0}, {0xd, 1}, {0xd, 2}, {0xd, 5},
        {0xb, 0}, {0xb, 1}, {0x80000000u, 0}, {0x80000001u, 0}, {0x80000008u, 0},
        {0x40000000u, 0}, {0x14, 0}, {0x24, 0},
    };
    VcpuState v;
    v.cr4 = CR4_OSXSAVE;
    VcpuCpuid vc;
    vc.load(f.ctx, v);
    unsigned i = 0;
    for ( auto _ : st )
    {
        if ( (i & 15) == 0 &&
             vc.set_xcr0(f.ctx, (i & 16) ? (X87 | SSE | AVX | OPMASK | ZMM | HI16) : (X87 | SSE | AVX)) )
            return st.SkipWithError("XSETBV refused");
        uint32_t l = mix[i & 15][0], s = mix[i & 15][1];
        benchmark::DoNotOptimize(l);
        Regs r = guest_cpuid(f.ctx, vc, Leaf{l}, Subleaf{s});
        benchmark::DoNotOptimize(r);
        ++i;
    }
}
BENCHMARK(BM_guest_cpuid_mix);

void BM_guest_cpuid_prepare(benchmark::State &st)
{
    Fixture &f = fx();
    GuestCpuidCtx ctx;
    for ( auto _ : st )
    {
        int rc = guest_cpuid_prepare(ctx, f.gnr_hvm_def);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(ctx);
    }
}
BENCHMARK(BM_guest_cpuid_prepare);

// The reference the precomputed tables replace: walking the components per query, as
// Xen's xstate size recomputation does (the layout itself already extracted).
void BM_xstate_walk_uncompressed(benchmark::State &st)
{
    xstate::Layout l;
    xstate::layout_of(l, fx().gnr_hvm_def);
    uint64_t xcr0 = X87 | SSE | AVX | OPMASK | ZMM | HI16 | PKRU | TILE;
    for ( auto _ : st )
    {
        benchmark::DoNotOptimize(xcr0);
        uint32_t sz = xstate::uncompressed_size(l, xcr0);
        benchmark::DoNotOptimize(sz);
    }
}
BENCHMARK(BM_xstate_walk_uncompressed);

void BM_xstate_walk_compacted(benchmark::State &st)
{
    xstate::Layout l;
    xstate::layout_of(l, fx().gnr_hvm_def);
    uint64_t v = X87 | SSE | AVX | OPMASK | ZMM | HI16 | CET;
    for ( auto _ : st )
    {
        benchmark::DoNotOptimize(v);
        uint32_t sz = xstate::compacted_size(l, v);
        benchmark::DoNotOptimize(sz);
    }
}
BENCHMARK(BM_xstate_walk_compacted);

// --- wire format --------------------------------------------------------------------------
// A buffer of MAX_SERIALISED_LEAVES, as callers usually size it: written in one pass.
void BM_serialise(benchmark::State &st)
{
    Fixture &f = fx();
    std::vector<WireLeaf> leaves(MAX_SERIALISED_LEAVES);
    WireMsr msrs[MAX_SERIALISED_MSRS];
    for ( auto _ : st )
    {
        uint32_t nl = MAX_SERIALISED_LEAVES, nm = MAX_SERIALISED_MSRS;
        int rc = policy_serialise(f.gnr_hvm_max, leaves.data(), &nl, msrs, &nm);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
    st.counters["leaves"] = static_cast<double>(f.gnr_leaves.size());
}
BENCHMARK(BM_serialise);

// A buffer of exactly the required size: below MAX_SERIALISED_LEAVES, so the count is
// worked out first (nothing may be written on -ENOBUFS), then the leaves are written.
void BM_serialise_exact_buffer(benchmark::State &st)
{
    Fixture &f = fx();
    std::vector<WireLeaf> leaves(f.gnr_leaves.size());
    WireMsr msrs[MAX_SERIALISED_MSRS];
    for ( auto _ : st )
    {
        uint32_t nl = static_cast<uint32_t>(leaves.size()), nm = MAX_SERIALISED_MSRS;
        int rc = policy_serialise(f.gnr_hvm_max, leaves.data(), &nl, msrs, &nm);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
    st.counters["leaves"] = static_cast<double>(f.gnr_leaves.size());
}
BENCHMARK(BM_serialise_exact_buffer);

void BM_serialise_size_query(benchmark::State &st)
{
    Fixture &f = fx();
    for ( auto _ : st )
    {
        uint32_t nl = 0, nm = 0;
        int rc = policy_serialise(f.gnr_hvm_max, nullptr, &nl, nullptr, &nm);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(nl);
    }
}
BENCHMARK(BM_serialise_size_query);

void deserialise(benchmark::State &st, const std::vector<WireLeaf> &leaves)
{
    Fixture &f = fx();
    Policy p{};
    for ( auto _ : st )
    {
        ErrRecord e;
        int rc = policy_deserialise(p, leaves.data(), static_cast<uint32_t>(leaves.size()),
                                    f.gnr_msrs.data(), static_cast<uint32_t>(f.gnr_msrs.size()), &e);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
    st.counters["leaves"] = static_cast<double>(leaves.size());
}
void BM_deserialise(benchmark::State &st) { deserialise(st, fx().gnr_leaves); }
void BM_deserialise_xen_sized(benchmark::State &st) { deserialise(st, fx().xen_sized_leaves); }
BENCHMARK(BM_deserialise);
BENCHMARK(BM_deserialise_xen_sized);

// --- compatibility, levelling, derivation ----------------------------------------------------
void BM_is_compatible(benchmark::State &st)
{
    Fixture &f = fx();
    // Compatible pair: every check runs to the end (the slowest case).
    for ( auto _ : st )
    {
        ErrRecord e;
        int rc = policy_is_compatible(f.gnr_hvm_max, f.snb_hvm_def, &e, nullptr);
        benchmark::DoNotOptimize(rc);
    }
}
BENCHMARK(BM_is_compatible);

void BM_is_compatible_with_missing(benchmark::State &st)
{
    Fixture &f = fx();
    // Incompatible pair, with the complete missing-feature set computed.
    for ( auto _ : st )
    {
        ErrRecord e;
        Featureset missing;
        int rc = policy_is_compatible(f.snb_hvm_max, f.gnr_hvm_def, &e, &missing);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(missing);
    }
}
BENCHMARK(BM_is_compatible_with_missing);

// The building block of the two above and of levelling: one policy's in-range slots,
// computed once per call (policy_ranges.hpp), against one policy_in_range() question
// (a terminator rule: 0x4:3 is in range only if 0x4:0..3 all describe a cache).
void BM_policy_ranges(benchmark::State &st)
{
    Fixture &f = fx();
    for ( auto _ : st )
    {
        benchmark::DoNotOptimize(&f.gnr_hvm_max);
        PolicyRanges r = policy_ranges(f.gnr_hvm_max);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_policy_ranges);

void BM_policy_in_range_one(benchmark::State &st)
{
    Fixture &f = fx();
    for ( auto _ : st )
    {
        benchmark::DoNotOptimize(&f.gnr_hvm_max);
        bool in = policy_in_range(f.gnr_hvm_max, 0x4_leaf, 3_subleaf);
        benchmark::DoNotOptimize(in);
    }
}
BENCHMARK(BM_policy_in_range_one);

void BM_level_10_intel(benchmark::State &st)
{
    Fixture &f = fx();
    const Policy *in[10];
    for ( unsigned i = 0; i < 10; ++i )
        in[i] = &f.intel_max[i];
    Policy out{};
    for ( auto _ : st )
    {
        uint32_t bad;
        int rc = policy_level(out, in, 10, &bad);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_level_10_intel);

void BM_derive(benchmark::State &st)
{
    Fixture &f = fx();
    PolicyIndex idx = static_cast<PolicyIndex>(st.range(0));
    Policy out{};
    for ( auto _ : st )
    {
        int rc = policy_derive(out, f.gnr_raw, idx, nullptr);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
    st.SetLabel(policy_index_name(idx));
}
BENCHMARK(BM_derive)->DenseRange(0, NR_POLICY_INDEX - 1);

void BM_derive_with_boot_options(benchmark::State &st)
{
    Fixture &f = fx();
    Policy out{};
    for ( auto _ : st )
    {
        int rc = policy_derive(out, f.gnr_raw, PolicyIndex::hvm_default,
                               "cpuid=no-avx512f,no-rtm tsx=0");
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_derive_with_boot_options);

// --- Xen 4.17 side by side (optional) ---------------------------------------------------------
struct Xen {
    void *xch = nullptr;
    void *(*policy_init)() = nullptr;
    void (*policy_destroy)(void *) = nullptr;
    int (*serialise)(void *, const void *, WireLeaf *, uint32_t *, WireMsr *, uint32_t *) = nullptr;
    int (*update_cpuid)(void *, void *, const WireLeaf *, uint32_t) = nullptr;
    int (*update_msrs)(void *, void *, const WireMsr *, uint32_t) = nullptr;
    bool (*is_compatible)(void *, void *, void *) = nullptr;
    // x86_cpu_policy_to_featureset(const struct cpu_policy *, uint32_t fs[]): an
    // xc_cpu_policy_t begins with its struct cpu_policy (tools/libs/guest/xg_private.h),
    // checked against our own featureset when loading.
    void (*to_featureset)(const void *, uint32_t *) = nullptr;
    void *host = nullptr, *guest = nullptr;
    // The incompatible pair: SNB hvm-max as the host, GNR hvm-default as the guest.
    void *snb_host = nullptr, *gnr_guest = nullptr;
    bool ok = false;
};

Xen &xen()
{
    static Xen x = [] {
        Xen r;
        void *ctrl = dlopen("libxenctrl.so.4.17", RTLD_NOW | RTLD_GLOBAL);
        void *guest = ctrl ? dlopen("libxenguest.so.4.17", RTLD_NOW) : nullptr;
        if ( !guest )
            return r;
        auto open = reinterpret_cast<void *(*)(void *, void *, unsigned)>(
            dlsym(ctrl, "xc_interface_open"));
        r.policy_init = reinterpret_cast<void *(*)()>(dlsym(guest, "xc_cpu_policy_init"));
        r.policy_destroy = reinterpret_cast<void (*)(void *)>(dlsym(guest, "xc_cpu_policy_destroy"));
        r.serialise = reinterpret_cast<decltype(r.serialise)>(dlsym(guest, "xc_cpu_policy_serialise"));
        r.update_cpuid = reinterpret_cast<decltype(r.update_cpuid)>(
            dlsym(guest, "xc_cpu_policy_update_cpuid"));
        r.update_msrs = reinterpret_cast<decltype(r.update_msrs)>(
            dlsym(guest, "xc_cpu_policy_update_msrs"));
        r.is_compatible = reinterpret_cast<decltype(r.is_compatible)>(
            dlsym(guest, "xc_cpu_policy_is_compatible"));
        r.to_featureset = reinterpret_cast<decltype(r.to_featureset)>(
            dlsym(guest, "x86_cpu_policy_to_featureset"));
        if ( !open || !r.policy_init || !r.serialise || !r.update_cpuid || !r.update_msrs ||
             !r.is_compatible || !r.to_featureset )
            return r;
        // XC_OPENFLAG_DUMMY (1): an xc_interface for logging only, no hypervisor.
        r.xch = open(nullptr, nullptr, 1);
        r.host = r.policy_init();
        r.guest = r.policy_init();
        r.snb_host = r.policy_init();
        r.gnr_guest = r.policy_init();
        if ( !r.xch || !r.host || !r.guest || !r.snb_host || !r.gnr_guest )
            return r;
        Fixture &f = fx();
        auto load = [&](void *pol, const Policy &p) {
            std::vector<WireLeaf> l(MAX_SERIALISED_LEAVES), keep;
            WireMsr m[MAX_SERIALISED_MSRS];
            uint32_t nl = MAX_SERIALISED_LEAVES, nm = MAX_SERIALISED_MSRS;
            if ( policy_serialise(p, l.data(), &nl, m, &nm) )
                return false;
            for ( uint32_t i = 0; i < nl; ++i )
                if ( Fixture::xen417_holds(l[i].leaf, l[i].subleaf) )
                    keep.push_back(l[i]);
            return !r.update_cpuid(r.xch, pol, keep.data(), static_cast<uint32_t>(keep.size())) &&
                   !r.update_msrs(r.xch, pol, m, nm);
        };
        r.ok = load(r.host, f.gnr_hvm_max) && load(r.guest, f.snb_hvm_def) &&
               load(r.snb_host, f.snb_hvm_max) && load(r.gnr_guest, f.gnr_hvm_def) &&
               r.is_compatible(r.xch, r.host, r.guest);
        // (Xen 4.17 calls GNR's hvm-default compatible with SNB's hvm-max: it compares
        // the max leaves it holds and CPUID faulting only.  The featureset difference
        // is what the incompatible row's Xen equivalent adds.)
        // Xen's featureset of the same policy: the 16 words both know (4.17 has no
        // word 18; MSR words are compared too) must match ours.
        uint32_t xfs[64] = {};
        r.to_featureset(r.host, xfs);
        Featureset ours = policy_to_featureset(f.gnr_hvm_max);
        for ( unsigned i = 0; i < 16 && r.ok; ++i )
            if ( xfs[i] != ours.w[i] )
            {
                std::fprintf(stderr, "bench: Xen's featureset word %u differs (%08x, ours %08x)\n",
                             i, xfs[i], ours.w[i]);
                r.ok = false;
            }
        return r;
    }();
    return x;
}

void BM_xen417_serialise(benchmark::State &st)
{
    Xen &x = xen();
    if ( !x.ok )
        return st.SkipWithError("libxenguest 4.17 not available");
    std::vector<WireLeaf> leaves(1024);
    WireMsr msrs[64];
    uint32_t nl = 0;
    for ( auto _ : st )
    {
        nl = 1024;
        uint32_t nm = 64;
        int rc = x.serialise(x.xch, x.host, leaves.data(), &nl, msrs, &nm);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
    st.counters["leaves"] = nl;
}
BENCHMARK(BM_xen417_serialise);

void BM_xen417_update_cpuid(benchmark::State &st)
{
    Xen &x = xen();
    if ( !x.ok )
        return st.SkipWithError("libxenguest 4.17 not available");
    const std::vector<WireLeaf> &l = fx().xen_sized_leaves;
    void *p = x.policy_init();
    for ( auto _ : st )
    {
        int rc = x.update_cpuid(x.xch, p, l.data(), static_cast<uint32_t>(l.size()));
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
    x.policy_destroy(p);
    st.counters["leaves"] = static_cast<double>(l.size());
}
BENCHMARK(BM_xen417_update_cpuid);

void BM_xen417_is_compatible(benchmark::State &st)
{
    Xen &x = xen();
    if ( !x.ok )
        return st.SkipWithError("libxenguest 4.17 not available");
    for ( auto _ : st )
    {
        bool ok = x.is_compatible(x.xch, x.host, x.guest);
        benchmark::DoNotOptimize(ok);
    }
}
BENCHMARK(BM_xen417_is_compatible);


// --- make bench-compare: one table, cpupolicy next to Xen 4.17 ------------------------------
// Each row of the table is an operation run `n` times in a tight loop (op_*), timed by
// Google Benchmark in batches and, under callgrind, counted in instructions per call
// (--icount, run by --compare itself when valgrind is installed).  Xen's column is
// the libxenguest call doing the same work, or empty where libxenguest has none (guest
// CPUID, derivation and levelling live in the hypervisor or came after 4.17).
struct CmpState {
    std::vector<WireLeaf> leaves = std::vector<WireLeaf>(MAX_SERIALISED_LEAVES);
    WireMsr msrs[MAX_SERIALISED_MSRS];
    Policy scratch{};
    void *xen_scratch = nullptr;
    std::vector<Policy> many;             // 10,000 HVM max policies (level row only)
    std::vector<const Policy *> many_in;
};
CmpState *C;

void serialise_n(const Policy &p, uint64_t n)
{
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint32_t nl = MAX_SERIALISED_LEAVES, nm = MAX_SERIALISED_MSRS;
        int rc = policy_serialise(p, C->leaves.data(), &nl, C->msrs, &nm);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
void op_serialise(uint64_t n) { serialise_n(fx().gnr_hvm_max, n); }
void op_serialise_xen_leafset(uint64_t n) { serialise_n(fx().gnr_xen_leafset, n); }
void op_xen_serialise(uint64_t n)
{
    Xen &x = xen();
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint32_t nl = MAX_SERIALISED_LEAVES, nm = MAX_SERIALISED_MSRS;
        int rc = x.serialise(x.xch, x.host, C->leaves.data(), &nl, C->msrs, &nm);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
void op_deserialise(uint64_t n)
{
    Fixture &f = fx();
    for ( uint64_t i = 0; i < n; ++i )
    {
        ErrRecord e;
        int rc = policy_deserialise(C->scratch, f.xen_sized_leaves.data(),
                                    static_cast<uint32_t>(f.xen_sized_leaves.size()), f.gnr_msrs.data(),
                                    static_cast<uint32_t>(f.gnr_msrs.size()), &e);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
// The whole serialised GNR hvm-max policy (leaves Xen 4.17 cannot hold among them):
// more, shorter runs than the Xen-sized set.
void op_deserialise_full(uint64_t n)
{
    Fixture &f = fx();
    for ( uint64_t i = 0; i < n; ++i )
    {
        ErrRecord e;
        int rc = policy_deserialise(C->scratch, f.gnr_leaves.data(), static_cast<uint32_t>(f.gnr_leaves.size()), f.gnr_msrs.data(),
                                    static_cast<uint32_t>(f.gnr_msrs.size()), &e);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
void op_xen_deserialise(uint64_t n)
{
    Fixture &f = fx();
    Xen &x = xen();
    for ( uint64_t i = 0; i < n; ++i )
    {
        int rc = x.update_cpuid(x.xch, C->xen_scratch, f.xen_sized_leaves.data(),
                                static_cast<uint32_t>(f.xen_sized_leaves.size()));
        rc |= x.update_msrs(x.xch, C->xen_scratch, f.gnr_msrs.data(),
                            static_cast<uint32_t>(f.gnr_msrs.size()));
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
void op_to_featureset(uint64_t n)
{
    for ( uint64_t i = 0; i < n; ++i )
    {
        benchmark::DoNotOptimize(&fx().gnr_hvm_max);
        Featureset fs = policy_to_featureset(fx().gnr_hvm_max);
        benchmark::DoNotOptimize(fs);
    }
}
void op_xen_to_featureset(uint64_t n)
{
    Xen &x = xen();
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint32_t fs[64];
        x.to_featureset(x.host, fs);
        benchmark::DoNotOptimize(fs);
    }
}
void op_compatible(uint64_t n)
{
    for ( uint64_t i = 0; i < n; ++i )
    {
        ErrRecord e;
        int rc = policy_is_compatible(fx().gnr_hvm_max, fx().snb_hvm_def, &e, nullptr);
        benchmark::DoNotOptimize(rc);
    }
}
// The same pairs on views prepared once (compat.hpp: a toolstack checking a guest
// against many hosts prepares each policy once).
struct Views {
    CompatView gnr_max, snb_def, snb_max, gnr_def;
    Views()
    {
        compat_view_prepare(gnr_max, fx().gnr_hvm_max);
        compat_view_prepare(snb_def, fx().snb_hvm_def);
        compat_view_prepare(snb_max, fx().snb_hvm_max);
        compat_view_prepare(gnr_def, fx().gnr_hvm_def);
    }
};
Views &views()
{
    static Views v;
    return v;
}
void op_compatible_views(uint64_t n)
{
    const Views &v = views();
    for ( uint64_t i = 0; i < n; ++i )
    {
        ErrRecord e;
        benchmark::DoNotOptimize(&v);
        int rc = policy_is_compatible(v.gnr_max, v.snb_def, &e, nullptr);
        benchmark::DoNotOptimize(rc);
    }
}
void op_incompatible_views(uint64_t n)
{
    const Views &v = views();
    for ( uint64_t i = 0; i < n; ++i )
    {
        ErrRecord e;
        Featureset missing;
        benchmark::DoNotOptimize(&v);
        int rc = policy_is_compatible(v.snb_max, v.gnr_def, &e, &missing);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(missing);
    }
}
void op_xen_compatible(uint64_t n)
{
    Xen &x = xen();
    for ( uint64_t i = 0; i < n; ++i )
    {
        bool ok = x.is_compatible(x.xch, x.host, x.guest);
        benchmark::DoNotOptimize(ok);
    }
}
void op_incompatible(uint64_t n)
{
    for ( uint64_t i = 0; i < n; ++i )
    {
        ErrRecord e;
        Featureset missing;
        int rc = policy_is_compatible(fx().snb_hvm_max, fx().gnr_hvm_def, &e, &missing);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(missing);
    }
}
// What a toolstack built on Xen 4.17 does for the same answer: the verdict, then both
// featuresets and the guest's words the host lacks.
void op_xen_incompatible(uint64_t n)
{
    Xen &x = xen();
    for ( uint64_t i = 0; i < n; ++i )
    {
        bool ok = x.is_compatible(x.xch, x.snb_host, x.gnr_guest);
        uint32_t h[64], g[64], missing[NR_FEATUREWORDS];
        x.to_featureset(x.snb_host, h);
        x.to_featureset(x.gnr_guest, g);
        for ( unsigned w = 0; w < NR_FEATUREWORDS; ++w )
            missing[w] = g[w] & ~h[w];
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(missing);
    }
}
void op_guest_static(uint64_t n)
{
    Fixture &f = fx();
    const VcpuCpuid &vc = f.vcpu;
    // A guest's static leaves, in turn: 0x80000001, 0x6, 0x7:0, 0x1.  The leaf is the
    // guest's EAX: opaque to the compiler, which must not fold the inline lookup.
    static constexpr uint32_t leaf[4] = {0x80000001u, 0x6, 0x7, 0x1};
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint32_t l = leaf[i & 3], s = 0;
        benchmark::DoNotOptimize(l);
        benchmark::DoNotOptimize(s);
        Regs r = guest_cpuid(f.ctx, vc, Leaf{l}, Subleaf{s});
        benchmark::DoNotOptimize(r);
    }
}

// The query alone: four vCPUs, one in each XCR0/XSS state, asked 0xd:0 and 0xd:1 in
// turn, so that consecutive answers differ as they would with XCR0/XSS changing.
void op_guest_xsave(uint64_t n)
{
    Fixture &f = fx();
    const VcpuCpuid *vc = f.xs_vcpus;
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint32_t l = 0xd, s = static_cast<uint32_t>(i & 1);
        benchmark::DoNotOptimize(l);
        benchmark::DoNotOptimize(s);
        Regs r = guest_cpuid(f.xs_ctx, vc[i & 3], Leaf{l}, Subleaf{s});
        benchmark::DoNotOptimize(r);
    }
}
// XSETBV alone: check the value, load it, refresh 0xd:0 and 0xd:1.
void op_guest_xsetbv(uint64_t n)
{
    Fixture &f = fx();
    VcpuCpuid &vc = f.xs_vcpu;
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint64_t x = xs_xcr0[i & 3];
        benchmark::DoNotOptimize(x);
        int rc = vc.set_xcr0(f.xs_ctx, x);
        benchmark::DoNotOptimize(rc);
    }
}
// The pair, as a guest that changes XCR0 and XSS before every query would pay it:
// XSETBV, WRMSR IA32_XSS, then 0xd:0 or 0xd:1.
void op_guest_xsave_pair(uint64_t n)
{
    Fixture &f = fx();
    VcpuCpuid &vc = f.xs_vcpu;
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint64_t x = xs_xcr0[i & 3], xs = xs_xss[i & 3];
        uint32_t l = 0xd, s = static_cast<uint32_t>(i & 1);
        benchmark::DoNotOptimize(x);
        benchmark::DoNotOptimize(xs);
        benchmark::DoNotOptimize(l);
        benchmark::DoNotOptimize(s);
        int rc = vc.set_xcr0(f.xs_ctx, x) | vc.set_xss(f.xs_ctx, xs);
        Regs r = guest_cpuid(f.xs_ctx, vc, Leaf{l}, Subleaf{s});
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(r);
    }
}
void op_derive_hvm_max(uint64_t n)
{
    for ( uint64_t i = 0; i < n; ++i )
    {
        int rc = policy_derive(C->scratch, fx().gnr_raw, PolicyIndex::hvm_max, nullptr);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}
void op_copy(uint64_t n)
{
    for ( uint64_t i = 0; i < n; ++i )
    {
        benchmark::DoNotOptimize(&fx().gnr_raw);
        C->scratch = fx().gnr_raw;
        benchmark::ClobberMemory();
    }
}
void op_level_10000(uint64_t n)
{
    if ( C->many.empty() )
    {
        // 10,000 distinct policies (33 MiB): the ten Intel hvm-max in turn.
        C->many.resize(10000);
        for ( unsigned i = 0; i < 10000; ++i )
        {
            C->many[i] = fx().intel_max[i % 10];
            C->many_in.push_back(&C->many[i]);
        }
    }
    for ( uint64_t i = 0; i < n; ++i )
    {
        uint32_t bad;
        int rc = policy_level(C->scratch, C->many_in.data(), 10000, &bad);
        benchmark::DoNotOptimize(rc);
        benchmark::ClobberMemory();
    }
}

struct CmpRow {
    const char *name;
    void (*ours)(uint64_t);
    void (*xen)(uint64_t);       // nullptr: no libxenguest equivalent
    uint64_t icount_iters;
    bool must_ratio;             // the "must" of issue 11: ratio <= must, or ns <= must
    double must;
    const char *xen_what;
};
const CmpRow cmp_rows[] = {
    {"serialise GNR hvm-max", op_serialise, op_xen_serialise, 2000, true, 1.0, "xc_cpu_policy_serialise"},
    {"serialise, Xen's leaf set", op_serialise_xen_leafset, op_xen_serialise, 2000, true, 1.0,
     "xc_cpu_policy_serialise"},
    {"deserialise 62 leaves + 2 MSRs", op_deserialise, op_xen_deserialise, 2000, true, 1.0,
     "update_cpuid + update_msrs"},
    {"  GNR hvm-max's 94 leaves + 2 MSRs", op_deserialise_full, nullptr, 2000, false, 0, ""},
    {"policy -> featureset", op_to_featureset, op_xen_to_featureset, 2000, true, 1.5,
     "x86_cpu_policy_to_featureset"},
    {"is_compatible, compatible pair (deep)", op_compatible_views, op_xen_compatible, 2000, false, 60,
     "xc_cpu_policy_is_compatible (2 limits + faulting)"},
    {"  the same, views prepared in the call", op_compatible, nullptr, 2000, false, 0, ""},
    {"incompatible + complete report", op_incompatible_views, op_xen_incompatible, 2000, false, 80,
     "is_compatible + 2 featuresets + and-not"},
    {"  the same, views prepared in the call", op_incompatible, nullptr, 2000, false, 0, ""},
    {"guest CPUID static leaves", op_guest_static, nullptr, 20000, false, 1.5, "(in the hypervisor)"},
    {"guest CPUID 0xd, XCR0/XSS changing", op_guest_xsave, nullptr, 20000, false, 2.5,
     "(in the hypervisor)"},
    {"  XSETBV alone (refreshes 0xd)", op_guest_xsetbv, nullptr, 20000, false, 0, ""},
    {"  XSETBV + XSS write + 0xd query", op_guest_xsave_pair, nullptr, 20000, false, 0, ""},
    {"derive hvm-max from raw", op_derive_hvm_max, nullptr, 200, false, 1000, "(in the hypervisor)"},
    {"  reference: policy copy", op_copy, nullptr, 2000, false, 0, ""},
    {"level 10,000 HVM max policies", op_level_10000, nullptr, 3, false, 1.5e6, "(none in 4.17)"},
};

constexpr uint64_t BATCH = 16;
void BM_cmp(benchmark::State &st, void (*op)(uint64_t))
{
    if ( !C->xen_scratch && xen().ok )
        C->xen_scratch = xen().policy_init();
    if ( op != op_level_10000 )
        op(BATCH);  // warm
    else
        op(1);
    if ( op == op_level_10000 )
        for ( auto _ : st )
            op(1);
    else
        while ( st.KeepRunningBatch(BATCH) )
            op(BATCH);
}

// Instruction counts: run under callgrind with --collect-atstart=no; one dump per op.
int icount_main()
{
    C->xen_scratch = xen().ok ? xen().policy_init() : nullptr;
    for ( const CmpRow &r : cmp_rows )
        for ( int side = 0; side < 2; ++side )
        {
            void (*op)(uint64_t) = side ? r.xen : r.ours;
            if ( !op || (side && !xen().ok) )
                continue;
            op(1);
            CALLGRIND_TOGGLE_COLLECT;
            op(r.icount_iters);
            CALLGRIND_TOGGLE_COLLECT;
            std::string tag = std::to_string(&r - cmp_rows) + (side ? "/xen" : "/ours");
            CALLGRIND_DUMP_STATS_AT(tag.c_str());
        }
    return 0;
}

// `bench_policy --ab=ROW[,ROUNDS]`: one row of the table, ours and Xen's alternated in
// short timed batches (so that a change of clock or load hits both sides alike); prints
// each side's minimum and median ns per call and the ratio of the minima.  For trying
// a change to one operation without the whole table.
int ab_main(const char *spec)
{
    char *endp;
    const unsigned long row = std::strtoul(spec, &endp, 10);
    const unsigned long rounds = *endp == ',' ? std::strtoul(endp + 1, nullptr, 10) : 400;
    if ( row >= sizeof(cmp_rows) / sizeof(cmp_rows[0]) || !rounds )
    {
        std::fprintf(stderr, "bench_policy: --ab=%s: no such row (0-%zu) or no rounds\n", spec,
                     sizeof(cmp_rows) / sizeof(cmp_rows[0]) - 1);
        return 2;
    }
    const CmpRow &r = cmp_rows[row];
    C->xen_scratch = xen().ok ? xen().policy_init() : nullptr;
    const bool with_xen = r.xen && xen().ok;
    const uint64_t batch = r.icount_iters;
    std::vector<double> t[2];
    auto now = [] {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e9 + ts.tv_nsec;
    };
    for ( unsigned long i = 0; i < rounds; ++i )
        for ( int side = 0; side < (with_xen ? 2 : 1); ++side )
        {
            void (*op)(uint64_t) = side ? r.xen : r.ours;
            const double t0 = now();
            op(batch);
            t[side].push_back((now() - t0) / static_cast<double>(batch));
        }
    for ( auto &v : t )
        std::sort(v.begin(), v.end());
    std::printf("%s: ours %.2f ns min, %.2f median", r.name, t[0][0], t[0][t[0].size() / 2]);
    if ( with_xen )
        std::printf("; Xen %.2f min, %.2f median; ratio %.3fx (minima), %.3fx (medians)", t[1][0],
                    t[1][t[1].size() / 2], t[0][0] / t[1][0], t[0][t[0].size() / 2] / t[1][t[1].size() / 2]);
    std::printf("\n");
    return 0;
}

// Child CPU time (user + system) of one run of argv, output discarded; -1 on failure.
double run_child(const std::vector<std::string> &args, const char *prefix_valgrind_out = nullptr,
                 uint64_t *ir = nullptr)
{
    std::vector<std::string> a;
    std::string cgout;
    if ( ir )
    {
        cgout = std::string(prefix_valgrind_out) + ".proc";
        a = {"valgrind", "--tool=callgrind", "--callgrind-out-file=" + cgout};
    }
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for ( std::string &s : a )
        argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if ( pid < 0 )
        return -1;
    if ( pid == 0 )
    {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    int status;
    struct rusage ru;
    if ( wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) )
        return -1;
    if ( ir )
    {
        *ir = 0;
        FILE *fp = std::fopen(cgout.c_str(), "r");
        char line[512];
        while ( fp && std::fgets(line, sizeof(line), fp) )
            if ( !std::strncmp(line, "summary: ", 9) || !std::strncmp(line, "totals: ", 8) )
                *ir = std::strtoull(std::strchr(line, ' ') + 1, nullptr, 10);
        if ( fp )
            std::fclose(fp);
        std::remove(cgout.c_str());
    }
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

struct Timing {
    double min = 0, median = 0;
    bool have = false;
};
struct Collector : benchmark::ConsoleReporter {
    std::map<std::string, std::vector<double>> ns;
    void ReportRuns(const std::vector<Run> &runs) override
    {
        for ( const Run &r : runs )
            if ( r.run_type == Run::RT_Iteration && !r.error_occurred && r.iterations )
                ns[r.run_name.function_name + "/" + r.run_name.args].push_back(
                    r.GetAdjustedCPUTime());
        benchmark::ConsoleReporter::ReportRuns(runs);
    }
};
Timing summarise(std::vector<double> v)
{
    Timing t;
    if ( v.empty() )
        return t;
    std::sort(v.begin(), v.end());
    t.min = v.front();
    t.median = v[v.size() / 2];
    t.have = true;
    return t;
}

std::string fmt_ns(const Timing &t)
{
    if ( !t.have )
        return "-";
    char b[64];
    if ( t.min >= 10000 )
        std::snprintf(b, sizeof(b), "%.0f (%.0f)", t.min, t.median);
    else
        std::snprintf(b, sizeof(b), "%.1f (%.1f)", t.min, t.median);
    return b;
}

// The icount child's dumps: DIR/cg.N, each naming its trigger ("N/ours", "N/xen").
std::map<std::string, double> read_icounts(const std::string &dir, const std::string &base)
{
    std::map<std::string, double> m;
    for ( unsigned n = 1; n < 64; ++n )
    {
        std::string path = dir + "/" + base + "." + std::to_string(n);
        FILE *fp = std::fopen(path.c_str(), "r");
        if ( !fp )
            continue;
        char line[512];
        std::string tag;
        double total = -1;
        while ( std::fgets(line, sizeof(line), fp) )
        {
            const char *trig = "desc: Trigger: Client Request: ";
            if ( !std::strncmp(line, trig, std::strlen(trig)) )
            {
                tag = line + std::strlen(trig);
                while ( !tag.empty() && (tag.back() == '\n' || tag.back() == ' ') )
                    tag.pop_back();
            }
            if ( !std::strncmp(line, "summary: ", 9) || !std::strncmp(line, "totals: ", 8) )
                total = std::strtod(std::strchr(line, ' ') + 1, nullptr);
        }
        std::fclose(fp);
        std::remove(path.c_str());
        if ( !tag.empty() && total >= 0 )
            m[tag] = total;
    }
    return m;
}

// `bench_policy --compare [--ours-xen-cpuid=PATH] [--no-callgrind] [benchmark flags]`
int compare_main(int argc, char **argv, const char *self, const char *our_xen_cpuid,
                 bool callgrind)
{
    C->xen_scratch = xen().ok ? xen().policy_init() : nullptr;
    for ( const CmpRow &r : cmp_rows )
    {
        std::string n = std::string("cmp/") + std::to_string(&r - cmp_rows);
        benchmark::RegisterBenchmark((n + "/ours").c_str(), BM_cmp, r.ours);
        if ( r.xen && xen().ok )
            benchmark::RegisterBenchmark((n + "/xen").c_str(), BM_cmp, r.xen);
    }
    int reps = 1;
    for ( int i = 1; i < argc; ++i )
        if ( !std::strncmp(argv[i], "--benchmark_repetitions=", 24) )
            reps = std::max(1, std::atoi(argv[i] + 24));
    benchmark::Initialize(&argc, argv);
    if ( benchmark::ReportUnrecognizedArguments(argc, argv) )
        return 1;
    Collector rep;
    benchmark::RunSpecifiedBenchmarks(&rep, "cmp/");

    // xen-cpuid: 2,000 featuresets (the 10 Intel hvm-max policies and GNR's raw and
    // default, each with one word varied) decoded by one process, ours against Xen's.
    std::vector<std::string> fsargs;
    const Policy *src[12] = {&fx().gnr_raw, &fx().gnr_hvm_def};
    for ( unsigned i = 0; i < 10; ++i )
        src[2 + i] = &fx().intel_max[i];
    for ( unsigned i = 0; i < 2000; ++i )
    {
        Featureset fs = policy_to_featureset(*src[i % 12]);
        fs.w[(i / 12) % NR_FEATUREWORDS] ^= 1u << ((i / 12) % 32);
        char buf[9 * NR_FEATUREWORDS + 1];
        if ( format_words(fs.w, NR_FEATUREWORDS, buf, sizeof(buf)) < 0 )
            return 2;
        fsargs.push_back(buf);
    }
    const char *xen_xc = "/usr/lib/xen-4.17/bin/xen-cpuid";
    std::vector<double> proc_ours, proc_xen;
    std::vector<std::string> a_ours{our_xen_cpuid}, a_xen{xen_xc};
    a_ours.insert(a_ours.end(), fsargs.begin(), fsargs.end());
    a_xen.insert(a_xen.end(), fsargs.begin(), fsargs.end());
    bool have_xen_xc = access(xen_xc, X_OK) == 0;
    for ( int i = 0; i < std::max(reps, 5); ++i )
    {
        double t = run_child(a_ours);
        if ( t >= 0 )
            proc_ours.push_back(t);
        if ( have_xen_xc && (t = run_child(a_xen)) >= 0 )
            proc_xen.push_back(t);
    }

    // Instruction counts: this program again under callgrind (--icount), and each
    // xen-cpuid once under callgrind.
    std::map<std::string, double> ir;
    uint64_t ir_proc_ours = 0, ir_proc_xen = 0;
    if ( callgrind )
    {
        char dir[] = "/tmp/bench-compare.XXXXXX";
        if ( mkdtemp(dir) )
        {
            std::string out = std::string(dir) + "/cg";
            std::vector<std::string> a{"valgrind", "--tool=callgrind", "--collect-atstart=no",
                                       "--callgrind-out-file=" + out, self, "--icount"};
            if ( run_child(a) < 0 )
                std::fprintf(stderr, "bench-compare: the callgrind run failed; no instruction counts\n");
            ir = read_icounts(dir, "cg");
            std::remove(out.c_str());
            uint64_t v;
            if ( run_child(a_ours, out.c_str(), &v) >= 0 )
                ir_proc_ours = v;
            if ( have_xen_xc && run_child(a_xen, out.c_str(), &v) >= 0 )
                ir_proc_xen = v;
            rmdir(dir);
        }
    }

    std::printf("\ncpupolicy against Xen 4.17 libxenguest, one process, this machine (load %s)\n"
                "ns per call: CPU time, minimum (median) of %d repetition(s); Ir: instructions per\n"
                "call under callgrind (load-independent); ratio = cpupolicy / Xen, of the minima\n\n",
                [] {
                    static char l[32] = "?";
                    if ( FILE *fp = std::fopen("/proc/loadavg", "r") )
                    {
                        if ( !std::fgets(l, sizeof(l), fp) )
                            l[0] = 0;
                        std::fclose(fp);
                        if ( char *sp = std::strchr(l, ' ') )
                            *sp = 0;
                    }
                    return static_cast<const char *>(l);
                }(),
                reps);
    std::printf("| %-38s | %17s | %17s | %6s | %9s | %9s | %-9s | %s\n", "operation", "cpupolicy ns",
                "Xen 4.17 ns", "ratio", "Ir", "Xen Ir", "must", "Xen call");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(40, '-').c_str(), std::string(19, '-').c_str(),
                std::string(19, '-').c_str(), std::string(8, '-').c_str(),
                std::string(11, '-').c_str(), std::string(11, '-').c_str(), std::string(11, '-').c_str());
    auto line = [](const char *name, const Timing &o, const Timing &x, double iro, double irx,
                   bool must_ratio, double must, const char *what) {
        char ratio[16] = "-", io[24] = "-", ix[24] = "-", m[32] = "";
        if ( o.have && x.have && x.min > 0 )
            std::snprintf(ratio, sizeof(ratio), "%.2fx", o.min / x.min);
        if ( iro > 0 )
            std::snprintf(io, sizeof(io), "%.0f", iro);
        if ( irx > 0 )
            std::snprintf(ix, sizeof(ix), "%.0f", irx);
        if ( must > 0 )
        {
            bool holds = must_ratio ? (o.have && x.have && o.min <= must * x.min) : (o.have && o.min <= must);
            if ( must_ratio )
                std::snprintf(m, sizeof(m), "<=%.1fx %s", must, holds ? "ok" : "NO");
            else if ( must >= 1e6 )
                std::snprintf(m, sizeof(m), "<=%.1fms %s", must / 1e6, holds ? "ok" : "NO");
            else
                std::snprintf(m, sizeof(m), "<=%gns %s", must, holds ? "ok" : "NO");
        }
        std::printf("| %-38s | %17s | %17s | %6s | %9s | %9s | %-9s | %s\n", name, fmt_ns(o).c_str(),
                    fmt_ns(x).c_str(), ratio, io, ix, m, what);
    };
    for ( const CmpRow &r : cmp_rows )
    {
        std::string n = std::string("cmp/") + std::to_string(&r - cmp_rows);
        std::string k = std::to_string(&r - cmp_rows);
        Timing o = summarise(rep.ns[n + "/ours/"]), x = summarise(rep.ns[n + "/xen/"]);
        double io = ir.count(k + "/ours") ? ir[k + "/ours"] / static_cast<double>(r.icount_iters) : 0;
        double ix = ir.count(k + "/xen") ? ir[k + "/xen"] / static_cast<double>(r.icount_iters) : 0;
        line(r.name, o, x, io, ix, r.must_ratio, r.must, r.xen_what);
        if ( r.ours == op_serialise || r.ours == op_serialise_xen_leafset )
        {
            // Per leaf: our 94 (or 64) leaves against Xen's 65 (+ 2 MSRs each).
            uint32_t nr_ours = 0;
            if ( policy_serialise(r.ours == op_serialise ? fx().gnr_hvm_max : fx().gnr_xen_leafset, nullptr,
                                  &nr_ours, nullptr, nullptr) )
                nr_ours = 0;
            double lo = nr_ours ? nr_ours : 1;
            double lx = static_cast<double>(fx().xen_sized_leaves.size());
            uint32_t xl = 0;
            if ( xen().ok )
            {
                uint32_t nm = MAX_SERIALISED_MSRS;
                xl = MAX_SERIALISED_LEAVES;
                if ( xen().serialise(xen().xch, xen().host, C->leaves.data(), &xl, C->msrs, &nm) )
                    xl = 0;
                lx = xl;
            }
            Timing po = o, px = x;
            po.min /= lo; po.median /= lo;
            px.min /= lx ? lx : 1; px.median /= lx ? lx : 1;
            char nm[64];
            std::snprintf(nm, sizeof(nm), "  per leaf (%u vs %u leaves)", static_cast<unsigned>(lo), xl);
            line(nm, po, px, io / lo, ix / (lx ? lx : 1), true, 1.0, "");
        }
    }
    Timing po = summarise(proc_ours), px = summarise(proc_xen);
    line("xen-cpuid: decode 2,000 featuresets", po, px, static_cast<double>(ir_proc_ours),
         static_cast<double>(ir_proc_xen), true, 1.0, "Xen 4.17's xen-cpuid (whole process)");
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    // --compare (make bench-compare) and --icount (its callgrind child) take over.
    bool compare = false, icount = false, callgrind = true;
    const char *ab = nullptr;
    const char *our_xen_cpuid = "build/bin/xen-cpuid";
    int n = 1;
    for ( int i = 1; i < argc; ++i )
    {
        if ( !std::strcmp(argv[i], "--compare") )
            compare = true;
        else if ( !std::strcmp(argv[i], "--icount") )
            icount = true;
        else if ( !std::strncmp(argv[i], "--ab=", 5) )
            ab = argv[i] + 5;
        else if ( !std::strcmp(argv[i], "--no-callgrind") )
            callgrind = false;
        else if ( !std::strncmp(argv[i], "--ours-xen-cpuid=", 17) )
            our_xen_cpuid = argv[i] + 17;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    static CmpState cs;
    C = &cs;
    if ( icount || compare || ab )
    {
        fx();
        if ( ab )
            return ab_main(ab);
        if ( icount )
            return icount_main();
        char self[4096];
        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if ( len <= 0 )
            return 2;
        self[len] = 0;
        return compare_main(argc, argv, self, our_xen_cpuid, callgrind);
    }
    for ( const Query &q : queries )
        benchmark::RegisterBenchmark((std::string("BM_guest_cpuid/") + q.name).c_str(),
                                     BM_guest_cpuid, q);
    benchmark::Initialize(&argc, argv);
    if ( benchmark::ReportUnrecognizedArguments(argc, argv) )
        return 1;
    fx();  // import and derive before any timing
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

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

struct Fixture {
    Policy gnr_raw, gnr_hvm_max, gnr_hvm_def, snb_hvm_max, snb_hvm_def;
    Policy intel_max[10];
    std::vector<WireLeaf> gnr_leaves, xen_sized_leaves;
    std::vector<WireMsr> gnr_msrs;
    GuestCpuidCtx ctx;

    Fixture()
    {
        gnr_raw = import_or_die(GNR);
        gnr_hvm_max = derive_or_die(gnr_raw, PolicyIndex::hvm_max);
        gnr_hvm_def = derive_or_die(gnr_raw, PolicyIndex::hvm_default);
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

        GuestConfig cfg;
        if ( guest_cpuid_prepare(ctx, gnr_hvm_def, cfg) )
        {
            std::fprintf(stderr, "bench: guest_cpuid_prepare failed\n");
            std::exit(2);
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
constexpr uint64_t X87 = 1, SSE = 2, AVX = 4, OPMASK = 0x20, ZMM = 0x40, HI16 = 0x80,
                   PKRU = 0x200, TILE = 0x60000, CET = 0x1800;
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

void BM_guest_cpuid(benchmark::State &st, const Query &q)
{
    Fixture &f = fx();
    VcpuState v;
    v.vcpu_id = 3;
    v.cr4 = CR4_OSXSAVE | CR4_PKE;
    v.xcr0 = q.xcr0;
    v.xss = q.xss;
    for ( auto _ : st )
    {
        benchmark::DoNotOptimize(&v);
        Regs r = guest_cpuid(f.ctx, f.gnr_hvm_def, v, Leaf{q.leaf}, Subleaf{q.subleaf});
        benchmark::DoNotOptimize(r);
    }
}

// A mix: a guest's boot-time CPUID sweep of 16 (leaf, subleaf) pairs, XCR0 changing.
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
    unsigned i = 0;
    for ( auto _ : st )
    {
        v.xcr0 = (i & 16) ? (X87 | SSE | AVX | OPMASK | ZMM | HI16) : (X87 | SSE | AVX);
        Regs r = guest_cpuid(f.ctx, f.gnr_hvm_def, v, Leaf{mix[i & 15][0]}, Subleaf{mix[i & 15][1]});
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
        bool in = policy_in_range(f.gnr_hvm_max, 0x4, 3);
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
    void *host = nullptr, *guest = nullptr;
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
        if ( !open || !r.policy_init || !r.serialise || !r.update_cpuid || !r.update_msrs ||
             !r.is_compatible )
            return r;
        // XC_OPENFLAG_DUMMY (1): an xc_interface for logging only, no hypervisor.
        r.xch = open(nullptr, nullptr, 1);
        r.host = r.policy_init();
        r.guest = r.policy_init();
        if ( !r.xch || !r.host || !r.guest )
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
               r.is_compatible(r.xch, r.host, r.guest);
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

} // namespace

int main(int argc, char **argv)
{
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

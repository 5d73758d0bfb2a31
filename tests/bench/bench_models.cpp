// SPDX-License-Identifier: MIT
// Named CPU models (issue 10): loading libvirt's whole installed CPU map (index.xml, the
// vendors and features and every x86 model file, each parsed by libxml2, features mapped
// by definition, models expanded), loading the whole catalog (our model files validated
// against the RelaxNG schema, plus the map), and `model suggest` over every model for a
// 64-host pool level (the level computed once, before timing; the suggestion runs the
// complete check of each model, blockers and numeric fields included).  A measurement,
// never a timed test: `make bench`; figures in docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "cpupolicy/derive.hpp"
#include "cpupolicy/level.hpp"
#include "dump_policy.hpp"

using namespace cpupolicy;
using namespace cpupolicy::models;

namespace {

std::string dumps_dir()
{
    const char *d = std::getenv("CPUPOLICY_DUMPS");
    return d && *d ? d : "tests/data/cpuid-dumps";
}

// 64 Intel hosts: the Intel dumps in turn, every other one booted without TSX and
// AVX-512 (a pool of mixed generations and microcode states), each host's HVM max policy.
const Policy &pool_level_64()
{
    static Policy level = [] {
        const char *dumps[] = {
            "GenuineIntel00306F2_HaswellEP.txt",     "GenuineIntel00406F1_BroadwellE.txt",
            "GenuineIntel0050654_SkylakeXeon.txt",   "GenuineIntel0050657_CascadeLakeXeon.txt",
            "GenuineIntel00606A6_ICX_04.txt",        "GenuineIntel00806F8_SapphireRapids_05.txt",
            "GenuineIntel00C06F2_EmeraldRapids_01.txt", "GenuineIntel00A06D1_GraniteRapids_03.txt",
        };
        std::vector<Policy> hosts(64);
        std::vector<const Policy *> in;
        for ( unsigned i = 0; i < 64; ++i )
        {
            Policy raw;
            import::ImportError ierr;
            std::string path = dumps_dir() + "/" + dumps[i % 8];
            if ( policy_import(raw, path, 0, ierr) ||
                 policy_derive(hosts[i], raw, PolicyIndex::hvm_max, i % 2 ? "cpuid=no-rtm,no-hle" : nullptr) )
            {
                std::fprintf(stderr, "bench_models: cannot load %s\n", path.c_str());
                std::exit(1);
            }
            in.push_back(&hosts[i]);
        }
        Policy out;
        uint32_t bad;
        if ( policy_level(out, in.data(), 64, &bad) )
            std::exit(1);
        return out;
    }();
    return level;
}

std::string builtin_dir()
{
    const char *d = std::getenv("CPUPOLICY_MODELS_DIR");
    return d && *d ? d : "config/cpu-models";
}

void BM_load_cpu_map(benchmark::State &st)
{
    for ( auto _ : st )
    {
        CpuMap m;
        std::string err;
        if ( load_cpu_map(m, "", &err) )
            st.SkipWithError(err.c_str());
        benchmark::DoNotOptimize(m.models.size());
    }
}
BENCHMARK(BM_load_cpu_map)->Unit(benchmark::kMillisecond);

void BM_load_catalog_all(benchmark::State &st)
{
    for ( auto _ : st )
    {
        Catalog c;
        std::string err;
        if ( load_catalog(c, SOURCE_ALL, builtin_dir(), "", &err) )
            st.SkipWithError(err.c_str());
        benchmark::DoNotOptimize(c.models.size());
    }
}
BENCHMARK(BM_load_catalog_all)->Unit(benchmark::kMillisecond);

void BM_suggest_all_models_64_host_level(benchmark::State &st)
{
    Catalog c;
    std::string err;
    if ( load_catalog(c, SOURCE_ALL, builtin_dir(), "", &err) )
    {
        st.SkipWithError(err.c_str());
        return;
    }
    const Policy &level = pool_level_64();
    for ( auto _ : st )
    {
        Suggestion s;
        benchmark::DoNotOptimize(suggest(c, SOURCE_ALL, level, st.range(0) != 0, &s));
        benchmark::DoNotOptimize(s.index);
    }
    st.counters["models"] = static_cast<double>(c.models.size());
}
BENCHMARK(BM_suggest_all_models_64_host_level)->Arg(0)->Arg(1)->ArgName("closest");

void BM_check_one_model(benchmark::State &st)
{
    Catalog c;
    std::string err;
    if ( load_catalog(c, SOURCE_ALL, builtin_dir(), "", &err) )
    {
        st.SkipWithError(err.c_str());
        return;
    }
    const Policy &level = pool_level_64();
    for ( auto _ : st )
        benchmark::DoNotOptimize(check(c.models[0], level).size());
}
BENCHMARK(BM_check_one_model);

} // namespace

BENCHMARK_MAIN();

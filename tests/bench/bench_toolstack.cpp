// SPDX-License-Identifier: MIT
// The toolstack end to end (issue 9): a pool join of 64 hosts, a level recompute, a
// migrate-check - each through the public C ABI of cpupolicy_toolstack.h with a real
// SQLite store on disk (WAL, synchronous=FULL), as the `cpupolicy` command does minus
// process start-up.  A measurement, never a timed test: `make bench` runs it,
// docs/performance.md records the figures.
//
// Hosts are simulated hosts on the Intel dumps (sim:dump=..., booted in-process for each
// join: the handle open is part of a join's cost, as a remote host's would be).
#include <benchmark/benchmark.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "cpupolicy.h"
#include "cpupolicy_toolstack.h"

namespace {

std::string dumps_dir()
{
    const char *d = getenv("CPUPOLICY_DUMPS");
    return d && *d ? d : "../shared/cpuid-dumps";
}

const char *const intel[] = {
    "GenuineIntel00306F2_HaswellEP.txt",     "GenuineIntel00406F1_BroadwellE.txt",
    "GenuineIntel0050654_SkylakeXeon.txt",   "GenuineIntel0050657_CascadeLakeXeon.txt",
    "GenuineIntel00606A6_ICX_04.txt",        "GenuineIntel00806F8_SapphireRapids_05.txt",
    "GenuineIntel00C06F2_EmeraldRapids_01.txt", "GenuineIntel00A06D1_GraniteRapids_03.txt",
};
constexpr unsigned NR_INTEL = sizeof(intel) / sizeof(intel[0]);

std::string uri(unsigned i)
{
    return "sim:dump=" + dumps_dir() + "/" + intel[i % NR_INTEL];
}

struct Store {
    std::string path;
    cpupolicy_store_t *s = nullptr;
    Store()
    {
        char tmpl[] = "/tmp/bench_toolstack.XXXXXX";
        path = std::string(mkdtemp(tmpl)) + "/store.db";
        if ( cpupolicy_store_open(&s, path.c_str()) )
        {
            fprintf(stderr, "bench: store: %s\n", cpupolicy_last_error());
            exit(2);
        }
    }
    ~Store()
    {
        cpupolicy_store_close(s);
        std::string dir = path.substr(0, path.rfind('/'));
        for ( const char *suffix : {"", "-wal", "-shm"} )
            unlink((path + suffix).c_str());
        rmdir(dir.c_str());
    }
};

void must(int rc, const char *what)
{
    if ( rc < 0 )
    {
        fprintf(stderr, "bench: %s: %d %s\n", what, rc, cpupolicy_last_error());
        exit(2);
    }
}

// A pool of n hosts (the first NR_INTEL distinct, then repeats under new names).
void build_pool(cpupolicy_store_t *s, unsigned n)
{
    must(cpupolicy_pool_create(s, "bench", CPUPOLICY_DOMAIN_HVM, nullptr), "pool create");
    for ( unsigned i = 0; i < n; ++i )
        must(cpupolicy_pool_join(s, "bench", uri(i).c_str(), ("h" + std::to_string(i)).c_str(),
                                 CPUPOLICY_FORCE, nullptr),
             "pool join");
}

// 64 joins into a fresh pool, each its own transaction with a level recompute.
void BM_PoolJoin64(benchmark::State &state)
{
    for ( auto _ : state )
    {
        // Only the joins are timed: not the store's creation, not its removal.
        state.PauseTiming();
        auto st = std::make_unique<Store>();
        state.ResumeTiming();
        build_pool(st->s, 64);
        state.PauseTiming();
        st.reset();
        state.ResumeTiming();
    }
    state.counters["joins"] = 64;
}
BENCHMARK(BM_PoolJoin64)->Unit(benchmark::kMillisecond)->Iterations(2);

// One join into a pool of 63: what the 64th host costs (read host, recompute the level
// over 64 members from the store, history, commit).
void BM_PoolJoinInto63(benchmark::State &state)
{
    Store st;
    build_pool(st.s, 63);
    unsigned k = 0;
    for ( auto _ : state )
    {
        std::string name = "x" + std::to_string(k++);
        must(cpupolicy_pool_join(st.s, "bench", uri(5).c_str(), name.c_str(), CPUPOLICY_FORCE, nullptr),
             "join");
        state.PauseTiming();
        must(cpupolicy_pool_eject(st.s, "bench", name.c_str(), CPUPOLICY_FORCE, nullptr), "eject");
        state.ResumeTiming();
    }
}
BENCHMARK(BM_PoolJoinInto63)->Unit(benchmark::kMillisecond);

// Level recompute for a 64-host pool as a toolstack with its own store does it: parse
// 64 stored max policies (text form) and level them.
void BM_LevelRecompute64(benchmark::State &state)
{
    std::vector<std::string> texts;
    for ( unsigned i = 0; i < 64; ++i )
    {
        cpupolicy_handle_t *h = nullptr;
        cpupolicy_t *p = cpupolicy_alloc();
        if ( cpupolicy_open(&h, uri(i).c_str()) || cpupolicy_get_system_policy(h, CPUPOLICY_HVM_MAX, p) )
            exit(2);
        size_t len = 0;
        (void)cpupolicy_policy_format_text(p, nullptr, &len);
        std::string t(len, '\0');
        (void)cpupolicy_policy_format_text(p, t.data(), &len);
        texts.push_back(t);
        cpupolicy_free(p);
        cpupolicy_close(h);
    }
    std::vector<cpupolicy_t *> pols(64);
    for ( auto &p : pols )
        p = cpupolicy_alloc();
    cpupolicy_t *level = cpupolicy_alloc();
    for ( auto _ : state )
    {
        for ( unsigned i = 0; i < 64; ++i )
            if ( cpupolicy_policy_parse_text(pols[i], texts[i].c_str(), nullptr) )
                exit(2);
        uint32_t bad;
        if ( cpupolicy_calc_compatible(level, pols.data(), 64, &bad) )
            exit(2);
        benchmark::DoNotOptimize(level);
    }
    for ( auto &p : pols )
        cpupolicy_free(p);
    cpupolicy_free(level);
}
BENCHMARK(BM_LevelRecompute64)->Unit(benchmark::kMicrosecond);

// Level recompute through the store: a refresh of one host of a 64-host pool (re-read
// it, recompute the level over all 64, record; the level does not change).
void BM_PoolRefreshOneOf64(benchmark::State &state)
{
    Store st;
    build_pool(st.s, 64);
    for ( auto _ : state )
        must(cpupolicy_pool_refresh(st.s, "bench", "h7", nullptr), "refresh");
}
BENCHMARK(BM_PoolRefreshOneOf64)->Unit(benchmark::kMillisecond);

// A migrate-check in a 64-host pool: the complete verdict from the store.
void BM_MigrateCheck(benchmark::State &state)
{
    Store st;
    build_pool(st.s, 64);
    cpupolicy_vm_config_t cfg{"vm1", "bench", "h0", nullptr, nullptr, 0, nullptr};
    must(cpupolicy_vm_create(st.s, &cfg, nullptr), "vm create");
    for ( auto _ : state )
    {
        char *doc = nullptr;
        must(cpupolicy_vm_migrate_check(st.s, "vm1", "h5", &doc), "migrate-check");
        cpupolicy_json_free(doc);
    }
}
BENCHMARK(BM_MigrateCheck)->Unit(benchmark::kMicrosecond);

// The report alone (no store): Skylake guest on a Haswell host, 16 features and 4
// fields failing.
void BM_CompatReport(benchmark::State &state)
{
    cpupolicy_handle_t *a = nullptr, *b = nullptr;
    cpupolicy_t *host = cpupolicy_alloc(), *guest = cpupolicy_alloc();
    if ( cpupolicy_open(&a, uri(0).c_str()) || cpupolicy_open(&b, uri(2).c_str()) ||
         cpupolicy_get_system_policy(a, CPUPOLICY_HVM_MAX, host) ||
         cpupolicy_get_system_policy(b, CPUPOLICY_HVM_DEFAULT, guest) )
        exit(2);
    for ( auto _ : state )
    {
        cpupolicy_report_t *r = nullptr;
        (void)cpupolicy_compat_report(host, guest, &r);
        benchmark::DoNotOptimize(r->nr_items);
        cpupolicy_report_free(r);
    }
    cpupolicy_close(a);
    cpupolicy_close(b);
    cpupolicy_free(host);
    cpupolicy_free(guest);
}
BENCHMARK(BM_CompatReport)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();

// SPDX-License-Identifier: MIT
// Latency of one hypercall through the unix backend (issue 5 item 4): the client encodes a
// frame, the daemon (forked and exec'd here: $BUILD/sbin/cpupolicyd on a dump) decodes it,
// runs the hypercall on its simulated host and answers; the client decodes the reply.
// Side by side with the same call on the embedded backend, so the difference is the cost
// of the socket and the protocol.  A measurement, never a timed test: `make bench`.
#include <benchmark/benchmark.h>

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "backend.hpp"

using namespace cpupolicy;

namespace {

std::string dump_path()
{
    const char *d = std::getenv("CPUPOLICY_DUMPS");
    return std::string(d && *d ? d : "tests/data/cpuid-dumps") +
           "/GenuineIntel00206D5_SandyBridgeEP.txt";
}

// The daemon next to this program: $BUILD/tests/bench/X -> $BUILD/sbin/cpupolicyd.
std::string daemon_path()
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if ( n <= 0 )
        return "cpupolicyd";
    self[n] = 0;
    std::string s(self);
    return s.substr(0, s.rfind('/')) + "/../../sbin/cpupolicyd";
}

struct Daemon {
    pid_t pid = -1;
    std::string dir, sock;
    std::unique_ptr<Backend> b;

    Daemon()
    {
        char tmpl[] = "/tmp/bench_unix.XXXXXX";
        if ( !mkdtemp(tmpl) )
            return;
        dir = tmpl;
        sock = dir + "/sock";
        std::string exe = daemon_path(), dump = dump_path(), log = dir + "/log";
        pid = fork();
        if ( pid == 0 )
        {
            execl(exe.c_str(), "cpupolicyd", "--socket", sock.c_str(), "--dump", dump.c_str(),
                  "--log", log.c_str(), static_cast<char *>(nullptr));
            _exit(127);
        }
        struct stat st;
        for ( int i = 0; i < 200 && stat(sock.c_str(), &st) != 0; ++i )
            usleep(10000);
        std::string why;
        if ( backend_open(b, ("unix:" + sock).c_str(), why) )
            std::fprintf(stderr, "bench_unix_roundtrip: %s (daemon %s)\n", why.c_str(), exe.c_str());
    }
    ~Daemon()
    {
        b.reset();
        if ( pid > 0 )
        {
            kill(pid, SIGTERM);
            waitpid(pid, nullptr, 0);
        }
        if ( !dir.empty() )
        {
            unlink((dir + "/log").c_str());
            rmdir(dir.c_str());
        }
    }
};

Daemon &daemon_once()
{
    static Daemon d;
    return d;
}

std::unique_ptr<Backend> &embedded_once()
{
    static std::unique_ptr<Backend> b;
    if ( !b )
    {
        std::string why;
        if ( backend_open(b, ("sim:dump=" + dump_path()).c_str(), why) )
            std::fprintf(stderr, "bench_unix_roundtrip: %s\n", why.c_str());
    }
    return b;
}

void run_featureset(benchmark::State &state, Backend *b)
{
    if ( !b )
    {
        state.SkipWithError("backend not available");
        return;
    }
    uint32_t fs[NR_FEATUREWORDS];
    for ( auto _ : state )
    {
        uint32_t nr = NR_FEATUREWORDS;
        int rc = b->get_featureset(1, &nr, fs);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(fs);
    }
}

void run_policy(benchmark::State &state, Backend *b)
{
    if ( !b )
    {
        state.SkipWithError("backend not available");
        return;
    }
    Policy p{};
    for ( auto _ : state )
    {
        int rc = b->get_system_policy(1, p);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(p);
    }
}

void BM_unix_get_featureset(benchmark::State &s) { run_featureset(s, daemon_once().b.get()); }
void BM_embedded_get_featureset(benchmark::State &s) { run_featureset(s, embedded_once().get()); }
void BM_unix_get_system_policy(benchmark::State &s) { run_policy(s, daemon_once().b.get()); }
void BM_embedded_get_system_policy(benchmark::State &s) { run_policy(s, embedded_once().get()); }

// Daemon throughput (issue 11, "The daemon's capacity"): N clients, each on its own
// connection and thread, make get_featureset calls back to back.  cpupolicyd serves one
// request at a time on one thread, so calls/s is the daemon's capacity once the clients
// outnumber what one core can answer, and the latency grows with the queue.
// Counters: calls_per_s (all clients together, wall time), p50_us and p99_us (one call,
// as a client sees it).
void BM_unix_clients_get_featureset(benchmark::State &state)
{
    Daemon &d = daemon_once();
    const unsigned n = static_cast<unsigned>(state.range(0));
    std::vector<std::unique_ptr<Backend>> conns(n);
    for ( auto &c : conns )
    {
        std::string why;
        if ( !d.b || backend_open(c, ("unix:" + d.sock).c_str(), why) )
        {
            state.SkipWithError(("cannot connect: " + why).c_str());
            return;
        }
    }
    const unsigned per_client = std::max(200u, 40000u / n);
    std::vector<double> lat_us;
    double total_s = 0;
    uint64_t total_calls = 0;
    for ( auto _ : state )
    {
        std::vector<std::vector<double>> lat(n);
        std::atomic<bool> go{false};
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for ( unsigned i = 0; i < n; ++i )
            threads.emplace_back([&, i] {
                uint32_t fs[NR_FEATUREWORDS];
                lat[i].reserve(per_client);
                while ( !go.load(std::memory_order_acquire) )
                    std::this_thread::yield();
                for ( unsigned k = 0; k < per_client; ++k )
                {
                    uint32_t nr = NR_FEATUREWORDS;
                    auto t0 = std::chrono::steady_clock::now();
                    if ( conns[i]->get_featureset(1, &nr, fs) )
                        failures.fetch_add(1);
                    auto t1 = std::chrono::steady_clock::now();
                    lat[i].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
                }
            });
        auto start = std::chrono::steady_clock::now();
        go.store(true, std::memory_order_release);
        for ( auto &t : threads )
            t.join();
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.SetIterationTime(s);
        if ( failures.load() )
        {
            state.SkipWithError("a call failed");
            return;
        }
        total_s += s;
        total_calls += uint64_t{n} * per_client;
        for ( auto &l : lat )
            lat_us.insert(lat_us.end(), l.begin(), l.end());
    }
    std::sort(lat_us.begin(), lat_us.end());
    auto pct = [&](double p) { return lat_us.empty() ? 0.0 : lat_us[size_t(p * double(lat_us.size() - 1))]; };
    state.counters["calls_per_s"] = total_s > 0 ? double(total_calls) / total_s : 0;
    state.counters["p50_us"] = pct(0.50);
    state.counters["p99_us"] = pct(0.99);
    state.SetItemsProcessed(int64_t(total_calls));
}

BENCHMARK(BM_unix_clients_get_featureset)->Arg(1)->Arg(8)->Arg(64)->UseManualTime()
    ->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_embedded_get_featureset);
BENCHMARK(BM_unix_get_featureset)->UseRealTime();
BENCHMARK(BM_embedded_get_system_policy);
BENCHMARK(BM_unix_get_system_policy)->UseRealTime();

} // namespace

BENCHMARK_MAIN();

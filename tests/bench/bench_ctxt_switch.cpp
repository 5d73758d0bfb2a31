// SPDX-License-Identifier: MIT
// Context switches on simulated hosts (make bench; never a timed test).  Each benchmark
// alternates one physical CPU between two vCPUs and reports, as counters:
//   switches/s        context switches per second (core switch + simulated WRMSRs)
//   msr_writes/switch WRMSRs per switch, counted by the simulated CPU - the number that
//                     matters on real hardware, where a masking/faulting WRMSR costs
//                     hundreds of cycles and the rest of this path is noise.
// Scenarios, per host:
//   same_domain      two vCPUs of one PV domain                      (expect 0 writes)
//   leaf1_differs    two PV domains differing only in leaf 1         (masking: 1 write)
//   pv_pv            two PV domains (faulting host: faulting stays on; 0 writes)
//   pv_hvm           a PV and an HVM domain (faulting: toggles, 1 write; masking: the
//                    masks that differ from the host defaults)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "cpupolicy/features.hpp"
#include "cpupolicy/hypervisor.hpp"
#include "sim.hpp"

using namespace cpupolicy;
using namespace cpupolicy::sim;

namespace {

std::string dump(const char *f)
{
    const char *d = std::getenv("CPUPOLICY_DUMPS");
    return std::string(d && *d ? d : "tests/data/cpuid-dumps") + "/" + f;
}

enum Scenario { same_domain, leaf1_differs, pv_pv, pv_hvm };

void BM_ContextSwitch(benchmark::State &state, const char *file, Scenario sc)
{
    SimConfig cfg;
    cfg.dump_path = dump(file);
    std::unique_ptr<SimMachine> m;
    std::string why;
    if ( SimMachine::create(cfg, m, &why) )
    {
        state.SkipWithError(why.c_str());
        return;
    }
    DomId a = 0, b = 0;
    bool ok = m->on_cpu(0, [&](Hypervisor &hv) {
        if ( hv.domain_create(CONTROL_DOMID, DomainType::pv, &a) ||
             hv.domain_create(CONTROL_DOMID, sc == pv_hvm ? DomainType::hvm : DomainType::pv, &b) )
            return false;
        if ( sc == leaf1_differs )
        {
            Policy p{};
            if ( hv.get_domain_policy(CONTROL_DOMID, b, p) )
                return false;
            Featureset fs = policy_to_featureset(p);
            fs.clear(feature_named("aesni"));
            ErrRecord err;
            if ( hv.set_featureset(CONTROL_DOMID, b, fs.w, NR_FEATUREWORDS, &err) )
                return false;
        }
        return hv.domain_start(CONTROL_DOMID, a) == 0 && hv.domain_start(CONTROL_DOMID, b) == 0;
    });
    if ( !ok )
    {
        state.SkipWithError("domain setup failed");
        return;
    }
    const DomId second = sc == same_domain ? a : b;
    const unsigned second_vcpu = sc == same_domain ? 1 : 0;
    // Warm up: both vCPUs have run once, so the first (cold) writes are not counted.
    (void)m->schedule(0, a, 0);
    (void)m->schedule(0, second, second_vcpu);
    m->reset_counters();

    m->on_cpu(0, [&](Hypervisor &hv) {
        for ( auto _ : state )
        {
            benchmark::DoNotOptimize(hv.context_switch(a, 0));
            benchmark::DoNotOptimize(hv.context_switch(second, second_vcpu));
        }
        return 0;
    });
    SimCounters c = m->counters();
    state.counters["switches/s"] =
        benchmark::Counter(static_cast<double>(c.context_switches), benchmark::Counter::kIsRate);
    state.counters["msr_writes/switch"] =
        c.context_switches ? static_cast<double>(c.msr_writes) / static_cast<double>(c.context_switches)
                           : 0.0;
    state.SetLabel(std::string(file).substr(0, std::string(file).find('.')) + " caps=" +
                   std::to_string(m->hv().levelling_caps().caps));
}

} // namespace

// Sandy Bridge-EP: masking (0x132/0x133/0x134).
BENCHMARK_CAPTURE(BM_ContextSwitch, snb_same_domain, "GenuineIntel00206D5_SandyBridgeEP.txt", same_domain);
BENCHMARK_CAPTURE(BM_ContextSwitch, snb_leaf1_differs, "GenuineIntel00206D5_SandyBridgeEP.txt", leaf1_differs);
BENCHMARK_CAPTURE(BM_ContextSwitch, snb_pv_hvm, "GenuineIntel00206D5_SandyBridgeEP.txt", pv_hvm);
// Haswell-EP: faulting (MISC_FEATURES_ENABLES).
BENCHMARK_CAPTURE(BM_ContextSwitch, hsw_pv_pv, "GenuineIntel00306F2_HaswellEP.txt", pv_pv);
BENCHMARK_CAPTURE(BM_ContextSwitch, hsw_pv_hvm, "GenuineIntel00306F2_HaswellEP.txt", pv_hvm);
// Zen: AMD override MSRs.
BENCHMARK_CAPTURE(BM_ContextSwitch, zen_leaf1_differs, "AuthenticAMD0800F12_K17_Zen.txt", leaf1_differs);
// Genoa: CpuidUserDis (HWCR bit 35).
BENCHMARK_CAPTURE(BM_ContextSwitch, genoa_pv_hvm, "AuthenticAMD0A10F11_K19_Genoa_01.txt", pv_hvm);

BENCHMARK_MAIN();

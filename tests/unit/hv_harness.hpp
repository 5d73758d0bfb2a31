// SPDX-License-Identifier: MIT
// Shared by the hypervisor-side unit tests (test_masking.cpp, test_hypervisor.cpp,
// test_sim.cpp): the case harness (harness.hpp), the dumps by short name, and helpers
// to boot a simulated machine on a dump and drive it as the control domain.
// Not a test program itself (tests/module.mk builds test_*.cpp only).
#pragma once

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "cpupolicy/features.hpp"
#include "cpupolicy/hypervisor.hpp"
#include "cpupolicy/platform.hpp"
#include "harness.hpp"
#include "sim.hpp"

namespace hvtest {

using namespace cpupolicy;
using namespace cpupolicy::sim;
using namespace unittest;

// The dumps by short name.
inline constexpr const char *NEHALEM = "GenuineIntel00106A2_Nehalem-EP.txt";
inline constexpr const char *SANDYBRIDGE = "GenuineIntel00206D5_SandyBridgeEP.txt";
inline constexpr const char *IVYBRIDGE = "GenuineIntel00306E4_IvyBridgeEP.txt";
inline constexpr const char *HASWELL = "GenuineIntel00306F2_HaswellEP.txt";
inline constexpr const char *BROADWELL = "GenuineIntel00406F1_BroadwellE.txt";
inline constexpr const char *SKYLAKE = "GenuineIntel0050654_SkylakeXeon.txt";
inline constexpr const char *CASCADELAKE = "GenuineIntel0050657_CascadeLakeXeon.txt";
inline constexpr const char *ICELAKE = "GenuineIntel00606A6_ICX_04.txt";
inline constexpr const char *SAPPHIRE = "GenuineIntel00806F8_SapphireRapids_05.txt";
inline constexpr const char *GRANITE = "GenuineIntel00A06D1_GraniteRapids_03.txt";
inline constexpr const char *EMERALD = "GenuineIntel00C06F2_EmeraldRapids_01.txt";
inline constexpr const char *ISTANBUL = "AuthenticAMD0100F80_K10_Istanbul.txt";
inline constexpr const char *INTERLAGOS = "AuthenticAMD0600F12_Interlagos.txt";
inline constexpr const char *ZEN = "AuthenticAMD0800F12_K17_Zen.txt";
inline constexpr const char *ROME = "AuthenticAMD0830F10_K17_Rome.txt";
inline constexpr const char *MILAN = "AuthenticAMD0A00F11_K19_Milan_02.txt";
inline constexpr const char *GENOA = "AuthenticAMD0A10F11_K19_Genoa_01.txt";
inline constexpr const char *BERGAMO = "AuthenticAMD0AA0F02_K19_Bergamo_04.txt";
inline constexpr const char *TURIN = "AuthenticAMD0B00F21_K20_Turin_01.txt";
inline constexpr const char *HYGON = "HygonGenuine0900F02_Hygon.txt";

// Boot a machine on a dump; reports and returns nullptr on failure.
inline std::unique_ptr<SimMachine> boot(const char *file, unsigned nr_cpus = 1,
                                        const std::string &boot_options = "",
                                        MaskModel masks = MaskModel::automatic,
                                        FaultingModel faulting = FaultingModel::automatic)
{
    SimConfig cfg;
    cfg.dump_path = dump_path(file);
    cfg.nr_cpus = nr_cpus;
    cfg.boot_options = boot_options;
    cfg.mask_model = masks;
    cfg.faulting = faulting;
    std::unique_ptr<SimMachine> m;
    std::string why;
    int rc = SimMachine::create(cfg, m, &why);
    if ( rc )
    {
        report(__LINE__, std::string("SimMachine::create(") + file + ")", "0",
               show_errno(rc) + ": " + why);
        return nullptr;
    }
    return m;
}

// Hypercall as the control domain on CPU 0.
template <typename F> int hc(SimMachine &m, F &&f)
{
    return m.on_cpu(0, std::forward<F>(f));
}

inline DomId create_domain(SimMachine &m, DomainType t, unsigned nr_vcpus = DEFAULT_VCPUS)
{
    DomId d = ~0u;
    int rc = hc(m, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, t, &d, nr_vcpus); });
    if ( rc )
        report(__LINE__, "domain_create", "0", show_errno(rc));
    return d;
}

inline Policy domain_policy(SimMachine &m, DomId d)
{
    Policy p{};
    int rc = hc(m, [&](Hypervisor &hv) { return hv.get_domain_policy(CONTROL_DOMID, d, p); });
    if ( rc )
        report(__LINE__, "get_domain_policy", "0", show_errno(rc));
    return p;
}

inline int set_featureset(SimMachine &m, DomId d, const Featureset &fs, ErrRecord *err = nullptr)
{
    return hc(m, [&](Hypervisor &hv) {
        return hv.set_featureset(CONTROL_DOMID, d, fs.w, NR_FEATUREWORDS, err);
    });
}

inline int start(SimMachine &m, DomId d)
{
    return hc(m, [&](Hypervisor &hv) { return hv.domain_start(CONTROL_DOMID, d); });
}

inline GuestCpuidOutcome run_cpuid(SimMachine &m, DomId d, unsigned vcpu, uint32_t leaf,
                                   uint32_t subleaf = 0, CpuidPath path = CpuidPath::automatic,
                                   unsigned cpl = 3, int line = 0)
{
    GuestCpuidOutcome o{};
    int rc = m.exec_cpuid(d, vcpu, path, leaf, subleaf, cpl, o);
    if ( rc )
        report(line, "exec_cpuid leaf " + hex(leaf) + " via " + cpuid_path_name(path), "0",
               show_errno(rc));
    return o;
}

consteval Feature F(const char *name) { return feature_named(name); }

} // namespace hvtest

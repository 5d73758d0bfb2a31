// SPDX-License-Identifier: MIT
// Shared harness of the hypervisor-side unit tests (test_levelling.cpp,
// test_hypervisor.cpp, test_sim.cpp): named cases, checks that print expected against
// actual, the dump directory, and helpers to boot a simulated machine on a dump.
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
#include "sim.hpp"

namespace hvtest {

using namespace cpupolicy;
using namespace cpupolicy::sim;

struct Case {
    std::string name;
    std::function<void()> run;
};

inline std::vector<Case> &cases()
{
    static std::vector<Case> c;
    return c;
}
inline const Case *current_case;
inline bool current_ok;
inline const char *test_file = "test";

// Register a case: TEST(name_that_says_what_it_proves) { ... }
struct Registrar {
    Registrar(const char *name, std::function<void()> f) { cases().push_back({name, std::move(f)}); }
};
#define HV_CAT2(a, b) a##b
#define HV_CAT(a, b) HV_CAT2(a, b)
#define TEST(name)                                                                \
    static void name();                                                           \
    static hvtest::Registrar HV_CAT(reg_, name)(#name, name);                     \
    static void name()

inline void report(int line, const std::string &what, const std::string &expected,
                   const std::string &actual)
{
    if ( current_ok )
        std::printf("FAIL: %s\n", current_case->name.c_str());
    current_ok = false;
    std::printf("    %s:%d: %s\n        expected: %s\n        actual:   %s\n", test_file, line,
                what.c_str(), expected.c_str(), actual.c_str());
}

inline std::string hex(uint64_t v)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%#llx", static_cast<unsigned long long>(v));
    return buf;
}
inline std::string show(const Regs &r)
{
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%08x:%08x:%08x:%08x", r.a, r.b, r.c, r.d);
    return buf;
}
inline std::string show_errno(int rc)
{
    if ( rc == 0 )
        return "0";
    return std::to_string(rc) + " (" + std::strerror(rc < 0 ? -rc : rc) + ")";
}
// Feature names of a featureset, space separated.
inline std::string names(const Featureset &fs)
{
    std::string s;
    for ( uint32_t f : each(fs) )
    {
        const char *n = features::name(Feature{f});
        s += (s.empty() ? "" : " ") + (n ? std::string(n) : "#" + std::to_string(f));
    }
    return s.empty() ? "(none)" : s;
}

template <typename T> std::string show_any(const T &v)
{
    if constexpr ( std::is_same_v<T, bool> )
        return v ? "true" : "false";
    else if constexpr ( std::is_integral_v<T> || std::is_enum_v<T> )
    {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%lld (%#llx)", static_cast<long long>(v),
                      static_cast<unsigned long long>(v));
        return buf;
    }
    else if constexpr ( std::is_same_v<T, Regs> )
        return show(v);
    else if constexpr ( std::is_same_v<T, Featureset> )
        return names(v);
    else
        return std::string(v);
}

template <typename E, typename A>
bool check_eq(int line, const char *what, const E &expected, const A &actual)
{
    if ( expected == actual )
        return true;
    report(line, what, show_any(expected), show_any(actual));
    return false;
}
#define EXPECT_EQ(expected, actual) hvtest::check_eq(__LINE__, #actual, (expected), (actual))
#define EXPECT_TRUE(cond) hvtest::check_eq(__LINE__, #cond, true, static_cast<bool>(cond))
#define EXPECT_RC(expected, call)                                                         \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if ( rc_ != (expected) )                                                          \
            hvtest::report(__LINE__, #call, hvtest::show_errno(expected),                 \
                           hvtest::show_errno(rc_));                                      \
    } while ( 0 )
// Stop the case (after reporting) when a precondition fails.
#define REQUIRE_RC(expected, call)                                                        \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if ( rc_ != (expected) )                                                          \
        {                                                                                 \
            hvtest::report(__LINE__, #call, hvtest::show_errno(expected),                 \
                           hvtest::show_errno(rc_));                                      \
            return;                                                                       \
        }                                                                                 \
    } while ( 0 )

inline std::string dumps_dir()
{
    const char *d = std::getenv("CPUPOLICY_DUMPS");
    return d && *d ? d : "../shared/cpuid-dumps";
}
inline std::string dump(const char *file) { return dumps_dir() + "/" + file; }

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
    cfg.dump_path = dump(file);
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

inline int run_all(const char *file)
{
    test_file = file;
    unsigned passed = 0, failed = 0;
    for ( const Case &c : cases() )
    {
        current_case = &c;
        current_ok = true;
        c.run();
        ++(current_ok ? passed : failed);
    }
    std::printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

} // namespace hvtest

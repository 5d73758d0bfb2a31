// SPDX-License-Identifier: MIT
// Shared by test_wire.cpp, test_compat.cpp and test_level.cpp: the check harness
// (expected against actual, "N passed, M failed" last line) and the twenty dumps read
// into policies.
//
// A dump goes into a Policy the plain way, independent of the code under test: every
// record the object holds is stored by slot_exact (plain leaves with NO_SUBLEAF, the
// importer records them with subleaf 0), records it does not hold are ignored, MSRs
// 0xce (low 32 bits, as the object holds it) and 0x10a are copied.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <sstream>
#include <string>
#include <vector>

#include "cpupolicy/features.hpp"
#include "cpupolicy/policy.hpp"
#include "import.hpp"

namespace fixture {

using namespace cpupolicy;

inline int nr_passed, nr_failed;
inline const char *current_test = "";

inline std::string hex(uint64_t v)
{
    char b[32];
    std::snprintf(b, sizeof(b), "%#llx", static_cast<unsigned long long>(v));
    return b;
}
inline std::string str(int v) { return std::to_string(v); }
inline std::string str(unsigned v) { return std::to_string(v); }
inline std::string str(long v) { return std::to_string(v); }
inline std::string str(unsigned long v) { return std::to_string(v); }
inline std::string str(unsigned long long v) { return std::to_string(v); }
inline std::string str(const std::string &s) { return s; }
inline std::string str(const char *s) { return s ? s : "(null)"; }
inline std::string str(bool b) { return b ? "true" : "false"; }
inline std::string str(const ErrRecord &e)
{
    return "{leaf " + hex(e.leaf) + ", subleaf " + hex(e.subleaf) + ", msr " + hex(e.msr) + "}";
}

template <typename T, typename U>
bool expect_eq(const std::string &what, const T &expected, const U &actual)
{
    if ( expected == actual )
    {
        ++nr_passed;
        return true;
    }
    std::printf("FAIL %s: %s: expected %s, got %s\n", current_test, what.c_str(),
                str(expected).c_str(), str(actual).c_str());
    ++nr_failed;
    return false;
}
inline bool expect(const std::string &what, bool ok) { return expect_eq(what, true, ok); }
inline bool same_err(const ErrRecord &a, const ErrRecord &b)
{
    return a.leaf == b.leaf && a.subleaf == b.subleaf && a.msr == b.msr;
}
inline bool expect_err(const std::string &what, const ErrRecord &expected, const ErrRecord &actual)
{
    if ( same_err(expected, actual) )
    {
        ++nr_passed;
        return true;
    }
    std::printf("FAIL %s: %s: expected %s, got %s\n", current_test, what.c_str(),
                str(expected).c_str(), str(actual).c_str());
    ++nr_failed;
    return false;
}

#define TEST(fn)                                                                   \
    do {                                                                           \
        fixture::current_test = #fn;                                               \
        int before_ = fixture::nr_failed;                                          \
        fn();                                                                      \
        std::printf("%s %s\n", fixture::nr_failed == before_ ? "ok  " : "FAIL", #fn); \
    } while ( 0 )

inline int finish()
{
    std::printf("%d passed, %d failed\n", nr_passed, nr_failed);
    return nr_failed ? 1 : 0;
}

// --- Dumps ------------------------------------------------------------------------------
inline std::string dumps_dir()
{
    if ( const char *d = std::getenv("CPUPOLICY_DUMPS") )
        return d;
    return "../shared/cpuid-dumps";
}

struct Dump {
    std::string name;  // file name without .txt
    Policy p;
};

inline bool load_dump(const std::string &path, Policy &p)
{
    cpupolicy::import::CpuDump d;
    cpupolicy::import::ImportError e;
    if ( cpupolicy::import::import_file(path, 0, d, e) != 0 )
    {
        std::printf("cannot import %s: %s\n", path.c_str(), format_error(e).c_str());
        return false;
    }
    p = Policy{};
    for ( const auto &r : d.leaves )
    {
        uint32_t sub = r.subleaf;
        if ( leaf_kind(r.leaf) == LeafKind::plain )
        {
            if ( sub != 0 )
                continue;
            sub = NO_SUBLEAF;
        }
        int s = slot_exact(r.leaf, sub);
        if ( s >= 0 )
            p.slot[s] = Regs{r.a, r.b, r.c, r.d};
    }
    for ( const auto &m : d.msrs )
    {
        if ( m.index == MSR_PLATFORM_INFO )
            p.platform_info = static_cast<uint32_t>(m.value);
        else if ( m.index == MSR_ARCH_CAPABILITIES )
            p.arch_caps = m.value;
    }
    return true;
}

// All dumps in the directory, sorted by name; loaded once per program.
inline const std::vector<Dump> &dumps()
{
    static std::vector<Dump> all;
    static bool done;
    if ( done )
        return all;
    done = true;
    std::vector<std::string> names;
    if ( DIR *dir = opendir(dumps_dir().c_str()) )
    {
        while ( dirent *de = readdir(dir) )
        {
            std::string n = de->d_name;
            if ( n.size() > 4 && n.compare(n.size() - 4, 4, ".txt") == 0 )
                names.push_back(n);
        }
        closedir(dir);
    }
    std::sort(names.begin(), names.end());
    for ( const auto &n : names )
    {
        Dump d;
        d.name = n.substr(0, n.size() - 4);
        if ( load_dump(dumps_dir() + "/" + n, d.p) )
            all.push_back(d);
    }
    return all;
}

// The dump whose file name contains `part` (e.g. "GraniteRapids"); aborts the test
// program when absent, since every later expectation would be meaningless.
inline const Policy &dump(const char *part)
{
    for ( const auto &d : dumps() )
        if ( d.name.find(part) != std::string::npos )
            return d.p;
    std::printf("FAIL: no dump matching '%s' in %s\n", part, dumps_dir().c_str());
    std::exit(1);
}

// Names of the set features ("avx512f avx512bw #500"), for messages.
inline std::string feature_names(const Featureset &fs)
{
    std::string out;
    for ( uint32_t f : each(fs) )
    {
        const char *n = features::name(Feature{f});
        out += (out.empty() ? "" : " ") + (n ? std::string(n) : "#" + std::to_string(f));
    }
    return out.empty() ? "(none)" : out;
}

} // namespace fixture

// SPDX-License-Identifier: MIT
// The check-counting harness of the white-box tests (test_featureset, test_feature_table,
// test_wire, test_compat, test_level, test_derive, test_guest_cpuid, test_protocol,
// test_backend_xen): each expect_* is one check, printed expected against actual when
// it fails; TEST(fn) runs a function named after what it proves and counts it as one
// test; finish() prints the closing line of passed, failed and skipped tests
// (common.hpp, shared with harness.hpp).  Plus the twenty dumps read into raw policies once per
// program (common.hpp: through the library's own importer).
// Not a test program itself (tests/module.mk builds test_*.cpp only).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>
#include <vector>

#include "common.hpp"
#include "cpupolicy/derive.hpp"

namespace fixture {

using namespace cpupolicy;
using namespace unittest;

// Checks are counted in the one tally (common.hpp); nr_failed is this program's count of
// failed checks, which TEST(fn) compares before and after to judge the test.
inline unsigned long &nr_passed = tally.checks_passed;
inline unsigned long &nr_failed = tally.checks_failed;
inline const char *current_test = "";

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
// "xxxxxxxx:... { name name #n }": the words and what they name.
inline std::string str(const Featureset &fs)
{
    char b[NR_FEATUREWORDS * 9 + 1];
    if ( format_words(fs.w, NR_FEATUREWORDS, b, sizeof(b)) < 0 )
        return "(unformattable)";
    return std::string(b) + " { " + feature_names(fs) + " }";
}

// One check: counted, and printed expected against actual when it fails.
inline bool count_check(const std::string &what, bool ok, const std::string &expected,
                        const std::string &actual)
{
    if ( ok )
    {
        ++nr_passed;
        return true;
    }
    std::printf("FAIL %s: %s: expected %s, got %s\n", current_test, what.c_str(),
                expected.c_str(), actual.c_str());
    ++nr_failed;
    return false;
}
template <typename T, typename U>
bool expect_eq(const std::string &what, const T &expected, const U &actual)
{
    if ( expected == actual )  // not formatted unless needed: some loops run 10^5 checks
        return count_check(what, true, {}, {});
    return count_check(what, false, str(expected), str(actual));
}
inline bool expect(const std::string &what, bool ok) { return expect_eq(what, true, ok); }
inline bool same_err(const ErrRecord &a, const ErrRecord &b)
{
    return a.leaf == b.leaf && a.subleaf == b.subleaf && a.msr == b.msr;
}
inline bool expect_err(const std::string &what, const ErrRecord &expected, const ErrRecord &actual)
{
    bool ok = same_err(expected, actual);
    return count_check(what, ok, ok ? std::string() : str(expected), ok ? std::string() : str(actual));
}

// One test: a function named after what it proves, judged by its checks; a test that
// calls skip_test(why) before any check fails is counted as skipped.
#define TEST(fn)                                                                   \
    do {                                                                           \
        fixture::current_test = #fn;                                               \
        unsigned long before_ = fixture::nr_failed;                                \
        unittest::skip_reason = nullptr;                                           \
        fn();                                                                      \
        bool failed_ = fixture::nr_failed != before_;                              \
        if ( failed_ )                                                             \
            ++unittest::tally.failed;                                              \
        else if ( unittest::skip_reason )                                          \
            ++unittest::tally.skipped;                                             \
        else                                                                       \
            ++unittest::tally.passed;                                              \
        std::printf("%s %s%s%s\n", failed_ ? "FAIL" : unittest::skip_reason ? "SKIP" : "ok  ", \
                    #fn, unittest::skip_reason ? ": " : "",                        \
                    unittest::skip_reason ? unittest::skip_reason : "");           \
    } while ( 0 )
inline void skip_test(const char *why) { unittest::skip_reason = why; }

inline int finish() { return closing_line(); }

// Short names for hand-built policies: S(p, leaf[, subleaf]) is the slot's registers,
// G the same read-only, F(name) a feature by name (common.hpp: a bad slot or name is a
// test bug and stops the program).
inline Regs &S(Policy &p, uint32_t leaf, uint32_t subleaf = NO_SUBLEAF)
{
    return slot_of(p, leaf, subleaf);
}
inline Regs G(const Policy &p, uint32_t leaf, uint32_t subleaf = NO_SUBLEAF)
{
    return slot_of(p, leaf, subleaf);
}
inline Feature F(const char *name) { return Feature{feature_number(name)}; }
// What guest CPUID's static part answers for (leaf, subleaf): policy.hpp get().
inline Regs R(const Policy &p, uint32_t leaf, uint32_t subleaf = NO_SUBLEAF)
{
    return get(p, Leaf{leaf}, Subleaf{subleaf});
}

// Policy `idx` derived from `raw` (derive.hpp).  A derivation that fails is a failed
// check of the calling test (the policy returned is then all zero).
inline Policy derive(const Policy &raw, PolicyIndex idx, const char *opts = nullptr)
{
    Policy out{};
    BootOptionsError e;
    if ( int rc = policy_derive(out, raw, idx, opts, &e) )
    {
        std::printf("FAIL %s: derive %s with '%s': expected 0, got %d\n", current_test,
                    policy_index_name(idx), opts ? opts : "", rc);
        ++nr_failed;
    }
    return out;
}

// --- Dumps ------------------------------------------------------------------------------
struct Dump {
    std::string name;  // file name without .txt
    Policy p;
};

// All dumps in the directory, sorted by name; loaded once per program.  One that does
// not import is reported and left out (the tests that count the dumps then fail).
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
        std::string why;
        d.name = n.substr(0, n.size() - 4);
        if ( import_policy(dump_path(n.c_str()), d.p, &why) )
            all.push_back(d);
        else
            std::printf("cannot import %s\n", why.c_str());
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

} // namespace fixture

// SPDX-License-Identifier: MIT
// The case-counting harness of the white-box tests (test_import, and through
// hv_harness.hpp test_masking, test_hypervisor, test_sim): TEST(name) registers a case
// named after what it proves; EXPECT_* print file:line, expected and actual; run_all()
// runs every case and prints the closing line (common.hpp: passed, failed, skipped cases);
// SKIP(why) ends a case that cannot run here.
// Not a test program itself (tests/module.mk builds test_*.cpp only).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "common.hpp"

namespace unittest {

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
#define UNITTEST_CAT2(a, b) a##b
#define UNITTEST_CAT(a, b) UNITTEST_CAT2(a, b)
#define TEST(name)                                                                    \
    static void name();                                                               \
    static unittest::Registrar UNITTEST_CAT(reg_, name)(#name, name);                 \
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
        return feature_names(v);
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
#define EXPECT_EQ(expected, actual) unittest::check_eq(__LINE__, #actual, (expected), (actual))
#define EXPECT_TRUE(cond) unittest::check_eq(__LINE__, #cond, true, static_cast<bool>(cond))
#define EXPECT_RC(expected, call)                                                     \
    do {                                                                              \
        int rc_ = (call);                                                             \
        if ( rc_ != (expected) )                                                      \
            unittest::report(__LINE__, #call, unittest::show_errno(expected),         \
                           unittest::show_errno(rc_));                                \
    } while ( 0 )
// Stop the case (after reporting) when a precondition fails.
#define REQUIRE_RC(expected, call)                                                    \
    do {                                                                              \
        int rc_ = (call);                                                             \
        if ( rc_ != (expected) )                                                      \
        {                                                                             \
            unittest::report(__LINE__, #call, unittest::show_errno(expected),         \
                           unittest::show_errno(rc_));                                \
            return;                                                                   \
        }                                                                             \
    } while ( 0 )

// Stop the case as skipped (it cannot run here), saying why; a case that already failed
// stays failed.
#define SKIP(why)                                                                     \
    do {                                                                              \
        unittest::skip_reason = (why);                                                \
        return;                                                                       \
    } while ( 0 )

inline int run_all(const char *file)
{
    test_file = file;
    for ( const Case &c : cases() )
    {
        current_case = &c;
        current_ok = true;
        skip_reason = nullptr;
        c.run();
        if ( !current_ok )
            ++tally.failed;
        else if ( skip_reason )
        {
            ++tally.skipped;
            std::printf("SKIP: %s: %s\n", c.name.c_str(), skip_reason);
        }
        else
            ++tally.passed;
    }
    return closing_line();
}

} // namespace unittest

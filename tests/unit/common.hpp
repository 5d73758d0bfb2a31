// SPDX-License-Identifier: MIT
// What every white-box test program shares, whichever harness it uses (fixture.hpp
// counts checks, harness.hpp counts cases): the dump directory, a dump read into a raw
// Policy, and the ways values are shown in expected-against-actual messages.
//
// A dump becomes a Policy through the library's own policy_import (dump_policy.hpp), the
// path cpupolicy_import_dump takes: the tests see what a toolstack sees, and there is no
// second copy of the record-to-slot rules to drift from it.
// Not a test program itself (tests/module.mk builds test_*.cpp only).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpupolicy/features.hpp"
#include "cpupolicy/policy.hpp"
#include "dump_policy.hpp"

namespace unittest {

using namespace cpupolicy;

// The one tally of every white-box harness (harness.hpp's registered cases, fixture.hpp's
// TEST(fn) runs): tests passed, failed and skipped, and the closing line
// "N passed, N failed, N skipped" that tests/run-tests.sh adds up.  Checks inside a
// test are counted too, and shown on the line before, never as the closing counts.
struct Tally {
    unsigned passed, failed, skipped;
    unsigned long checks_passed, checks_failed;
};
inline Tally tally;
inline const char *skip_reason;  // set by SKIP() in the running test

inline int closing_line()
{
    if ( tally.checks_passed || tally.checks_failed )
        std::printf("(%lu checks passed, %lu checks failed)\n", tally.checks_passed,
                    tally.checks_failed);
    std::printf("%u passed, %u failed, %u skipped\n", tally.passed, tally.failed, tally.skipped);
    return tally.failed ? 1 : 0;
}

// $CPUPOLICY_DUMPS (tests/run-tests.sh sets it), else the shared set beside the tree.
inline std::string dumps_dir()
{
    const char *d = std::getenv("CPUPOLICY_DUMPS");
    return d && *d ? d : "tests/data/cpuid-dumps";
}
inline std::string dump_path(const char *file) { return dumps_dir() + "/" + file; }

// The raw policy of CPU 0 of the dump at `path`.  false, with the importer's
// "file:line: what" in *why, when it cannot be imported.
inline bool import_policy(const std::string &path, Policy &p, std::string *why = nullptr)
{
    import::ImportError e;
    if ( policy_import(p, path, 0, e) == 0 )
        return true;
    if ( why )
        *why = import::format_error(e);
    return false;
}

inline std::string hex(uint64_t v)
{
    char b[32];
    std::snprintf(b, sizeof(b), "%#llx", static_cast<unsigned long long>(v));
    return b;
}
inline std::string hex(Leaf v) { return hex(raw(v)); }
inline std::string hex(Subleaf v) { return hex(raw(v)); }
inline std::string hex(MsrIndex v) { return hex(raw(v)); }

// An expected error record written as numbers (~0u: the field does not apply).
inline ErrRecord err_rec(uint32_t leaf, uint32_t subleaf, uint32_t msr)
{
    return ErrRecord{Leaf{leaf}, Subleaf{subleaf}, MsrIndex{msr}};
}
// The same as a table column: {leaf, subleaf, msr} in plain numbers, defaults ~0u.
struct ErrNums {
    uint32_t leaf = ~0u, subleaf = ~0u, msr = ~0u;
    operator ErrRecord() const { return err_rec(leaf, subleaf, msr); }
};

inline std::string show_errno(int rc)
{
    if ( rc == 0 )
        return "0";
    return std::to_string(rc) + " (" + std::strerror(rc < 0 ? -rc : rc) + ")";
}

// "eax:ebx:ecx:edx" in hex.
inline std::string show(const Regs &r)
{
    char b[64];
    std::snprintf(b, sizeof(b), "%08x:%08x:%08x:%08x", r.a, r.b, r.c, r.d);
    return b;
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

// A feature's number by name (canonical or alias).  An unknown name is a bug in the
// test, not a failure of the code under test: the program stops with status 2.
inline uint32_t feature_number(const char *name)
{
    uint32_t f = 0;
    if ( !features::lookup(name, SIZE_MAX, &f) )
    {
        std::printf("test bug: no feature named %s\n", name);
        std::exit(2);
    }
    return f;
}

// Registers of (leaf, subleaf) in the policy object; the slot must exist (a test bug
// otherwise, status 2).
inline Regs &slot_of(Policy &p, uint32_t leaf, uint32_t subleaf = NO_SUBLEAF)
{
    int s = slot_exact(Leaf{leaf}, Subleaf{subleaf});
    if ( s < 0 )
    {
        std::printf("test bug: no slot %#x:%#x\n", leaf, subleaf);
        std::exit(2);
    }
    return p.slot[s];
}
inline Regs slot_of(const Policy &p, uint32_t leaf, uint32_t subleaf = NO_SUBLEAF)
{
    return slot_of(const_cast<Policy &>(p), leaf, subleaf);
}

} // namespace unittest

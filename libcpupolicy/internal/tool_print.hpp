// SPDX-License-Identifier: MIT
// Output shared by the command-line tools (xen-cpuid, cpupolicy), written over the
// public C ABI only and header-only, so a tool linked against libcpupolicy.so alone can
// use it.
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "cpupolicy.h"
#include "cpupolicy/masking.hpp"

namespace cpupolicy::tools {

// A tool's last step: standard output flushed and checked, so that output that could not
// be written (a full disk, a closed pipe, /dev/full) is an error rather than exit 0.
// Returns `status`, or `error_status` after saying what failed.
inline int finish_output(const char *prog, int status, int error_status)
{
    if ( fflush(stdout) != 0 || ferror(stdout) )
    {
        fprintf(stderr, "%s: writing standard output failed: %s\n", prog,
                errno ? strerror(errno) : "write error");
        return error_status;
    }
    return status;
}

// The vendor string of a policy (leaf 0: EBX, EDX, ECX), "?" when it has no leaf 0; bytes
// outside printable ASCII become '?' (a dump can hold anything there, and the string is
// printed in messages).
inline std::string vendor_of(const cpupolicy_t *p)
{
    cpupolicy_leaf_t l0{};
    if ( cpupolicy_get_cpuid(p, 0, CPUPOLICY_NO_SUBLEAF, &l0) )
        return "?";
    char v[13];
    memcpy(v, &l0.b, 4);
    memcpy(v + 4, &l0.d, 4);
    memcpy(v + 8, &l0.c, 4);
    v[12] = '\0';
    for ( char &c : v )
        if ( c && (c < 0x20 || c > 0x7e) )
            c = '?';
    return v;
}

// A featureset in xen-cpuid form: 8-digit hex words joined by ':'.
inline std::string featureset_hex(const std::vector<uint32_t> &fs)
{
    std::string s;
    char w[16];
    for ( size_t i = 0; i < fs.size(); ++i )
    {
        snprintf(w, sizeof(w), "%s%08" PRIx32, i ? ":" : "", fs[i]);
        s += w;
    }
    return s;
}

// Names of the features set in fs, one string each; "<N>" for an unnamed bit.
inline std::vector<std::string> feature_name_list(const std::vector<uint32_t> &fs)
{
    std::vector<std::string> v;
    for ( uint32_t w = 0; w < fs.size(); ++w )
        for ( uint32_t b = 0; b < 32; ++b )
            if ( fs[w] & (1u << b) )
            {
                const char *n = cpupolicy_feature_name(w * 32 + b);
                v.push_back(n ? n : "<" + std::to_string(w * 32 + b) + ">");
            }
    return v;
}

// Names of the features set in fs[0..nr), space separated; "<N>" for an unnamed bit.
inline std::string feature_names(const uint32_t *fs, size_t nr)
{
    std::string s;
    for ( uint32_t w = 0; w < nr; ++w )
        for ( uint32_t b = 0; b < 32; ++b )
            if ( fs[w] & (1u << b) )
            {
                const char *n = cpupolicy_feature_name(w * 32 + b);
                if ( !s.empty() )
                    s += ' ';
                s += n ? n : "<" + std::to_string(w * 32 + b) + ">";
            }
    return s;
}

// A serialised policy in the layout of xen-cpuid -p (Xen's tools/misc/xen-cpuid.c
// print_policy): a title line, the CPUID table with all-zero leaves skipped, the MSRs.
inline void print_policy(const char *title, const cpupolicy_leaf_t *leaves, size_t nr_leaves,
                         const cpupolicy_msr_t *msrs, size_t nr_msrs)
{
    printf("%s policy: %zu leaves, %zu MSRs\n", title, nr_leaves, nr_msrs);
    printf(" CPUID:\n");
    printf("  %-8s %-8s -> %-8s %-8s %-8s %-8s\n", "leaf", "subleaf", "eax", "ebx", "ecx", "edx");
    for ( size_t i = 0; i < nr_leaves; ++i )
    {
        const cpupolicy_leaf_t &l = leaves[i];
        if ( !l.a && !l.b && !l.c && !l.d )
            continue;
        printf("  %08" PRIx32 ":%08" PRIx32 " -> %08" PRIx32 ":%08" PRIx32 ":%08" PRIx32
               ":%08" PRIx32 "\n",
               l.leaf, l.subleaf, l.a, l.b, l.c, l.d);
    }
    printf(" MSRs:\n");
    printf("  %-8s -> %-16s\n", "index", "value");
    for ( size_t i = 0; i < nr_msrs; ++i )
        printf("  %08" PRIx32 " -> %016" PRIx64 "\n", msrs[i].idx, msrs[i].val);
}

// A policy serialised into vectors (size query, then fill).  0 or the negative errno of
// cpupolicy_serialise(); on error `out` is untouched.
struct Serialised {
    std::vector<cpupolicy_leaf_t> leaves;
    std::vector<cpupolicy_msr_t> msrs;
};
inline int serialise(const cpupolicy_t *p, Serialised &out)
{
    uint32_t nl = 0, nm = 0;
    if ( int rc = cpupolicy_serialise(p, nullptr, &nl, nullptr, &nm) )
        return rc;
    Serialised s;
    s.leaves.resize(nl);
    s.msrs.resize(nm);
    if ( int rc = cpupolicy_serialise(p, s.leaves.data(), &nl, s.msrs.data(), &nm) )
        return rc;
    s.leaves.resize(nl);
    s.msrs.resize(nm);
    out = std::move(s);
    return 0;
}

inline void print_policy(const char *title, const Serialised &s)
{
    print_policy(title, s.leaves.data(), s.leaves.size(), s.msrs.data(), s.msrs.size());
}

// The host's levelling caps in words: one line per capability (names and meanings are
// the core's, masking.hpp, in bit order), any bit this build does not know, then what
// that means for PV guests, whose CPUID is not intercepted otherwise (HVM guests are
// always levelled by the VMEXIT on CPUID).
inline void print_levelling_caps(uint32_t caps)
{
    const uint32_t known = (1u << lcap::nr_bits) - 1;
    const unsigned nr_masks =
        static_cast<unsigned>(__builtin_popcount(caps & known & ~CPUPOLICY_LCAP_FAULTING));
    printf("Levelling caps: %08" PRIx32 "\n", caps);
    for ( unsigned b = 0; b < lcap::nr_bits; ++b )
        printf("  %-12s %-3s  %s\n", lcap_name(b), caps & (1u << b) ? "yes" : "no", lcap_what(b));
    for ( unsigned b = 0; b < 32; ++b )
        if ( (caps & ~known) & (1u << b) )
        {
            std::string unknown = "<" + std::to_string(b) + ">";
            printf("  %-12s yes  (a capability this build does not know)\n", unknown.c_str());
        }
    if ( caps & CPUPOLICY_LCAP_FAULTING )
        printf("PV levelling: complete, by faulting\n");
    else if ( nr_masks )
        printf("PV levelling: partial, by masking %u register%s\n", nr_masks,
               nr_masks == 1 ? "" : "s");
    else
        printf("PV levelling: none, PV guests see the host's CPUID\n");
}

} // namespace cpupolicy::tools

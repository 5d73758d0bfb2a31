// SPDX-License-Identifier: MIT
// Output shared by the command-line tools (xen-cpuid, cpupolicy), written over the
// public C ABI only and header-only, so a tool linked against libcpupolicy.so alone can
// use it.
#pragma once

#include <inttypes.h>
#include <stdio.h>

#include <string>

#include "cpupolicy.h"

namespace cpupolicy::tools {

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

} // namespace cpupolicy::tools

// SPDX-License-Identifier: MIT
// Row types of the feature table (feature-table.hpp).  Kept apart so the table file is
// nothing but data.
#pragma once

#include "cpupolicy/types.hpp"

namespace cpupolicy {

// Number of 32-bit words in a featureset.  Append-only: a new word is added at the end
// and every table parallel to the words static_asserts its size against this.
inline constexpr unsigned NR_FEATUREWORDS = 19;
inline constexpr unsigned NR_FEATURE_BITS = NR_FEATUREWORDS * 32;

// Where a featureset word lives in a policy: a CPUID leaf/subleaf register, or one
// 32-bit half of an MSR.
// A CPUID word has leaf/subleaf/reg (msr 0); an MSR word has msr/half (leaf and subleaf ~0).
struct WordSource {
    bool is_msr;
    Leaf leaf;
    Subleaf subleaf;   // kNoSubleaf for a plain leaf
    Reg reg;
    MsrIndex msr;
    uint8_t half;      // MSR: 0 = bits 31:0, 1 = bits 63:32

    static constexpr WordSource cpuid(Leaf l, Subleaf s, Reg r) { return {false, l, s, r, MsrIndex{0}, 0}; }
    static constexpr WordSource msr_half(MsrIndex idx, uint8_t half)
    {
        return {true, Leaf{~0u}, Subleaf{~0u}, Reg::eax, idx, half};
    }
};

struct WordInfo {
    const char *label;   // as xen-cpuid prints it: "CPUID 0x00000007:0.ebx"
    WordSource src;
};

struct FeatureInfo {
    uint8_t word;
    uint8_t bit;
    const char *name;    // canonical (Xen) spelling
    const char *attrs;   // attribute letters, see feature-table.hpp
};

struct DepEdge {
    const char *prereq;
    const char *dependent;
    const char *why;
};

struct AliasInfo {
    const char *alias;
    const char *canonical;
    const char *source;  // "xen-4.17", "linux", "qemu", "libvirt", comma separated
};

} // namespace cpupolicy

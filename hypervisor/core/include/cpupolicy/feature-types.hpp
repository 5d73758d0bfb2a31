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
struct WordSource {
    bool is_msr;
    uint32_t leaf;     // or MSR index
    uint32_t subleaf;  // NO_SUBLEAF, or for an MSR: 0 = low half, 1 = high half
    Reg reg;

    static constexpr WordSource cpuid(uint32_t l, uint32_t s, Reg r) { return {false, l, s, r}; }
    static constexpr WordSource msr(uint32_t idx, uint32_t half) { return {true, idx, half, Reg::eax}; }
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

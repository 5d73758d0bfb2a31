// SPDX-License-Identifier: MIT
// This machine's raw featureset, read with the CPUID instruction, for xen-cpuid's
// offline `info`/`detail` (there is no hypervisor to ask).
#pragma once

#include <stdint.h>

#include "cpupolicy/feature-types.hpp"

namespace xcpuid {

// How the two MSR_ARCH_CAPS words were obtained.
enum class MsrWords {
    not_enumerated,  // CPUID 7:0.edx[29] (arch-caps) clear: the MSR does not exist, 0 is exact
    read,            // read through /dev/cpu/0/msr
    unreadable,      // enumerated but not readable from here (no msr driver / not root): 0
};

struct NativeRaw {
    uint32_t words[cpupolicy::NR_FEATUREWORDS];
    MsrWords msr;
    int msr_errno;   // for MsrWords::unreadable
};

// Fills every word from the leaf, subleaf and register the feature table names for it
// (cpupolicy::table::words[i].src).  A leaf or subleaf above the CPU's reported maximum
// reads as 0, as Xen's raw policy does: stale data beyond the maximum leaf is
// meaningless (SDM vol. 2A, CPUID: "If a value entered for CPUID.EAX is higher than the
// maximum input value ... the data for the highest basic information leaf is returned").
NativeRaw read_native_raw();

} // namespace xcpuid

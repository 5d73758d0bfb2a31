// SPDX-License-Identifier: MIT
// Levelling: the most capable policy that a guest can be given so that it runs on
// (migrates between) every host of a pool.
#pragma once

#include "cpupolicy/compat.hpp"

namespace cpupolicy {

// Level the n policies in[0..n-1] into `out`.  The result is compatible with every
// input (policy_is_compatible(in[i], out) == 0); how each part is combined:
//   features        AND over the inputs' effective featuresets, the '|' features OR,
//                   then featureset_sanitise (unknown bits and features whose
//                   prerequisite did not survive are dropped); RSBA/RRSBA ("may behave
//                   worse") OR too, and RSBA for an RRSBA that went with eIBRS
//                   (featureset_tell_worse_behaviour)
//   numeric_fields  `le` fields the minimum, `subset` fields the AND (compat.hpp)
//   max ext. leaf   the smallest effective one
//   xstate          components the AND of the inputs'; a component whose layout
//                   (size/offset/flags) differs between inputs is dropped together
//                   with the features that need it; 0xd:0.ecx the exact size of the
//                   levelled components when every layout is known, never above the
//                   smallest input's
//   0x80000008      guest physical address width [23:16] the minimum (0 = "as [7:0]")
//   MSR 0xce        CPUID faulting only if every input has it; other bits from in[0]
//   hv limits       the minimum
//   0x80000001.edx  on AMD/Hygon the leaf 1 EDX mirror (features::COMMON_1D) follows the
//                   levelled leaf 1, as in every policy (policy_mirror_common_1d)
//   all else        from in[0], the reference host: identification, brand string,
//                   cache/TLB/topology descriptors, frequencies, power and RDT leaves
//                   describe a machine, not a capability; the hypervisor answers them
//                   from the policy and the guest keeps them across a migration
// Finally everything outside the levelled ranges is cleared (policy_clear_out_of_range).
// `out` may be one of the inputs; it is written only on success.
// Returns 0, or -EINVAL: n == 0 or in == NULL (*bad_index untouched), a NULL input
// (*bad_index = its index), or an input whose vendor signature differs from in[0]'s
// (*bad_index = the first such index).  bad_index may be NULL.
CPUPOLICY_MUST_CHECK int policy_level(Policy &out, const Policy *const *in, uint32_t n,
                                      uint32_t *bad_index);

} // namespace cpupolicy

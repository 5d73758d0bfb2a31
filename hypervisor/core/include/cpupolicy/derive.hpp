// SPDX-License-Identifier: MIT
// Derivation of the policies a hypervisor computes at boot, in Xen's order:
//
//   raw  -> host -> pv-max  -> pv-default
//                -> hvm-max -> hvm-default
//
// raw is the CPU as read (imported dump or CPUID instruction).  host is what the
// hypervisor itself uses: raw after the boot options, unknown bits and broken
// dependencies cleared, dynamic and hidden fields cleaned.  A max policy is everything
// a guest type could be given (what an incoming migration is checked against); a
// default policy is what a freshly built guest gets.  Every rule, with the reason for
// it, is in docs/policy.md; the comments in derive.cpp name the rule they implement.
//
// Properties (tests/unit/test_derive.cpp checks them over every dump):
//  - features: default <= max <= host <= raw, except for the features a rule
//    synthesises for guests (derive_synthesised(), each with its rule);
//  - every derived policy passes featureset_check_deps();
//  - deriving is deterministic, and on a bad boot option nothing is written.
#pragma once

#include "cpupolicy/boot_options.hpp"
#include "cpupolicy/policy.hpp"
#include "cpupolicy/xstate.hpp"

namespace cpupolicy {

// Xen's policy index order (XEN_SYSCTL_cpu_policy_*), also the libcpupolicy values.
enum class PolicyIndex : uint8_t {
    raw = 0, host = 1, pv_max = 2, hvm_max = 3, pv_default = 4, hvm_default = 5,
};
inline constexpr unsigned NR_POLICY_INDEX = 6;

// "raw", "host", "pv-max", "hvm-max", "pv-default", "hvm-default"; nullptr when out of range.
const char *policy_index_name(PolicyIndex idx);
// Inverse of policy_index_name ('_' accepted for '-'); false when unknown.
bool policy_index_from_name(const char *name, PolicyIndex *idx);

// Derive policy `idx` from `raw` under `boot_options` (boot_options.hpp; NULL = none).
//   0, or -EINVAL (idx out of range, or a malformed boot option), -ENOENT (an unknown
//   feature name in cpuid=); `bad` then locates the option.  `out` is written only on
//   success.  idx raw copies raw.
// Uses one Policy-sized temporary (the host policy) on the stack; a hypervisor that
// keeps all five policies anyway calls the step functions below instead.
CPUPOLICY_MUST_CHECK int policy_derive(Policy &out, const Policy &raw, PolicyIndex idx,
                                       const char *boot_options,
                                       BootOptionsError *bad = nullptr);
CPUPOLICY_MUST_CHECK int policy_derive_opts(Policy &out, const Policy &raw, PolicyIndex idx,
                                            const BootOptions &opts);

// Step functions.  `out` may alias the policy it is derived from (max for default).
void derive_host(Policy &host, const Policy &raw, const BootOptions &opts);
void derive_max(Policy &max, const Policy &host, const Policy &raw, bool hvm,
                const BootOptions &opts);
void derive_default(Policy &def, const Policy &max, const Policy &host, const Policy &raw,
                    bool hvm, const BootOptions &opts);

// Features a derived policy may offer although the host policy lacks them, because
// a rule of docs/policy.md synthesises them for guests (HYPERVISOR, the emulated
// (x2)APIC, topology bits, ARCH_CAPS and its migration-safety bits, RTM_ALWAYS_ABORT,
// STIBP/IBPB with IBRS, NO_LMSL, SEP on AMD, VIRT_SSBD, CLWB on SKX, ...).
// Empty for raw and host.
Featureset derive_synthesised(PolicyIndex idx);

// Family and model from leaf 1 EAX, as the SDM and APM define the extended fields.
struct FamilyModel {
    uint32_t family, model;
};
FamilyModel policy_family_model(const Policy &p);

} // namespace cpupolicy

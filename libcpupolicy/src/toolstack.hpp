// SPDX-License-Identifier: MIT
// Shared by the toolstack part of the C ABI (cpupolicy_toolstack.h): text forms, the
// complete compatibility report, the domain builder, and the store-backed operations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api.hpp"
#include "cpupolicy_toolstack.h"

namespace cpupolicy::ts {

struct PolicyFree {
    void operator()(cpupolicy_t *p) const { cpupolicy_free(p); }
};
using PolicyPtr = std::unique_ptr<cpupolicy_t, PolicyFree>;
inline PolicyPtr new_policy() { return PolicyPtr(cpupolicy_alloc()); }

struct ReportFree {
    void operator()(cpupolicy_report_t *r) const { cpupolicy_report_free(r); }
};
using ReportPtr = std::unique_ptr<cpupolicy_report_t, ReportFree>;

// The policy text form (cpupolicy_policy_format_text), as a string.
int policy_to_text(const cpupolicy_t *p, std::string &out);
// Parse into p (atomic).  why = "line L, column C: what" on -EINVAL.
int policy_from_text(cpupolicy_t *p, const std::string &text, std::string *why = nullptr);

// A policy's featureset (effective words) and its xen-cpuid text.
std::vector<uint32_t> featureset_of(const cpupolicy_t *p);
std::string featureset_text(const std::vector<uint32_t> &fs);
// Names of the features set in fs.
std::vector<std::string> feature_names(const std::vector<uint32_t> &fs);

// Vendor string of a policy (leaf 0), and family/model/stepping (leaf 1, SDM vol. 2A
// CPUID.01H:EAX: display family = family + extended family when family == 0xf; display
// model adds the extended model when family is 6 or 0xf).
std::string vendor_of(const cpupolicy_t *p);
void signature_of(const cpupolicy_t *p, uint32_t *family, uint32_t *model, uint32_t *stepping);

} // namespace cpupolicy::ts

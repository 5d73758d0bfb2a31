// SPDX-License-Identifier: MIT
// The objects behind cpupolicy_report_t and cpupolicy_build_report_t, and the builder
// and report as C++ for the store-backed operations (toolstack_ops.cpp).
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "toolstack.hpp"

namespace cpupolicy::ts {

// The public struct is the base: cpupolicy_report_free static_casts back.
struct ReportImpl : cpupolicy_report_t {
    ReportImpl() : cpupolicy_report_t{} {}
    std::vector<cpupolicy_report_item_t> list;
    std::deque<std::string> strings;  // deque: c_str() pointers stay put
    const char *keep(std::string s);
    void finish();  // point the public fields at the lists
};

struct BuildImpl : cpupolicy_build_report_t {
    BuildImpl() : cpupolicy_build_report_t{} {}
    std::vector<cpupolicy_build_change_t> change_list;
    ReportImpl blockers_;  // its list holds the blockers (detail = against what)
    void finish();
};

// Append every failing item of guest on host to r.list (no finish()).
void compat_items(const Policy &host, const Policy &guest, ReportImpl &r);
// The whole report into r (finished).
int compat_report(const Policy &host, const Policy &guest, ReportImpl &r);

// The builder: see cpupolicy_vm_build.
int vm_build(cpupolicy_t *out, const cpupolicy_vm_spec_t &spec, BuildImpl &rep,
             cpupolicy_parse_error_t *err);

} // namespace cpupolicy::ts

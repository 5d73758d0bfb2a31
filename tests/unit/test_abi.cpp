// SPDX-License-Identifier: MIT
// The C ABI's boundary contract (cpupolicy.h, "Conventions: Nothing throws"): every
// function the version script exports is noexcept for C++ callers, so an exception
// raised inside the library (only std::bad_alloc can be; the library is built with
// -fno-exceptions) ends in std::terminate() at the boundary instead of unwinding into a C
// caller's frames.  The list below is checked against libcpupolicy/libcpupolicy.map, so a
// new export cannot skip the check; the public header carries no internal #if.
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "cpupolicy.h"
#include "cpupolicy_sim.h"
#include "cpupolicy_models.h"
#include "cpupolicy_toolstack.h"
#include "harness.hpp"

using namespace unittest;

namespace {

template <class R, class... A> constexpr bool is_noexcept(R (*)(A...) noexcept) { return true; }
template <class R, class... A> constexpr bool is_noexcept(R (*)(A...)) { return false; }

#define CPUPOLICY_EXPORTS(X) \
    X(cpupolicy_featureset_size) \
    X(cpupolicy_static_featuremask) \
    X(cpupolicy_feature_from_name) \
    X(cpupolicy_feature_name) \
    X(cpupolicy_feature_deps) \
    X(cpupolicy_featureset_check_deps) \
    X(cpupolicy_featureset_sanitise) \
    X(cpupolicy_alloc) \
    X(cpupolicy_free) \
    X(cpupolicy_update_cpuid) \
    X(cpupolicy_update_msrs) \
    X(cpupolicy_serialise) \
    X(cpupolicy_policy_to_featureset) \
    X(cpupolicy_policy_from_featureset) \
    X(cpupolicy_get_cpuid) \
    X(cpupolicy_derive) \
    X(cpupolicy_is_compatible) \
    X(cpupolicy_missing_features) \
    X(cpupolicy_calc_compatible) \
    X(cpupolicy_import_dump) \
    X(cpupolicy_last_import_error) \
    X(cpupolicy_open) \
    X(cpupolicy_close) \
    X(cpupolicy_last_open_error) \
    X(cpupolicy_get_featureset) \
    X(cpupolicy_set_featureset) \
    X(cpupolicy_verify_featureset) \
    X(cpupolicy_get_levelling_caps) \
    X(cpupolicy_get_system_policy) \
    X(cpupolicy_domain_create) \
    X(cpupolicy_domain_start) \
    X(cpupolicy_domain_destroy) \
    X(cpupolicy_get_domain_policy) \
    X(cpupolicy_set_domain_policy) \
    X(cpupolicy_sim_cpuid) \
    X(cpupolicy_sim_get_counters) \
    X(cpupolicy_sim_reset_counters) \
    X(cpupolicy_sim_msr_writes) \
    X(cpupolicy_sim_run) \
    X(cpupolicy_sim_levelling_gap) \
    X(cpupolicy_import_dump_notes) \
    X(cpupolicy_last_error) \
    X(cpupolicy_version) \
    X(cpupolicy_featureset_fits_max) \
    X(cpupolicy_models_load) \
    X(cpupolicy_models_free) \
    X(cpupolicy_models_count) \
    X(cpupolicy_models_find) \
    X(cpupolicy_model_get_info) \
    X(cpupolicy_model_featureset) \
    X(cpupolicy_model_list_item) \
    X(cpupolicy_model_field_name) \
    X(cpupolicy_model_field_is_set) \
    X(cpupolicy_model_field) \
    X(cpupolicy_policy_model_field) \
    X(cpupolicy_model_check) \
    X(cpupolicy_model_check_featureset) \
    X(cpupolicy_model_suggest) \
    X(cpupolicy_model_apply) \
    X(cpupolicy_model_export) \
    X(cpupolicy_model_from_policy) \
    X(cpupolicy_model_validate_file) \
    X(cpupolicy_featureset_parse) \
    X(cpupolicy_featureset_format) \
    X(cpupolicy_policy_format_text) \
    X(cpupolicy_policy_parse_text) \
    X(cpupolicy_compat_report) \
    X(cpupolicy_report_free) \
    X(cpupolicy_vm_build) \
    X(cpupolicy_build_report_free) \
    X(cpupolicy_store_open) \
    X(cpupolicy_store_close) \
    X(cpupolicy_store_path) \
    X(cpupolicy_store_set_progress) \
    X(cpupolicy_json_free) \
    X(cpupolicy_pool_create) \
    X(cpupolicy_pool_join) \
    X(cpupolicy_pool_eject) \
    X(cpupolicy_pool_refresh) \
    X(cpupolicy_pool_show) \
    X(cpupolicy_pool_list) \
    X(cpupolicy_pool_history) \
    X(cpupolicy_pool_get_level) \
    X(cpupolicy_vm_create) \
    X(cpupolicy_vm_show) \
    X(cpupolicy_vm_list) \
    X(cpupolicy_vm_destroy) \
    X(cpupolicy_vm_get_policy) \
    X(cpupolicy_vm_migrate_check) \
    X(cpupolicy_vm_migrate) \

#define ASSERT_NOEXCEPT(f) static_assert(is_noexcept(&f), #f " is not noexcept");
CPUPOLICY_EXPORTS(ASSERT_NOEXCEPT)

#define NAME_OF(f) #f,
const char *const checked[] = {CPUPOLICY_EXPORTS(NAME_OF)};

std::set<std::string> map_symbols(const char *path)
{
    std::ifstream in(path);
    std::set<std::string> out;
    std::string line;
    const std::regex sym("^\\s*(cpupolicy_[a-z0-9_]+);");
    std::smatch m;
    while ( std::getline(in, line) )
        if ( std::regex_search(line, m, sym) )
            out.insert(m[1]);
    return out;
}

} // namespace

TEST(every_exported_function_is_noexcept_and_the_list_is_the_version_scripts)
{
    std::set<std::string> in_map = map_symbols("libcpupolicy/libcpupolicy.map");
    std::set<std::string> listed(std::begin(checked), std::end(checked));
    EXPECT_TRUE(!in_map.empty());
    for ( const std::string &s : in_map )
        if ( !listed.count(s) )
            report(__LINE__, "exported by libcpupolicy.map but not checked here", "listed", s);
    for ( const std::string &s : listed )
        if ( !in_map.count(s) )
            report(__LINE__, "checked here but not exported", "in libcpupolicy.map", s);
}

TEST(the_public_header_has_no_internal_conditional)
{
    // Only the language test of CPUPOLICY_NOEXCEPT may appear: no build-internal macro
    // (CPUPOLICY_INTERNAL_CXX used to select a different struct tag).
    for ( const char *h : {"libcpupolicy/include/cpupolicy.h", "libcpupolicy/include/cpupolicy_sim.h",
                           "libcpupolicy/include/cpupolicy_models.h",
                           "libcpupolicy/include/cpupolicy_toolstack.h"} )
    {
        std::ifstream in(h);
        std::string line;
        unsigned n = 0;
        while ( std::getline(in, line) )
        {
            ++n;
            if ( line.find("INTERNAL") != std::string::npos && line.rfind("#", 0) == 0 )
                report(__LINE__, std::string(h) + ":" + std::to_string(n), "no internal #if", line);
        }
    }
}

int main()
{
    return run_all("test_abi.cpp");
}

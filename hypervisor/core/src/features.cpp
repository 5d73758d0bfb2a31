// SPDX-License-Identifier: MIT
#include "cpupolicy/features.hpp"

namespace cpupolicy {

using namespace features;

int featureset_check_deps(const Featureset &fs, uint32_t *bad_feature)
{
    uint32_t bad = NR_FEATURE_BITS;

    for ( unsigned e = 0; e < nr_edges; ++e )
        if ( fs.test(Feature{edge_dependent(e)}) && !fs.test(Feature{edge_prereq(e)}) &&
             edge_dependent(e) < bad )
            bad = edge_dependent(e);

    if ( bad == NR_FEATURE_BITS )
        return 0;
    if ( bad_feature )
        *bad_feature = bad;
    return -err::einval;
}

int featureset_fits_max(const Featureset &fs, const Featureset &offered, uint32_t *bad_feature)
{
    uint32_t bad = fs.and_not(offered).next(0), dep = NR_FEATURE_BITS;
    if ( featureset_check_deps(fs, &dep) == 0 )
        dep = NR_FEATURE_BITS;
    if ( dep < bad )
        bad = dep;
    if ( bad == NR_FEATURE_BITS )
        return 0;
    if ( bad_feature )
        *bad_feature = bad;
    return -err::einval;
}

uint32_t featureset_missing_prereq(const Featureset &fs, uint32_t feature)
{
    for ( unsigned e = 0; e < nr_edges; ++e )
        if ( edge_dependent(e) == feature && !fs.test(Feature{edge_prereq(e)}) )
            return edge_prereq(e);
    return NR_FEATURE_BITS;
}

void featureset_sanitise(Featureset &fs)
{
    fs &= known;
    // One pass suffices: each closure is already transitive (static_assert'ed).
    for ( unsigned i = 0; i < nr_deep; ++i )
        if ( !fs.test(Feature{deep_deps_table.feature[i]}) )
            fs = fs.and_not(deep_deps_table.deps[i]);
}

void featureset_tell_worse_behaviour(Featureset &fs, bool any_host_has)
{
    constexpr Feature rsba = feature_named("rsba"), rrsba = feature_named("rrsba"),
                      eibrs = feature_named("eibrs"), arch_caps = feature_named("arch-caps");
    if ( any_host_has && fs.test(arch_caps) && (fs & worse_behaviour).empty() )
        fs.set(fs.test(eibrs) ? rrsba : rsba);
}

} // namespace cpupolicy

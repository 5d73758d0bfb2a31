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

namespace {

// deep_deps_table's closures in sparse form, for featureset_sanitise: a closure touches
// a few of the 19 words, so each is kept as its non-zero (word, mask) pairs, and found
// by feature number rather than by a search of the table.
constexpr unsigned count_closure_words()
{
    unsigned n = 0;
    for ( unsigned r = 0; r < nr_deep; ++r )
        for ( uint32_t w : deep_deps_table.deps[r].w )
            n += w != 0;
    return n;
}
constexpr unsigned NR_CLOSURE_WORDS = count_closure_words();
struct SparseClosures {
    uint16_t first[NR_FEATURE_BITS + 1];  // pairs of feature f: first[f] .. first[f + 1] - 1
    uint8_t word[NR_CLOSURE_WORDS];
    uint32_t mask[NR_CLOSURE_WORDS];
};
constexpr SparseClosures make_sparse_closures()
{
    SparseClosures t{};
    unsigned n = 0;
    for ( uint32_t f = 0; f < NR_FEATURE_BITS; ++f )
    {
        t.first[f] = static_cast<uint16_t>(n);
        unsigned row = deep_deps_row(Feature{f});
        if ( row == nr_deep )
            continue;
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            if ( uint32_t m = deep_deps_table.deps[row].w[i] )
            {
                t.word[n] = static_cast<uint8_t>(i);
                t.mask[n] = m;
                ++n;
            }
    }
    t.first[NR_FEATURE_BITS] = static_cast<uint16_t>(n);
    return t;
}
constexpr SparseClosures sparse_closures = make_sparse_closures();

} // namespace

void featureset_sanitise(Featureset &fs)
{
    fs &= known;
    // What goes is the union of the closures of the deep features fs lacks.  Clearing
    // them one after the other, in any order, gives the same: each closure is transitive
    // (closures_closed), so a feature that one closure removes brings nothing more.
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        for ( uint32_t m = deep_features.w[i] & ~fs.w[i]; m; m &= m - 1 )
        {
            uint32_t f = 32 * i + static_cast<uint32_t>(__builtin_ctz(m));
            for ( unsigned e = sparse_closures.first[f]; e < sparse_closures.first[f + 1]; ++e )
                fs.w[sparse_closures.word[e]] &= ~sparse_closures.mask[e];
        }
}

void featureset_tell_worse_behaviour(Featureset &fs, bool any_host_has)
{
    constexpr Feature rsba = feature_named("rsba"), rrsba = feature_named("rrsba"),
                      eibrs = feature_named("eibrs"), arch_caps = feature_named("arch-caps");
    if ( any_host_has && fs.test(arch_caps) && (fs & worse_behaviour).empty() )
        fs.set(fs.test(eibrs) ? rrsba : rsba);
}

} // namespace cpupolicy

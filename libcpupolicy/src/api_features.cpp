// SPDX-License-Identifier: MIT
// The feature and featureset part of the C ABI (cpupolicy.h).  Thin: argument checks,
// the length-skew rule at the boundary, and calls into the core.  Contracts are
// documented in the public header, not here.
//
// errno is kept by the boundary's guard (abi::Call; tests/check/check_features.c holds
// us to it).
#include <errno.h>

#include "api.hpp"
#include "cpupolicy.h"
#include "cpupolicy/features.hpp"

using namespace cpupolicy;

// The core spells errno values itself (it may not include <errno.h>); the ABI promises
// the C library's values, so the two must agree on every value the core can return.
static_assert(err::eperm == EPERM);
static_assert(err::enoent == ENOENT);
static_assert(err::esrch == ESRCH);
static_assert(err::e2big == E2BIG);
static_assert(err::enomem == ENOMEM);
static_assert(err::ebusy == EBUSY);
static_assert(err::eexist == EEXIST);
static_assert(err::enodev == ENODEV);
static_assert(err::enospc == ENOSPC);
static_assert(err::einval == EINVAL);
static_assert(err::erange == ERANGE);
static_assert(err::eproto == EPROTO);
static_assert(err::eoverflow == EOVERFLOW);
static_assert(err::eopnotsupp == EOPNOTSUPP);
static_assert(err::enobufs == ENOBUFS);

// The ABI hands out the core's Featureset words directly, and documents 19 of them.
static_assert(NR_FEATUREWORDS == 19, "cpupolicy.h documents a 19-word featureset");
static_assert(sizeof(Featureset) == NR_FEATUREWORDS * sizeof(uint32_t));
static_assert(CPUPOLICY_MASK_KNOWN == 0 && CPUPOLICY_MASK_SPECIAL == 1 &&
              CPUPOLICY_MASK_PV_MAX == 2 && CPUPOLICY_MASK_PV_DEF == 3 &&
              CPUPOLICY_MASK_HVM_SHADOW_MAX == 4 && CPUPOLICY_MASK_HVM_SHADOW_DEF == 5 &&
              CPUPOLICY_MASK_HVM_HAP_MAX == 6 && CPUPOLICY_MASK_HVM_HAP_DEF == 7,
              "xc_static_cpu_featuremask() order");

CPUPOLICY_EXPORT uint32_t cpupolicy_featureset_size(void) noexcept
{
    return NR_FEATUREWORDS;
}

CPUPOLICY_EXPORT const uint32_t *cpupolicy_static_featuremask(unsigned int which) noexcept
{
    // Indexed by CPUPOLICY_MASK_*; the masks are constexpr objects with static storage,
    // so their words live for the life of the process.
    static const Featureset *const masks[] = {
        &features::known,          &features::special,
        &features::pv_max,         &features::pv_def,
        &features::hvm_shadow_max, &features::hvm_shadow_def,
        &features::hvm_hap_max,    &features::hvm_hap_def,
    };
    static_assert(features::countof(masks) == CPUPOLICY_MASK_HVM_HAP_DEF + 1);

    if ( which >= features::countof(masks) )
        return nullptr;
    return masks[which]->w;
}

static int impl_feature_from_name(const char *name, uint32_t *feature)
{
    uint32_t f;

    if ( !name || !feature )
        return -err::einval;
    if ( !features::lookup(name, SIZE_MAX, &f) )
        return -err::enoent;
    *feature = f;
    return 0;
}

CPUPOLICY_EXPORT const char *cpupolicy_feature_name(uint32_t feature) noexcept
{
    return features::name(Feature{feature});
}

static int impl_feature_deps(uint32_t feature, uint32_t *fs, uint32_t nr)
{
    if ( !fs )
        return -err::einval;
    if ( !features::info(Feature{feature}) )
        return -err::enoent;

    static constexpr Featureset none{};
    const Featureset *d = features::deep_deps(Feature{feature});
    const Featureset &closure = d ? *d : none;

    featureset_to_words(closure, fs, nr);
    // Anything at or beyond word nr did not fit.
    for ( uint32_t i = nr; i < NR_FEATUREWORDS; ++i )
        if ( closure.w[i] )
            return -err::enobufs;
    return 0;
}

static int impl_featureset_check_deps(const uint32_t *fs, uint32_t nr,
                                                     uint32_t *bad_feature)
{
    Featureset set;
    uint32_t bad = ~0u;  // Xen-style error record: ~0 unless a feature is to blame
    int rc;

    if ( !fs )
        rc = -err::einval;
    else if ( (rc = featureset_from_words(set, fs, nr)) == 0 )
        rc = featureset_check_deps(set, &bad);  // writes `bad` only on failure

    if ( bad_feature )
        *bad_feature = bad;
    return rc;
}

static int impl_featureset_sanitise(uint32_t *fs, uint32_t nr)
{
    Featureset set;

    if ( !fs )
        return -err::einval;
    // Words beyond this build are unknown by definition, so sanitising clears them
    // rather than refusing them: ignore featureset_from_words' -EOPNOTSUPP here.
    (void)featureset_from_words(set, fs, nr);
    featureset_sanitise(set);
    featureset_to_words(set, fs, nr);
    return 0;
}

// --- ABI boundary ----------------------------------------------------------------------
// Every fallible function: cpupolicy_last_error() cleared on entry and written on failure
// (api.hpp, Call); noexcept, so nothing unwinds into a C caller (docs/robustness.md).

CPUPOLICY_EXPORT int cpupolicy_feature_from_name(const char *name, uint32_t *feature) noexcept
{
    abi::Call c("cpupolicy_feature_from_name");
    int rc = impl_feature_from_name(name, feature);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_feature_deps(uint32_t feature, uint32_t *fs, uint32_t nr) noexcept
{
    abi::Call c("cpupolicy_feature_deps");
    int rc = impl_feature_deps(feature, fs, nr);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_featureset_check_deps(const uint32_t *fs, uint32_t nr,
                                                     uint32_t *bad_feature) noexcept
{
    abi::Call c("cpupolicy_featureset_check_deps");
    uint32_t bad_local;  // the message names the feature even for a NULL bad_feature
    if ( !bad_feature )
        bad_feature = &bad_local;
    int rc = impl_featureset_check_deps(fs, nr, bad_feature);
    return c.done_feature(rc, bad_feature);
}

CPUPOLICY_EXPORT int cpupolicy_featureset_sanitise(uint32_t *fs, uint32_t nr) noexcept
{
    abi::Call c("cpupolicy_featureset_sanitise");
    int rc = impl_featureset_sanitise(fs, nr);
    return c.done(rc);
}

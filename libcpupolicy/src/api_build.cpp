// SPDX-License-Identifier: MIT
// The complete compatibility report and the domain builder (cpupolicy_toolstack.h).
//
// The report walks the same checks as the core's policy_is_compatible() (compat.hpp:
// vendor, numeric_fields, xstate layouts, max extended leaf, every featureset word, CPUID
// faulting) but keeps every failure with both values instead of the first one; its
// `compatible` is cross-checked against policy_is_compatible itself.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <deque>

#include "build.hpp"
#include "cpupolicy/compat.hpp"
#include "cpupolicy/feature-table.hpp"
#include "cpupolicy/features.hpp"

using namespace cpupolicy;
using cpupolicy::abi::ErrnoGuard;

namespace cpupolicy::ts {

const char *ReportImpl::keep(std::string s)
{
    strings.push_back(std::move(s));
    return strings.back().c_str();
}

void ReportImpl::finish()
{
    version = CPUPOLICY_REPORT_VERSION;
    nr_items = static_cast<uint32_t>(list.size());
    items = list.data();
    nr_missing_features = 0;
    for ( const auto &i : list )
        nr_missing_features += i.kind == CPUPOLICY_ITEM_FEATURE;
}

namespace {

constexpr uint32_t NONE = ~0u;

cpupolicy_report_item_t item(uint32_t kind, const char *name, uint32_t leaf, uint32_t subleaf,
                             uint32_t msr, uint64_t guest, uint64_t host)
{
    return cpupolicy_report_item_t{kind, NONE, name, leaf, subleaf, msr, guest, host, nullptr};
}

uint64_t xstates(const Policy &p)
{
    Regs s0 = policy_effective(p, 0xd_leaf, 0_subleaf), s1 = policy_effective(p, 0xd_leaf, 1_subleaf);
    return (uint64_t{s0.d} << 32 | s0.a) | (uint64_t{s1.d} << 32 | s1.c);
}

} // namespace

void compat_items(const Policy &host, const Policy &guest, ReportImpl &r)
{
    const PolicyRanges hr = policy_ranges(host), gr = policy_ranges(guest);
    struct Keyed {
        uint64_t key;
        cpupolicy_report_item_t it;
    };
    std::vector<Keyed> cpuid_items;
    auto at = [](uint32_t leaf, uint32_t subleaf) { return uint64_t{leaf} << 32 | subleaf; };

    if ( policy_vendor(host) != policy_vendor(guest) )
    {
        auto it = item(CPUPOLICY_ITEM_VENDOR, "vendor", 0, NO_SUBLEAF, NONE,
                       uint64_t(policy_vendor(guest)), uint64_t(policy_vendor(host)));
        it.detail = r.keep(std::string(vendor_name(policy_vendor(guest))) + " vs " +
                           vendor_name(policy_vendor(host)));
        cpuid_items.push_back({at(0, NO_SUBLEAF), it});
    }

    uint32_t gv[NR_NUMERIC_FIELDS], hv[NR_NUMERIC_FIELDS];
    numeric_field_values(guest, gr, gv);
    numeric_field_values(host, hr, hv);
    for ( unsigned i = 0; i < NR_NUMERIC_FIELDS; ++i )
    {
        const NumericField &f = numeric_fields[i];
        bool le = f.kind == FieldKind::le;
        if ( le ? gv[i] > hv[i] : (gv[i] & ~hv[i]) != 0 )
            cpuid_items.push_back({at(raw(f.field.leaf), raw(f.field.subleaf)),
                                   item(le ? CPUPOLICY_ITEM_NUMERIC : CPUPOLICY_ITEM_BITS, f.what,
                                        raw(f.field.leaf), raw(f.field.subleaf), NONE, gv[i],
                                        hv[i])});
    }

    uint64_t common = xstates(guest) & xstates(host) & ~3ull & ~(1ull << 63);
    for ( ; common; common &= common - 1 )
    {
        uint32_t n = static_cast<uint32_t>(__builtin_ctzll(common));
        Regs g = policy_effective(guest, 0xd_leaf, Subleaf{n}), h = policy_effective(host, 0xd_leaf, Subleaf{n});
        if ( !xstate_layouts_agree(g, h) )
        {
            auto it = item(CPUPOLICY_ITEM_XSTATE_LAYOUT, "xstate component layout", 0xd, n, NONE,
                           g.a, h.a);
            char d[128];
            snprintf(d, sizeof(d), "component %u: size/offset/flags %u/%u/%u vs %u/%u/%u", n,
                     g.a, g.b, g.c & 3, h.a, h.b, h.c & 3);
            it.detail = r.keep(d);
            cpuid_items.push_back({at(0xd, n), it});
        }
    }

    if ( policy_extd_limit(guest) > policy_extd_limit(host) )
        cpuid_items.push_back({at(EXTD_FIRST, NO_SUBLEAF),
                               item(CPUPOLICY_ITEM_MAX_EXT_LEAF, "max extended leaf", EXTD_FIRST,
                                    NO_SUBLEAF, NONE, policy_extd_limit(guest),
                                    policy_extd_limit(host))});

    std::stable_sort(cpuid_items.begin(), cpuid_items.end(),
                     [](const Keyed &a, const Keyed &b) { return a.key < b.key; });
    for ( const auto &k : cpuid_items )
        r.list.push_back(k.it);

    const Featureset lacking = policy_missing_features(host, guest);
    for ( unsigned w = 0; w < NR_FEATUREWORDS; ++w )
        for ( uint32_t bits = lacking.w[w]; bits; bits &= bits - 1 )
        {
            uint32_t f = w * 32 + uint32_t(__builtin_ctz(bits));
            const WordSource &src = table::words[w].src;
            const char *n = cpupolicy_feature_name(f);
            auto it = item(CPUPOLICY_ITEM_FEATURE, n ? n : r.keep("<" + std::to_string(f) + ">"),
                           src.is_msr ? NONE : raw(src.leaf), src.is_msr ? NONE : raw(src.subleaf),
                           src.is_msr ? raw(src.msr) : NONE, 1, 0);
            it.feature = f;
            r.list.push_back(it);
        }

    if ( (guest.platform_info & PLATFORM_INFO_CPUID_FAULTING) &&
         !(host.platform_info & PLATFORM_INFO_CPUID_FAULTING) )
        r.list.push_back(item(CPUPOLICY_ITEM_FAULTING, "cpuid-faulting", NONE, NONE,
                              raw(MSR_PLATFORM_INFO), 1, 0));
}

int compat_report(const Policy &host, const Policy &guest, ReportImpl &r)
{
    ErrRecord e;
    int rc = policy_is_compatible(host, guest, &e, nullptr);
    compat_items(host, guest, r);
    r.compatible = rc == 0;
    r.first = cpupolicy_err_t{raw(e.leaf), raw(e.subleaf), raw(e.msr)};
    // Same checks, same verdict; if they ever disagree, say so rather than pass.
    if ( !r.compatible && r.list.empty() )
    {
        auto it = item(CPUPOLICY_ITEM_NUMERIC, "unclassified", raw(e.leaf), raw(e.subleaf),
                       raw(e.msr), 0, 0);
        it.detail = "the compatibility check failed here; no field of the report explains it";
        r.list.push_back(it);
    }
    r.finish();
    return 0;
}

} // namespace cpupolicy::ts

using namespace cpupolicy::ts;

static int impl_cpupolicy_compat_report(const cpupolicy_t *host, const cpupolicy_t *guest,
                                             cpupolicy_report_t **out)
{
    ErrnoGuard g;
    if ( !host || !guest || !out )
        return -EINVAL;
    std::unique_ptr<ReportImpl> r(new (std::nothrow) ReportImpl);
    if ( !r )
        return -ENOMEM;
    compat_report(host->p, guest->p, *r);
    *out = r.release();
    return 0;
}

static void impl_cpupolicy_report_free(cpupolicy_report_t *r)
{
    ErrnoGuard g;
    delete static_cast<ReportImpl *>(r);
}

// --- ABI boundary: noexcept, cpupolicy_last_error() (api.hpp, Call) ---------------------

CPUPOLICY_EXPORT int cpupolicy_compat_report(const cpupolicy_t *host, const cpupolicy_t *guest,
                                             cpupolicy_report_t **out) noexcept
{
    abi::Call c("cpupolicy_compat_report");
    return c.done(impl_cpupolicy_compat_report(host, guest, out));
}

CPUPOLICY_EXPORT void cpupolicy_report_free(cpupolicy_report_t *r) noexcept
{
    impl_cpupolicy_report_free(r);
}

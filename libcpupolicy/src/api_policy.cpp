// SPDX-License-Identifier: MIT
// The offline policy part of the C ABI (cpupolicy.h, "Policies"): thin argument checks
// around the core; contracts are documented in the public header.
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "api.hpp"
#include "cpupolicy/compat.hpp"
#include "cpupolicy/derive.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/level.hpp"
#include "cpupolicy/wire.hpp"
#include "boot_text.hpp"
#include "dump_policy.hpp"

using namespace cpupolicy;
using cpupolicy::abi::ErrnoGuard;

// The wire structs of the ABI are the core's, byte for byte (and Xen's: the core's
// layout is pinned against Xen's public headers in tests/unit/test_wire.cpp).
static_assert(sizeof(cpupolicy_leaf_t) == sizeof(WireLeaf) && sizeof(cpupolicy_leaf_t) == 24);
static_assert(sizeof(cpupolicy_msr_t) == sizeof(WireMsr) && sizeof(cpupolicy_msr_t) == 16);
static_assert(offsetof(cpupolicy_leaf_t, d) == offsetof(WireLeaf, d));
static_assert(offsetof(cpupolicy_msr_t, val) == offsetof(WireMsr, val));
static_assert(CPUPOLICY_NO_SUBLEAF == NO_SUBLEAF);
static_assert(CPUPOLICY_MAX_IMPORT_NOTES == import::MAX_IMPORT_NOTES);
static_assert(CPUPOLICY_RAW == unsigned(PolicyIndex::raw) &&
              CPUPOLICY_HOST == unsigned(PolicyIndex::host) &&
              CPUPOLICY_PV_MAX == unsigned(PolicyIndex::pv_max) &&
              CPUPOLICY_HVM_MAX == unsigned(PolicyIndex::hvm_max) &&
              CPUPOLICY_PV_DEFAULT == unsigned(PolicyIndex::pv_default) &&
              CPUPOLICY_HVM_DEFAULT == unsigned(PolicyIndex::hvm_default));

namespace {
const WireLeaf *wire(const cpupolicy_leaf_t *l) { return reinterpret_cast<const WireLeaf *>(l); }
WireLeaf *wire(cpupolicy_leaf_t *l) { return reinterpret_cast<WireLeaf *>(l); }
const WireMsr *wire(const cpupolicy_msr_t *m) { return reinterpret_cast<const WireMsr *>(m); }
WireMsr *wire(cpupolicy_msr_t *m) { return reinterpret_cast<WireMsr *>(m); }

} // namespace

CPUPOLICY_EXPORT cpupolicy_t *cpupolicy_alloc(void) noexcept
{
    ErrnoGuard g;
    return new (std::nothrow) cpupolicy_policy{};
}

CPUPOLICY_EXPORT void cpupolicy_free(cpupolicy_t *p) noexcept
{
    ErrnoGuard g;
    delete p;
}

// update_cpuid and update_msrs: the core's deserialise of one of the two arrays.
static int update(cpupolicy_t *p, const WireLeaf *leaves, uint32_t nr_leaves, const WireMsr *msrs,
                  uint32_t nr_msrs, cpupolicy_err_t *err)
{
    abi::err_seed(err);
    if ( !p )
        return -EINVAL;
    // A NULL array with a count is the core's -EINVAL, after its -E2BIG (one order).
    ErrRecord e;
    int rc = policy_deserialise(p->p, leaves, nr_leaves, msrs, nr_msrs, &e);
    abi::err_out(err, e);
    return rc;
}

static int impl_update_cpuid(cpupolicy_t *p, const cpupolicy_leaf_t *leaves,
                                            uint32_t nr, cpupolicy_err_t *err)
{
    return update(p, wire(leaves), nr, nullptr, 0, err);
}

static int impl_update_msrs(cpupolicy_t *p, const cpupolicy_msr_t *msrs,
                                           uint32_t nr, cpupolicy_err_t *err)
{
    return update(p, nullptr, 0, wire(msrs), nr, err);
}

static int impl_serialise(const cpupolicy_t *p, cpupolicy_leaf_t *leaves,
                                         uint32_t *nr_leaves, cpupolicy_msr_t *msrs,
                                         uint32_t *nr_msrs)
{
    if ( !p || (!nr_leaves && leaves) || (!nr_msrs && msrs) )
        return -EINVAL;
    // Each half is optional: NULL/NULL skips it.
    uint32_t dummy_l = 0, dummy_m = 0;
    WireLeaf *wl = wire(leaves);
    WireMsr *wm = wire(msrs);
    uint32_t *nl = nr_leaves ? nr_leaves : &dummy_l;
    uint32_t *nm = nr_msrs ? nr_msrs : &dummy_m;
    return policy_serialise(p->p, nr_leaves ? wl : nullptr, nl, nr_msrs ? wm : nullptr, nm);
}

static int impl_policy_to_featureset(const cpupolicy_t *p, uint32_t *fs,
                                                    uint32_t *nr)
{
    if ( !p || !nr )
        return -EINVAL;
    Featureset f = policy_to_featureset(p->p);
    if ( !fs )
    {
        *nr = NR_FEATUREWORDS;
        return 0;
    }
    uint32_t cap = *nr;
    featureset_to_words(f, fs, cap);
    *nr = NR_FEATUREWORDS;
    return cap < NR_FEATUREWORDS ? -ENOBUFS : 0;
}

static int impl_policy_from_featureset(cpupolicy_t *p, const uint32_t *fs,
                                                      uint32_t nr)
{
    if ( !p || (nr && !fs) )
        return -EINVAL;
    Featureset f;
    if ( int rc = featureset_from_words(f, fs, nr) )
        return rc;  // nonzero words this build does not know: nothing applied
    policy_apply_featureset(p->p, f);
    return 0;
}

static int impl_get_cpuid(const cpupolicy_t *p, uint32_t leaf, uint32_t subleaf,
                                         cpupolicy_leaf_t *out)
{
    if ( !p || !out )
        return -EINVAL;
    // The hypervisor-limit leaves are held as their EAX only (wire.hpp); answer them as
    // serialise emits them, so that every serialised leaf can be read back here.
    if ( leaf == HV_LEAF || leaf == HV2_LEAF )
    {
        *out = cpupolicy_leaf_t{leaf, NO_SUBLEAF, leaf == HV_LEAF ? p->p.hv_limit : p->p.hv2_limit,
                                0, 0, 0};
        return 0;
    }
    const Leaf l{leaf};
    int s = slot_cpuid(l, Subleaf{subleaf});
    if ( s < 0 )
        return -ERANGE;
    const Subleaf held = leaf_kind(l) == LeafKind::plain ? kNoSubleaf : Subleaf{subleaf};
    Regs r = policy_in_range(p->p, l, held) ? p->p.slot[s] : Regs{};
    *out = cpupolicy_leaf_t{leaf, raw(held), r.a, r.b, r.c, r.d};
    return 0;
}

static int impl_derive(cpupolicy_t *out, const cpupolicy_t *raw, unsigned int idx,
                                      const char *boot_options)
{
    if ( !out || !raw || idx >= NR_POLICY_INDEX )
        return -EINVAL;
    // The header also accepts a bare cpuid= list ("no-avx512f,rtm"); sim::parse_boot_text
    // reads both forms and names the option, its offset and what is accepted.
    BootOptions o;
    {
        ErrnoGuard g;  // std::string may allocate
        std::string why;
        if ( int rc = sim::parse_boot_text(boot_options, o, &why) )
        {
            abi::detail("%s", why.c_str());
            return rc;
        }
    }
    Policy tmp;
    if ( int rc = policy_derive_opts(tmp, raw->p, PolicyIndex(idx), o) )
        return rc;
    out->p = tmp;
    return 0;
}

static int impl_is_compatible(const cpupolicy_t *host, const cpupolicy_t *guest,
                                             cpupolicy_err_t *err)
{
    abi::err_seed(err);
    if ( !host || !guest )
        return -EINVAL;
    ErrRecord e;
    int rc = policy_is_compatible(host->p, guest->p, &e, nullptr);
    abi::err_out(err, e);
    return rc;
}

static int impl_missing_features(const cpupolicy_t *host, const cpupolicy_t *guest,
                                                uint32_t *fs, uint32_t nr)
{
    if ( !host || !guest || (nr && !fs) )
        return -EINVAL;
    Featureset m = policy_missing_features(host->p, guest->p);
    featureset_to_words(m, fs, nr);
    return static_cast<int>(m.count());
}

static int impl_calc_compatible(cpupolicy_t *out, const cpupolicy_t *const *in,
                                               uint32_t n, uint32_t *bad_index)
{
    if ( bad_index )
        *bad_index = ~0u;
    if ( !out || (n && !in) )
        return -EINVAL;
    // Gather the core policies: on the stack for a usual pool, from the heap for a
    // large one (no fixed limit on the pool size).
    constexpr uint32_t on_stack = 64;
    const Policy *stack_ptrs[on_stack];
    std::unique_ptr<const Policy *[]> heap_ptrs;
    const Policy **ptrs = stack_ptrs;
    if ( n > on_stack )
    {
        ErrnoGuard g;
        heap_ptrs.reset(new (std::nothrow) const Policy *[n]);
        if ( !heap_ptrs )
            return -ENOMEM;
        ptrs = heap_ptrs.get();
    }
    for ( uint32_t i = 0; i < n; ++i )
    {
        if ( !in[i] )
        {
            if ( bad_index )
                *bad_index = i;
            return -EINVAL;
        }
        ptrs[i] = &in[i]->p;
    }
    Policy tmp;
    int rc = policy_level(tmp, ptrs, n, bad_index);
    if ( rc )
        return rc;
    out->p = tmp;
    return 0;
}

static int impl_import_dump_notes(cpupolicy_t *raw, const char *path,
                                                 unsigned int cpu,
                                                 cpupolicy_import_note_t *notes,
                                                 uint32_t *nr_notes)
{
    ErrnoGuard g;
    if ( !raw || (notes && !nr_notes) )
        return -EINVAL;
    import::ImportError e;
    std::vector<import::ImportNote> found;
    Policy tmp;
    int rc = policy_import(tmp, path ? path : "", cpu, e, &found);
    if ( rc )
    {
        abi::detail("%s", import::format_error(e).c_str());  // "FILE:LINE: what"
        return rc;
    }
    if ( nr_notes )
    {
        // The count rule of the header: the required count is stored either way.
        const uint32_t cap = *nr_notes;
        *nr_notes = static_cast<uint32_t>(found.size());
        if ( !notes )
            return 0;  // a size query: nothing applied
        for ( size_t i = 0; i < found.size() && i < cap; ++i )
        {
            const import::ImportNote &n = found[i];
            notes[i] = cpupolicy_import_note_t{n.leaf, n.subleaf, n.reg, n.bit, n.value,
                                               n.line, n.why};
        }
        if ( cap < found.size() )
            return -ENOBUFS;  // raw unchanged, as for every short buffer
    }
    raw->p = tmp;
    return 0;
}

static int impl_import_dump(cpupolicy_t *raw, const char *path, unsigned int cpu)
{
    return impl_import_dump_notes(raw, path, cpu, nullptr, nullptr);
}


// --- ABI boundary ----------------------------------------------------------------------
// Every fallible function: cpupolicy_last_error() cleared on entry and written on failure
// (api.hpp, Call); noexcept, so nothing unwinds into a C caller (docs/robustness.md).

CPUPOLICY_EXPORT int cpupolicy_update_cpuid(cpupolicy_t *p, const cpupolicy_leaf_t *leaves,
                                            uint32_t nr, cpupolicy_err_t *err) noexcept
{
    abi::Call c("cpupolicy_update_cpuid");
    cpupolicy_err_t err_local;  // the message names the entry even for a NULL err
    if ( !err )
        err = &err_local;
    int rc = impl_update_cpuid(p, leaves, nr, err);
    return c.done(rc, err);
}

CPUPOLICY_EXPORT int cpupolicy_update_msrs(cpupolicy_t *p, const cpupolicy_msr_t *msrs,
                                           uint32_t nr, cpupolicy_err_t *err) noexcept
{
    abi::Call c("cpupolicy_update_msrs");
    cpupolicy_err_t err_local;  // the message names the entry even for a NULL err
    if ( !err )
        err = &err_local;
    int rc = impl_update_msrs(p, msrs, nr, err);
    return c.done(rc, err);
}

CPUPOLICY_EXPORT int cpupolicy_serialise(const cpupolicy_t *p, cpupolicy_leaf_t *leaves,
                                         uint32_t *nr_leaves, cpupolicy_msr_t *msrs,
                                         uint32_t *nr_msrs) noexcept
{
    abi::Call c("cpupolicy_serialise");
    int rc = impl_serialise(p, leaves, nr_leaves, msrs, nr_msrs);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_policy_to_featureset(const cpupolicy_t *p, uint32_t *fs,
                                                    uint32_t *nr) noexcept
{
    abi::Call c("cpupolicy_policy_to_featureset");
    int rc = impl_policy_to_featureset(p, fs, nr);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_policy_from_featureset(cpupolicy_t *p, const uint32_t *fs,
                                                      uint32_t nr) noexcept
{
    abi::Call c("cpupolicy_policy_from_featureset");
    int rc = impl_policy_from_featureset(p, fs, nr);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_get_cpuid(const cpupolicy_t *p, uint32_t leaf, uint32_t subleaf,
                                         cpupolicy_leaf_t *out) noexcept
{
    abi::Call c("cpupolicy_get_cpuid");
    int rc = impl_get_cpuid(p, leaf, subleaf, out);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_derive(cpupolicy_t *out, const cpupolicy_t *raw, unsigned int idx,
                                      const char *boot_options) noexcept
{
    abi::Call c("cpupolicy_derive");
    int rc = impl_derive(out, raw, idx, boot_options);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_is_compatible(const cpupolicy_t *host, const cpupolicy_t *guest,
                                             cpupolicy_err_t *err) noexcept
{
    abi::Call c("cpupolicy_is_compatible");
    cpupolicy_err_t err_local;  // the message names the entry even for a NULL err
    if ( !err )
        err = &err_local;
    int rc = impl_is_compatible(host, guest, err);
    return c.done(rc, err);
}

CPUPOLICY_EXPORT int cpupolicy_missing_features(const cpupolicy_t *host, const cpupolicy_t *guest,
                                                uint32_t *fs, uint32_t nr) noexcept
{
    abi::Call c("cpupolicy_missing_features");
    int rc = impl_missing_features(host, guest, fs, nr);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_calc_compatible(cpupolicy_t *out, const cpupolicy_t *const *in,
                                               uint32_t n, uint32_t *bad_index) noexcept
{
    abi::Call c("cpupolicy_calc_compatible");
    uint32_t bad_local;  // the message names the input even for a NULL bad_index
    if ( !bad_index )
        bad_index = &bad_local;
    int rc = impl_calc_compatible(out, in, n, bad_index);
    return c.done_index(rc, bad_index);
}

CPUPOLICY_EXPORT int cpupolicy_import_dump_notes(cpupolicy_t *raw, const char *path,
                                                 unsigned int cpu,
                                                 cpupolicy_import_note_t *notes,
                                                 uint32_t *nr_notes) noexcept
{
    abi::Call c("cpupolicy_import_dump_notes");
    int rc = impl_import_dump_notes(raw, path, cpu, notes, nr_notes);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_import_dump(cpupolicy_t *raw, const char *path, unsigned int cpu) noexcept
{
    abi::Call c("cpupolicy_import_dump");
    int rc = impl_import_dump(raw, path, cpu);
    return c.done(rc);
}

// SPDX-License-Identifier: MIT
// The hypervisor-backed part of the C ABI (cpupolicy.h "A hypervisor, through a
// handle", and cpupolicy_sim.h).  Each call checks its arguments and forwards to the
// handle's Backend; contracts are documented in the public headers.
#include <new>
#include <string>

#include "api.hpp"
#include "backend.hpp"
#include "backend_embedded.hpp"
#include "cpupolicy_sim.h"

using namespace cpupolicy;
using cpupolicy::abi::ErrnoGuard;

struct cpupolicy_handle {
    std::unique_ptr<Backend> b;
};

static_assert(CPUPOLICY_FEATURESET_RAW == unsigned(FeaturesetIndex::raw) &&
              CPUPOLICY_FEATURESET_HOST == unsigned(FeaturesetIndex::host) &&
              CPUPOLICY_FEATURESET_PV_DEFAULT == unsigned(FeaturesetIndex::pv_default) &&
              CPUPOLICY_FEATURESET_HVM_DEFAULT == unsigned(FeaturesetIndex::hvm_default) &&
              CPUPOLICY_FEATURESET_PV_MAX == unsigned(FeaturesetIndex::pv_max) &&
              CPUPOLICY_FEATURESET_HVM_MAX == unsigned(FeaturesetIndex::hvm_max),
              "Xen's XEN_SYSCTL_cpu_featureset_* order");
static_assert(CPUPOLICY_DOMAIN_PV == unsigned(DomainType::pv) &&
              CPUPOLICY_DOMAIN_HVM == unsigned(DomainType::hvm));
static_assert(CPUPOLICY_LCAP_FAULTING == lcap::faulting && CPUPOLICY_LCAP_ECX == lcap::ecx &&
              CPUPOLICY_LCAP_EDX == lcap::edx && CPUPOLICY_LCAP_EXTD_ECX == lcap::extd_ecx &&
              CPUPOLICY_LCAP_EXTD_EDX == lcap::extd_edx &&
              CPUPOLICY_LCAP_XSAVE_EAX == lcap::xsave_eax &&
              CPUPOLICY_LCAP_THERMAL_ECX == lcap::thermal_ecx &&
              CPUPOLICY_LCAP_L7S0_EAX == lcap::l7s0_eax && CPUPOLICY_LCAP_L7S0_EBX == lcap::l7s0_ebx);
static_assert(CPUPOLICY_PATH_AUTO == unsigned(sim::CpuidPath::automatic) &&
              CPUPOLICY_PATH_NATIVE == unsigned(sim::CpuidPath::native) &&
              CPUPOLICY_PATH_FAULTING == unsigned(sim::CpuidPath::faulting) &&
              CPUPOLICY_PATH_FEP == unsigned(sim::CpuidPath::fep) &&
              CPUPOLICY_PATH_HVM == unsigned(sim::CpuidPath::hvm));
static_assert(CPUPOLICY_FAULT_NONE == unsigned(GuestFault::none) &&
              CPUPOLICY_FAULT_GP == unsigned(GuestFault::gp) &&
              CPUPOLICY_FAULT_UD == unsigned(GuestFault::ud));

namespace {
// The simulated machine behind a handle, or nullptr for other backends.
sim::SimMachine *machine_of(cpupolicy_handle_t *h)
{
    if ( !h || !h->b || std::string(h->b->kind()) != "embedded" )
        return nullptr;
    return &static_cast<EmbeddedBackend *>(h->b.get())->machine();
}
} // namespace

static int impl_open(cpupolicy_handle_t **out, const char *uri)
{
    ErrnoGuard g;
    if ( !out )
        return -EINVAL;
    *out = nullptr;
    std::unique_ptr<cpupolicy_handle> h(new (std::nothrow) cpupolicy_handle);
    if ( !h )
        return -ENOMEM;
    std::string why;
    if ( int rc = backend_open(h->b, uri, why) )
    {
        abi::detail("%s", why.c_str());
        return rc;
    }
    *out = h.release();
    return 0;
}

CPUPOLICY_EXPORT void cpupolicy_close(cpupolicy_handle_t *h) noexcept
{
    ErrnoGuard g;
    delete h;
}


static int impl_get_featureset(cpupolicy_handle_t *h, unsigned int idx,
                                              uint32_t *nr, uint32_t *fs)
{
    ErrnoGuard g;  // a backend's socket or library calls must not leak into errno
    if ( !h || !nr )
        return -EINVAL;
    int rc = h->b->get_featureset(idx, nr, fs);
    if ( rc == -ENOBUFS && fs )
    {
        // The count rule (cpupolicy.h): *nr = the complete answer's count, also on
        // -ENOBUFS.  The backends follow Xen's sysctl, which stores the words written,
        // so ask for the size (the error path only).
        uint32_t need = 0;
        if ( h->b->get_featureset(idx, &need, nullptr) == 0 )
            *nr = need;
    }
    return rc;
}

static int impl_set_featureset(cpupolicy_handle_t *h, uint32_t domid,
                                              const uint32_t *fs, uint32_t nr,
                                              cpupolicy_err_t *err)
{
    ErrnoGuard g;
    abi::err_seed(err);
    if ( !h || (nr && !fs) )
        return -EINVAL;
    ErrRecord e;
    int rc = h->b->set_featureset(domid, fs, nr, &e);
    abi::err_out(err, e);
    return rc;
}

static int impl_featureset_fits_max(cpupolicy_handle_t *h, unsigned int idx,
                                                 const uint32_t *fs, uint32_t nr,
                                                 uint32_t *bad_feature)
{
    ErrnoGuard g;
    if ( bad_feature )
        *bad_feature = ~0u;
    if ( !h || (nr && !fs) )
        return -EINVAL;
    return h->b->featureset_fits_max(idx, fs, nr, bad_feature);
}

static int impl_get_levelling_caps(cpupolicy_handle_t *h, uint32_t *caps)
{
    ErrnoGuard g;
    if ( !h || !caps )
        return -EINVAL;
    return h->b->get_levelling_caps(caps);
}

static int impl_get_system_policy(cpupolicy_handle_t *h, unsigned int idx,
                                                 cpupolicy_t *out)
{
    ErrnoGuard g;
    if ( !h || !out )
        return -EINVAL;
    Policy tmp;
    if ( int rc = h->b->get_system_policy(idx, tmp) )
        return rc;
    out->p = tmp;
    return 0;
}

static int impl_domain_create(cpupolicy_handle_t *h, unsigned int type,
                                             uint32_t *domid)
{
    ErrnoGuard g;
    if ( !h || !domid )
        return -EINVAL;
    return h->b->domain_create(type, domid);
}

static int impl_domain_start(cpupolicy_handle_t *h, uint32_t domid)
{
    ErrnoGuard g;
    return h ? h->b->domain_start(domid) : -EINVAL;
}

static int impl_domain_destroy(cpupolicy_handle_t *h, uint32_t domid)
{
    ErrnoGuard g;
    return h ? h->b->domain_destroy(domid) : -EINVAL;
}

static int impl_get_domain_policy(cpupolicy_handle_t *h, uint32_t domid,
                                                 cpupolicy_t *out)
{
    ErrnoGuard g;
    if ( !h || !out )
        return -EINVAL;
    Policy tmp;
    if ( int rc = h->b->get_domain_policy(domid, tmp) )
        return rc;
    out->p = tmp;
    return 0;
}

static int impl_set_domain_policy(cpupolicy_handle_t *h, uint32_t domid,
                                                 const cpupolicy_t *p, cpupolicy_err_t *err)
{
    ErrnoGuard g;
    abi::err_seed(err);
    if ( !h || !p )
        return -EINVAL;
    ErrRecord e;
    int rc = h->b->set_domain_policy(domid, p->p, &e);
    abi::err_out(err, e);
    return rc;
}

// --- cpupolicy_sim.h ------------------------------------------------------------------

static int impl_sim_cpuid(cpupolicy_handle_t *h, uint32_t domid, uint32_t vcpu,
                                         unsigned int path, unsigned int cpl, uint32_t leaf,
                                         uint32_t subleaf, cpupolicy_leaf_t *out,
                                         unsigned int *path_taken, unsigned int *fault)
{
    ErrnoGuard g;
    if ( !h || !out || path > CPUPOLICY_PATH_HVM || cpl > 3 )
        return -EINVAL;
    sim::SimMachine *m = machine_of(h);
    if ( !m )
        return -EOPNOTSUPP;
    sim::GuestCpuidOutcome o{};
    if ( int rc = m->exec_cpuid(domid, vcpu, static_cast<sim::CpuidPath>(path), leaf, subleaf,
                                cpl, o) )
        return rc;
    *out = cpupolicy_leaf_t{leaf, subleaf, o.regs.a, o.regs.b, o.regs.c, o.regs.d};
    if ( path_taken )
        *path_taken = static_cast<unsigned>(o.path);
    if ( fault )
        *fault = static_cast<unsigned>(o.fault);
    return 0;
}

static int impl_sim_get_counters(cpupolicy_handle_t *h,
                                                cpupolicy_sim_counters_t *out)
{
    ErrnoGuard g;
    if ( !h || !out )
        return -EINVAL;
    sim::SimMachine *m = machine_of(h);
    if ( !m )
        return -EOPNOTSUPP;
    sim::SimCounters c = m->counters();
    *out = cpupolicy_sim_counters_t{c.context_switches, c.msr_writes, c.levelling_writes,
                                    c.cpuid_native, c.cpuid_faulting, c.cpuid_fep, c.cpuid_hvm};
    return 0;
}

static int impl_sim_reset_counters(cpupolicy_handle_t *h)
{
    ErrnoGuard g;
    sim::SimMachine *m = machine_of(h);
    if ( !h )
        return -EINVAL;
    if ( !m )
        return -EOPNOTSUPP;
    m->reset_counters();
    return 0;
}

static int impl_sim_msr_writes(cpupolicy_handle_t *h, uint32_t msr,
                                              uint64_t *count)
{
    ErrnoGuard g;
    if ( !h || !count )
        return -EINVAL;
    sim::SimMachine *m = machine_of(h);
    if ( !m )
        return -EOPNOTSUPP;
    *count = m->msr_writes(msr);
    return 0;
}

static int impl_sim_run(cpupolicy_handle_t *h, unsigned int nr_slices,
                                       uint64_t *nr_switches)
{
    ErrnoGuard g;
    if ( !h )
        return -EINVAL;
    sim::SimMachine *m = machine_of(h);
    if ( !m )
        return -EOPNOTSUPP;
    uint64_t n = m->run_round_robin(nr_slices);
    if ( nr_switches )
        *nr_switches = n;
    return 0;
}

static int impl_sim_levelling_gap(cpupolicy_handle_t *h, uint32_t domid,
                                                 uint32_t *flags, uint32_t *leaked,
                                                 uint32_t *lost, uint32_t nr)
{
    ErrnoGuard g;
    if ( !h || !flags || (nr && ((!leaked && !lost))) )
        return -EINVAL;
    sim::SimMachine *m = machine_of(h);
    if ( !m )
        return -EOPNOTSUPP;
    LevellingGap gap{};
    int rc = m->on_cpu(0, [&](Hypervisor &hv) {
        return hv.get_domain_levelling(CONTROL_DOMID, domid, gap);
    });
    if ( rc )
        return rc;
    *flags = (gap.applies ? CPUPOLICY_GAP_APPLIES : 0) |
             (gap.by_faulting ? CPUPOLICY_GAP_BY_FAULTING : 0) |
             (gap.complete() ? CPUPOLICY_GAP_COMPLETE : 0);
    if ( leaked )
        featureset_to_words(gap.leaked, leaked, nr);
    if ( lost )
        featureset_to_words(gap.lost, lost, nr);
    return 0;
}

// --- ABI boundary ----------------------------------------------------------------------
// Every fallible function: cpupolicy_last_error() cleared on entry and written on failure
// (api.hpp, Call); noexcept, so nothing unwinds into a C caller (docs/robustness.md).

CPUPOLICY_EXPORT int cpupolicy_open(cpupolicy_handle_t **out, const char *uri) noexcept
{
    abi::Call c("cpupolicy_open");
    int rc = impl_open(out, uri);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_get_featureset(cpupolicy_handle_t *h, unsigned int idx,
                                              uint32_t *nr, uint32_t *fs) noexcept
{
    abi::Call c("cpupolicy_get_featureset");
    int rc = impl_get_featureset(h, idx, nr, fs);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_set_featureset(cpupolicy_handle_t *h, uint32_t domid,
                                              const uint32_t *fs, uint32_t nr,
                                              cpupolicy_err_t *err) noexcept
{
    abi::Call c("cpupolicy_set_featureset");
    cpupolicy_err_t err_local;  // the message names the entry even for a NULL err
    if ( !err )
        err = &err_local;
    int rc = impl_set_featureset(h, domid, fs, nr, err);
    return c.done(rc, err);
}

CPUPOLICY_EXPORT int cpupolicy_featureset_fits_max(cpupolicy_handle_t *h, unsigned int idx,
                                                 const uint32_t *fs, uint32_t nr,
                                                 uint32_t *bad_feature) noexcept
{
    abi::Call c("cpupolicy_featureset_fits_max");
    uint32_t bad_local;  // the message names the feature even for a NULL bad_feature
    if ( !bad_feature )
        bad_feature = &bad_local;
    int rc = impl_featureset_fits_max(h, idx, fs, nr, bad_feature);
    return c.done_feature(rc, bad_feature);
}

// Deprecated (CPUPOLICY_1.0): the 1.0 name of cpupolicy_featureset_fits_max, kept so that
// programs linked against 1.0 still resolve it.
CPUPOLICY_EXPORT int cpupolicy_verify_featureset(cpupolicy_handle_t *h, unsigned int idx,
                                                 const uint32_t *fs, uint32_t nr,
                                                 uint32_t *bad_feature) noexcept
{
    return cpupolicy_featureset_fits_max(h, idx, fs, nr, bad_feature);
}

CPUPOLICY_EXPORT int cpupolicy_get_levelling_caps(cpupolicy_handle_t *h, uint32_t *caps) noexcept
{
    abi::Call c("cpupolicy_get_levelling_caps");
    int rc = impl_get_levelling_caps(h, caps);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_get_system_policy(cpupolicy_handle_t *h, unsigned int idx,
                                                 cpupolicy_t *out) noexcept
{
    abi::Call c("cpupolicy_get_system_policy");
    int rc = impl_get_system_policy(h, idx, out);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_domain_create(cpupolicy_handle_t *h, unsigned int type,
                                             uint32_t *domid) noexcept
{
    abi::Call c("cpupolicy_domain_create");
    int rc = impl_domain_create(h, type, domid);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_domain_start(cpupolicy_handle_t *h, uint32_t domid) noexcept
{
    abi::Call c("cpupolicy_domain_start");
    int rc = impl_domain_start(h, domid);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_domain_destroy(cpupolicy_handle_t *h, uint32_t domid) noexcept
{
    abi::Call c("cpupolicy_domain_destroy");
    int rc = impl_domain_destroy(h, domid);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_get_domain_policy(cpupolicy_handle_t *h, uint32_t domid,
                                                 cpupolicy_t *out) noexcept
{
    abi::Call c("cpupolicy_get_domain_policy");
    int rc = impl_get_domain_policy(h, domid, out);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_set_domain_policy(cpupolicy_handle_t *h, uint32_t domid,
                                                 const cpupolicy_t *p, cpupolicy_err_t *err) noexcept
{
    abi::Call c("cpupolicy_set_domain_policy");
    cpupolicy_err_t err_local;  // the message names the entry even for a NULL err
    if ( !err )
        err = &err_local;
    int rc = impl_set_domain_policy(h, domid, p, err);
    return c.done(rc, err);
}

CPUPOLICY_EXPORT int cpupolicy_sim_cpuid(cpupolicy_handle_t *h, uint32_t domid, uint32_t vcpu,
                                         unsigned int path, unsigned int cpl, uint32_t leaf,
                                         uint32_t subleaf, cpupolicy_leaf_t *out,
                                         unsigned int *path_taken, unsigned int *fault) noexcept
{
    abi::Call c("cpupolicy_sim_cpuid");
    int rc = impl_sim_cpuid(h, domid, vcpu, path, cpl, leaf, subleaf, out, path_taken, fault);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_sim_get_counters(cpupolicy_handle_t *h,
                                                cpupolicy_sim_counters_t *out) noexcept
{
    abi::Call c("cpupolicy_sim_get_counters");
    int rc = impl_sim_get_counters(h, out);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_sim_reset_counters(cpupolicy_handle_t *h) noexcept
{
    abi::Call c("cpupolicy_sim_reset_counters");
    int rc = impl_sim_reset_counters(h);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_sim_msr_writes(cpupolicy_handle_t *h, uint32_t msr,
                                              uint64_t *count) noexcept
{
    abi::Call c("cpupolicy_sim_msr_writes");
    int rc = impl_sim_msr_writes(h, msr, count);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_sim_run(cpupolicy_handle_t *h, unsigned int nr_slices,
                                       uint64_t *nr_switches) noexcept
{
    abi::Call c("cpupolicy_sim_run");
    int rc = impl_sim_run(h, nr_slices, nr_switches);
    return c.done(rc);
}

CPUPOLICY_EXPORT int cpupolicy_sim_levelling_gap(cpupolicy_handle_t *h, uint32_t domid,
                                                 uint32_t *flags, uint32_t *leaked,
                                                 uint32_t *lost, uint32_t nr) noexcept
{
    abi::Call c("cpupolicy_sim_levelling_gap");
    int rc = impl_sim_levelling_gap(h, domid, flags, leaked, lost, nr);
    return c.done(rc);
}

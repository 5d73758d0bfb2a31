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
thread_local std::string last_open_error;

// The simulated machine behind a handle, or nullptr for other backends.
sim::SimMachine *machine_of(cpupolicy_handle_t *h)
{
    if ( !h || !h->b || std::string(h->b->kind()) != "embedded" )
        return nullptr;
    return &static_cast<EmbeddedBackend *>(h->b.get())->machine();
}
} // namespace

CPUPOLICY_EXPORT int cpupolicy_open(cpupolicy_handle_t **out, const char *uri)
{
    ErrnoGuard g;
    last_open_error.clear();
    if ( !out )
        return -EINVAL;
    *out = nullptr;
    std::unique_ptr<cpupolicy_handle> h(new (std::nothrow) cpupolicy_handle);
    if ( !h )
        return -ENOMEM;
    std::string why;
    if ( int rc = backend_open(h->b, uri, why) )
    {
        last_open_error = why;
        return rc;
    }
    *out = h.release();
    return 0;
}

CPUPOLICY_EXPORT void cpupolicy_close(cpupolicy_handle_t *h)
{
    ErrnoGuard g;
    delete h;
}

CPUPOLICY_EXPORT const char *cpupolicy_last_open_error(void)
{
    return last_open_error.c_str();
}

CPUPOLICY_EXPORT int cpupolicy_get_featureset(cpupolicy_handle_t *h, unsigned int idx,
                                              uint32_t *nr, uint32_t *fs)
{
    ErrnoGuard g;  // a backend's socket or library calls must not leak into errno
    if ( !h || !nr )
        return -EINVAL;
    return h->b->get_featureset(idx, nr, fs);
}

CPUPOLICY_EXPORT int cpupolicy_set_featureset(cpupolicy_handle_t *h, uint32_t domid,
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

CPUPOLICY_EXPORT int cpupolicy_verify_featureset(cpupolicy_handle_t *h, unsigned int idx,
                                                 const uint32_t *fs, uint32_t nr,
                                                 uint32_t *bad_feature)
{
    ErrnoGuard g;
    if ( bad_feature )
        *bad_feature = ~0u;
    if ( !h || (nr && !fs) )
        return -EINVAL;
    return h->b->verify_featureset(idx, fs, nr, bad_feature);
}

CPUPOLICY_EXPORT int cpupolicy_get_levelling_caps(cpupolicy_handle_t *h, uint32_t *caps)
{
    ErrnoGuard g;
    if ( !h || !caps )
        return -EINVAL;
    return h->b->get_levelling_caps(caps);
}

CPUPOLICY_EXPORT int cpupolicy_get_system_policy(cpupolicy_handle_t *h, unsigned int idx,
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

CPUPOLICY_EXPORT int cpupolicy_domain_create(cpupolicy_handle_t *h, unsigned int type,
                                             uint32_t *domid)
{
    ErrnoGuard g;
    if ( !h || !domid )
        return -EINVAL;
    return h->b->domain_create(type, domid);
}

CPUPOLICY_EXPORT int cpupolicy_domain_start(cpupolicy_handle_t *h, uint32_t domid)
{
    ErrnoGuard g;
    return h ? h->b->domain_start(domid) : -EINVAL;
}

CPUPOLICY_EXPORT int cpupolicy_domain_destroy(cpupolicy_handle_t *h, uint32_t domid)
{
    ErrnoGuard g;
    return h ? h->b->domain_destroy(domid) : -EINVAL;
}

CPUPOLICY_EXPORT int cpupolicy_get_domain_policy(cpupolicy_handle_t *h, uint32_t domid,
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

CPUPOLICY_EXPORT int cpupolicy_set_domain_policy(cpupolicy_handle_t *h, uint32_t domid,
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

CPUPOLICY_EXPORT int cpupolicy_sim_cpuid(cpupolicy_handle_t *h, uint32_t domid, uint32_t vcpu,
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

CPUPOLICY_EXPORT int cpupolicy_sim_get_counters(cpupolicy_handle_t *h,
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

CPUPOLICY_EXPORT int cpupolicy_sim_reset_counters(cpupolicy_handle_t *h)
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

CPUPOLICY_EXPORT int cpupolicy_sim_msr_writes(cpupolicy_handle_t *h, uint32_t msr,
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

CPUPOLICY_EXPORT int cpupolicy_sim_run(cpupolicy_handle_t *h, unsigned int nr_slices,
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

CPUPOLICY_EXPORT int cpupolicy_sim_levelling_gap(cpupolicy_handle_t *h, uint32_t domid,
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

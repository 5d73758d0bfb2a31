/* SPDX-License-Identifier: MIT */
/*
 * cpupolicy_sim.h - preview what a guest would see on a host, on the embedded simulated
 * hypervisor (handles opened with "" or "sim:...").  Other backends answer -EOPNOTSUPP.
 *
 * Conventions as in cpupolicy.h.
 *
 * Why the simulator is in the production libcpupolicy.so.1: the "" and "sim:" handles of
 * cpupolicy_open() ARE the simulated hypervisor, booted in-process on this CPU or on a
 * CPUID dump, so that a toolstack can level pools and try policies offline, and test its
 * own code, with no Xen (and no root) - the same core code a hypervisor runs.  These
 * calls only look inside that machine; they cost nothing on other handles (-EOPNOTSUPP)
 * and pull in no extra dependency.  A build without them would have to drop the
 * "" / "sim:" URIs too.
 */
#ifndef CPUPOLICY_SIM_H
#define CPUPOLICY_SIM_H

#include "cpupolicy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a guest's CPUID reaches its answer. */
#define CPUPOLICY_PATH_AUTO     0 /* what the guest type and host make happen */
#define CPUPOLICY_PATH_NATIVE   1 /* PV without faulting: hardware through the masks */
#define CPUPOLICY_PATH_FAULTING 2 /* PV with CPUID faulting: #GP -> policy */
#define CPUPOLICY_PATH_FEP      3 /* forced emulation prefix: #UD -> policy */
#define CPUPOLICY_PATH_HVM      4 /* HVM CPUID exit -> policy */

/* What the guest received instead of an answer. */
#define CPUPOLICY_FAULT_NONE 0
#define CPUPOLICY_FAULT_GP   1
#define CPUPOLICY_FAULT_UD   2

/* Execute CPUID(leaf, subleaf) as vCPU `vcpu` of started domain `domid` at privilege
 * `cpl` (HVM only; PV runs at 3) through `path`.  *out gets the answer, *path_taken (may
 * be NULL) the path actually used, *fault (may be NULL) an exception delivered instead.
 * -ESRCH/-EINVAL no such domain/vCPU, -EBUSY not started, -EOPNOTSUPP a path that cannot
 * happen for this guest on this host (native with faulting on, hvm for PV, ...). */
int cpupolicy_sim_cpuid(cpupolicy_handle_t *h, uint32_t domid, uint32_t vcpu,
                        unsigned int path, unsigned int cpl, uint32_t leaf, uint32_t subleaf,
                        cpupolicy_leaf_t *out, unsigned int *path_taken, unsigned int *fault) CPUPOLICY_NOEXCEPT;

typedef struct cpupolicy_sim_counters {
    uint64_t context_switches; /* vCPU context switches made */
    uint64_t msr_writes;       /* every WRMSR since boot or the last reset */
    uint64_t levelling_writes; /* of which by the levelling context switch */
    uint64_t cpuid_native, cpuid_faulting, cpuid_fep, cpuid_hvm;
} cpupolicy_sim_counters_t;

int cpupolicy_sim_get_counters(cpupolicy_handle_t *h, cpupolicy_sim_counters_t *out) CPUPOLICY_NOEXCEPT;
int cpupolicy_sim_reset_counters(cpupolicy_handle_t *h) CPUPOLICY_NOEXCEPT;
/* Writes to one MSR index, over all physical CPUs. */
int cpupolicy_sim_msr_writes(cpupolicy_handle_t *h, uint32_t msr, uint64_t *count) CPUPOLICY_NOEXCEPT;
/* Run nr_slices round-robin scheduling rounds over every started domain's vCPUs;
 * *nr_switches (may be NULL) = context switches made. */
int cpupolicy_sim_run(cpupolicy_handle_t *h, unsigned int nr_slices, uint64_t *nr_switches) CPUPOLICY_NOEXCEPT;

/* What this host cannot level for PV domain `domid`: native CPUID features the guest sees
 * that its policy lacks (leaked) and policy features native CPUID cannot show (lost), as
 * featuresets of nr words each (either may be NULL).  *flags: bit 0 levelling applies
 * (PV), bit 1 exact by CPUID faulting, bit 2 complete (nothing leaked or lost). */
#define CPUPOLICY_GAP_APPLIES     (1u << 0)
#define CPUPOLICY_GAP_BY_FAULTING (1u << 1)
#define CPUPOLICY_GAP_COMPLETE    (1u << 2)
int cpupolicy_sim_levelling_gap(cpupolicy_handle_t *h, uint32_t domid, uint32_t *flags,
                                uint32_t *leaked, uint32_t *lost, uint32_t nr) CPUPOLICY_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* CPUPOLICY_SIM_H */

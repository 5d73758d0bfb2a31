// SPDX-License-Identifier: MIT
// The simulated machine: the freestanding core (Hypervisor, levelling) booted on N
// simulated physical CPUs, each a real processor described by a CPUID dump (or by this
// machine's own CPUID), with the MSR model of its vendor/family/model (sim_cpu.hpp).
//
// What it is for: running every CPUID path of a guest on every host the dumps describe,
// and showing a toolstack user what a guest would see there.
//
//   std::unique_ptr<SimMachine> m;
//   std::string why;
//   SimConfig cfg;  cfg.dump_path = ".../GenuineIntel00206D5_SandyBridgeEP.txt";  cfg.nr_cpus = 2;
//   if ( SimMachine::create(cfg, m, &why) ) ...;
//   DomId d;
//   m->on_cpu(0, [&](Hypervisor &hv) { return hv.domain_create(CONTROL_DOMID, DomainType::pv, &d); });
//   ... set its policy, start it ...
//   GuestCpuidOutcome o;
//   m->exec_cpuid(d, 0, CpuidPath::automatic, 1, 0, 3, o);   // what the guest gets
//
// Every call into the core must run with the platform's current CPU set, which on_cpu()
// and the SimMachine methods do (sim_platform.hpp); several machines can coexist in one
// process and one thread.  Not thread-safe: one thread drives a machine at a time.
//
// Hosted C++ (no exceptions); compiled into libcpupolicy, never into the core.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cpupolicy/hypervisor.hpp"
#include "sim_cpu.hpp"
#include "sim_platform.hpp"

namespace cpupolicy::sim {

struct SimConfig {
    std::string dump_path;        // empty: this machine's own CPUID (import_native)
    unsigned nr_cpus = 1;         // physical CPUs; CPU i takes dump block i % blocks
    std::string boot_options;     // Xen command-line fragment or bare cpuid= list (boot_text.hpp)
    MaskModel mask_model = MaskModel::automatic;        // override the model table
    FaultingModel faulting = FaultingModel::automatic;  // override the dump
    // CPUID records replacing (or adding to) the dump's on every CPU, to build a CPU no
    // dump describes - e.g. a leaf-1 signature of a model with other masking MSRs.  A
    // record for a leaf without subleaves uses subleaf 0.
    std::vector<import::CpuidRecord> cpuid_patch;
    int log_print_level = -1;     // core log lines at or below this level go to stderr
    // Bytes the hypervisor may hold for domains (cpupolicy_plat_alloc), to model a host
    // whose memory runs out; 0 = as much as the process can allocate.
    size_t domain_memory_limit = 0;
};

// How a guest's CPUID reaches an answer.
enum class CpuidPath : uint8_t {
    automatic,  // whatever the guest type and the host make happen
    native,     // PV, no faulting: the hardware answers through the current masks
    faulting,   // PV with faulting: #GP -> hypervisor -> guest_cpuid
    fep,        // forced emulation prefix: #UD -> hypervisor -> guest_cpuid (PV or HVM)
    hvm,        // HVM: the CPUID exit -> guest_cpuid
};
const char *cpuid_path_name(CpuidPath p);
// "auto", "native", "faulting", "fep", "hvm" -> path; false when unknown.
bool cpuid_path_from_name(const char *name, CpuidPath *out);

struct GuestCpuidOutcome {
    CpuidPath path;     // the path actually taken (never automatic)
    Regs regs;          // the guest's EAX..EDX when fault == none
    GuestFault fault;   // else the exception the guest received
};

struct SimCounters {
    uint64_t context_switches;   // vCPU switches made by the hypervisor (idle included)
    uint64_t msr_writes;         // every WRMSR on every CPU since boot / the last reset
    uint64_t levelling_writes;   // of which by ctxt_switch_levelling
    uint64_t cpuid_native, cpuid_faulting, cpuid_fep, cpuid_hvm;
};

class SimMachine {
public:
    // Build the CPUs and boot the hypervisor on them (boot CPU 0, then cpu_up on the
    // others).  0, or a negative errno with `error` (may be NULL) saying why: an import
    // error (file:line: what), a bad boot option, nr_cpus out of 1..MAX_PCPUS.
    // Counters start at zero after boot (the probes' writes are in boot_msr_writes()).
    [[nodiscard]] static int create(const SimConfig &cfg, std::unique_ptr<SimMachine> &out,
                                    std::string *error);
    ~SimMachine();

    unsigned nr_cpus() const { return static_cast<unsigned>(cpus_.size()); }
    SimCpu &cpu(unsigned i) { return *cpus_[i]; }
    const SimCpu &cpu(unsigned i) const { return *cpus_[i]; }
    // Read-only views that need no current CPU.
    const Hypervisor &hv() const { return *hv_; }

    // Run f(Hypervisor &) with the platform's current CPU set to `cpu` (< nr_cpus()):
    // the way to make hypercalls.
    template <typename F>
    decltype(auto) on_cpu(unsigned cpu, F &&f)
    {
        SimCpuScope scope(*cpus_[cpu], &log_, &mem_);
        return f(*hv_);
    }

    // --- Scheduling -------------------------------------------------------------------
    // The physical CPU a vCPU runs on (its affinity): (domid + vcpu) % nr_cpus.
    unsigned home_cpu(DomId d, unsigned vcpu) const;
    // Switch `cpu` to the vCPU / to idle (Hypervisor::context_switch / _idle).
    [[nodiscard]] int schedule(unsigned cpu, DomId d, unsigned vcpu);
    [[nodiscard]] int schedule_idle(unsigned cpu);
    // `nr_slices` scheduling rounds: in each, every physical CPU switches to the next
    // runnable vCPU homed on it (all vCPUs of started domains, ordered by domid, vcpu),
    // round robin.  A CPU with one runnable vCPU keeps running it (no switch); a CPU
    // with none stays idle.  Returns the number of context switches made.
    uint64_t run_round_robin(unsigned nr_slices);

    // --- Guest execution --------------------------------------------------------------
    // Execute CPUID(leaf, subleaf) as vCPU `vcpu` of domain `d`, at privilege `cpl`
    // (HVM: the guest's CPL; PV: ignored, a 64-bit PV guest runs at CPL 3), through
    // `path`.  The vCPU is first scheduled on its home CPU.  0, or:
    //   -ESRCH / -EINVAL  no such domain / vCPU;  -EBUSY  domain not started;
    //   -EOPNOTSUPP       the path cannot happen for this guest on this host (native on
    //                     an HVM guest or with faulting on; faulting without faulting;
    //                     hvm for a PV guest).
    [[nodiscard]] int exec_cpuid(DomId d, unsigned vcpu, CpuidPath path, uint32_t leaf,
                                 uint32_t subleaf, unsigned cpl, GuestCpuidOutcome &out);
    // The guest writes an MSR (HVM exit; PV guests: -EOPNOTSUPP, not modelled), CR4 or
    // XCR0 (XSETBV: -EINVAL where the guest would get #UD or #GP, hypervisor.hpp).
    [[nodiscard]] int exec_wrmsr(DomId d, unsigned vcpu, uint32_t msr, uint64_t val,
                                 GuestFault *fault);
    [[nodiscard]] int exec_rdmsr(DomId d, unsigned vcpu, uint32_t msr, uint64_t *val,
                                 GuestFault *fault);
    [[nodiscard]] int exec_write_cr4(DomId d, unsigned vcpu, uint64_t cr4);
    [[nodiscard]] int exec_write_xcr0(DomId d, unsigned vcpu, uint64_t xcr0);

    // --- Counters and log -------------------------------------------------------------
    SimCounters counters() const;
    uint64_t msr_writes(uint32_t msr) const;  // summed over all CPUs
    uint64_t boot_msr_writes() const { return boot_msr_writes_; }
    void reset_counters();
    const std::vector<std::string> &log() const { return log_.lines; }
    // Bytes the hypervisor holds for domains now (the control domain's included).
    size_t domain_memory() const { return mem_.in_use; }

private:
    SimMachine() = default;
    // Schedule vCPU `vcpu` of `d` on its home CPU, then run f(Hypervisor &) there, as
    // the guest's own instruction would.  hvm_only: -EOPNOTSUPP for a PV domain (its
    // MSR accesses are not modelled).
    template <typename F>
    [[nodiscard]] int as_vcpu(DomId d, unsigned vcpu, bool hvm_only, F &&f);

    std::vector<std::unique_ptr<SimCpu>> cpus_;
    SimMemory mem_;  // before hv_: outlives it
    std::unique_ptr<Hypervisor> hv_;
    SimLog log_;
    uint64_t boot_msr_writes_ = 0;
    uint64_t switches_base_ = 0;
    uint64_t nr_native_ = 0, nr_faulting_ = 0, nr_fep_ = 0, nr_hvm_ = 0;
    // Round-robin cursor per CPU: the vCPU it ran last (by identity, so the runnable list
    // may change between rounds).
    struct RunCursor {
        bool valid = false;
        DomId d = 0;
        unsigned v = 0;
    };
    std::vector<RunCursor> cursor_;
};

} // namespace cpupolicy::sim

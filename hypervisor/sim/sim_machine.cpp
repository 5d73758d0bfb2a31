// SPDX-License-Identifier: MIT
// The simulated machine (sim.hpp).
#include "sim.hpp"
#include "boot_text.hpp"

#include <cerrno>
#include <cstring>

namespace cpupolicy::sim {

const char *cpuid_path_name(CpuidPath p)
{
    switch ( p ) {
    case CpuidPath::automatic: return "auto";
    case CpuidPath::native:    return "native";
    case CpuidPath::faulting:  return "faulting";
    case CpuidPath::fep:       return "fep";
    case CpuidPath::hvm:       return "hvm";
    }
    return "?";
}

bool cpuid_path_from_name(const char *name, CpuidPath *out)
{
    static constexpr CpuidPath all[] = {CpuidPath::automatic, CpuidPath::native,
                                        CpuidPath::faulting, CpuidPath::fep, CpuidPath::hvm};
    if ( !name )
        return false;
    for ( CpuidPath p : all )
        if ( std::strcmp(name, cpuid_path_name(p)) == 0 )
        {
            *out = p;
            return true;
        }
    return false;
}

int SimMachine::create(const SimConfig &cfg, std::unique_ptr<SimMachine> &out, std::string *error)
{
    auto fail = [error](int rc, std::string why) {
        if ( error )
            *error = std::move(why);
        return rc;
    };
    if ( cfg.nr_cpus == 0 || cfg.nr_cpus > MAX_PCPUS )
        return fail(-EINVAL, "cpus must be 1.." + std::to_string(MAX_PCPUS));

    std::unique_ptr<SimMachine> m(new SimMachine());
    m->log_.print_level = cfg.log_print_level;

    // One dump per CPU block the file has; CPU i uses block i modulo their number.
    std::vector<import::CpuDump> blocks;
    import::CpuDump first;
    import::ImportError ierr;
    int rc = cfg.dump_path.empty() ? import::import_native(first)
                                   : import::import_file(cfg.dump_path, 0, first, ierr);
    if ( rc )
        return fail(rc, cfg.dump_path.empty() ? std::string("this machine has no CPUID")
                                              : import::format_error(ierr));
    unsigned nr_blocks = first.nr_cpus_in_file ? first.nr_cpus_in_file : 1;
    blocks.push_back(std::move(first));
    for ( unsigned b = 1; b < nr_blocks && b < cfg.nr_cpus; ++b )
    {
        import::CpuDump d;
        rc = import::import_file(cfg.dump_path, b, d, ierr);
        if ( rc )
            return fail(rc, import::format_error(ierr));
        blocks.push_back(std::move(d));
    }
    // A dump often records the MSRs of one CPU only (AIDA64's unnumbered "MSR Registers"
    // section is the boot CPU's, import.cpp).  PLATFORM_INFO and ARCH_CAPABILITIES are
    // the same on every CPU of one machine, so a block without MSRs takes the first
    // recorded ones; otherwise an AP of a faulting host would look non-faulting and
    // cpu_up() fail (Haswell-EP, Broadwell-E with cpus=2).
    for ( auto &b : blocks )
        if ( b.msrs.empty() )
            for ( const auto &other : blocks )
                if ( !other.msrs.empty() )
                {
                    b.msrs = other.msrs;
                    break;
                }
    for ( auto &b : blocks )
        for ( const auto &patch : cfg.cpuid_patch )
        {
            bool replaced = false;
            for ( auto &r : b.leaves )
                if ( r.leaf == patch.leaf && r.subleaf == patch.subleaf )
                {
                    r = patch;
                    replaced = true;
                }
            if ( !replaced )
                b.leaves.push_back(patch);
        }
    for ( unsigned i = 0; i < cfg.nr_cpus; ++i )
        m->cpus_.push_back(std::make_unique<SimCpu>(i, blocks[i % blocks.size()], cfg.mask_model,
                                                    cfg.faulting));
    m->cursor_.assign(cfg.nr_cpus, RunCursor{});
    m->mem_.limit = cfg.domain_memory_limit;

    // The options are read here first, for a message naming the option, its offset and
    // what is accepted (boot_text.hpp), and for the bare cpuid= list the tools accept;
    // the hypervisor then boots on them in Xen's grammar.
    std::string cmdline, why;
    BootOptions opts;
    if ( (rc = parse_boot_text(cfg.boot_options.c_str(), opts, &why, &cmdline)) )
        return fail(rc, why);
    m->hv_.reset(new Hypervisor());
    rc = m->on_cpu(0, [&](Hypervisor &hv) { return hv.boot(cmdline.c_str(), nullptr); });
    if ( rc )
        return fail(rc, "hypervisor boot failed: " + std::string(std::strerror(-rc)));
    for ( unsigned i = 1; i < cfg.nr_cpus; ++i )
    {
        rc = m->on_cpu(i, [](Hypervisor &hv) { return hv.cpu_up(); });
        if ( rc )
            return fail(rc, "cpu " + std::to_string(i) + " failed to come up");
    }
    for ( const auto &c : m->cpus_ )
        m->boot_msr_writes_ += c->msr_writes_total();
    m->reset_counters();
    out = std::move(m);
    return 0;
}

SimMachine::~SimMachine() = default;

unsigned SimMachine::home_cpu(DomId d, unsigned vcpu) const
{
    return static_cast<unsigned>((uint64_t{d} + vcpu) % cpus_.size());
}

int SimMachine::schedule(unsigned cpu, DomId d, unsigned vcpu)
{
    if ( cpu >= cpus_.size() )
        return -EINVAL;
    return on_cpu(cpu, [&](Hypervisor &hv) { return hv.context_switch(d, vcpu); });
}

int SimMachine::schedule_idle(unsigned cpu)
{
    if ( cpu >= cpus_.size() )
        return -EINVAL;
    on_cpu(cpu, [](Hypervisor &hv) { hv.context_switch_idle(); });
    return 0;
}

uint64_t SimMachine::run_round_robin(unsigned nr_slices)
{
    // The runnable vCPUs, in (domid, vcpu) order.
    std::vector<DomainInfo> doms(hv_->nr_domains());
    unsigned n = hv_->list_domains(doms.data(), static_cast<unsigned>(doms.size()));
    struct Entry {
        DomId d;
        unsigned v;
    };
    std::vector<std::vector<Entry>> queue(cpus_.size());
    for ( unsigned i = 0; i < n && i < doms.size(); ++i )
        if ( doms[i].started )
            for ( unsigned v = 0; v < doms[i].nr_vcpus; ++v )
                queue[home_cpu(doms[i].domid, v)].push_back({doms[i].domid, v});

    uint64_t before = hv_->nr_context_switches();
    for ( unsigned s = 0; s < nr_slices; ++s )
        for ( unsigned c = 0; c < cpus_.size(); ++c )
        {
            const auto &q = queue[c];
            if ( q.empty() )
                continue;
            // Next entry after the one this CPU ran last (by order, so the list may change).
            size_t pick = 0;
            RunCursor &cur = cursor_[c];
            if ( cur.valid )
                for ( size_t i = 0; i < q.size(); ++i )
                    if ( q[i].d > cur.d || (q[i].d == cur.d && q[i].v > cur.v) )
                    {
                        pick = i;
                        break;
                    }
            cur = RunCursor{true, q[pick].d, q[pick].v};
            (void)schedule(c, q[pick].d, q[pick].v);
        }
    return hv_->nr_context_switches() - before;
}

int SimMachine::exec_cpuid(DomId d, unsigned vcpu, CpuidPath path, uint32_t leaf,
                           uint32_t subleaf, unsigned cpl, GuestCpuidOutcome &out)
{
    DomainInfo info{};
    int rc = on_cpu(0, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, d, info); });
    if ( rc )
        return rc;
    if ( vcpu >= info.nr_vcpus )
        return -EINVAL;
    if ( !info.started )
        return -EBUSY;
    const unsigned c = home_cpu(d, vcpu);
    rc = schedule(c, d, vcpu);
    if ( rc )
        return rc;
    SimCpu &hw = *cpus_[c];
    const bool hvm = info.type == DomainType::hvm;

    return on_cpu(c, [&](Hypervisor &hv) -> int {
        GuestCpuidResult r{};
        if ( path == CpuidPath::fep )
        {
            rc = hv.invalid_op(d, vcpu, hvm ? cpl : 3, FEP_CPUID, sizeof(FEP_CPUID), Leaf{leaf},
                               Subleaf{subleaf}, r);
            if ( rc )
                return rc;
            ++nr_fep_;
            out = GuestCpuidOutcome{CpuidPath::fep, r.regs, r.fault};
            return 0;
        }
        if ( hvm )
        {
            if ( path != CpuidPath::automatic && path != CpuidPath::hvm )
                return -EOPNOTSUPP;  // VMX/SVM intercept CPUID unconditionally
            rc = hv.hvm_cpuid_exit(d, vcpu, cpl, Leaf{leaf}, Subleaf{subleaf}, r);
            if ( rc )
                return rc;
            ++nr_hvm_;
            out = GuestCpuidOutcome{CpuidPath::hvm, r.regs, r.fault};
            return 0;
        }
        if ( path == CpuidPath::hvm )
            return -EOPNOTSUPP;
        const bool faults = hw.faulting_enabled();
        if ( (path == CpuidPath::native && faults) || (path == CpuidPath::faulting && !faults) )
            return -EOPNOTSUPP;
        // The guest executes the instruction; the hardware either answers (through the
        // masks in force) or raises #GP, which the hypervisor handles.
        Regs regs{};
        if ( hw.cpuid(leaf, subleaf, 3, regs) == CpuidResult::ok )
        {
            ++nr_native_;
            out = GuestCpuidOutcome{CpuidPath::native, regs, GuestFault::none};
            return 0;
        }
        rc = hv.pv_gp_fault(d, vcpu, INSN_CPUID, sizeof(INSN_CPUID), Leaf{leaf}, Subleaf{subleaf}, r);
        if ( rc )
            return rc;
        ++nr_faulting_;
        out = GuestCpuidOutcome{CpuidPath::faulting, r.regs, r.fault};
        return 0;
    });
}

template <typename F>
int SimMachine::as_vcpu(DomId d, unsigned vcpu, bool hvm_only, F &&f)
{
    if ( hvm_only )
    {
        DomainInfo info{};
        int rc = on_cpu(0, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, d, info); });
        if ( rc )
            return rc;
        if ( info.type != DomainType::hvm )
            return -EOPNOTSUPP;
    }
    const unsigned c = home_cpu(d, vcpu);
    if ( int rc = schedule(c, d, vcpu) )
        return rc;
    return on_cpu(c, f);
}

int SimMachine::exec_wrmsr(DomId d, unsigned vcpu, uint32_t msr, uint64_t val, GuestFault *fault)
{
    return as_vcpu(d, vcpu, true,
                   [&](Hypervisor &hv) { return hv.hvm_wrmsr(d, vcpu, MsrIndex{msr}, val, fault); });
}

int SimMachine::exec_rdmsr(DomId d, unsigned vcpu, uint32_t msr, uint64_t *val, GuestFault *fault)
{
    return as_vcpu(d, vcpu, true,
                   [&](Hypervisor &hv) { return hv.hvm_rdmsr(d, vcpu, MsrIndex{msr}, val, fault); });
}

int SimMachine::exec_write_cr4(DomId d, unsigned vcpu, uint64_t cr4)
{
    return as_vcpu(d, vcpu, false, [&](Hypervisor &hv) { return hv.guest_write_cr4(d, vcpu, cr4); });
}

int SimMachine::exec_write_xcr0(DomId d, unsigned vcpu, uint64_t xcr0)
{
    return as_vcpu(d, vcpu, false,
                   [&](Hypervisor &hv) { return hv.guest_write_xcr0(d, vcpu, xcr0); });
}

SimCounters SimMachine::counters() const
{
    SimCounters c{};
    c.context_switches = hv_->nr_context_switches() - switches_base_;
    for ( const auto &cpu : cpus_ )
    {
        c.msr_writes += cpu->msr_writes_total();
        c.levelling_writes += cpu->percpu.nr_writes;
    }
    c.cpuid_native = nr_native_;
    c.cpuid_faulting = nr_faulting_;
    c.cpuid_fep = nr_fep_;
    c.cpuid_hvm = nr_hvm_;
    return c;
}

uint64_t SimMachine::msr_writes(uint32_t msr) const
{
    uint64_t n = 0;
    for ( const auto &cpu : cpus_ )
        n += cpu->msr_writes(msr);
    return n;
}

void SimMachine::reset_counters()
{
    for ( auto &cpu : cpus_ )
    {
        cpu->reset_counters();
        cpu->percpu.nr_writes = 0;
    }
    switches_base_ = hv_ ? hv_->nr_context_switches() : 0;
    nr_native_ = nr_faulting_ = nr_fep_ = nr_hvm_ = 0;
}

} // namespace cpupolicy::sim

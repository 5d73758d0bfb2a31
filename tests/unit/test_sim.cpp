// SPDX-License-Identifier: MIT
// The simulated machine (hypervisor/sim): the MSR model of each dump's CPU, the hardware
// semantics of masking and faulting, the platform seam's current-CPU context, several
// machines in one process, round-robin scheduling and its counters.
//
// Facts: masking MSRs by model and the AND/override semantics as in masking.hpp (Xen's
// intel.c/amd.c); PLATFORM_INFO values are the dumps' own MSR 0xCE lines; out-of-range
// CPUID behaviour from SDM vol. 2A "CPUID" and APM vol. 3 "CPUID".
#include "hv_harness.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "cpupolicy/check.hpp"

using namespace hvtest;

namespace {

struct MsrModelRow {
    const char *dump;
    std::vector<uint32_t> present;  // masking / faulting MSRs that must exist
    std::vector<uint32_t> absent;   // and those that must not
    bool faulting;                  // the CPU model supports CPUID faulting
};

const std::vector<uint32_t> ALL_MASKS = {0x478, 0x130, 0x131, 0x132, 0x133, 0x134,
                                         0xc0011002, 0xc0011003, 0xc0011004, 0xc0011005};

std::vector<uint32_t> without(std::vector<uint32_t> all, const std::vector<uint32_t> &keep)
{
    std::vector<uint32_t> r;
    for ( uint32_t m : all )
    {
        bool k = false;
        for ( uint32_t x : keep )
            k |= x == m;
        if ( !k )
            r.push_back(m);
    }
    return r;
}

} // namespace

// Which MSRs each dump's CPU has: Nehalem 0x130/0x131, Sandy Bridge 0x132-0x134, later
// Intel none; PLATFORM_INFO exactly when the dump recorded it, MISC_FEATURES_ENABLES when
// it advertises faulting; AMD overrides by family (7ab0 from fam 15h, 6c on 15h only).
TEST(msr_model_follows_vendor_family_model_and_dump)
{
    const std::vector<MsrModelRow> rows = {
        {NEHALEM, {0xce, 0x130, 0x131}, {0x140}, false},
        {SANDYBRIDGE, {0xce, 0x132, 0x133, 0x134}, {0x140}, false},
        {IVYBRIDGE, {}, {0xce, 0x140}, false},
        {HASWELL, {0xce, 0x140}, {}, true},
        {BROADWELL, {0xce, 0x140}, {}, true},
        {SKYLAKE, {}, {0xce, 0x140}, false},
        {SAPPHIRE, {0xce, 0x140, 0x10a}, {}, true},
        {EMERALD, {0xce, 0x140, 0x10a}, {}, true},
        {ISTANBUL, {0xc0011004, 0xc0011005, 0xc0010015}, {0xc0011002, 0xc0011003, 0xce}, false},
        {INTERLAGOS, {0xc0011004, 0xc0011005, 0xc0011002, 0xc0011003}, {}, false},
        {ZEN, {0xc0011004, 0xc0011005, 0xc0011002}, {0xc0011003}, false},
        {MILAN, {0xc0011004, 0xc0011005, 0xc0011002}, {0xc0011003}, false},
        {GENOA, {0xc0011004, 0xc0011005, 0xc0011002, 0xc0010015}, {0xc0011003}, true},
        {HYGON, {0xc0011004, 0xc0011005, 0xc0011002}, {0xc0011003}, false},
    };
    for ( const auto &row : rows )
    {
        auto m = boot(row.dump);
        if ( !m )
            continue;
        const SimCpu &c = m->cpu(0);
        std::vector<uint32_t> absent = row.absent;
        for ( uint32_t x : without(ALL_MASKS, row.present) )
            absent.push_back(x);
        for ( uint32_t idx : row.present )
        {
            uint64_t v;
            EXPECT_EQ(std::string(row.dump) + " has " + hex(idx),
                      std::string(row.dump) + (c.rdmsr(idx, v) == 0 ? " has " : " lacks ") + hex(idx));
        }
        for ( uint32_t idx : absent )
        {
            uint64_t v;
            EXPECT_EQ(std::string(row.dump) + " lacks " + hex(idx),
                      std::string(row.dump) + (c.rdmsr(idx, v) == 0 ? " has " : " lacks ") + hex(idx));
        }
        EXPECT_EQ(row.faulting, c.model().faulting);
    }
}

// PLATFORM_INFO comes from the dump as recorded (Haswell-EP: 0x00080c33fb811700).
TEST(platform_info_is_the_dumps_value)
{
    auto m = boot(HASWELL);
    if ( !m )
        return;
    uint64_t v = 0;
    EXPECT_RC(0, m->cpu(0).rdmsr(0xce, v));
    EXPECT_EQ(0x00080c33fb811700ull, v);
}

// #GP cases: an MSR the model lacks, a write to a read-only MSR, a reserved bit.
TEST(msr_faults_like_hardware)
{
    auto hsw = boot(HASWELL), il = boot(INTERLAGOS), gen = boot(GENOA);
    if ( !hsw || !il || !gen )
        return;
    uint64_t v;
    EXPECT_RC(-EINVAL, hsw->cpu(0).rdmsr(0x12345678, v));
    EXPECT_RC(-EINVAL, hsw->cpu(0).wrmsr(0xce, 0));
    EXPECT_RC(-EINVAL, hsw->cpu(0).wrmsr(0x140, 2));
    EXPECT_RC(0, hsw->cpu(0).wrmsr(0x140, 1));
    EXPECT_RC(-EINVAL, il->cpu(0).wrmsr(0xc0010015, 1ull << 35));  // no CpuidUserDis
    EXPECT_RC(0, gen->cpu(0).wrmsr(0xc0010015, 1ull << 35));
}

// Intel masks are AND masks: clearing a bit hides it, setting a bit the CPU lacks adds
// nothing (Sandy Bridge has no HYPERVISOR bit, so a mask with it set still shows none).
TEST(intel_mask_is_an_and_mask)
{
    auto m = boot(SANDYBRIDGE);
    if ( !m )
        return;
    SimCpu &c = m->cpu(0);
    Regs raw = c.cpuid_unmasked(1, 0), got{};
    EXPECT_TRUE(raw.c & (1u << 20));  // premise: SSE4.2
    EXPECT_RC(0, c.wrmsr(0x132, (uint64_t{0xffffffff} << 32) | (0xffffffffu & ~(1u << 20))));
    EXPECT_TRUE(c.cpuid(1, 0, 3, got) == CpuidResult::ok);
    EXPECT_EQ(raw.c & ~(1u << 20), got.c);
    EXPECT_EQ(raw.d, got.d);
    EXPECT_RC(0, c.wrmsr(0x132, ~0ull));
    EXPECT_TRUE(c.cpuid(1, 0, 3, got) == CpuidResult::ok);
    EXPECT_EQ(0u, got.c & (1u << 31));
    // 0x134 masks leaf 0xd subleaf 1 eax only.
    EXPECT_RC(0, c.wrmsr(0x134, 0xffffffff00000000ull));
    EXPECT_TRUE(c.cpuid(0xd, 1, 3, got) == CpuidResult::ok);
    EXPECT_EQ(0u, got.a);
    EXPECT_TRUE(c.cpuid(0xd, 0, 3, got) == CpuidResult::ok);
    EXPECT_EQ(c.cpuid_unmasked(0xd, 0), got);
}

// AMD MSRs override: the value is the answer, including bits the CPU lacks
// (HYPERVISOR), except OSXSAVE and APIC, shown only where both MSR and hardware have them.
TEST(amd_mask_is_an_override_with_fast_forward_bits)
{
    auto m = boot(ZEN);
    if ( !m )
        return;
    SimCpu &c = m->cpu(0);
    Regs raw = c.cpuid_unmasked(1, 0), got{};
    EXPECT_TRUE((raw.c & (1u << 27)) && (raw.d & (1u << 9)));  // premise: OSXSAVE, APIC
    uint32_t ecx = (raw.c | (1u << 31)) & ~(1u << 27);
    EXPECT_RC(0, c.wrmsr(0xc0011004, (uint64_t{ecx} << 32) | (raw.d & ~(1u << 9))));
    EXPECT_TRUE(c.cpuid(1, 0, 3, got) == CpuidResult::ok);
    EXPECT_EQ(ecx, got.c);
    EXPECT_EQ(raw.d & ~(1u << 9), got.d);
    // leaf 7:0 eax:ebx override.
    EXPECT_RC(0, c.wrmsr(0xc0011002, (uint64_t{0} << 32) | 0x8));
    EXPECT_TRUE(c.cpuid(7, 0, 3, got) == CpuidResult::ok);
    EXPECT_EQ(0x8u, got.b);
    EXPECT_EQ(c.cpuid_unmasked(7, 0).c, got.c);
}

// With faulting on, CPUID at CPL > 0 raises #GP and CPL 0 is unaffected; masks do not
// matter then.
TEST(faulting_traps_cpl_above_zero_only)
{
    auto m = boot(BROADWELL);
    if ( !m )
        return;
    SimCpu &c = m->cpu(0);
    Regs got{};
    EXPECT_TRUE(c.cpuid(1, 0, 3, got) == CpuidResult::ok);
    EXPECT_RC(0, c.wrmsr(0x140, 1));
    EXPECT_TRUE(c.faulting_enabled());
    EXPECT_TRUE(c.cpuid(1, 0, 3, got) == CpuidResult::fault_gp);
    EXPECT_TRUE(c.cpuid(1, 0, 1, got) == CpuidResult::fault_gp);
    EXPECT_TRUE(c.cpuid(1, 0, 0, got) == CpuidResult::ok);
}

// A leaf above the maximum: Intel repeats the highest basic leaf, AMD answers zeros.
TEST(out_of_range_leaf_intel_repeats_highest_basic_amd_zeros)
{
    auto snb = boot(SANDYBRIDGE), zen = boot(ZEN);
    if ( !snb || !zen )
        return;
    Regs got{};
    EXPECT_TRUE(snb->cpu(0).cpuid(0x20, 0, 0, got) == CpuidResult::ok);
    EXPECT_EQ(snb->cpu(0).cpuid_unmasked(0xd, 0), got);
    EXPECT_TRUE(zen->cpu(0).cpuid(0x20, 0, 0, got) == CpuidResult::ok);
    EXPECT_EQ(Regs{}, got);
}

// Outside any CPU scope the seam is a CPU with nothing; inside, it is that CPU; scopes
// nest and restore, so two machines can be driven from one thread.
TEST(platform_seam_follows_the_current_cpu_scope)
{
    auto snb = boot(SANDYBRIDGE), hsw = boot(HASWELL);
    if ( !snb || !hsw )
        return;
    Regs r{};
    uint64_t v = 0;
    cpupolicy_plat_cpuid(0_leaf, 0_subleaf, &r);
    EXPECT_EQ(Regs{}, r);
    EXPECT_RC(-EINVAL, cpupolicy_plat_rdmsr(0xce_msr, &v));
    EXPECT_TRUE(cpupolicy_plat_levelling_percpu() == nullptr);

    snb->on_cpu(0, [&](Hypervisor &) {
        EXPECT_RC(0, cpupolicy_plat_rdmsr(0x132_msr, &v));
        hsw->on_cpu(0, [&](Hypervisor &) {
            EXPECT_RC(-EINVAL, cpupolicy_plat_rdmsr(0x132_msr, &v));
            EXPECT_RC(0, cpupolicy_plat_rdmsr(0x140_msr, &v));
            return 0;
        });
        EXPECT_RC(0, cpupolicy_plat_rdmsr(0x132_msr, &v));  // restored
        EXPECT_TRUE(cpupolicy_plat_levelling_percpu() == &snb->cpu(0).percpu);
        return 0;
    });
    EXPECT_TRUE(cpupolicy_plat_levelling_percpu() == nullptr);
    // Each machine's hypervisor saw its own CPU.
    EXPECT_EQ(0x3eu, snb->hv().levelling_caps().caps);
    EXPECT_EQ(0x1u, hsw->hv().levelling_caps().caps);
}

// CPU i of a machine takes the dump's CPU block i (modulo the blocks there are): the
// Sandy Bridge dump's two blocks differ in the initial APIC ID (leaf 1 ebx[31:24]).
TEST(each_cpu_takes_its_dump_block)
{
    auto m = boot(SANDYBRIDGE, 3);
    if ( !m )
        return;
    EXPECT_EQ(0x00200800u, m->cpu(0).cpuid_unmasked(1, 0).b);
    EXPECT_EQ(0x01200800u, m->cpu(1).cpuid_unmasked(1, 0).b);
    EXPECT_EQ(0x00200800u, m->cpu(2).cpuid_unmasked(1, 0).b);
    EXPECT_EQ(0u, m->hv().nr_caps_mismatches());
}

// Creation errors name the cause.
TEST(create_refuses_bad_input_with_a_reason)
{
    SimConfig cfg;
    std::unique_ptr<SimMachine> m;
    std::string why;
    cfg.dump_path = dump_path("no-such-dump.txt");
    EXPECT_RC(-ENOENT, SimMachine::create(cfg, m, &why));
    EXPECT_TRUE(why.find("no-such-dump.txt") != std::string::npos);
    cfg.dump_path = dump_path(SANDYBRIDGE);
    cfg.nr_cpus = 0;
    EXPECT_RC(-EINVAL, SimMachine::create(cfg, m, &why));
    cfg.nr_cpus = MAX_PCPUS + 1;
    EXPECT_RC(-EINVAL, SimMachine::create(cfg, m, &why));
    cfg.nr_cpus = 1;
    cfg.boot_options = "cpuid=no-frobnicate";
    EXPECT_RC(-ENOENT, SimMachine::create(cfg, m, &why));
    EXPECT_TRUE(why.find("frobnicate") != std::string::npos);
    // No blank and no '=': a bare cpuid= list (boot_text.hpp), so an unknown name is a
    // feature the list names; with '=' it is an unknown option.
    cfg.boot_options = "bogus-option";
    EXPECT_RC(-ENOENT, SimMachine::create(cfg, m, &why));
    EXPECT_EQ(std::string("boot option 'bogus-option' at offset 0: 'bogus-option' is not a "
                          "feature name (xen-cpuid --list names them; cpuid= items are NAME, "
                          "no-NAME or NAME=<bool>)"),
              why);
    cfg.boot_options = "vpmu bogus=1";
    EXPECT_RC(-EINVAL, SimMachine::create(cfg, m, &why));
    EXPECT_EQ(std::string("boot option 'bogus=1' at offset 5: 'bogus=1' is not an option "
                          "(accepted: cpuid=LIST, tsx=<bool>, vpmu=<bool>, hap=<bool>, "
                          "spec-ctrl=LIST)"),
              why);
    EXPECT_TRUE(m == nullptr);
}

// Boot probes are counted apart: a masking host's probes write each mask once (read,
// write back) plus the first load of the defaults; counters then start from zero.
TEST(boot_writes_are_counted_apart)
{
    auto m = boot(SANDYBRIDGE, 2);
    if ( !m )
        return;
    // Per CPU: 3 probe write-backs + 3 default loads.
    EXPECT_EQ(12u, m->boot_msr_writes());
    SimCounters c = m->counters();
    EXPECT_EQ(0u, c.msr_writes);
    EXPECT_EQ(0u, c.context_switches);
}

// Round robin on 2 CPUs: dom0 (1 vCPU) and two PV domains of 2 vCPUs each.  Homes:
// (domid + vcpu) % 2.  CPU 0 runs d0v0, d1v1, d2v0; CPU 1 runs d1v0, d2v1.  Domains 1
// and 2 have different leaf-1 policies, dom0 the default: each switch between two
// domains whose masks differ writes 0x132 only.
TEST(round_robin_switches_and_counts_writes)
{
    auto m = boot(SANDYBRIDGE, 2);
    if ( !m )
        return;
    DomId d1 = create_domain(*m, DomainType::pv), d2 = create_domain(*m, DomainType::pv);
    EXPECT_EQ(1u, d1);
    EXPECT_EQ(2u, d2);
    Featureset fs1 = policy_to_featureset(domain_policy(*m, d1));
    fs1.clear(F("aesni"));
    Featureset fs2 = fs1;
    fs2.clear(F("popcnt"));
    REQUIRE_RC(0, set_featureset(*m, d1, fs1));
    REQUIRE_RC(0, set_featureset(*m, d2, fs2));
    REQUIRE_RC(0, start(*m, d1));
    REQUIRE_RC(0, start(*m, d2));
    m->reset_counters();

    uint64_t sw = m->run_round_robin(1);
    // First slice: CPU 0 -> d0v0, CPU 1 -> d1v0; both switch.
    EXPECT_EQ(2u, sw);
    sw = m->run_round_robin(5);
    // CPU 0 cycles d0v0 -> d1v1 -> d2v0 -> d0v0 ..., CPU 1 d1v0 <-> d2v1: every slice
    // switches on both CPUs.
    EXPECT_EQ(10u, sw);
    SimCounters c = m->counters();
    EXPECT_EQ(12u, c.context_switches);
    // Every switch changed domain, and every pair of domains differs in leaf 1: 12 writes
    // of 0x132.  The 0x80000001 mask is the same for every PV domain but not the host
    // default (PV policies hide PAGE1GB, an HVM-HAP-only feature Sandy Bridge-EP has), so
    // each CPU writes 0x133 once, on its first switch.  0xd:1 never differs.
    EXPECT_TRUE(m->cpu(0).cpuid_unmasked(0x80000001, 0).d & (1u << 26));
    EXPECT_TRUE(!policy_to_featureset(domain_policy(*m, d1)).test(F("page1gb")));
    EXPECT_EQ(12u, m->msr_writes(0x132));
    EXPECT_EQ(2u, m->msr_writes(0x133));
    EXPECT_EQ(0u, m->msr_writes(0x134));
    EXPECT_EQ(14u, c.msr_writes);
    EXPECT_EQ(c.levelling_writes, c.msr_writes);
}

// A CPU with a single runnable vCPU keeps it: no switch, no write.
TEST(round_robin_single_vcpu_does_not_switch)
{
    auto m = boot(SANDYBRIDGE, 1);
    if ( !m )
        return;
    m->reset_counters();
    EXPECT_EQ(1u, m->run_round_robin(10));  // dom0's only vCPU, once
    EXPECT_EQ(1u, m->counters().context_switches);
}

// This machine's own CPUID boots too (no MSRs recorded: no PLATFORM_INFO, so no
// faulting unless the model has masking MSRs).
TEST(native_cpu_boots)
{
#if defined(__x86_64__)
    SimConfig cfg;
    std::unique_ptr<SimMachine> m;
    std::string why;
    EXPECT_RC(0, SimMachine::create(cfg, m, &why));
    if ( m )
        EXPECT_EQ(0u, m->hv().levelling_caps().caps & lcap::faulting);
#endif
}

// cpuid_path names round-trip.
TEST(cpuid_path_names_round_trip)
{
    for ( CpuidPath p : {CpuidPath::automatic, CpuidPath::native, CpuidPath::faulting,
                         CpuidPath::fep, CpuidPath::hvm} )
    {
        CpuidPath q = CpuidPath::hvm;
        EXPECT_TRUE(cpuid_path_from_name(cpuid_path_name(p), &q));
        EXPECT_TRUE(p == q);
    }
    CpuidPath q;
    EXPECT_TRUE(!cpuid_path_from_name("warp", &q));
}

// A failed CHECK (check.hpp) goes through the platform seam; the simulator prints the
// file, line and condition on stderr and aborts.  Run in a child so the abort is seen.
TEST(a_failed_check_aborts_naming_the_place)
{
    struct Case {
        bool fail;
        const char *what;
    };
    for ( const Case c : {Case{false, "holds"}, Case{true, "fails"}} )
    {
        const int answer = c.fail ? 41 : 42;
        const unsigned check_line = __LINE__ + 1;
        auto check = [answer] { CHECK(answer == 42); };
        int fds[2];
        REQUIRE_RC(0, pipe(fds));
        std::fflush(nullptr);
        pid_t pid = fork();
        if ( pid == 0 )
        {
            dup2(fds[1], 2);
            close(fds[0]);
            check();
            _exit(0);
        }
        close(fds[1]);
        std::string err;
        char buf[256];
        for ( ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0; )
            err.append(buf, static_cast<size_t>(n));
        close(fds[0]);
        int status = 0;
        REQUIRE_RC(pid, waitpid(pid, &status, 0));
        if ( !c.fail )
        {
            EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            EXPECT_EQ(std::string(), err);
            continue;
        }
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        const std::string want = std::string("test_sim.cpp:") + std::to_string(check_line) +
                                 ": CHECK(answer == 42) failed";
        if ( !EXPECT_TRUE(err.find(want) != std::string::npos) )
            std::printf("        stderr: %s        wanted: %s\n", err.c_str(), want.c_str());
    }
}

int main() { return run_all("test_sim.cpp"); }

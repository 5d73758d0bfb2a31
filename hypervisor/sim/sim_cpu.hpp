// SPDX-License-Identifier: MIT
// One simulated physical CPU: the CPUID table of a real processor (from a dump or from
// this machine), an MSR model chosen by vendor/family/model, and the hardware semantics
// of the levelling MSRs (Intel AND masks, AMD overrides with fast-forward bits, CPUID
// faulting).  This is the "hardware" the core drives through the platform seam; it is
// written independently of the core's own model of the same semantics
// (masking.cpp native_word) so that tests comparing the two mean something.
//
// Hosted C++ (hypervisor/sim is compiled into libcpupolicy, not into the core).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cpupolicy/masking.hpp"
#include "cpupolicy/types.hpp"
#include "import.hpp"

namespace cpupolicy::sim {

// Which masking MSRs a CPU model has.  `automatic` applies the model table below; the
// others force a generation (tests use them to build hosts no dump describes, e.g. a
// CPU with leaf 7 features but only a leaf-1 mask).
enum class MaskModel : uint8_t {
    automatic,
    none,
    intel_penryn,       // 0x478
    intel_nehalem,      // 0x130, 0x131
    intel_sandybridge,  // 0x132, 0x133, 0x134
    amd,                // 0xc0011004/5 (+0xc0011002 when max leaf >= 7, +0xc0011003 on fam 15h/16h)
};

// CPUID faulting support of the model: from the dump (PLATFORM_INFO bit 31 on Intel,
// CPUID 0x80000021.eax[17] on AMD), or forced.
enum class FaultingModel : uint8_t { automatic, absent, present };

struct CpuModel {
    Vendor vendor = Vendor::unknown;
    uint32_t family = 0, model = 0, stepping = 0;
    MaskModel masks = MaskModel::none;   // resolved (never automatic)
    bool faulting = false;               // resolved
};

// Outcome of executing CPUID.
enum class CpuidResult : uint8_t { ok, fault_gp };

class SimCpu {
public:
    // `dump`: this CPU's CPUID/MSR records.  `masks`/`faulting` as requested in the config.
    SimCpu(unsigned index, const import::CpuDump &dump, MaskModel masks, FaultingModel faulting);

    unsigned index() const { return index_; }
    const CpuModel &model() const { return model_; }

    // The CPUID instruction at privilege level `cpl`, with masking/faulting in force.
    CpuidResult cpuid(uint32_t leaf, uint32_t subleaf, unsigned cpl, Regs &out) const;
    // CPUID with no masking at all (what the dump says), for tests.
    Regs cpuid_unmasked(uint32_t leaf, uint32_t subleaf) const;

    // RDMSR / WRMSR: 0, or -EINVAL for #GP (MSR absent, or a reserved bit written).
    [[nodiscard]] int rdmsr(uint32_t idx, uint64_t &val) const;
    [[nodiscard]] int wrmsr(uint32_t idx, uint64_t val);

    bool faulting_enabled() const;

    // Counters.
    uint64_t msr_writes(uint32_t idx) const;
    uint64_t msr_writes_total() const { return writes_total_; }
    const std::map<uint32_t, uint64_t> &msr_write_counts() const { return writes_; }
    void reset_counters();

    // Per-CPU storage the platform seam hands to the core.
    LevellingPerCpu percpu{};

private:
    Regs lookup(uint32_t leaf, uint32_t subleaf) const;

    unsigned index_;
    CpuModel model_;
    uint32_t max_basic_ = 0, max_extd_ = 0;
    std::map<uint64_t, Regs> leaves_;        // key (leaf << 32) | subleaf
    std::map<uint32_t, uint64_t> msrs_;      // existing MSRs and their values
    std::map<uint32_t, uint64_t> writes_;    // WRMSR count per index
    uint64_t writes_total_ = 0;
};

} // namespace cpupolicy::sim

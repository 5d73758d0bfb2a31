// SPDX-License-Identifier: MIT
// The platform seam (cpupolicy/platform.hpp) over simulated machines.
//
// The seam functions act on a thread_local "current CPU": whoever calls into the core
// first enters a CPU with a SimCpuScope, which restores the previous one when it ends, so
// several SimMachines can live in one process (and one thread) and nest calls.  Outside
// any scope the seam behaves like a CPU with nothing: CPUID answers zeros, every MSR
// faults, there is no per-CPU area; memory is still allocated (and freed, as when a
// machine is destroyed), unaccounted.
#pragma once

#include <stddef.h>

#include <string>
#include <vector>

namespace cpupolicy::sim {

class SimCpu;

// Log lines of a machine: "<level> <text>".
struct SimLog {
    std::vector<std::string> lines;
    int print_level = -1;  // lines at or below this level also go to stderr
};

// The memory a machine's hypervisor holds for its domains (cpupolicy_plat_alloc), and
// an optional limit standing in for a host's memory running out.
struct SimMemory {
    size_t limit = 0;   // bytes; 0 = whatever the process can allocate
    size_t in_use = 0;
};

class SimCpuScope {
public:
    SimCpuScope(SimCpu &cpu, SimLog *log, SimMemory *mem = nullptr);
    ~SimCpuScope();
    SimCpuScope(const SimCpuScope &) = delete;
    SimCpuScope &operator=(const SimCpuScope &) = delete;

private:
    SimCpu *prev_cpu_;
    SimLog *prev_log_;
    SimMemory *prev_mem_;
};

} // namespace cpupolicy::sim

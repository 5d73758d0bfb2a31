// SPDX-License-Identifier: MIT
// The platform seam (cpupolicy/platform.hpp) over simulated machines.
//
// The seam functions act on a thread_local "current CPU": whoever calls into the core
// first enters a CPU with a SimCpuScope, which restores the previous one when it ends, so
// several SimMachines can live in one process (and one thread) and nest calls.  Outside
// any scope the seam behaves like a CPU with nothing: CPUID answers zeros, every MSR
// faults, there is no per-CPU area.
#pragma once

#include <string>
#include <vector>

namespace cpupolicy::sim {

class SimCpu;

// Log lines of a machine: "<level> <text>".
struct SimLog {
    std::vector<std::string> lines;
    int print_level = -1;  // lines at or below this level also go to stderr
};

class SimCpuScope {
public:
    SimCpuScope(SimCpu &cpu, SimLog *log);
    ~SimCpuScope();
    SimCpuScope(const SimCpuScope &) = delete;
    SimCpuScope &operator=(const SimCpuScope &) = delete;

private:
    SimCpu *prev_cpu_;
    SimLog *prev_log_;
};

} // namespace cpupolicy::sim

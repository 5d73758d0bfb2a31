// SPDX-License-Identifier: MIT
// A raw CPUID dump (import.hpp) as a raw Policy: the one place records become slots.
#pragma once

#include "cpupolicy/policy.hpp"
#include "import.hpp"

namespace cpupolicy {

// Records the Policy does not hold (leaves beyond its ranges, subleaves beyond a
// leaf's run, subleaves other than 0 of a leaf it holds as one slot) are dropped: a raw
// CPU reports more than any policy keeps.  Plain leaves arrive from the importer with
// subleaf 0.  MSRs: ARCH_CAPABILITIES is kept whole;
// of PLATFORM_INFO only bit 31 (CPUID faulting) is policy content - the rest of that
// register (ratios and TDP controls: MSR_PLATFORM_INFO in the model-specific MSR tables
// of SDM vol. 4 chapter 2) describes the host, not what a guest sees -
// which also keeps it within the 32 bits the policy holds (as Xen does).
// Returns the number of records dropped.
unsigned policy_from_dump(Policy &out, const import::CpuDump &dump);

// import_file / import_native + policy_from_dump.  Same errors as import_file.  The
// corrections the importer made (import.hpp, ImportNote) go to *notes when notes is not
// null (written on success only).
[[nodiscard]] int policy_import(Policy &out, const std::string &path, unsigned cpu,
                                import::ImportError &err,
                                std::vector<import::ImportNote> *notes = nullptr);

} // namespace cpupolicy

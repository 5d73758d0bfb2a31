// SPDX-License-Identifier: MIT
#include "dump_policy.hpp"

namespace cpupolicy {

unsigned policy_from_dump(Policy &out, const import::CpuDump &dump)
{
    Policy p{};
    unsigned dropped = 0;

    for ( const auto &r : dump.leaves )
    {
        // A leaf the policy holds as one slot is CPUID(leaf, 0): the importer gives
        // every plain leaf subleaf 0, but a leaf it enumerates that the policy holds
        // whole (0x1B PCONFIG) also has subleaves 1.. which must not overwrite it.
        const bool plain = leaf_kind(Leaf{r.leaf}) == LeafKind::plain;
        if ( plain && r.subleaf != 0 )
        {
            ++dropped;
            continue;
        }
        int s = slot_exact(Leaf{r.leaf}, plain ? kNoSubleaf : Subleaf{r.subleaf});
        if ( s < 0 )
        {
            ++dropped;
            continue;
        }
        p.slot[s] = Regs{r.a, r.b, r.c, r.d};
    }
    for ( const auto &m : dump.msrs )
    {
        if ( MsrIndex{m.index} == MSR_PLATFORM_INFO )
            p.platform_info = static_cast<uint32_t>(m.value) & PLATFORM_INFO_CPUID_FAULTING;
        else if ( MsrIndex{m.index} == MSR_ARCH_CAPABILITIES )
            p.arch_caps = m.value;
        else
            ++dropped;
    }
    out = p;
    return dropped;
}

int policy_import(Policy &out, const std::string &path, unsigned cpu, import::ImportError &err,
                  std::vector<import::ImportNote> *notes)
{
    import::CpuDump d;
    int rc = path.empty() ? import::import_native(d) : import::import_file(path, cpu, d, err);
    if ( rc )
    {
        if ( path.empty() )
            err = import::ImportError{"(native CPUID)", 0, "not an x86 machine"};
        return rc;
    }
    policy_from_dump(out, d);
    if ( notes )
        *notes = std::move(d.notes);
    return 0;
}

} // namespace cpupolicy

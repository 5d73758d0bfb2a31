// SPDX-License-Identifier: MIT
// The dump importer (libcpupolicy/import/import.hpp) over arbitrary text, and what it
// produces fed on through policy_from_dump() into the derivations (derive.hpp).
//
// Input: byte 0 = the CPU block asked for (0..3), the rest = the file's text (NULs and
// all: import_text takes a string_view).  Checks:
//   - the return value is 0, -EINVAL or -ERANGE;
//   - failure leaves the CpuDump exactly as it was and says where: the name given,
//     a line number within the text, a non-empty reason;
//   - success leaves the ImportError untouched, gives records sorted by (leaf,
//     subleaf) / index without duplicates, and nr_cpus_in_file > the block asked for;
//   - the whole file is validated whichever block is asked for: -ERANGE means block 0
//     imports, and asking for block nr_cpus_in_file is always -ERANGE;
//   - downstream, the imported CPU as a raw policy derives all six policies, each
//     deterministic and passing featureset_check_deps(), nested default <= max <= host <= raw
//     apart from the features derive_synthesised() names (derive.hpp's properties, here
//     over CPUID data no real CPU produced).
#include "fuzz.hpp"

#include <errno.h>
#include <string.h>
#include <string>
#include <string_view>

#include "cpupolicy/derive.hpp"
#include "cpupolicy/features.hpp"
#include "dump_policy.hpp"
#include "import.hpp"

using namespace cpupolicy;
using namespace cpupolicy::import;

namespace {

const std::string NAME = "fuzz-input";

CpuDump sentinel_dump()
{
    CpuDump d;
    d.leaves.push_back({0xdead, 1, 2, 3, 4, 5});
    d.msrs.push_back({0xbeef, 6});
    d.nr_cpus_in_file = 77;
    return d;
}

bool same(const CpuDump &a, const CpuDump &b)
{
    if ( a.nr_cpus_in_file != b.nr_cpus_in_file || a.leaves.size() != b.leaves.size() ||
         a.msrs.size() != b.msrs.size() )
        return false;
    for ( size_t i = 0; i < a.leaves.size(); ++i )
        if ( memcmp(&a.leaves[i], &b.leaves[i], sizeof(CpuidRecord)) )
            return false;
    for ( size_t i = 0; i < a.msrs.size(); ++i )
        if ( a.msrs[i].index != b.msrs[i].index || a.msrs[i].value != b.msrs[i].value )
            return false;
    return true;
}

std::string feature_names(const Featureset &fs)
{
    std::string s;
    for ( uint32_t f : each(fs) )
    {
        const char *n = features::name(Feature{f});
        s += (s.empty() ? "" : ",") + (n ? std::string(n) : std::to_string(f));
    }
    return s;
}

void check_derivations(const CpuDump &dump)
{
    Policy raw;
    memset(&raw, 0, sizeof(raw));
    (void)policy_from_dump(raw, dump);

    Policy p[NR_POLICY_INDEX];
    Featureset fs[NR_POLICY_INDEX];
    for ( unsigned i = 0; i < NR_POLICY_INDEX; ++i )
    {
        const PolicyIndex idx = static_cast<PolicyIndex>(i);
        int rc = policy_derive(p[i], raw, idx, nullptr);
        FUZZ_CHECK(rc == 0, "%s: policy_derive %d", policy_index_name(idx), rc);
        Policy again;
        rc = policy_derive(again, raw, idx, nullptr);
        FUZZ_CHECK(rc == 0 && memcmp(&again, &p[i], sizeof(Policy)) == 0,
                   "%s: deriving twice gives different policies", policy_index_name(idx));
        fs[i] = policy_to_featureset(p[i]) & features::known;
        if ( idx != PolicyIndex::raw )
        {
            uint32_t bad = ~0u;
            rc = featureset_check_deps(policy_to_featureset(p[i]), &bad);
            if ( rc )
            {
                const char *n = features::name(Feature{bad});
                uint32_t pre = featureset_missing_prereq(policy_to_featureset(p[i]), bad);
                const char *pn = pre < NR_FEATURE_BITS ? features::name(Feature{pre}) : nullptr;
                FUZZ_CHECK(rc == 0, "%s fails featureset_check_deps: %s (%u) lacks %s (%u)",
                           policy_index_name(idx), n ? n : "?", bad, pn ? pn : "?", pre);
            }
        }
    }

    auto nest = [&](PolicyIndex inner, PolicyIndex outer, const Featureset &allowed) {
        Featureset extra = fs[unsigned(inner)].and_not(fs[unsigned(outer)]).and_not(allowed);
        FUZZ_CHECK(extra == Featureset{}, "%s has features beyond %s and the rules: %s",
                   policy_index_name(inner), policy_index_name(outer),
                   feature_names(extra).c_str());
    };
    nest(PolicyIndex::host, PolicyIndex::raw, Featureset{});
    for ( bool hvm : {false, true} )
    {
        PolicyIndex mi = hvm ? PolicyIndex::hvm_max : PolicyIndex::pv_max;
        PolicyIndex di = hvm ? PolicyIndex::hvm_default : PolicyIndex::pv_default;
        nest(mi, PolicyIndex::host, derive_synthesised(mi));
        nest(di, mi, Featureset{});
        nest(di, PolicyIndex::host, derive_synthesised(di));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if ( size < 1 )
        return 0;
    const unsigned cpu = data[0] % 4;
    const std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
    size_t nr_lines = 1;
    for ( char c : text )
        nr_lines += c == '\n';

    CpuDump out = sentinel_dump();
    ImportError err{"untouched", 12345, "untouched"};
    int rc = import_text(text, NAME, cpu, out, err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE, "undocumented rc %d", rc);

    if ( rc )
    {
        FUZZ_CHECK(same(out, sentinel_dump()), "rc %d but the CpuDump was written", rc);
        FUZZ_CHECK(err.file == NAME, "error names file '%s'", err.file.c_str());
        FUZZ_CHECK(err.line <= nr_lines, "error at line %u of a %zu-line text", err.line,
                   nr_lines);
        FUZZ_CHECK(!err.what.empty(), "rc %d without a reason", rc);
        if ( rc == -ERANGE )
        {
            CpuDump first;
            ImportError e0;
            int r0 = import_text(text, NAME, 0, first, e0);
            FUZZ_CHECK(r0 == 0, "-ERANGE for block %u, but block 0 fails too: %d %s", cpu, r0,
                       format_error(e0).c_str());
            FUZZ_CHECK(first.nr_cpus_in_file <= cpu, "-ERANGE for block %u of %u", cpu,
                       first.nr_cpus_in_file);
        }
        return 0;
    }

    FUZZ_CHECK(err.file == "untouched" && err.line == 12345 && err.what == "untouched",
               "success but the ImportError was written");
    FUZZ_CHECK(out.nr_cpus_in_file > cpu, "block %u imported from a file of %u blocks", cpu,
               out.nr_cpus_in_file);
    for ( size_t i = 1; i < out.leaves.size(); ++i )
    {
        const CpuidRecord &a = out.leaves[i - 1], &b = out.leaves[i];
        FUZZ_CHECK(a.leaf < b.leaf || (a.leaf == b.leaf && a.subleaf < b.subleaf),
                   "records %zu/%zu out of order or repeated: %#x.%u then %#x.%u", i - 1, i,
                   a.leaf, a.subleaf, b.leaf, b.subleaf);
    }
    for ( size_t i = 1; i < out.msrs.size(); ++i )
        FUZZ_CHECK(out.msrs[i - 1].index < out.msrs[i].index, "MSRs out of order: %#x then %#x",
                   out.msrs[i - 1].index, out.msrs[i].index);

    CpuDump beyond = sentinel_dump();
    ImportError eb;
    int rb = import_text(text, NAME, out.nr_cpus_in_file, beyond, eb);
    FUZZ_CHECK(rb == -ERANGE, "block %u of %u: expected -ERANGE, actual %d", out.nr_cpus_in_file,
               out.nr_cpus_in_file, rb);

    check_derivations(out);
    return 0;
}

// SPDX-License-Identifier: MIT
// boot_options_parse() (boot_options.hpp: a fragment of a Xen command line) over
// arbitrary text.
//
// Input: the whole input is the option string (up to a NUL).  Checks:
//   - the return value is 0, -EINVAL or -ENOENT, nothing else;
//   - on error `out` is exactly as it was (a sentinel that no parse produces), and the
//     error span lies inside the string; for -ENOENT it is a non-empty name;
//   - err == NULL gives the same answer as err != NULL;
//   - parsing is a pure function of the text: "S S" (the string twice) gives the same
//     result as "S" - the same error at the same place, or the same options, since
//     cpuid= only adds to its two sets and every other option is last-one-wins;
//   - a success never leaves a feature in both cpuid= sets unless the text named it
//     both ways, and the cleared closure contains every cleared feature.
#include "fuzz.hpp"

#include <errno.h>
#include <string.h>
#include <string>

#include "cpupolicy/boot_options.hpp"
#include "cpupolicy/features.hpp"

using namespace cpupolicy;

namespace {

BootOptions sentinel()
{
    BootOptions o;
    o.cpuid_clear.set(Feature{0});
    o.cpuid_force.set(Feature{1});
    o.tsx = 7;                 // never produced by a parse (-1, 0 or 1)
    o.vpmu = true;
    o.hap = false;
    o.msr_sc_pv = o.msr_sc_hvm = o.bp_spec_reduce = false;
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);
    const char *s = text.c_str();
    const size_t len = strlen(s);

    BootOptions out = sentinel();
    BootOptionsError err{SIZE_MAX, SIZE_MAX};
    int rc = boot_options_parse(out, s, &err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT, "rc %d for \"%.80s\"", rc, s);

    BootOptions out2 = sentinel();
    int rc2 = boot_options_parse(out2, s, nullptr);
    FUZZ_CHECK(rc2 == rc && out2 == out, "err=NULL changes the answer: rc %d vs %d", rc2, rc);

    if ( rc )
    {
        FUZZ_CHECK(out == sentinel(), "rc %d but the output was written (\"%.80s\")", rc, s);
        FUZZ_CHECK(err.pos <= len && err.len <= len - err.pos,
                   "error span pos %zu len %zu outside the %zu-byte string", err.pos, err.len,
                   len);
        if ( rc == -ENOENT )
            FUZZ_CHECK(err.len > 0, "-ENOENT names an empty feature at %zu", err.pos);
    }
    else
    {
        FUZZ_CHECK(out.tsx >= -1 && out.tsx <= 1, "tsx %d", out.tsx);
        const Featureset closure = boot_options_cleared_closure(out);
        FUZZ_CHECK(out.cpuid_clear.subset_of(closure), "cleared closure misses a cleared feature");
        FUZZ_CHECK(out.cpuid_clear.subset_of(features::known) &&
                       out.cpuid_force.subset_of(features::known),
                   "a cpuid= set holds a feature outside the table");
    }

    // The same text twice.
    const std::string twice = std::string(s) + " " + s;
    BootOptions out3 = sentinel();
    BootOptionsError err3{SIZE_MAX, SIZE_MAX};
    int rc3 = boot_options_parse(out3, twice.c_str(), &err3);
    FUZZ_CHECK(rc3 == rc, "\"S S\" gives %d, \"S\" gave %d (\"%.80s\")", rc3, rc, s);
    if ( rc )
        FUZZ_CHECK(err3.pos == err.pos && err3.len == err.len,
                   "\"S S\" fails at %zu+%zu, \"S\" at %zu+%zu", err3.pos, err3.len, err.pos,
                   err.len);
    else
        FUZZ_CHECK(out3 == out, "\"S S\" parses to different options than \"S\" (\"%.80s\")", s);
    return 0;
}

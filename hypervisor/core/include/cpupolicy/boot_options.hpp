// SPDX-License-Identifier: MIT
// Xen-style boot options that shape the host policy and what guests are offered.
//
// The string is a fragment of a Xen command line: options separated by blanks, each
// `name=value`, or for a boolean option `name` / `no-name` / `name=<bool>`.  The
// options this derivation models (docs/policy.md "Boot options" has the why of each):
//
//   cpuid=LIST     comma-separated feature names or aliases (any spelling that
//                  features::lookup() accepts), each `name`, `no-name` or
//                  `name=<bool>`.  A cleared feature takes its whole dependency
//                  closure with it.  A positive name cannot add what the hardware
//                  lacks; as in Xen, it only matters for `rdrand`, where it overrides
//                  the default-policy hiding on IvyBridge (SRBDS, XSA-320).
//                  A name that is itself spelt "no-..." (no-lmsl, no-nest-bp, ...)
//                  matches as written first; "no-no-lmsl" clears it.
//   tsx=<bool>     TSX on/off where the CPU has a TSX control (MSR_TSX_CTRL or
//                  TSX_FORCE_ABORT).  Off: guests' default policies hide RTM.
//                  Without a control, Xen ignores it and so does this.
//   vpmu=<bool>    virtual PMU; off (Xen's default) zeroes leaf 0xa.
//   hap=<bool>     hardware-assisted paging available for HVM guests (default on);
//                  off selects the HVM-shadow masks.
//   spec-ctrl=LIST only the sub-options that change CPUID policies: `<bool>` (no:
//                  MSR_SPEC_CTRL is not virtualised for anyone), `msr-sc=<bool>`,
//                  `pv=<bool>`, `hvm=<bool>` (per guest type), and
//                  `bp-spec-reduce=<bool>` (AMD SRSO_MSR_FIX; decides SRSO_US_NO for PV).
//
// <bool> is one of 1/0, yes/no, on/off, true/false, enable/disable (Xen's parse_bool).
//
// Anything else is refused rather than ignored (Xen ignores unknown options with a
// warning; a tool that silently ignored a misspelt "cpuid" would derive a different
// policy than the one asked for).
#pragma once

#include "cpupolicy/featureset.hpp"

namespace cpupolicy {

struct BootOptions {
    Featureset cpuid_clear;   // named `no-X` in cpuid= (closure applied when used)
    Featureset cpuid_force;   // named positively in cpuid=
    int8_t tsx = -1;          // -1 = not given (the CPU-specific default applies)
    bool vpmu = false;
    bool hap = true;
    bool msr_sc_pv = true;    // Xen virtualises MSR_SPEC_CTRL for PV guests
    bool msr_sc_hvm = true;   // ... and for HVM guests
    bool bp_spec_reduce = true;

    constexpr bool operator==(const BootOptions &) const = default;
};

// Where parsing stopped and why.  [pos, pos+len) is the offending text (a value, a
// feature name; empty for an empty list item), inside the option [item_pos,
// item_pos+item_len) that holds it (the whole blank-separated `name=value`).  `what` is
// a static phrase completing "'<offending text>' ...": what is wrong and what is
// accepted ("is not a boolean (accepted: 1/0, ...)").
struct BootOptionsError {
    size_t pos = 0;
    size_t len = 0;
    size_t item_pos = 0;
    size_t item_len = 0;
    const char *what = "";
};

// Parse `s` (NULL or "" = no options).  0, or:
//   -ENOENT  a feature name in cpuid= is unknown (err: the name's position);
//   -EINVAL  anything else malformed: unknown option, bad boolean, empty list item.
// `out` is written only on success.  `err` may be NULL.
CPUPOLICY_MUST_CHECK int boot_options_parse(BootOptions &out, const char *s,
                                            BootOptionsError *err = nullptr);

// The features the cpuid= clears remove: every named feature and its dependency closure.
Featureset boot_options_cleared_closure(const BootOptions &o);

} // namespace cpupolicy

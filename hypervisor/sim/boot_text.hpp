// SPDX-License-Identifier: MIT
// Boot options as the tools, sim: URIs and cpupolicyd take them, with errors a person can
// act on.  One reader for all of them: cpupolicy_derive(), SimMachine::create() (sim:
// URIs, cpupolicyd --boot) go through parse_boot_text().
#pragma once

#include <string>
#include <string_view>

#include "cpupolicy/boot_options.hpp"

namespace cpupolicy::sim {

// `text` is a fragment of a Xen command line ("cpuid=no-avx tsx=0", boot_options.hpp), or
// a bare cpuid= list ("no-avx,rtm": a string with no blank and no '=' that the
// command-line grammar refuses is read as cpuid=LIST).  NULL or "" = no options.
// 0, or -EINVAL / -ENOENT (boot_options_parse) with *why (may be NULL) naming the option,
// its offset in `text`, what is wrong and what is accepted:
//   boot option 'tsx=banana' at offset 0: 'banana' is not a boolean (accepted: 1/0, ...)
// The text is quoted as given: the caller escapes it where the message leaves
// (printable.hpp).  `cmdline` (may be NULL) receives `text` in Xen's grammar on success.
// `out` and `cmdline` are written only on success.
[[nodiscard]] int parse_boot_text(const char *text, BootOptions &out, std::string *why,
                                  std::string *cmdline = nullptr);

// The message for a refusal of boot_options_parse(`text`): as above.  `prefix` bytes at
// the start of `text` were added by the caller (the "cpuid=" of a bare list): offsets
// are counted without them, and an option that starts inside them is quoted from the
// first byte the user wrote.
std::string boot_error_text(std::string_view text, const BootOptionsError &e, size_t prefix = 0);

} // namespace cpupolicy::sim

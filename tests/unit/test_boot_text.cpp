// SPDX-License-Identifier: MIT
// What a person reads when boot options or a sim: URI are wrong (issue 11, item 9):
//   - sim::parse_boot_text (every reader of boot options: cpupolicy_derive, sim: URIs,
//     cpupolicyd --boot) names the option, its offset in the text as typed, the
//     offending piece, what is wrong and what is accepted;
//   - parse_sim_uri: boot= takes the rest of the URI, and options pasted into it cannot
//     add URI options;
//   - printable_into / printable: the one escaper, bounded, never splitting an escape;
//     cpupolicy_last_error() and the tools quote input through it.
#include <cerrno>
#include <cstring>

#include "backend_embedded.hpp"
#include "boot_text.hpp"
#include "cpupolicy.h"
#include "harness.hpp"
#include "printable.hpp"

using namespace cpupolicy;
using unittest::dump_path;

namespace {

const char BOOL_ACCEPTED[] = "(accepted: 1/0, yes/no, on/off, true/false, enable/disable)";
const char OPTION_ACCEPTED[] =
    "(accepted: cpuid=LIST, tsx=<bool>, vpmu=<bool>, hap=<bool>, spec-ctrl=LIST)";
const char FEATURE_HINT[] =
    "(xen-cpuid --list names them; cpuid= items are NAME, no-NAME or NAME=<bool>)";

std::string msg(const char *head, const char *tail) { return std::string(head) + tail; }

} // namespace

// Each refusal: the option as typed, its offset, the offending piece and what is accepted.
// Offsets of a bare list count from what the user wrote, not from the "cpuid=" added.
TEST(boot_errors_name_the_option_its_offset_and_what_is_accepted)
{
    struct Row {
        const char *text;
        int rc;
        std::string want;
    };
    const Row rows[] = {
        {"tsx=banana", -EINVAL,
         msg("boot option 'tsx=banana' at offset 0: 'banana' is not a boolean ", BOOL_ACCEPTED)},
        {"hap=1  vpmu=maybe", -EINVAL,
         msg("boot option 'vpmu=maybe' at offset 7: 'maybe' is not a boolean ", BOOL_ACCEPTED)},
        {"cpuid=no-bogus", -ENOENT,
         msg("boot option 'cpuid=no-bogus' at offset 0: 'bogus' is not a feature name ",
             FEATURE_HINT)},
        {"tsx=0 cpuid=no-avx2,sse9,no-rtm", -ENOENT,
         msg("boot option 'cpuid=no-avx2,sse9,no-rtm' at offset 6: 'sse9' is not a feature name ",
             FEATURE_HINT)},
        // A bare list: offsets and the quoted option are the user's, without "cpuid=".
        {"no-avx,no-bogus", -ENOENT,
         msg("boot option 'no-avx,no-bogus' at offset 0: 'bogus' is not a feature name ",
             FEATURE_HINT)},
        {"avx,,sse", -EINVAL,
         "boot option 'avx,,sse' at offset 0: the item at offset 4 is an empty cpuid= item "
         "(accepted: NAME, no-NAME or NAME=<bool>, comma-separated)"},
        {"console=vga", -EINVAL,
         msg("boot option 'console=vga' at offset 0: 'console=vga' is not an option ",
             OPTION_ACCEPTED)},
        {"spec-ctrl=msr-sc=perhaps", -EINVAL,
         msg("boot option 'spec-ctrl=msr-sc=perhaps' at offset 0: 'perhaps' is not a boolean ",
             BOOL_ACCEPTED)},
        {"spec-ctrl=yes", -EINVAL,
         "boot option 'spec-ctrl=yes' at offset 0: 'yes' is not a spec-ctrl= item (accepted: "
         "no/0/off/false/disable, msr-sc=<bool>, pv=<bool>, hvm=<bool>, bp-spec-reduce=<bool>)"},
        {"cpuid==1", -EINVAL,
         msg("boot option 'cpuid==1' at offset 0: '=1' is not a feature name ", FEATURE_HINT)},
    };
    for ( const Row &r : rows )
    {
        BootOptions o;
        o.vpmu = true;  // sentinel
        std::string why = "untouched", cmd = "untouched";
        EXPECT_EQ(r.rc, sim::parse_boot_text(r.text, o, &why, &cmd));
        EXPECT_EQ(r.want, why);
        EXPECT_EQ(std::string("untouched"), cmd);
        EXPECT_TRUE(o.vpmu);
    }
}

// Both forms parse to the same options, and the command line handed to the hypervisor
// is Xen's grammar.
TEST(boot_text_takes_a_command_line_or_a_bare_cpuid_list)
{
    struct Row {
        const char *text, *cmdline;
    };
    const Row rows[] = {
        {nullptr, ""},
        {"", ""},
        {"no-avx,rtm", "cpuid=no-avx,rtm"},
        {"cpuid=no-avx,rtm", "cpuid=no-avx,rtm"},
        {"vpmu", "vpmu"},  // a boolean option as written, not a feature list
        {"cpuid=no-avx tsx=0", "cpuid=no-avx tsx=0"},
    };
    for ( const Row &r : rows )
    {
        BootOptions o;
        std::string why, cmd;
        EXPECT_RC(0, sim::parse_boot_text(r.text, o, &why, &cmd));
        EXPECT_EQ(std::string(r.cmdline), cmd);
        BootOptions direct;
        EXPECT_RC(0, boot_options_parse(direct, cmd.c_str()));
        EXPECT_TRUE(direct == o);
    }
}

// The URI rule: boot= last, taking the rest.  A URI option pasted into the boot options
// is refused by name and offset, never honoured (it used to set cpus=64).
TEST(sim_uri_boot_takes_the_rest_and_cannot_inject_options)
{
    struct Row {
        const char *opts;
        int rc;
        const char *boot;  // rc == 0
        unsigned nr_cpus;  // rc == 0
        const char *why;   // rc != 0
    };
    const Row rows[] = {
        {"dump=x.txt,cpus=2,boot=cpuid=no-avx,no-rtm", 0, "cpuid=no-avx,no-rtm", 2, ""},
        {"dump=x.txt,boot=no-avx,rtm tsx=0", 0, "no-avx,rtm tsx=0", 1, ""},
        {"dump=x.txt,boot=", 0, "", 1, ""},
        {"dump=x.txt,boot=no-avx,cpus=64", -EINVAL, "", 0,
         "'cpus=64' at offset 27 of the URI is inside boot=, which takes the rest of the URI: "
         "give dump= and cpus= before boot="},
        {"dump=x.txt,boot=cpuid=no-avx,dump=/etc/shadow", -EINVAL, "", 0,
         "'dump=/etc/shadow' at offset 33 of the URI is inside boot=, which takes the rest of "
         "the URI: give dump= and cpus= before boot="},
        {"dump=x.txt,boot=tsx=0,boot=tsx=1", -EINVAL, "", 0,
         "'boot=tsx=1' at offset 26 of the URI is inside boot=, which takes the rest of the "
         "URI: give dump= and cpus= before boot="},
        {"dump=x.txt,colour=blue", -EINVAL, "", 0,
         "unknown option 'colour=blue' (expected dump=PATH, cpus=N, boot=OPTS; boot= last)"},
        {"cpus=2,cpus=3,dump=x.txt", -EINVAL, "", 0, "option 'cpus' given twice"},
    };
    for ( const Row &r : rows )
    {
        sim::SimConfig cfg;
        std::string why;
        EXPECT_EQ(r.rc, parse_sim_uri(r.opts, cfg, why));
        if ( r.rc == 0 )
        {
            EXPECT_EQ(std::string(r.boot), cfg.boot_options);
            EXPECT_EQ(r.nr_cpus, cfg.nr_cpus);
            EXPECT_EQ(std::string("x.txt"), cfg.dump_path);
        }
        else
            EXPECT_EQ(std::string(r.why), why);
    }
}

// The one escaper: control characters and DEL as \xNN, a backslash doubled, UTF-8 kept;
// a short buffer ends before an escape, never inside one.
TEST(printable_escapes_controls_and_never_splits_an_escape)
{
    EXPECT_EQ(std::string("a\\x1b[2Jb\\x0a\\x7f\\\\ \xc3\xa9"),
              printable(std::string_view("a\x1b[2Jb\n\x7f\\ \xc3\xa9")));
    struct Row {
        size_t cap;
        const char *want;
    };
    const Row rows[] = {{1, ""}, {2, "a"}, {5, "a"}, {6, "a\\x1b"}, {7, "a\\x1bc"}, {64, "a\\x1bc"}};
    for ( const Row &r : rows )
    {
        char buf[64];
        memset(buf, '#', sizeof(buf));
        size_t n = printable_into(buf, r.cap, std::string_view("a\x1b" "c"));
        EXPECT_EQ(std::string(r.want), std::string(buf));
        EXPECT_EQ(strlen(r.want), n);
        EXPECT_EQ('#', r.cap < sizeof(buf) ? buf[r.cap] : '#');  // nothing past cap
    }
}

// Through the C ABI: the message of a failed derive or open names the option, and
// quotes hostile input escaped; an unknown feature gets no errno text appended.
TEST(last_error_names_the_boot_option_and_escapes_control_characters)
{
    cpupolicy_t *raw = cpupolicy_alloc(), *out = cpupolicy_alloc();
    REQUIRE_RC(0, cpupolicy_import_dump(raw, dump_path("GenuineIntel00206D5_SandyBridgeEP.txt").c_str(), 0));
    EXPECT_RC(-EINVAL, cpupolicy_derive(out, raw, CPUPOLICY_HOST, "tsx=banana"));
    EXPECT_EQ(msg("boot option 'tsx=banana' at offset 0: 'banana' is not a boolean ", BOOL_ACCEPTED),
              std::string(cpupolicy_last_error()));
    EXPECT_RC(-ENOENT, cpupolicy_derive(out, raw, CPUPOLICY_HOST, "cpuid=\x1b[2Jx"));
    EXPECT_EQ(msg("boot option 'cpuid=\\x1b[2Jx' at offset 0: '\\x1b[2Jx' is not a feature name ",
                  FEATURE_HINT),
              std::string(cpupolicy_last_error()));
    cpupolicy_free(raw);
    cpupolicy_free(out);

    struct Row {
        std::string uri, want;
    };
    const std::string snb = "sim:dump=" + dump_path("GenuineIntel00206D5_SandyBridgeEP.txt");
    const Row rows[] = {
        {snb + ",boot=cpuid=no-bogus",
         msg("boot option 'cpuid=no-bogus' at offset 0: 'bogus' is not a feature name ",
             FEATURE_HINT)},
        {snb + ",boot=no-avx,\x1b]0;x\x07",
         msg("boot option 'no-avx,\\x1b]0;x\\x07' at offset 0: '\\x1b]0;x\\x07' is not a "
             "feature name ", FEATURE_HINT)},
        {"sim:dump=/nonexistent/\x1b[31mred.txt",
         "/nonexistent/\\x1b[31mred.txt: cannot open: No such file or directory"},
        {"bogus\x1b:x", "unsupported URI scheme 'bogus\\x1b' (supported: \"\", sim:, unix:, ssh:, xen:)"},
    };
    for ( const Row &r : rows )
    {
        cpupolicy_handle_t *h = nullptr;
        EXPECT_TRUE(cpupolicy_open(&h, r.uri.c_str()) < 0);
        EXPECT_EQ(r.want, std::string(cpupolicy_last_error()));
    }
}

int main() { return unittest::run_all("test_boot_text"); }

// SPDX-License-Identifier: MIT
// The text a person types for a simulated host: the options of a sim: URI
// (parse_sim_uri, backend_embedded.hpp) and boot options as the tools take them
// (sim::parse_boot_text, boot_text.hpp), and the escaper every message goes through
// (printable.hpp).  Issue 11 item 9: errors that name what and where, no control
// character echoed raw, no URI option injected through boot=.
//
// Input: the whole input (up to a NUL) is read three ways.  Checks:
//   - parse_sim_uri: 0 or -EINVAL only; a refusal says why.  On success the dump path
//     is non-empty and has no ',', cpus is 1..MAX_PCPUS, and **no comma-separated piece
//     of the boot options is spelt like a URI option** (boot= takes the rest; nothing
//     pasted into it becomes cpus= or dump=): they are exactly the text after the first
//     "boot=" token.  The URI rebuilt from the result
//     ("dump=P[,cpus=N][,boot=B]") parses to the same configuration;
//   - parse_boot_text on the input and on the URI's boot options: 0, -EINVAL or
//     -ENOENT.  A refusal's message is "boot option 'ITEM' at offset N: ..." where ITEM is
//     exactly the text at offset N, and `out`, `cmdline` are untouched.  A success hands
//     on a command line that boot_options_parse() reads to the same options;
//   - boot_options_parse's error record: the offending piece lies inside the option that
//     holds it, and `what` says something;
//   - printable(): no control character or DEL survives, and unescaping gives the input
//     back (nothing lost, nothing ambiguous).
#include "fuzz.hpp"

#include <errno.h>
#include <string.h>

#include <string>
#include <string_view>

#include "backend_embedded.hpp"
#include "boot_text.hpp"
#include "printable.hpp"

using namespace cpupolicy;

namespace {

std::string unescape(std::string_view s)
{
    std::string out;
    for ( size_t i = 0; i < s.size(); ++i )
    {
        if ( s[i] != '\\' )
        {
            out += s[i];
            continue;
        }
        FUZZ_CHECK(i + 1 < s.size(), "a lone backslash at the end of \"%.80s\"", s.data());
        if ( s[i + 1] == '\\' )
        {
            out += '\\';
            ++i;
            continue;
        }
        FUZZ_CHECK(s[i + 1] == 'x' && i + 3 < s.size(), "unknown escape at %zu", i);
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 2, 2)), nullptr, 16));
        i += 3;
    }
    return out;
}

bool is_uri_key(std::string_view piece)
{
    return piece.substr(0, 5) == "dump=" || piece.substr(0, 5) == "cpus=" ||
           piece.substr(0, 5) == "boot=";
}

BootOptions sentinel()
{
    BootOptions o;
    o.tsx = 7;  // never produced by a parse
    return o;
}

void check_boot_text(const std::string &text)
{
    BootOptions o = sentinel();
    std::string why = "untouched", cmd = "untouched";
    int rc = sim::parse_boot_text(text.c_str(), o, &why, &cmd);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT, "rc %d for \"%.80s\"", rc, text.c_str());
    const size_t len = strlen(text.c_str());
    if ( rc )
    {
        FUZZ_CHECK(o == sentinel() && cmd == "untouched", "rc %d but outputs written", rc);
        const std::string head = "boot option '";
        FUZZ_CHECK(why.compare(0, head.size(), head) == 0, "message \"%.120s\"", why.c_str());
        // "... 'ITEM' at offset N: ": ITEM is the text at N.  ITEM may hold "'", so the
        // offset is found from the end of the fixed part instead.
        size_t at = why.find("' at offset ");
        while ( at != std::string::npos )
        {
            size_t n = strtoul(why.c_str() + at + 12, nullptr, 10);
            std::string item = why.substr(head.size(), at - head.size());
            if ( n <= len && text.compare(n, item.size(), item) == 0 &&
                 why.compare(at + 12, std::to_string(n).size() + 2, std::to_string(n) + ": ") == 0 )
                return;
            at = why.find("' at offset ", at + 1);
        }
        FUZZ_CHECK(false, "the quoted option is not the text at its offset: \"%.160s\"",
                   why.c_str());
    }
    FUZZ_CHECK(why == "untouched", "success wrote a message: %.80s", why.c_str());
    BootOptions direct = sentinel();
    FUZZ_CHECK(boot_options_parse(direct, cmd.c_str()) == 0 && direct == o,
               "the command line \"%.80s\" does not read back to the same options", cmd.c_str());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string input(reinterpret_cast<const char *>(data), size);
    const std::string text(input.c_str());  // up to a NUL, as the C ABI sees it

    // The escaper: nothing raw survives, and it is reversible.
    const std::string shown = printable(input);
    for ( char ch : shown )
        FUZZ_CHECK(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f,
                   "control byte %#x survived printable()", static_cast<unsigned char>(ch));
    FUZZ_CHECK(unescape(shown) == input, "printable() is not reversible (%zu bytes)", size);

    // The core's error record.
    BootOptions bo;
    BootOptionsError e{SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX, nullptr};
    if ( boot_options_parse(bo, text.c_str(), &e) )
    {
        FUZZ_CHECK(e.item_pos <= text.size() && e.item_len <= text.size() - e.item_pos,
                   "option span %zu+%zu outside the %zu-byte text", e.item_pos, e.item_len,
                   text.size());
        FUZZ_CHECK(e.pos >= e.item_pos && e.pos + e.len <= e.item_pos + e.item_len,
                   "offending piece %zu+%zu outside its option %zu+%zu", e.pos, e.len,
                   e.item_pos, e.item_len);
        FUZZ_CHECK(e.what && *e.what, "a refusal without a reason");
    }

    check_boot_text(text);

    // The URI.
    sim::SimConfig cfg;
    std::string why;
    int rc = parse_sim_uri(text.c_str(), cfg, why);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL, "parse_sim_uri rc %d", rc);
    if ( rc )
    {
        FUZZ_CHECK(!why.empty(), "a refused URI without a reason");
        return 0;
    }
    FUZZ_CHECK(!cfg.dump_path.empty() && cfg.dump_path.find(',') == std::string::npos,
               "dump path \"%.80s\"", cfg.dump_path.c_str());
    FUZZ_CHECK(cfg.nr_cpus >= 1 && cfg.nr_cpus <= MAX_PCPUS, "cpus %u", cfg.nr_cpus);
    const std::string_view boot = cfg.boot_options;
    for ( size_t q = 0; q <= boot.size(); )
    {
        size_t c = std::min(boot.find(',', q), boot.size());
        FUZZ_CHECK(!is_uri_key(boot.substr(q, c - q)),
                   "a URI option inside the boot options: \"%.80s\"", cfg.boot_options.c_str());
        q = c + 1;
    }
    // boot= takes the rest: the boot options are exactly what follows the first token
    // spelt "boot=" (the tokens before it, dump= and cpus=, hold no comma).
    size_t b = std::string::npos;
    for ( size_t p = 0; p <= text.size(); )
    {
        if ( text.compare(p, 5, "boot=") == 0 )
        {
            b = p;
            break;
        }
        size_t c = text.find(',', p);
        if ( c == std::string::npos )
            break;
        p = c + 1;
    }
    FUZZ_CHECK(b == std::string::npos ? cfg.boot_options.empty()
                                       : cfg.boot_options == text.substr(b + 5),
               "boot options \"%.80s\" are not the rest of \"%.80s\"", cfg.boot_options.c_str(),
               text.c_str());
    std::string again = "dump=" + cfg.dump_path;
    if ( text.find("cpus=") != std::string::npos && cfg.nr_cpus != 1 )
        again += ",cpus=" + std::to_string(cfg.nr_cpus);
    if ( text.find("boot=") != std::string::npos )
        again += ",boot=" + cfg.boot_options;
    sim::SimConfig cfg2;
    FUZZ_CHECK(parse_sim_uri(again.c_str(), cfg2, why) == 0 && cfg2.dump_path == cfg.dump_path &&
                   cfg2.nr_cpus == cfg.nr_cpus && cfg2.boot_options == cfg.boot_options,
               "\"%.80s\" rebuilt as \"%.80s\" reads differently", text.c_str(), again.c_str());
    check_boot_text(cfg.boot_options);
    return 0;
}

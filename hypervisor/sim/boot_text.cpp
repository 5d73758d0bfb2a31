// SPDX-License-Identifier: MIT
// Boot options as our tools take them (boot_text.hpp).
#include "boot_text.hpp"

#include <algorithm>

namespace cpupolicy::sim {

namespace {

bool is_bare_cpuid_list(const char *s)
{
    if ( !s || !*s )
        return false;
    for ( ; *s; ++s )
        if ( *s == '=' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' )
            return false;
    return true;
}

} // namespace

std::string boot_error_text(std::string_view text, const BootOptionsError &e, size_t prefix)
{
    auto clip = [&](size_t pos, size_t len) {
        pos = std::min(pos, text.size());
        return text.substr(pos, std::min(len, text.size() - pos));
    };
    // Offsets as the user counts them: the caller's prefix is not theirs.
    size_t item_pos = std::max(e.item_pos, prefix);
    size_t item_end = std::max(e.item_pos + e.item_len, prefix);
    std::string s = "boot option '";
    s += clip(item_pos, item_end - item_pos);
    s += "' at offset " + std::to_string(item_pos - prefix) + ": ";
    if ( e.len )
    {
        s += '\'';
        s += clip(e.pos, e.len);
        s += '\'';
    }
    else
        s += "the item at offset " + std::to_string(std::max(e.pos, prefix) - prefix);
    s += ' ';
    s += e.what && *e.what ? e.what : "is malformed";
    return s;
}

int parse_boot_text(const char *text, BootOptions &out, std::string *why, std::string *cmdline)
{
    BootOptionsError bad;
    BootOptions o;
    int rc = boot_options_parse(o, text, &bad);
    if ( rc == 0 )
    {
        if ( cmdline )
            *cmdline = text ? text : "";
        out = o;
        return 0;
    }
    if ( !is_bare_cpuid_list(text) )
    {
        if ( why )
            *why = boot_error_text(text, bad);
        return rc;
    }
    // Retried as the list it must be; its errors are the ones to report.
    const std::string as_list = std::string("cpuid=") + text;
    rc = boot_options_parse(o, as_list.c_str(), &bad);
    if ( rc )
    {
        if ( why )
            *why = boot_error_text(as_list, bad, 6);
        return rc;
    }
    if ( cmdline )
        *cmdline = as_list;
    out = o;
    return 0;
}

} // namespace cpupolicy::sim

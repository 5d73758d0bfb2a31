// SPDX-License-Identifier: MIT
// Input echoed in a message (a boot option, a URI parameter, a file name) goes through
// printable(): control characters and DEL become \xNN and a backslash becomes \\, so a
// hostile string cannot rewrite a terminal or forge a log line.  Bytes >= 0x80 pass
// unchanged (UTF-8 file names stay readable).
//
// Escape once, where the message leaves for the user: cpupolicy_last_error() (the
// library's detail(), which escapes every message it records), cpupolicyd's log line
// (logmsg), and the tools' own messages that quote their arguments.  Text built inside
// (sim::parse_boot_text, the URI parser, the importer) stays raw until then.
#pragma once

#include <stddef.h>

#include <string>
#include <string_view>

namespace cpupolicy {

// The escaped form of `s` into out[0..cap) (cap > 0), NUL-terminated, never splitting an
// escape; returns the length written.  Allocates nothing (the library's error path).
inline size_t printable_into(char *out, size_t cap, std::string_view s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for ( char ch : s )
    {
        unsigned char c = static_cast<unsigned char>(ch);
        char e[4];
        size_t len = 0;
        if ( c == '\\' )
            e[len++] = '\\', e[len++] = '\\';
        else if ( c < 0x20 || c == 0x7f )
            e[len++] = '\\', e[len++] = 'x', e[len++] = hex[c >> 4], e[len++] = hex[c & 15];
        else
            e[len++] = ch;
        if ( n + len >= cap )
            break;
        for ( size_t i = 0; i < len; ++i )
            out[n++] = e[i];
    }
    out[n] = '\0';
    return n;
}

inline std::string printable(std::string_view s)
{
    std::string out(s.size() * 4 + 1, '\0');  // every byte may become \xNN
    out.resize(printable_into(out.data(), out.size(), s));
    return out;
}

} // namespace cpupolicy

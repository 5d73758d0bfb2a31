// SPDX-License-Identifier: MIT
// Input echoed in a message (a boot option, a URI parameter, a file name) goes through
// printable(): control characters and DEL become \xNN and a backslash becomes \\, so a
// hostile string cannot rewrite a terminal or forge a log line.  Bytes >= 0x80 pass
// unchanged (UTF-8 file names stay readable).
#pragma once

#include <string>
#include <string_view>

namespace cpupolicy {

inline std::string printable(std::string_view s)
{
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for ( char ch : s )
    {
        unsigned char c = static_cast<unsigned char>(ch);
        if ( c == '\\' )
            out += "\\\\";
        else if ( c < 0x20 || c == 0x7f )
        {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
        else
            out += ch;
    }
    return out;
}

} // namespace cpupolicy

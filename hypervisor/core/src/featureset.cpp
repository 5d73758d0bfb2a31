// SPDX-License-Identifier: MIT
#include "cpupolicy/featureset.hpp"

namespace cpupolicy {

int featureset_from_words(Featureset &out, const uint32_t *words, uint32_t nr)
{
    Featureset fs;
    for ( uint32_t i = 0; i < nr && i < NR_FEATUREWORDS; ++i )
        fs.w[i] = words[i];
    out = fs;
    for ( uint32_t i = NR_FEATUREWORDS; i < nr; ++i )
        if ( words[i] )
            return -err::eopnotsupp;
    return 0;
}

void featureset_to_words(const Featureset &fs, uint32_t *words, uint32_t nr)
{
    for ( uint32_t i = 0; i < nr; ++i )
        words[i] = i < NR_FEATUREWORDS ? fs.w[i] : 0;
}

static int hexval(char c)
{
    if ( c >= '0' && c <= '9' )
        return c - '0';
    if ( c >= 'a' && c <= 'f' )
        return c - 'a' + 10;
    if ( c >= 'A' && c <= 'F' )
        return c - 'A' + 10;
    return -1;
}

int parse_words(const char *s, uint32_t *words, uint32_t max, uint32_t *nr, size_t *bad_pos)
{
    uint32_t n = 0;
    size_t i = 0;

    *nr = 0;
    for ( ;; )
    {
        uint32_t val = 0;
        unsigned digits = 0;
        int h;

        while ( (h = hexval(s[i])) >= 0 )
        {
            if ( ++digits > 8 )
                break;
            val = (val << 4) | static_cast<uint32_t>(h);
            ++i;
        }
        if ( digits == 0 || digits > 8 )
        {
            if ( bad_pos )
                *bad_pos = i;
            return -err::einval;
        }
        if ( n == max )
            return -err::e2big;
        words[n++] = val;
        if ( s[i] == '\0' )
            break;
        if ( s[i] != ':' && s[i] != '-' )
        {
            if ( bad_pos )
                *bad_pos = i;
            return -err::einval;
        }
        ++i;
    }
    *nr = n;
    return 0;
}

int format_words(const uint32_t *words, uint32_t nr, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t need = nr ? 9u * nr : 1u;
    if ( len < need )
        return -err::enobufs;
    size_t o = 0;
    for ( uint32_t i = 0; i < nr; ++i )
    {
        if ( i )
            buf[o++] = ':';
        for ( int sh = 28; sh >= 0; sh -= 4 )
            buf[o++] = hex[(words[i] >> sh) & 0xf];
    }
    buf[o] = '\0';
    return static_cast<int>(o);
}

} // namespace cpupolicy

// SPDX-License-Identifier: MIT
#include "decode.hpp"

#include <string.h>

namespace xcpuid {

using namespace cpupolicy;

namespace {

// One output line, built in memory and written with one fwrite: an fprintf per feature
// name was two thirds of decoding a featureset (`make bench-compare`'s xen-cpuid row).
struct Line {
    char buf[4096];
    size_t len = 0;
    void add(const char *s, size_t n)
    {
        if ( n > sizeof(buf) - len )
            n = sizeof(buf) - len;
        memcpy(buf + len, s, n);
        len += n;
    }
    void add(const char *s) { add(s, strlen(s)); }
    template <typename... A>
    void addf(const char *fmt, A... a)
    {
        int n = snprintf(buf + len, sizeof(buf) - len, fmt, a...);
        if ( n > 0 )
            len += static_cast<size_t>(n) < sizeof(buf) - len ? static_cast<size_t>(n) : sizeof(buf) - len - 1;
    }
    void write(FILE *out) const { fwrite(buf, 1, len, out); }
};

// "%08x" of w into 8 characters.
void hex8(char *to, uint32_t w)
{
    static const char digits[] = "0123456789abcdef";
    for ( int i = 7; i >= 0; --i, w >>= 4 )
        to[i] = digits[w & 0xf];
}

} // namespace

void print_header(FILE *out, const char *name, const uint32_t *words, size_t nr)
{
    Line l;
    l.addf("%-*s        ", kColAlign, name);
    for ( size_t i = 0; i < nr; ++i )
    {
        char w[9];
        hex8(w, words[i]);
        w[8] = i + 1 < nr ? ':' : '\n';
        l.add(w, 9);
        if ( l.len > sizeof(l.buf) - 16 )
        {
            l.write(out);
            l.len = 0;
        }
    }
    l.write(out);
}

void print_words(FILE *out, const uint32_t *words, size_t nr)
{
    for ( size_t i = 0; i < nr; ++i )
    {
        Line l;
        if ( i < NR_FEATUREWORDS )
            l.addf("  [%02zu] %-*s", i, kColAlign, table::words[i].label);
        else
        {
            // Wider than any real label, still within the 24 columns.
            char label[kColAlign + 1];
            snprintf(label, sizeof(label), "(unknown word) %08x", words[i]);
            l.addf("  [%02zu] %-*s", i, kColAlign, label);
        }
        for ( unsigned bit = 0; bit < 32; ++bit )
        {
            if ( !(words[i] & (1u << bit)) )
                continue;
            const char *nm = i < NR_FEATUREWORDS
                ? features::name(Feature{static_cast<uint32_t>(i * 32 + bit)}) : nullptr;
            if ( !nm && i == size_t(kWordE1d) && (features::COMMON_1D & (1u << bit)) )
                nm = features::name(Feature{static_cast<uint32_t>(kWord1d * 32 + bit)});
            if ( nm )
            {
                l.add(" ", 1);
                l.add(nm);
            }
            else
                l.addf(" <%u>", bit);
        }
        l.add("\n", 1);
        l.write(out);
    }
}

void print_featureset(FILE *out, const char *name, const uint32_t *words, size_t nr,
                      bool detail)
{
    print_header(out, name, words, nr);
    if ( detail )
        print_words(out, words, nr);
}

} // namespace xcpuid

// SPDX-License-Identifier: MIT
#include "decode.hpp"

#include <string.h>

#include "cpupolicy/featureset.hpp"

namespace xcpuid {

using namespace cpupolicy;

namespace {

// Output built in memory and written with one fwrite per line (or per full buffer): an
// fprintf per feature name was two thirds of decoding a featureset (`make
// bench-compare`'s xen-cpuid row).  Nothing is dropped: a full buffer is written out.
class Line {
public:
    explicit Line(FILE *out) : out_(out) {}
    ~Line() { flush(); }
    void add(const char *s, size_t n)
    {
        while ( n > sizeof(buf_) - len_ )
        {
            const size_t room = sizeof(buf_) - len_;
            memcpy(buf_ + len_, s, room);
            len_ += room;
            s += room, n -= room;
            flush();
        }
        memcpy(buf_ + len_, s, n);
        len_ += n;
    }
    void add(const char *s) { add(s, strlen(s)); }
    template <typename... A>
    void addf(const char *fmt, A... a)
    {
        char piece[128];
        const int n = snprintf(piece, sizeof(piece), fmt, a...);
        if ( n >= static_cast<int>(sizeof(piece)) )
        {
            // Longer than a label or a number (a long name): straight to the file.
            flush();
            fprintf(out_, fmt, a...);
        }
        else if ( n > 0 )
            add(piece, static_cast<size_t>(n));
    }
    void flush()
    {
        fwrite(buf_, 1, len_, out_);
        len_ = 0;
    }

private:
    FILE *out_;
    char buf_[4096];
    size_t len_ = 0;
};

} // namespace

void print_header(FILE *out, const char *name, const uint32_t *words, size_t nr)
{
    Line l(out);
    l.addf("%-*s        ", kColAlign, name);
    // The words as the parser reads them back ("%08x:..."; cpupolicy/featureset.hpp),
    // a chunk at a time.
    for ( size_t i = 0; i < nr; i += 64 )
    {
        const uint32_t n = static_cast<uint32_t>(nr - i < 64 ? nr - i : 64);
        char text[9 * 64];
        const int len = format_words(words + i, n, text, sizeof(text));
        if ( len > 0 )
            l.add(text, static_cast<size_t>(len));
        l.add(i + n < nr ? ":" : "\n", 1);
    }
}

void print_words(FILE *out, const uint32_t *words, size_t nr)
{
    for ( size_t i = 0; i < nr; ++i )
    {
        Line l(out);
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

// SPDX-License-Identifier: MIT
#include "decode.hpp"

namespace xcpuid {

using namespace cpupolicy;

void print_header(FILE *out, const char *name, const uint32_t *words, size_t nr)
{
    fprintf(out, "%-*s        ", kColAlign, name);
    for ( size_t i = 0; i < nr; ++i )
        fprintf(out, "%08x%c", words[i], i + 1 < nr ? ':' : '\n');
}

void print_words(FILE *out, const uint32_t *words, size_t nr)
{
    for ( size_t i = 0; i < nr; ++i )
    {
        if ( i < NR_FEATUREWORDS )
            fprintf(out, "  [%02zu] %-*s", i, kColAlign, table::words[i].label);
        else
        {
            // Wider than any real label, still within the 24 columns.
            char label[kColAlign + 1];
            snprintf(label, sizeof(label), "(unknown word) %08x", words[i]);
            fprintf(out, "  [%02zu] %-*s", i, kColAlign, label);
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
                fprintf(out, " %s", nm);
            else
                fprintf(out, " <%u>", bit);
        }
        fputc('\n', out);
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

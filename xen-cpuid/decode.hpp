// SPDX-License-Identifier: MIT
// xen-cpuid's output: Xen's featureset layout, derived from the one feature table.
//
// Layout (Xen's tools/misc/xen-cpuid.c, which operators and scripts already parse):
//   header   NAME left-justified in 24 columns, 8 spaces, the words as %08x joined by ':'
//   per word "  [NN] " + label left-justified in 24 columns, then " name" for each set
//            bit that has a feature, " <bit>" for one that has not
// Labels and names come from cpupolicy::table (feature-table.hpp); the short word keys
// ("1d", "7b0", "m10Al") are computed from each word's WordSource, so there is no second
// list to keep in step.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cpupolicy/features.hpp"

namespace xcpuid {

using cpupolicy::NR_FEATUREWORDS;

// Xen's COL_ALIGN: width of the name column of headers and of the label column.
inline constexpr int kColAlign = 24;

// --- Word keys -------------------------------------------------------------------
// Xen's abbreviation of a featureset word, printed on the KEY line of `info`: the leaf
// in upper-case hex ('e' + the low part for an extended leaf 0x8000xxxx), the register
// letter, then the subleaf when the leaf has subleaves; an MSR half is 'm' + the index
// in upper-case hex + 'l'/'h'.  "1d" = CPUID 1.edx, "Da1" = CPUID 0xd:1.eax,
// "e21a" = CPUID 0x80000021.eax, "m10Al" = MSR 0x10a bits 31:0.
struct WordKey {
    char s[16];
};

constexpr void put_hex_upper(WordKey &k, unsigned &n, uint32_t v)
{
    char tmp[8];
    unsigned d = 0;
    do
    {
        tmp[d++] = "0123456789ABCDEF"[v & 0xf];
        v >>= 4;
    } while ( v );
    while ( d )
        k.s[n++] = tmp[--d];
}

constexpr WordKey word_key(const cpupolicy::WordSource &src)
{
    WordKey k{};
    unsigned n = 0;
    if ( src.is_msr )
    {
        k.s[n++] = 'm';
        put_hex_upper(k, n, raw(src.msr));
        k.s[n++] = src.half ? 'h' : 'l';
        return k;
    }
    uint32_t leaf = raw(src.leaf);
    if ( leaf & 0x80000000u )
    {
        k.s[n++] = 'e';
        leaf &= 0x7fffffffu;
    }
    put_hex_upper(k, n, leaf);
    k.s[n++] = "abcd"[static_cast<unsigned>(src.reg)];
    if ( src.subleaf != cpupolicy::kNoSubleaf )
        put_hex_upper(k, n, raw(src.subleaf));
    return k;
}

constexpr bool key_is(unsigned word, const char *want)
{
    WordKey k = word_key(cpupolicy::table::words[word].src);
    unsigned i = 0;
    for ( ; want[i]; ++i )
        if ( k.s[i] != want[i] )
            return false;
    return k.s[i] == '\0';
}
// Spot checks against the keys Xen prints (one of each shape).
static_assert(key_is(0, "1d") && key_is(2, "e1d") && key_is(4, "Da1") && key_is(5, "7b0") &&
              key_is(11, "e21a") && key_is(13, "7d2") && key_is(16, "m10Al") &&
              key_is(17, "m10Ah") && key_is(18, "e21c"));

// The word a CPUID register lives in (-1 if none): for the AMD mirror below.
constexpr int word_of(cpupolicy::Leaf leaf, cpupolicy::Reg reg)
{
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const cpupolicy::WordSource &s = cpupolicy::table::words[i].src;
        if ( !s.is_msr && s.leaf == leaf && s.subleaf == cpupolicy::kNoSubleaf && s.reg == reg )
            return static_cast<int>(i);
    }
    return -1;
}
// CPUID 0x80000001.edx bits that AMD defines as copies of CPUID 1.edx (APM vol. 3,
// CPUID Fn8000_0001_EDX; the core's COMMON_1D) are no features of the featureset, but
// Xen's xen-cpuid names them as in word 0 ("fpu vme de ..."), and so do we.
inline constexpr int kWord1d = word_of(cpupolicy::Leaf{1}, cpupolicy::Reg::edx);
inline constexpr int kWordE1d = word_of(cpupolicy::Leaf{0x80000001u}, cpupolicy::Reg::edx);
static_assert(kWord1d == 0 && kWordE1d == 2, "Xen's words 0 (1d) and 2 (e1d)");

// Every label fits Xen's column, so the name column starts at the same offset on every
// line (a longer label would shift it and break parsers of Xen's output).
constexpr bool labels_fit()
{
    for ( const auto &w : cpupolicy::table::words )
    {
        int len = 0;
        while ( w.label[len] )
            ++len;
        if ( len > kColAlign )
            return false;
    }
    return true;
}
static_assert(labels_fit(), "a word label is wider than xen-cpuid's 24-column label field");

// --- Printing ---------------------------------------------------------------------
// The header line of a featureset of `nr` words (nr >= 1).
void print_header(FILE *out, const char *name, const uint32_t *words, size_t nr);

// The decode lines of words [0, nr): words this build knows get their label and names;
// words beyond NR_FEATUREWORDS are printed as "(unknown word) XXXXXXXX" with every set
// bit as <bit>, so nothing the input carries is silently dropped.
void print_words(FILE *out, const uint32_t *words, size_t nr);

// Header, then (detail) the decode lines.
void print_featureset(FILE *out, const char *name, const uint32_t *words, size_t nr,
                      bool detail);

} // namespace xcpuid

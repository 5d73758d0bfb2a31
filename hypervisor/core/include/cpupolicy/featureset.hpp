// SPDX-License-Identifier: MIT
// Featuresets: NR_FEATUREWORDS 32-bit words, feature f at bit (f % 32) of word (f / 32),
// in Xen's featureset layout.  The algebra is constexpr so the compiler checks the
// derived masks (features.hpp) as well as the tests do.
#pragma once

#include "cpupolicy/feature-types.hpp"

namespace cpupolicy {

struct Featureset {
    uint32_t w[NR_FEATUREWORDS] = {};

    static constexpr uint32_t word_of(Feature f) { return raw(f) / 32; }
    static constexpr uint32_t mask_of(Feature f) { return 1u << (raw(f) % 32); }

    constexpr bool test(Feature f) const
    {
        return raw(f) < NR_FEATURE_BITS && (w[word_of(f)] & mask_of(f));
    }
    constexpr void set(Feature f)
    {
        if ( raw(f) < NR_FEATURE_BITS )
            w[word_of(f)] |= mask_of(f);
    }
    constexpr void clear(Feature f)
    {
        if ( raw(f) < NR_FEATURE_BITS )
            w[word_of(f)] &= ~mask_of(f);
    }

    constexpr Featureset operator&(const Featureset &o) const
    {
        Featureset r;
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            r.w[i] = w[i] & o.w[i];
        return r;
    }
    constexpr Featureset operator|(const Featureset &o) const
    {
        Featureset r;
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            r.w[i] = w[i] | o.w[i];
        return r;
    }
    constexpr Featureset and_not(const Featureset &o) const
    {
        Featureset r;
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            r.w[i] = w[i] & ~o.w[i];
        return r;
    }
    // The features that differ between two sets (in exactly one of them); iterate the
    // list with each(a ^ b).
    constexpr Featureset operator^(const Featureset &o) const
    {
        Featureset r;
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            r.w[i] = w[i] ^ o.w[i];
        return r;
    }
    constexpr Featureset &operator&=(const Featureset &o) { return *this = *this & o; }
    constexpr Featureset &operator|=(const Featureset &o) { return *this = *this | o; }

    constexpr bool subset_of(const Featureset &o) const { return and_not(o).empty(); }
    constexpr bool operator==(const Featureset &) const = default;

    constexpr bool empty() const
    {
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            if ( w[i] )
                return false;
        return true;
    }
    constexpr unsigned count() const
    {
        unsigned n = 0;
        for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
            n += static_cast<unsigned>(__builtin_popcount(w[i]));
        return n;
    }
    // First set feature at or after `from`, or NR_FEATURE_BITS when none.
    constexpr uint32_t next(uint32_t from) const
    {
        for ( uint32_t f = from; f < NR_FEATURE_BITS; )
        {
            uint32_t word = w[f / 32] >> (f % 32);
            if ( word )
                return f + static_cast<uint32_t>(__builtin_ctz(word));
            f = (f / 32 + 1) * 32;
        }
        return NR_FEATURE_BITS;
    }
};

// Iterate the set features: for ( uint32_t f : each(fs) ).
struct FeaturesetIter {
    const Featureset *fs;
    uint32_t f;
    constexpr uint32_t operator*() const { return f; }
    constexpr FeaturesetIter &operator++() { f = fs->next(f + 1); return *this; }
    constexpr bool operator!=(const FeaturesetIter &o) const { return f != o.f; }
};
struct FeaturesetRange {
    const Featureset *fs;
    constexpr FeaturesetIter begin() const { return {fs, fs->next(0)}; }
    constexpr FeaturesetIter end() const { return {fs, NR_FEATURE_BITS}; }
};
constexpr FeaturesetRange each(const Featureset &fs) { return {&fs}; }
// A temporary would be gone before the loop body runs.
FeaturesetRange each(const Featureset &&) = delete;

// --- Length skew ------------------------------------------------------------------
// Featuresets cross ABI boundaries as (words, nr).  A shorter one is zero-extended.  A
// longer one is accepted only when the words this build does not know are all zero:
// otherwise the caller gets -EOPNOTSUPP, so a newer peer's features are never silently
// truncated into a pass.
CPUPOLICY_MUST_CHECK int featureset_from_words(Featureset &out, const uint32_t *words, uint32_t nr);
// Writes min(nr, NR_FEATUREWORDS) words and zeroes any beyond.
void featureset_to_words(const Featureset &fs, uint32_t *words, uint32_t nr);

// --- Text form ----------------------------------------------------------------------
// "xxxxxxxx:xxxxxxxx:..." (xen-cpuid's input form; '-' separators accepted too).  Each
// word is 1..8 hex digits.  Fills up to `max` words, sets *nr.  -EINVAL for malformed
// text (*bad_pos = offset of the offending character), -E2BIG for more than `max` words.
CPUPOLICY_MUST_CHECK int parse_words(const char *s, uint32_t *words, uint32_t max, uint32_t *nr,
                                     size_t *bad_pos);
// Writes "%08x:%08x:..." for nr words, NUL terminated.  Needs 9*nr bytes; returns the
// length written (excluding NUL), or -ENOBUFS when `len` is too small.
CPUPOLICY_MUST_CHECK int format_words(const uint32_t *words, uint32_t nr, char *buf, size_t len);

} // namespace cpupolicy

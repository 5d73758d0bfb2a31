// SPDX-License-Identifier: MIT
// parse_words() (featureset.hpp: xen-cpuid's "xxxxxxxx:xxxxxxxx:..." input form) over
// arbitrary text, against an independent oracle written from the header's grammar.
//
// Input: byte 0 = the caller's buffer size in words (0..69: below, at and above the
// protocol's 64 and this build's NR_FEATUREWORDS), the rest = the text (up to a NUL).
// Checks:
//   - rc, *nr, every word and, for -EINVAL, *bad_pos equal the oracle's;
//   - *nr is 0 after any error;
//   - nothing is written past the caller's `max` words (the buffer is a heap block of
//     exactly that size, so ASan reports an overrun);
//   - success round-trips: format_words() needs exactly 9*nr bytes (-ENOBUFS with one
//     fewer) and its output parses back to the same words;
//   - featureset_from_words() on the words keeps the length-skew rule: -EOPNOTSUPP iff
//     a word beyond NR_FEATUREWORDS is non-zero, and featureset_to_words() gives the
//     known words back.
#include "fuzz.hpp"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cpupolicy/featureset.hpp"

using namespace cpupolicy;

namespace {

struct Expect {
    int rc = 0;
    std::vector<uint32_t> words;
    size_t bad_pos = 0;
};

// The grammar: word (sep word)*, word = 1..8 hex digits, sep = ':' or '-'.  A run of
// more than 8 digits is bad at its 9th digit; a word that does not fit is -E2BIG as
// soon as it has been read, whatever follows.
Expect oracle(std::string_view s, uint32_t max)
{
    static constexpr std::string_view hex = "0123456789abcdefABCDEF";
    Expect e;
    size_t pos = 0;
    for ( ;; )
    {
        size_t end = s.find_first_not_of(hex, pos);
        if ( end == std::string_view::npos )
            end = s.size();
        size_t digits = end - pos;
        if ( digits == 0 || digits > 8 )
        {
            e.rc = -EINVAL;
            e.bad_pos = digits ? pos + 8 : pos;
            return e;
        }
        if ( e.words.size() == max )
        {
            e.rc = -E2BIG;
            return e;
        }
        e.words.push_back(static_cast<uint32_t>(
            strtoul(std::string(s.substr(pos, digits)).c_str(), nullptr, 16)));
        if ( end == s.size() )
            return e;
        if ( s[end] != ':' && s[end] != '-' )
        {
            e.rc = -EINVAL;
            e.bad_pos = end;
            return e;
        }
        pos = end + 1;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if ( size < 1 )
        return 0;
    const uint32_t max = data[0] % 70;
    const std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
    const char *s = text.c_str();          // stops at an embedded NUL, as a C caller would
    const std::string_view sv(s);

    // Exactly `max` words on the heap: a write past them is an ASan report.
    std::unique_ptr<uint32_t[]> words(new uint32_t[max ? max : 1]);
    uint32_t nr = 0xdeadbeef;
    size_t bad_pos = SIZE_MAX;
    int rc = parse_words(s, max ? words.get() : nullptr, max, &nr, &bad_pos);

    const Expect e = oracle(sv, max);
    FUZZ_CHECK(rc == e.rc, "rc: expected %d, actual %d (max %u, text \"%.80s\")", e.rc, rc,
               max, s);
    if ( rc )
    {
        FUZZ_CHECK(nr == 0, "*nr after error %d: expected 0, actual %u", rc, nr);
        if ( rc == -EINVAL )
            FUZZ_CHECK(bad_pos == e.bad_pos, "bad_pos: expected %zu, actual %zu (\"%.80s\")",
                       e.bad_pos, bad_pos, s);
        return 0;
    }
    FUZZ_CHECK(nr == e.words.size(), "nr: expected %zu, actual %u", e.words.size(), nr);
    for ( uint32_t i = 0; i < nr; ++i )
        FUZZ_CHECK(words[i] == e.words[i], "word %u: expected %08x, actual %08x", i,
                   e.words[i], words[i]);

    // Round trip through the text form.
    std::vector<char> buf(9u * nr);
    FUZZ_CHECK(format_words(words.get(), nr, buf.data(), buf.size() - 1) == -ENOBUFS,
               "format_words into %zu bytes for %u words: expected -ENOBUFS", buf.size() - 1,
               nr);
    int len = format_words(words.get(), nr, buf.data(), buf.size());
    FUZZ_CHECK(len == static_cast<int>(9 * nr - 1), "format_words length: expected %u, actual %d",
               9 * nr - 1, len);
    std::vector<uint32_t> again(nr);
    uint32_t nr2 = 0;
    size_t bad2 = 0;
    rc = parse_words(buf.data(), again.data(), nr, &nr2, &bad2);
    FUZZ_CHECK(rc == 0 && nr2 == nr, "re-parse of \"%s\": rc %d nr %u, expected 0 and %u",
               buf.data(), rc, nr2, nr);
    FUZZ_CHECK(memcmp(again.data(), words.get(), 4 * nr) == 0, "re-parse of \"%s\" differs",
               buf.data());

    // Length skew (featureset.hpp): longer input only when the unknown words are zero.
    bool extra = false;
    for ( uint32_t i = NR_FEATUREWORDS; i < nr; ++i )
        extra |= words[i] != 0;
    Featureset fs;
    rc = featureset_from_words(fs, words.get(), nr);
    FUZZ_CHECK(rc == (extra ? -EOPNOTSUPP : 0), "featureset_from_words: expected %d, actual %d",
               extra ? -EOPNOTSUPP : 0, rc);
    if ( rc == 0 )
    {
        std::vector<uint32_t> back(nr + 2, 0x5a5a5a5a);
        featureset_to_words(fs, back.data(), nr + 2);
        for ( uint32_t i = 0; i < nr + 2; ++i )
        {
            uint32_t want = i < nr ? words[i] : 0;
            FUZZ_CHECK(back[i] == want, "featureset_to_words word %u: expected %08x, actual %08x",
                       i, want, back[i]);
        }
    }
    return 0;
}

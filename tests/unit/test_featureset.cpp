// SPDX-License-Identifier: MIT
// Featuresets (featureset.hpp) and the dependency rules on them (features.hpp): the
// algebra, the length-skew rule at (words, nr) boundaries, the text form, verify and
// sanitise.  Feature numbers are facts from shared/reference/features.tsv.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

// Feature numbers (features.tsv).
constexpr uint32_t FPU = 0, VME = 1, UNNAMED_0_10 = 10, FXSR = 24, SSE = 25, SSE2 = 26, SSE3 = 32,
                   SSSE3 = 41, FMA = 44, CX16 = 45, SSE4_1 = 51, XSAVE = 58, AVX = 60, LM = 93,
                   AVX2 = 165, AVX512F = 176, AVX512BW = 190, AMX_TILE = 312, PB_OPT_CTRL = 544;

Featureset fs_of(std::initializer_list<uint32_t> fl)
{
    Featureset r;
    for ( uint32_t f : fl )
        r.set(Feature{f});
    return r;
}

// --- Algebra -----------------------------------------------------------------------------
void algebra_and_or_and_not_xor()
{
    struct {
        const char *name;
        Featureset a, b, and_, or_, and_not, differ;
    } cases[] = {
        {"disjoint", fs_of({FPU}), fs_of({AVX}), fs_of({}), fs_of({FPU, AVX}), fs_of({FPU}),
         fs_of({FPU, AVX})},
        {"overlap across words", fs_of({FPU, AVX, AVX512F}), fs_of({AVX, AMX_TILE, PB_OPT_CTRL}),
         fs_of({AVX}), fs_of({FPU, AVX, AVX512F, AMX_TILE, PB_OPT_CTRL}), fs_of({FPU, AVX512F}),
         fs_of({FPU, AVX512F, AMX_TILE, PB_OPT_CTRL})},
        {"equal", fs_of({SSE, SSE2}), fs_of({SSE, SSE2}), fs_of({SSE, SSE2}), fs_of({SSE, SSE2}),
         fs_of({}), fs_of({})},
        {"empty with anything", fs_of({}), fs_of({LM, CX16}), fs_of({}), fs_of({LM, CX16}), fs_of({}),
         fs_of({LM, CX16})},
        {"last bit of the last word", fs_of({NR_FEATURE_BITS - 1}), fs_of({0}), fs_of({}),
         fs_of({0, NR_FEATURE_BITS - 1}), fs_of({NR_FEATURE_BITS - 1}), fs_of({0, NR_FEATURE_BITS - 1})},
    };
    for ( const auto &c : cases )
    {
        std::string n = c.name;
        expect_eq(n + ": a & b", c.and_, c.a & c.b);
        expect_eq(n + ": a | b", c.or_, c.a | c.b);
        expect_eq(n + ": a and_not b", c.and_not, c.a.and_not(c.b));
        expect_eq(n + ": a ^ b (features that differ)", c.differ, c.a ^ c.b);
        expect_eq(n + ": b & a == a & b", c.a & c.b, c.b & c.a);
        Featureset x = c.a;
        x &= c.b;
        expect_eq(n + ": &=", c.and_, x);
        x = c.a;
        x |= c.b;
        expect_eq(n + ": |=", c.or_, x);
        expect_eq(n + ": a == b iff nothing differs", (c.a ^ c.b).empty(), c.a == c.b);
        expect_eq(n + ": a subset of a | b", true, c.a.subset_of(c.a | c.b));
        expect_eq(n + ": a & b subset of b", true, (c.a & c.b).subset_of(c.b));
        expect_eq(n + ": a subset of b iff a and_not b empty", c.a.and_not(c.b).empty(),
                  c.a.subset_of(c.b));
    }
}

void subset_equality_count_and_iteration()
{
    Featureset a = fs_of({FPU, SSE, AVX, AVX512F, PB_OPT_CTRL});
    Featureset b = a;
    expect_eq("equal copies", true, a == b);
    expect_eq("subset of itself", true, a.subset_of(b));
    b.clear(Feature{AVX});
    expect_eq("one cleared: not equal", false, a == b);
    expect_eq("smaller is a subset", true, b.subset_of(a));
    expect_eq("larger is not a subset", false, a.subset_of(b));
    expect_eq("the difference is the one feature", fs_of({AVX}), a ^ b);
    expect_eq("count", 5u, a.count());
    expect_eq("empty()", true, Featureset{}.empty());
    expect_eq("not empty()", false, a.empty());
    expect_eq("empty set is subset of anything", true, Featureset{}.subset_of(b));

    std::vector<uint32_t> got;
    for ( uint32_t f : each(a) )
        got.push_back(f);
    std::vector<uint32_t> want{FPU, SSE, AVX, AVX512F, PB_OPT_CTRL};
    expect_eq("each() in increasing order", true, got == want);
    expect_eq("next(0)", FPU, a.next(0));
    expect_eq("next(1)", SSE, a.next(1));
    expect_eq("next(AVX+1)", AVX512F, a.next(AVX + 1));
    expect_eq("next past the last", NR_FEATURE_BITS, a.next(PB_OPT_CTRL + 1));
    expect_eq("next beyond the featureset", NR_FEATURE_BITS, a.next(NR_FEATURE_BITS + 5));

    // Out-of-range features are neither set nor reported (no write past w[18]).
    Featureset c;
    c.set(Feature{NR_FEATURE_BITS});
    c.set(Feature{0xffffffffu});
    expect_eq("set() beyond the featureset is a no-op", true, c.empty());
    expect_eq("test() beyond the featureset", false, a.test(Feature{NR_FEATURE_BITS}));
}

// --- Length skew ---------------------------------------------------------------------------
void from_words_zero_extends_a_short_featureset()
{
    uint32_t words[2] = {0x1, 0x80000000u};  // fpu, hypervisor
    Featureset fs;
    fs.w[5] = 0xdead;  // stale contents must not survive
    expect_eq("rc", 0, featureset_from_words(fs, words, 2));
    expect_eq("value", fs_of({FPU, 63}), fs);
    expect_eq("nr = 0 gives the empty set", 0, featureset_from_words(fs, words, 0));
    expect_eq("empty", Featureset{}, fs);
}

void from_words_accepts_a_long_featureset_only_when_extra_words_are_zero()
{
    std::vector<uint32_t> words(NR_FEATUREWORDS + 3, 0);
    words[0] = 1;
    Featureset fs;
    expect_eq("zero extra words: rc", 0, featureset_from_words(fs, words.data(), uint32_t(words.size())));
    expect_eq("zero extra words: value", fs_of({FPU}), fs);
    for ( size_t extra = NR_FEATUREWORDS; extra < words.size(); ++extra )
    {
        std::vector<uint32_t> w = words;
        w[extra] = 0x100;
        expect_eq("nonzero word " + std::to_string(extra) + ": rc", -err::eopnotsupp,
                  featureset_from_words(fs, w.data(), uint32_t(w.size())));
    }
}

void to_words_truncates_nothing_and_zeroes_beyond()
{
    Featureset fs = fs_of({FPU, AVX512F, PB_OPT_CTRL});
    std::vector<uint32_t> w(NR_FEATUREWORDS + 4, 0xdeadbeefu);
    featureset_to_words(fs, w.data(), NR_FEATUREWORDS + 2);
    expect_eq("word 0", 1u, w[0]);
    expect_eq("word 5 (avx512f = 5:16)", 1u << 16, w[5]);
    expect_eq("word 17 (pb-opt-ctrl = 17:0)", 1u, w[17]);
    expect_eq("word 19 zeroed", 0u, w[19]);
    expect_eq("word 20 zeroed", 0u, w[20]);
    expect_eq("word 21 untouched", 0xdeadbeefu, w[21]);

    std::vector<uint32_t> s(3, 0xdeadbeefu);
    featureset_to_words(fs, s.data(), 2);
    expect_eq("short: word 0", 1u, s[0]);
    expect_eq("short: word 1", 0u, s[1]);
    expect_eq("short: word 2 untouched", 0xdeadbeefu, s[2]);
}

// --- Text form -----------------------------------------------------------------------------
void parse_accepts_colon_and_dash_separators()
{
    struct {
        const char *text;
        std::vector<uint32_t> words;
    } cases[] = {
        {"0", {0}},
        {"f", {0xf}},
        {"deadbeef", {0xdeadbeef}},
        {"DEADBEEF", {0xdeadbeef}},
        {"00000001:80000000", {1, 0x80000000u}},
        {"00000001-80000000", {1, 0x80000000u}},
        {"1:2-3", {1, 2, 3}},
        {"178bfbff:f6d8320b:2fd3fbff:75c237ff:0000000f:219c01a9:0040069c:00006799:91bef75f", {
             0x178bfbff, 0xf6d8320b, 0x2fd3fbff, 0x75c237ff, 0xf, 0x219c01a9, 0x0040069c, 0x6799,
             0x91bef75f}},
    };
    for ( const auto &c : cases )
    {
        uint32_t w[NR_FEATUREWORDS], nr = 99;
        size_t pos = 12345;
        int rc = parse_words(c.text, w, NR_FEATUREWORDS, &nr, &pos);
        expect_eq(std::string(c.text) + ": rc", 0, rc);
        expect_eq(std::string(c.text) + ": nr", uint32_t(c.words.size()), nr);
        if ( rc == 0 && nr == c.words.size() )
            expect_eq(std::string(c.text) + ": words", true,
                      std::memcmp(w, c.words.data(), nr * sizeof(uint32_t)) == 0);
        expect_eq(std::string(c.text) + ": bad_pos untouched on success", size_t(12345), pos);
    }
}

void parse_rejects_malformed_text_at_the_offending_character()
{
    struct {
        const char *text;
        size_t bad_pos;
    } cases[] = {
        {"", 0},          {":1", 0},       {"1:", 2},         {"1::2", 2},   {"1 2", 1},
        {"g", 0},         {"0x1", 1},      {"123456789", 8},  {"1:-2", 2},   {"1;2", 1},
        {" 1", 0},        {"1\n", 1},      {"1:2:", 4},       {"-", 0},      {"ffffffff:1ffffffff", 17},
    };
    for ( const auto &c : cases )
    {
        uint32_t w[NR_FEATUREWORDS], nr = 99;
        size_t pos = 12345;
        std::string what = "\"" + std::string(c.text) + "\"";
        expect_eq(what + ": rc", -err::einval, parse_words(c.text, w, NR_FEATUREWORDS, &nr, &pos));
        expect_eq(what + ": bad_pos", c.bad_pos, pos);
        expect_eq(what + ": nr on failure", 0u, nr);
        expect_eq(what + ": NULL bad_pos is allowed", -err::einval,
                  parse_words(c.text, w, NR_FEATUREWORDS, &nr, nullptr));
    }
}

void parse_refuses_more_words_than_fit()
{
    uint32_t w[3], nr = 99;
    expect_eq("3 words into 3", 0, parse_words("1:2:3", w, 3, &nr, nullptr));
    expect_eq("nr", 3u, nr);
    expect_eq("4 words into 3", -err::e2big, parse_words("1:2:3:4", w, 3, &nr, nullptr));
    expect_eq("nr on failure", 0u, nr);
    expect_eq("1 word into 0", -err::e2big, parse_words("1", w, 0, &nr, nullptr));
}

void format_writes_fixed_width_words_and_needs_9_bytes_each()
{
    uint32_t w[3] = {0x1, 0xdeadbeef, 0x0};
    char buf[64];
    expect_eq("rc = length", 26, format_words(w, 3, buf, sizeof(buf)));
    expect_eq("text", std::string("00000001:deadbeef:00000000"), std::string(buf));
    expect_eq("exactly 27 bytes fit", 26, format_words(w, 3, buf, 27));
    std::memset(buf, 'x', sizeof(buf));
    expect_eq("26 bytes do not", -err::enobufs, format_words(w, 3, buf, 26));
    expect_eq("nothing written on -ENOBUFS", 'x', buf[0]);
    expect_eq("nr 0: empty string", 0, format_words(w, 0, buf, 1));
    expect_eq("nr 0: NUL", '\0', buf[0]);
    expect_eq("nr 0, len 0", -err::enobufs, format_words(w, 0, buf, 0));
}

void format_then_parse_round_trips()
{
    uint32_t seed = 0x2468ace1u;
    for ( int round = 0; round < 500; ++round )
    {
        uint32_t w[NR_FEATUREWORDS], back[NR_FEATUREWORDS], nr = 0;
        for ( auto &x : w )
        {
            seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
            x = round % 3 ? seed : seed & 0xf;
        }
        char buf[NR_FEATUREWORDS * 9];
        uint32_t n = 1 + uint32_t(round) % NR_FEATUREWORDS;
        if ( !expect_eq("format rc", int(9 * n - 1), format_words(w, n, buf, sizeof(buf))) )
            return;
        if ( round & 1 )  // and with '-' separators
            for ( char &ch : buf )
                if ( ch == ':' )
                    ch = '-';
        if ( !expect_eq(std::string(buf) + ": parse", 0, parse_words(buf, back, NR_FEATUREWORDS, &nr, nullptr)) ||
             !expect_eq(std::string(buf) + ": nr", n, nr) ||
             !expect_eq(std::string(buf) + ": words", true, std::memcmp(w, back, n * 4) == 0) )
            return;
    }
}

// --- verify / sanitise ---------------------------------------------------------------------
const Featureset &xsave_closure()
{
    return *features::deep_deps(Feature{XSAVE});
}

void xsave_closure_has_47_features_from_avx_to_amx()
{
    expect_eq("count", 47u, xsave_closure().count());
    for ( const char *n : {"avx", "fma", "f16c", "xsaveopt", "xsavec", "xsaves", "avx2", "mpx",
                           "pku", "avx512f", "avx512bw", "avx512vl", "amx-tile", "amx-int8",
                           "amx-complex", "lwp", "fma4", "xop", "vaes", "avx-vnni"} )
        expect(std::string("closure(xsave) holds ") + n, xsave_closure().test(Feature{feature_number(n)}));
    for ( const char *n : {"xsave", "sse", "sse4-2", "aesni", "pclmulqdq", "fpu", "osxsave"} )
        expect(std::string("closure(xsave) lacks ") + n, !xsave_closure().test(Feature{feature_number(n)}));
}

void verify_accepts_known_and_empty_and_names_lowest_offender()
{
    uint32_t bad = 12345;
    expect_eq("known verifies", 0, featureset_check_deps(features::known, &bad));
    expect_eq("empty verifies", 0, featureset_check_deps(Featureset{}, &bad));
    expect_eq("bad untouched on success", 12345u, bad);

    struct {
        const char *name;
        Featureset fs;
        uint32_t bad, missing;
    } cases[] = {
        {"avx without xsave", fs_of({AVX}), AVX, XSAVE},
        {"avx512f without avx2 (deps.tsv: avx2 -> avx512f)", fs_of({XSAVE, AVX, AVX512F}), AVX512F, AVX2},
        {"lowest wins", fs_of({AVX512F, AVX}), AVX, XSAVE},
        {"sse2 without sse", fs_of({FPU, FXSR, SSE2}), SSE2, SSE},
        {"cx16 (word 1) without lm (word 2)", fs_of({CX16}), CX16, LM},
        {"known minus xsave", features::known.and_not(fs_of({XSAVE})), AVX, XSAVE},
        {"arch-caps word without arch-caps", fs_of({PB_OPT_CTRL}), PB_OPT_CTRL, feature_number("arch-caps")},
    };
    for ( const auto &c : cases )
    {
        bad = 12345;
        expect_eq(std::string(c.name) + ": rc", -err::einval, featureset_check_deps(c.fs, &bad));
        expect_eq(std::string(c.name) + ": bad feature", c.bad, bad);
        expect_eq(std::string(c.name) + ": missing prerequisite", c.missing,
                  featureset_missing_prereq(c.fs, c.bad));
        expect_eq(std::string(c.name) + ": NULL bad_feature allowed", -err::einval,
                  featureset_check_deps(c.fs, nullptr));
    }
    expect_eq("missing_prereq when nothing is missing", NR_FEATURE_BITS,
              featureset_missing_prereq(fs_of({XSAVE, AVX}), AVX));
    // Unknown bits carry no prerequisites: verify does not judge them.
    expect_eq("unknown bit passes verify", 0, featureset_check_deps(fs_of({UNNAMED_0_10}), nullptr));
}

// The fits-max hypercall (featureset_fits_max)'s rule (featureset_fits_max): the lowest feature of
// fs that the offered set lacks, or whose prerequisite fs lacks (avx needs xsave,
// deps.tsv); 0 and *bad untouched when there is none.
void check_offer_names_the_lowest_feature_not_offered_or_missing_a_prerequisite()
{
    const Featureset offered = fs_of({FPU, SSE, SSE2, XSAVE, AVX, AVX2});
    struct {
        const char *name;
        Featureset fs;
        int rc;
        uint32_t bad;
    } cases[] = {
        {"empty", fs_of({}), 0, ~0u},
        {"offered, prerequisites present", fs_of({FPU, XSAVE, AVX, AVX2}), 0, ~0u},
        {"not offered", fs_of({FPU, XSAVE, AVX512F}), -err::einval, AVX512F},
        {"prerequisite absent", fs_of({AVX, AVX2}), -err::einval, AVX},
        {"the lower of the two offenders", fs_of({AVX, AVX512F}), -err::einval, AVX},
        {"not offered, below a prerequisite offender", fs_of({VME, AVX}), -err::einval, VME},
    };
    for ( const auto &c : cases )
    {
        uint32_t bad = ~0u;
        expect_eq(std::string(c.name) + ": rc", c.rc, featureset_fits_max(c.fs, offered, &bad));
        expect_eq(std::string(c.name) + ": bad feature", c.bad, bad);
        expect_eq(std::string(c.name) + ": rc without bad_feature", c.rc,
                  featureset_fits_max(c.fs, offered, nullptr));
    }
}

void sanitise_clears_exactly_the_closure_of_an_absent_prerequisite()
{
    Featureset fs = features::known.and_not(fs_of({XSAVE}));
    featureset_sanitise(fs);
    expect_eq("known - xsave, sanitised", features::known.and_not(fs_of({XSAVE})).and_not(xsave_closure()), fs);
    expect_eq("count", 287u - 1 - 47, fs.count());
    expect_eq("features that differ from known", 48u, (fs ^ features::known).count());
    expect_eq("verifies", 0, featureset_check_deps(fs, nullptr));

    // Transitive: avx512bw goes when avx goes, through avx2 and avx512f.
    Featureset g = fs_of({FPU, FXSR, SSE, SSE2, XSAVE, AVX2, AVX512F, AVX512BW, FMA});
    featureset_sanitise(g);
    expect_eq("avx absent clears avx2, avx512f, avx512bw, fma", fs_of({FPU, FXSR, SSE, SSE2, XSAVE}), g);

    // Clear unknown bits, keep complete chains.
    Featureset h = fs_of({FPU, VME, UNNAMED_0_10, NR_FEATURE_BITS - 1});
    featureset_sanitise(h);
    expect_eq("unknown bits cleared", fs_of({FPU, VME}), h);

    Featureset known = features::known;
    featureset_sanitise(known);
    expect_eq("known is a fixed point", features::known, known);
}

void sanitise_of_a_short_featureset_drops_dependents_of_missing_words()
{
    // words 0-1 only: cx16 (word 1) depends on lm (word 2), which a zero-extended
    // two-word featureset does not have; sse4-1 keeps its sse..ssse3 chain.
    Featureset all_words = features::known;
    Featureset fs;
    expect_eq("from_words", 0, featureset_from_words(fs, all_words.w, 2));
    featureset_sanitise(fs);
    expect_eq("cx16 dropped", false, fs.test(Feature{CX16}));
    expect_eq("sse4-1 kept", true, fs.test(Feature{SSE4_1}));
    expect_eq("ssse3 kept", true, fs.test(Feature{SSSE3}));
    expect_eq("sse3 kept", true, fs.test(Feature{SSE3}));
}

// Deterministic pseudo-random featuresets (xorshift32): a failure reproduces.
struct Rng {
    uint32_t s;
    uint32_t next() { s ^= s << 13; s ^= s >> 17; s ^= s << 5; return s; }
    Featureset featureset(unsigned density)  // density: 0 sparse .. 3 dense
    {
        Featureset fs;
        for ( auto &w : fs.w )
        {
            w = next();
            for ( unsigned i = 0; i < density; ++i )
                w |= next();
        }
        return fs;
    }
};

void sanitise_properties_hold_on_random_featuresets()
{
    Rng rng{0x9e3779b9u};
    for ( int round = 0; round < 3000; ++round )
    {
        Featureset x = rng.featureset(unsigned(round % 4));
        Featureset s = x;
        featureset_sanitise(s);
        std::string r = "round " + std::to_string(round);
        uint32_t bad = 0;
        if ( !expect_eq(r + ": sanitised verifies", 0, featureset_check_deps(s, &bad)) )
            std::printf("    offender %u (%s)\n", bad, features::name(Feature{bad}));
        if ( !expect_eq(r + ": sanitised is a subset of input & known", true,
                        s.subset_of(x & features::known)) )
            return;
        Featureset again = s;
        featureset_sanitise(again);
        if ( !expect_eq(r + ": idempotent", s, again) )
            return;
        // Maximal: every known feature sanitise dropped would fail verify if put back,
        // i.e. nothing was cleared that did not have to be.
        // (A named set: each() holds a pointer, so it must not be given a temporary.)
        const Featureset dropped = (x & features::known).and_not(s);
        for ( uint32_t f : each(dropped) )
        {
            Featureset back = s;
            back.set(Feature{f});
            if ( !expect_eq(r + ": dropping " + features::name(Feature{f}) + " was necessary",
                            -err::einval, featureset_check_deps(back, nullptr)) )
                return;
        }
        // Monotone: a subset sanitises to a subset.
        Featureset y = x & rng.featureset(1);
        featureset_sanitise(y);
        if ( !expect_eq(r + ": monotone", true, y.subset_of(s)) )
            return;
    }
}

// The compile-time proofs in features.hpp, restated as runtime facts so a weakened
// static_assert would still be caught here.
void derived_masks_verify_where_xen_would_offer_them()
{
    struct {
        const char *name;
        const Featureset &m;
    } hvm[] = {
        {"hvm_shadow_def", features::hvm_shadow_def}, {"hvm_shadow_max", features::hvm_shadow_max},
        {"hvm_hap_def", features::hvm_hap_def},       {"hvm_hap_max", features::hvm_hap_max},
    };
    for ( const auto &c : hvm )
    {
        uint32_t bad = ~0u;
        if ( !expect_eq(std::string(c.name) + " verifies", 0, featureset_check_deps(c.m, &bad)) )
            std::printf("    offender %u (%s)\n", bad, features::name(Feature{bad}));
    }
    // The PV masks offer epsf ('A') without its prerequisite psfd ('S': HVM only), as
    // the reference table says; a PV guest's policy is sanitised on the way.  Pin it so
    // a change to the table is noticed.
    uint32_t bad = ~0u;
    expect_eq("pv_def fails verify", -err::einval, featureset_check_deps(features::pv_def, &bad));
    expect_eq("pv_def offender", feature_number("epsf"), bad);
}

} // namespace

int main()
{
    TEST(algebra_and_or_and_not_xor);
    TEST(subset_equality_count_and_iteration);
    TEST(from_words_zero_extends_a_short_featureset);
    TEST(from_words_accepts_a_long_featureset_only_when_extra_words_are_zero);
    TEST(to_words_truncates_nothing_and_zeroes_beyond);
    TEST(parse_accepts_colon_and_dash_separators);
    TEST(parse_rejects_malformed_text_at_the_offending_character);
    TEST(parse_refuses_more_words_than_fit);
    TEST(format_writes_fixed_width_words_and_needs_9_bytes_each);
    TEST(format_then_parse_round_trips);
    TEST(xsave_closure_has_47_features_from_avx_to_amx);
    TEST(verify_accepts_known_and_empty_and_names_lowest_offender);
    TEST(check_offer_names_the_lowest_feature_not_offered_or_missing_a_prerequisite);
    TEST(sanitise_clears_exactly_the_closure_of_an_absent_prerequisite);
    TEST(sanitise_of_a_short_featureset_drops_dependents_of_missing_words);
    TEST(sanitise_properties_hold_on_random_featuresets);
    TEST(derived_masks_verify_where_xen_would_offer_them);
    return finish();
}

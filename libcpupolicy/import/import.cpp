// Importer of raw CPUID (+MSR) dumps.  Interface in import.hpp; the formats and the
// subleaf rules, with the manual sections behind them, in docs/import.md.
//
// Two passes: the first reads lines into raw CPU blocks (records exactly as written,
// with their line numbers); the second gives every untagged line its subleaf, checks
// for conflicting duplicates and sorts.  The whole text is validated before anything
// is written to the caller's CpuDump.
#include "import.hpp"
#include "cpupolicy/subleaves.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <span>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpupolicy/policy.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPUPOLICY_IMPORT_HAVE_CPUID 1
#else
#define CPUPOLICY_IMPORT_HAVE_CPUID 0
#endif

namespace cpupolicy::import {
namespace {

// ---------------------------------------------------------------------------------
// Subleaf rules: how each subleaf-indexed leaf enumerates its subleaves.  The core's one
// table (cpupolicy/subleaves.hpp, subleaf_rules) drives both walking this machine's
// CPUID (import_native) and recovering the subleaf of dump lines that do not carry one;
// the policy layout and its out-of-range rules read the same table.

enum Reg : uint8_t { EAX, EBX, ECX, EDX };
static_assert(static_cast<unsigned>(cpupolicy::Reg::eax) == EAX &&
              static_cast<unsigned>(cpupolicy::Reg::edx) == EDX);

using Walk = SubleafEnum;
using LeafRule = SubleafRule;
const LeafRule *find_rule(uint32_t leaf) { return subleaf_rule(Leaf{leaf}); }

// Bounds on walks over live CPUID, so a misbehaving CPU or hypervisor cannot make
// the enumeration unbounded.  No architectural leaf comes close to either.
constexpr uint32_t MAX_SUBLEAF = 63;
constexpr uint32_t MAX_BASIC_LEAF = 0xff;
constexpr uint32_t MAX_EXTENDED_LEAF = 0x800000ff;

// XSAVE layout facts used to tell subleaf 1 of leaf 0xD from a component subleaf
// (SDM Vol. 1, 13.4: a 512-byte legacy region and a 64-byte header precede every
// extended component in the standard format).
constexpr uint32_t XSAVE_FIRST_EXTENDED_OFFSET = 512 + 64;

// ---------------------------------------------------------------------------------
// Small text helpers.

[[gnu::format(printf, 1, 2)]] std::string strf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return {};
    return std::string(buf, std::min(static_cast<size_t>(n), sizeof(buf) - 1));
}

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

constexpr bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr uint32_t hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return static_cast<uint32_t>(c - '0');
    if (c >= 'a' && c <= 'f')
        return static_cast<uint32_t>(c - 'a' + 10);
    return static_cast<uint32_t>(c - 'A' + 10);
}

std::string_view trim_left(std::string_view s)
{
    size_t i = 0;
    while (i < s.size() && is_blank(s[i]))
        ++i;
    return s.substr(i);
}

std::string_view trim(std::string_view s)
{
    s = trim_left(s);
    while (!s.empty() && is_blank(s.back()))
        s.remove_suffix(1);
    return s;
}

// The word at the start of s (up to a blank), shortened for use in a message.
std::string quote_word(std::string_view s)
{
    std::string_view w = s.substr(0, std::min(s.find_first_of(" \t"), size_t{24}));
    return std::string(w);
}

// Consume `kw` and the blanks after it; false (s untouched) unless s starts with the
// keyword followed by at least one blank, so "CPUID" does not match "CPUIDs".
bool take_keyword(std::string_view &s, std::string_view kw)
{
    if (s.size() <= kw.size() || s.substr(0, kw.size()) != kw || !is_blank(s[kw.size()]))
        return false;
    s = trim_left(s.substr(kw.size()));
    return true;
}

struct HexRun {
    size_t digits;
    uint64_t value; // of the first 16 digits; callers reject longer runs
};

HexRun take_hex(std::string_view &s)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < s.size() && is_hex(s[i])) {
        if (i < 16)
            v = (v << 4) | hex_value(s[i]);
        ++i;
    }
    s.remove_prefix(i);
    return {i, v};
}

// Decimal number at the start of s, saturating; false if s has no digit there.
bool take_decimal(std::string_view &s, long &out)
{
    size_t i = 0;
    long v = 0;
    while (i < s.size() && is_digit(s[i])) {
        if (v < 1000000000L)
            v = v * 10 + (s[i] - '0');
        ++i;
    }
    if (i == 0)
        return false;
    s.remove_prefix(i);
    out = v;
    return true;
}

// ---------------------------------------------------------------------------------
// Pass 1: lines into raw CPU blocks.

struct RawLeaf {
    uint32_t leaf;
    uint32_t subleaf; // valid when tagged
    bool tagged;      // the line gave its subleaf ([SL nn] or cpuid -r's column)
    uint32_t r[4];
    unsigned line;
};

struct RawMsr {
    uint32_t index;
    uint64_t value;
    unsigned line;
};

constexpr long NO_LABEL = -1;

struct RawBlock {
    long label = NO_LABEL; // N from the block's header, if it had one
    bool has_leaf0 = false;
    std::vector<RawLeaf> leaves;
    std::vector<RawMsr> msrs;
};

// "------[ MSR Registers / Logical CPU #N ]------" or "------[ MSR Registers ]------":
// MSRs that belong to a CPU block given by number, not by position.
struct MsrSection {
    long label;
    unsigned line;
    std::vector<RawMsr> msrs;
};

struct Fail {
    unsigned line = 0;
    std::string what;
};

enum class Parse { NotRecord, Ok, Skip, Bad };

// The 8-hex-digit index after "CPUID " or "MSR ", and the ':' and/or blanks after it.
// AIDA64's CPU Info section also has lines such as "CPUID Manufacturer: GenuineIntel"
// and "CPUID Revision     : 000306F2h", so a word that is not hex only makes the line
// a (malformed) record when register values follow it.
Parse take_index(std::string_view &s, const char *kind, uint32_t &index, std::string &why)
{
    std::string_view word = s.substr(0, s.find_first_of(" \t:"));
    bool all_hex = !word.empty() && std::all_of(word.begin(), word.end(), is_hex);
    if (!all_hex) {
        std::string_view next = s.substr(word.size());
        if (!next.empty() && next[0] == ':')
            next.remove_prefix(1);
        next = trim_left(next);
        std::string_view tok = next.substr(0, next.find_first_of(" \t"));
        if (tok.empty() || !is_hex(tok[0]) || tok.find('-') == std::string_view::npos)
            return Parse::NotRecord;
        why = strf("%s number '%s' is not hexadecimal", kind, quote_word(word).c_str());
        return Parse::Bad;
    }
    if (word.size() != 8) {
        why = strf("%s number '%s' has %zu hex digits, expected 8", kind,
                   quote_word(word).c_str(), word.size());
        return Parse::Bad;
    }
    index = static_cast<uint32_t>(take_hex(s).value);
    // "00000007: ", "0000000D  <TAB>", and in the oldest InstLatx64 dumps "00000000 :"
    // and "00000000 : " (K14 Bobcat, C5 Ezra / Nehemiah).
    s = trim_left(s);
    if (!s.empty() && s[0] == ':')
        s.remove_prefix(1);
    s = trim_left(s);
    return Parse::Ok;
}

// "EAX-EBX-ECX-EDX", or "EAX EBX ECX EDX" (blank-separated, in the oldest InstLatx64
// dumps: K8 Palermo, C5 Ezra / Nehemiah): exactly four groups of exactly eight hex
// digits, one separator throughout.  After the fourth group of a blank-separated line,
// another 8-digit hex word is a fifth register (refused), anything else an annotation.
Parse take_registers(std::string_view &s, uint32_t r[4], std::string &why)
{
    auto is_register = [](std::string_view t) {
        HexRun h = take_hex(t);
        return h.digits == 8 && (t.empty() || is_blank(t[0]));
    };
    unsigned n = 0;
    char sep = 0; // '-' or ' ', fixed by the first separator
    for (;;) {
        std::string_view group = s;
        HexRun h = take_hex(s);
        if (!s.empty() && s[0] != '-' && !is_blank(s[0])) {
            why = strf("register %u: bad hex digit '%c' in '%s'", n + 1, s[0],
                       quote_word(group).c_str());
            return Parse::Bad;
        }
        if (h.digits != 8) {
            why = strf("register %u: '%s' has %zu hex digits, expected 8", n + 1,
                       std::string(group.substr(0, std::min(h.digits, size_t{24}))).c_str(),
                       h.digits);
            return Parse::Bad;
        }
        if (n < 4)
            r[n] = static_cast<uint32_t>(h.value);
        ++n;
        if (!s.empty() && s[0] == '-' && sep != ' ') {
            sep = '-';
            s.remove_prefix(1);
            continue;
        }
        if (sep != '-' && !s.empty() && is_blank(s[0]) && is_register(trim_left(s)) &&
            (n < 4 || sep == ' ')) {
            sep = ' ';
            s = trim_left(s);
            continue;
        }
        break;
    }
    if (n != 4) {
        why = sep == ' ' ? strf("expected 4 registers EAX EBX ECX EDX, found %u", n)
                         : strf("expected 4 registers EAX-EBX-ECX-EDX, found %u", n);
        return Parse::Bad;
    }
    return Parse::Ok;
}

// "[SL nn]" (nn in hex) anywhere among the annotations after the registers.
Parse take_subleaf_tag(std::string_view s, RawLeaf &out, std::string &why)
{
    size_t p = s.find("[SL ");
    if (p == std::string_view::npos) {
        out.tagged = false;
        out.subleaf = 0;
        return Parse::Ok;
    }
    s = trim_left(s.substr(p + 4));
    HexRun h = take_hex(s);
    s = trim_left(s);
    if (h.digits == 0 || h.digits > 8 || s.empty() || s[0] != ']') {
        why = "malformed subleaf tag: expected [SL nn] with nn in hex";
        return Parse::Bad;
    }
    out.tagged = true;
    out.subleaf = static_cast<uint32_t>(h.value);
    return Parse::Ok;
}

// AIDA64 / InstLatx64:  "CPUID 00000007: 00000000-D39FFFFB-00000008-00000000 [SL 00]"
//                  and  "CPUID 0000000D  \t00000007-00000340-00000340-00000000".
// `s` is what follows the keyword.
Parse parse_aida_cpuid(std::string_view s, RawLeaf &out, std::string &why)
{
    Parse p = take_index(s, "leaf", out.leaf, why);
    if (p != Parse::Ok)
        return p;
    if ((p = take_registers(s, out.r, why)) != Parse::Ok)
        return p;
    return take_subleaf_tag(s, out, why);
}

// "MSR 000000CE: 2612-0C00-0000-0311 [annotations]": the 64-bit value as hex groups
// separated by '-', sixteen digits in all, most significant first.  AIDA64 writes
// "< FAILED >" for an MSR it could not read; such a line carries no value.
Parse parse_aida_msr(std::string_view s, RawMsr &out, std::string &why)
{
    Parse p = take_index(s, "MSR", out.index, why);
    if (p != Parse::Ok)
        return p;
    if (!s.empty() && s[0] == '<')
        return Parse::Skip;
    uint64_t value = 0;
    size_t total = 0;
    for (;;) {
        std::string_view group = s;
        HexRun h = take_hex(s);
        if ((!s.empty() && s[0] != '-' && !is_blank(s[0])) || h.digits == 0) {
            why = strf("MSR value: bad hex in '%s'", quote_word(group).c_str());
            return Parse::Bad;
        }
        total += h.digits;
        if (total > 16)
            break;
        value = h.digits == 16 ? h.value : (value << (4 * h.digits)) | h.value;
        if (s.empty() || s[0] != '-')
            break;
        s.remove_prefix(1);
    }
    if (total != 16) {
        why = strf("MSR value has %zu hex digits, expected 16 (e.g. 2612-0C00-0000-0311)", total);
        return Parse::Bad;
    }
    out.value = value;
    return Parse::Ok;
}

// Debian's `cpuid -r`:
//   "   0x00000007 0x00: eax=0x00000000 ebx=0xd39ffffb ecx=0x00000008 edx=0x00000000"
// `s` starts at "0x".  The subleaf column is always present.
Parse parse_cpuid_r(std::string_view s, RawLeaf &out, std::string &why)
{
    auto take_0x = [](std::string_view &t, size_t min_digits, size_t max_digits,
                      uint32_t &v) {
        if (t.size() < 2 || t[0] != '0' || (t[1] != 'x' && t[1] != 'X'))
            return false;
        t.remove_prefix(2);
        HexRun h = take_hex(t);
        v = static_cast<uint32_t>(h.value);
        return h.digits >= min_digits && h.digits <= max_digits;
    };

    if (!take_0x(s, 8, 8, out.leaf) || s.empty() || !is_blank(s[0])) {
        why = "cpuid -r line: leaf must be 0x and 8 hex digits";
        return Parse::Bad;
    }
    s = trim_left(s);
    if (!take_0x(s, 1, 8, out.subleaf) || s.empty() || s[0] != ':') {
        why = "cpuid -r line: expected subleaf as 0xNN: after the leaf";
        return Parse::Bad;
    }
    s.remove_prefix(1);
    static constexpr const char *names[4] = {"eax=", "ebx=", "ecx=", "edx="};
    for (unsigned i = 0; i < 4; ++i) {
        s = trim_left(s);
        if (s.substr(0, 4) != names[i]) {
            why = strf("cpuid -r line: expected %s0x........ as register %u", names[i], i + 1);
            return Parse::Bad;
        }
        s.remove_prefix(4);
        if (!take_0x(s, 8, 8, out.r[i]) || (!s.empty() && !is_blank(s[0]))) {
            why = strf("cpuid -r line: %s must be 0x and 8 hex digits", names[i]);
            return Parse::Bad;
        }
    }
    if (!trim(s).empty()) {
        why = strf("cpuid -r line: unexpected '%s' after edx", quote_word(trim(s)).c_str());
        return Parse::Bad;
    }
    out.tagged = true;
    return Parse::Ok;
}

enum class Header { None, Cpu, Msr, Other };

// "Logical CPU #N" anywhere in a section title.
long label_in_title(std::string_view title)
{
    size_t p = title.find("Logical CPU #");
    long n = NO_LABEL;
    if (p != std::string_view::npos) {
        std::string_view rest = title.substr(p + 13);
        if (!take_decimal(rest, n))
            n = NO_LABEL;
    }
    return n;
}

// Block and section headers of every known dump format.
Header classify_header(std::string_view line, long &label)
{
    label = NO_LABEL;
    // AIDA64: "------[ Title ]------".  A rule of dashes without a title is not a
    // header: treating it as one would silently drop the records after it.
    if (line.substr(0, 3) == "---") {
        size_t open = line.find('['), close = line.rfind(']');
        if (open == std::string_view::npos || close == std::string_view::npos || close < open)
            return Header::None;
        std::string_view title = trim(line.substr(open + 1, close - open - 1));
        label = label_in_title(title);
        if (title.substr(0, 13) == "MSR Registers")
            return Header::Msr;
        if (label != NO_LABEL || title.find("CPUID") != std::string_view::npos)
            return Header::Cpu;
        return Header::Other;
    }
    // InstLatx64's own tool: "CPU#000 AffMask: 0x0000000000000001".
    if (line.substr(0, 4) == "CPU#") {
        std::string_view rest = line.substr(4);
        return take_decimal(rest, label) ? Header::Cpu : Header::None;
    }
    // cpuid -r: "CPU 0:", or "CPU:" with -1.  Nothing may follow, which keeps out
    // AIDA64's "CPU   0: APICID ..." and "CPU Clock ...: 2399 MHz" lines.
    std::string_view t = trim(line);
    if (t == "CPU:")
        return Header::Cpu;
    if (t.size() > 5 && t.substr(0, 4) == "CPU " && t.back() == ':') {
        std::string_view num = trim(t.substr(4, t.size() - 5));
        long n;
        if (take_decimal(num, n) && num.empty()) {
            label = n;
            return Header::Cpu;
        }
    }
    return Header::None;
}

struct RawFile {
    std::vector<RawBlock> blocks;
    std::vector<MsrSection> msr_sections;
};

bool read_blocks(std::string_view text, RawFile &file, Fail &fail)
{
    enum class State { Preamble, Cpu, Msr, Other } state = State::Preamble;

    auto current_block = [&]() -> RawBlock & {
        if (file.blocks.empty())
            file.blocks.emplace_back();
        return file.blocks.back();
    };

    if (text.substr(0, 3) == "\xEF\xBB\xBF") // UTF-8 byte order mark
        text.remove_prefix(3);

    unsigned lineno = 0;
    while (!text.empty()) {
        size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        ++lineno;
        if (!line.empty() && line.back() == '\r') // Windows line endings
            line.remove_suffix(1);

        long label;
        switch (classify_header(line, label)) {
        case Header::Cpu:
            file.blocks.emplace_back();
            file.blocks.back().label = label;
            state = State::Cpu;
            continue;
        case Header::Msr:
            file.msr_sections.push_back({label, lineno, {}});
            state = State::Msr;
            continue;
        case Header::Other:
            state = State::Other;
            continue;
        case Header::None:
            break;
        }
        if (state == State::Other)
            continue;

        std::string_view t = trim_left(line);
        std::string why;
        const bool cpuid_r = t.substr(0, 2) == "0x";
        if (cpuid_r || take_keyword(t, "CPUID")) {
            RawLeaf leaf{};
            leaf.line = lineno;
            Parse p = cpuid_r ? parse_cpuid_r(t, leaf, why) : parse_aida_cpuid(t, leaf, why);
            if (p == Parse::NotRecord)
                continue;
            if (p == Parse::Bad) {
                fail = {lineno, why};
                return false;
            }
            if (state == State::Msr) {
                fail = {lineno, "CPUID record inside an MSR section"};
                return false;
            }
            // Dumps without block headers are one CPU after another, each starting at
            // leaf 0; a second leaf 0 therefore starts the next CPU.
            if (leaf.leaf == 0 && current_block().has_leaf0)
                file.blocks.emplace_back();
            RawBlock &b = current_block();
            b.has_leaf0 |= leaf.leaf == 0;
            b.leaves.push_back(leaf);
        } else if (take_keyword(t, "MSR")) {
            RawMsr msr{};
            msr.line = lineno;
            Parse p = parse_aida_msr(t, msr, why);
            if (p == Parse::NotRecord || p == Parse::Skip)
                continue;
            if (p == Parse::Bad) {
                fail = {lineno, why};
                return false;
            }
            if (state == State::Msr)
                file.msr_sections.back().msrs.push_back(msr);
            else
                current_block().msrs.push_back(msr);
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------
// Pass 2: subleaves for untagged lines (see docs/import.md, "Subleaf inference").

using Run = std::span<const RawLeaf>;

void number_sequentially(Run run, std::vector<uint32_t> &subs)
{
    subs.clear();
    for (size_t i = 0; i < run.size(); ++i)
        subs.push_back(static_cast<uint32_t>(i));
}

// Leaves 0xB, 0x1F, 0x80000026: ECX[7:0] returns the ECX input (SDM Table 3-8, "Level
// number.  Same value in ECX input"; APM Fn8000_0026_ECX[7:0]).
bool infer_from_echo(Run run, std::vector<uint32_t> &subs)
{
    subs.clear();
    for (const RawLeaf &l : run) {
        uint32_t s = l.r[ECX] & 0xff;
        if (std::find(subs.begin(), subs.end(), s) != subs.end())
            return false;
        subs.push_back(s);
    }
    return true;
}

// Leaves 0xF, 0x10, 0x23, 0x80000020: subleaf 0 lists the valid subleaves as a bit
// vector.  Only an exact match of line count and bit count is unambiguous; a dump
// that lists fewer (or more) lines than bits leaves us unable to tell which are which.
bool infer_from_bitmap(Run run, const LeafRule &rule, std::vector<uint32_t> &subs)
{
    uint32_t bits = run[0].r[static_cast<unsigned>(rule.bitmap_reg)] & rule.bitmap_mask;
    subs.assign(1, 0);
    for (uint32_t n = 1; n < 32; ++n)
        if (bits & (1u << n))
            subs.push_back(n);
    return subs.size() == run.size();
}

// A line that can be CPUID.(EAX=0DH,ECX=1): EAX holds feature flags in its low bits
// (XSAVEOPT, XSAVEC, XGETBV1, XSAVES, XFD; SDM Table 3-8), ECX:EDX the IA32_XSS
// components, which never overlap the XCR0 components of subleaf 0 (a component is
// either user or supervisor, SDM Vol. 1, 13.1-13.3), and EBX is 0 or a size that
// includes the legacy region and header.
bool can_be_xsave_subleaf1(const uint32_t r[4], uint64_t xcr0)
{
    uint64_t xss = (static_cast<uint64_t>(r[EDX]) << 32) | r[ECX];
    return r[EAX] < 0x100 && (xss & xcr0) == 0 &&
           (r[EBX] == 0 || r[EBX] >= XSAVE_FIRST_EXTENDED_OFFSET);
}

// A line that can be CPUID.(EAX=0DH,ECX=n) for a supported component n >= 2 (SDM
// Table 3-8): EAX = size (non-zero), EBX = offset for an XCR0 (user) component and 0
// for an IA32_XSS (supervisor) one, ECX bit 0 = supervisor, ECX bits 1-2 are flags
// and the rest reserved, EDX reserved.  A user component lies after the legacy
// region and header and inside the maximum size subleaf 0 reports in ECX.
bool can_be_xsave_component(const uint32_t r[4], bool supervisor, uint32_t max_size)
{
    if (r[EDX] != 0 || (r[ECX] >> 8) != 0 || r[EAX] == 0 || bool(r[ECX] & 1) != supervisor)
        return false;
    if (supervisor)
        return r[EBX] == 0;
    return r[EBX] >= XSAVE_FIRST_EXTENDED_OFFSET &&
           static_cast<uint64_t>(r[EBX]) + r[EAX] <= max_size;
}

// Leaf 0xD.  Dump tools list subleaf 0, usually subleaf 1, then only the components
// the CPU supports (a bit set in subleaf 0 EDX:EAX or subleaf 1 EDX:ECX), in
// increasing order; some older ones leave out subleaf 1 or stop early.  So: the
// first line is subleaf 0, the next is subleaf 1 if it can be, and every further
// line is the next supported component it is consistent with.
bool infer_xsave(Run run, std::vector<uint32_t> &subs)
{
    const uint32_t *s0 = run[0].r;
    const uint64_t xcr0 = (static_cast<uint64_t>(s0[EDX]) << 32) | s0[EAX];
    uint64_t xss = 0;
    uint32_t next = 1;

    subs.assign(1, 0);
    for (size_t i = 1; i < run.size(); ++i) {
        const uint32_t *r = run[i].r;
        if (next == 1 && can_be_xsave_subleaf1(r, xcr0)) {
            xss = (static_cast<uint64_t>(r[EDX]) << 32) | r[ECX];
            subs.push_back(1);
            next = 2;
            continue;
        }
        uint32_t n = std::max(next, 2u);
        for (; n < 64; ++n) {
            const uint64_t bit = uint64_t{1} << n;
            if (((xcr0 & bit) && can_be_xsave_component(r, false, s0[ECX])) ||
                ((xss & bit) && can_be_xsave_component(r, true, s0[ECX])))
                break;
        }
        if (n == 64)
            return false;
        subs.push_back(n);
        next = n + 1;
    }
    return true;
}

// Subleaves for a run of consecutive untagged lines of one leaf.
void infer_subleaves(Run run, std::vector<uint32_t> &subs)
{
    const LeafRule *rule = find_rule(run[0].leaf);
    bool ok = false;
    if (rule) {
        switch (rule->walk) {
        case Walk::until_level_null:
            ok = infer_from_echo(run, subs);
            break;
        case Walk::resid_bitmap:
            ok = infer_from_bitmap(run, *rule, subs);
            break;
        case Walk::xsave:
            ok = infer_xsave(run, subs);
            break;
        case Walk::max_in_eax:       // subleaves are 0..N with none skipped,
        case Walk::until_cache_null: // so the n-th line is subleaf n
        case Walk::sgx:
        case Walk::pconfig:
            break;
        }
    }
    // Contiguous walks, leaves not known to be subleaf-indexed (a run of them means
    // the dump tool issued several subleaves), and anything the rules above cannot
    // map unambiguously: the n-th line is subleaf n.
    if (!ok)
        number_sequentially(run, subs);
}

// A leaf the policy holds as one slot (no subleaves) and that no rule above
// enumerates: CPUID ignores ECX for it (SDM Vol. 2A, CPUID: ECX is an input only for
// the leaves that document sub-leaves), so every line of it in a block is the same
// instruction's answer.  Leaves beyond the ranges a policy holds keep the position
// rule, so that a future subleaf-indexed leaf still imports.
bool ignores_subleaf(uint32_t leaf)
{
    return !find_rule(leaf) && leaf_kind(Leaf{leaf}) == LeafKind::plain;
}

// ---------------------------------------------------------------------------------
// Corrections: what a 64-bit hypervisor would read where a dump tool read otherwise.

CpuidRecord *find_record(CpuDump &d, uint32_t leaf, uint32_t subleaf)
{
    auto it = std::lower_bound(d.leaves.begin(), d.leaves.end(), std::pair{leaf, subleaf},
                               [](const CpuidRecord &r, const std::pair<uint32_t, uint32_t> &k) {
                                   return r.leaf != k.first ? r.leaf < k.first
                                                            : r.subleaf < k.second;
                               });
    return it != d.leaves.end() && it->leaf == leaf && it->subleaf == subleaf ? &*it : nullptr;
}

constexpr uint32_t EXTD_FEATURES = 0x80000001;
constexpr unsigned EXTD_EDX_SYSCALL = 11, EXTD_EDX_LM = 29;

// Intel CPUs set CPUID.80000001H:EDX[11] (SYSCALL/SYSRET) only when CPUID executes in
// 64-bit mode (SDM Vol. 2A, CPUID, Table 3-8: "SYSCALL/SYSRET available in 64-bit
// mode"); AMD reports it in every mode (APM Vol. 3, CPUID Fn8000_0001_EDX[11]).  A dump
// tool run as a 32-bit process on an Intel CPU with long mode (EDX[29]) therefore shows
// SYSCALL clear (the Sapphire, Emerald and Granite Rapids dumps do).  A hypervisor runs
// in 64-bit mode and reads it set, so the importer sets it and says so.
// `lines` (may be null) is parallel to d.leaves.
void correct_for_64bit_mode(CpuDump &d, const unsigned *lines)
{
    const CpuidRecord *l0 = find_record(d, 0, 0);
    CpuidRecord *e1 = find_record(d, EXTD_FEATURES, 0);
    const bool intel = l0 && l0->b == 0x756e6547 && l0->d == 0x49656e69 && l0->c == 0x6c65746e;
    if (!intel || !e1 || !(e1->d >> EXTD_EDX_LM & 1) || (e1->d >> EXTD_EDX_SYSCALL & 1))
        return;
    e1->d |= 1u << EXTD_EDX_SYSCALL;
    d.notes.push_back({EXTD_FEATURES, 0, EDX, EXTD_EDX_SYSCALL, true,
                       lines ? lines[e1 - d.leaves.data()] : 0,
                       "SYSCALL set: Intel reports it only to 64-bit code (SDM Vol. 2A, CPUID "
                       "80000001H EDX bit 11) and long mode is set, so the dump was taken "
                       "by a 32-bit process; a 64-bit hypervisor reads it set"});
}

struct Located {
    CpuidRecord rec;
    unsigned line;
    bool inferred;
};

bool build_block(const RawBlock &raw, CpuDump &out, Fail &fail)
{
    std::vector<Located> recs;
    recs.reserve(raw.leaves.size());
    std::vector<uint32_t> subs;

    const std::vector<RawLeaf> &ls = raw.leaves;
    for (size_t i = 0; i < ls.size();) {
        size_t j = i + 1;
        while (j < ls.size() && ls[j].leaf == ls[i].leaf)
            ++j;
        Run run(ls.data() + i, j - i);

        size_t tagged = 0;
        for (const RawLeaf &l : run)
            tagged += l.tagged;
        if (ignores_subleaf(run[0].leaf)) {
            // Every line is the one answer of the leaf, whatever its tag or position:
            // the duplicate check below then refuses lines that disagree.
            subs.assign(run.size(), 0);
        } else if (tagged == run.size()) {
            subs.clear();
            for (const RawLeaf &l : run)
                subs.push_back(l.subleaf);
        } else if (tagged == 0) {
            infer_subleaves(run, subs);
        } else {
            const RawLeaf &odd = *std::find_if(run.begin(), run.end(),
                                               [](const RawLeaf &l) { return !l.tagged; });
            fail = {odd.line, strf("leaf 0x%08X: this line has no [SL nn] tag but others of "
                                   "the same leaf next to it do; cannot tell its subleaf",
                                   odd.leaf)};
            return false;
        }
        for (size_t k = 0; k < run.size(); ++k) {
            const RawLeaf &l = run[k];
            recs.push_back({{l.leaf, subs[k], l.r[0], l.r[1], l.r[2], l.r[3]}, l.line,
                            !l.tagged && !ignores_subleaf(l.leaf)});
        }
        i = j;
    }

    // Stable, so that of two equal keys the one written first stays first.
    std::stable_sort(recs.begin(), recs.end(), [](const Located &x, const Located &y) {
        return x.rec.leaf != y.rec.leaf ? x.rec.leaf < y.rec.leaf : x.rec.subleaf < y.rec.subleaf;
    });

    CpuDump dump;
    std::vector<unsigned> lines; // parallel to dump.leaves
    dump.leaves.reserve(recs.size());
    lines.reserve(recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
        if (i > 0 && recs[i].rec.leaf == recs[i - 1].rec.leaf &&
            recs[i].rec.subleaf == recs[i - 1].rec.subleaf) {
            const CpuidRecord &x = recs[i - 1].rec, &y = recs[i].rec;
            if (x.a == y.a && x.b == y.b && x.c == y.c && x.d == y.d)
                continue; // an identical repeat carries nothing new
            // Report the later line; the earlier one may be far up the file.
            const Located &first = recs[i - 1], &second = recs[i];
            const unsigned later = std::max(first.line, second.line);
            const unsigned earlier = std::min(first.line, second.line);
            if (ignores_subleaf(y.leaf))
                fail = {later, strf("leaf 0x%08X is not subleaf-indexed (one answer whatever "
                                    "ECX), but its values differ from line %u",
                                    y.leaf, earlier)};
            else
                fail = {later, strf("leaf 0x%08X subleaf %u%s: values differ from line %u",
                                    y.leaf, y.subleaf, second.inferred ? " (inferred)" : "",
                                    earlier)};
            return false;
        }
        dump.leaves.push_back(recs[i].rec);
        lines.push_back(recs[i].line);
    }
    correct_for_64bit_mode(dump, lines.data());

    // MSRs: several are live status or counters (AIDA64 samples APERF/MPERF,
    // PERF_STATUS and COFVID_STATUS more than once), so differing repeats are normal
    // and the first reading in the file is kept.
    std::vector<RawMsr> msrs = raw.msrs;
    std::sort(msrs.begin(), msrs.end(), [](const RawMsr &x, const RawMsr &y) {
        return x.index != y.index ? x.index < y.index : x.line < y.line;
    });
    for (size_t i = 0; i < msrs.size(); ++i)
        if (i == 0 || msrs[i].index != msrs[i - 1].index)
            dump.msrs.push_back({msrs[i].index, msrs[i].value});

    out = std::move(dump);
    return true;
}

int fail_with(ImportError &err, const std::string &name, int rc, unsigned line,
              std::string what)
{
    err.file = name;
    err.line = line;
    err.what = std::move(what);
    return rc;
}

} // namespace

// ---------------------------------------------------------------------------------

int import_text(std::string_view text, const std::string &name_for_errors, unsigned cpu,
                CpuDump &out, ImportError &err)
{
    RawFile file;
    Fail fail;
    if (!read_blocks(text, file, fail))
        return fail_with(err, name_for_errors, -EINVAL, fail.line, std::move(fail.what));

    // A header with nothing under it (AIDA64 prints an empty MSR section, for one) is
    // not a CPU.
    std::erase_if(file.blocks,
                  [](const RawBlock &b) { return b.leaves.empty() && b.msrs.empty(); });
    if (std::none_of(file.blocks.begin(), file.blocks.end(),
                     [](const RawBlock &b) { return !b.leaves.empty(); }))
        return fail_with(err, name_for_errors, -EINVAL, 0, "no CPUID records found");

    // MSR sections go to the CPU block with their number, wherever they sit in the
    // file (AIDA64 writes them after every CPUID section).  An unnumbered one was read
    // on the first CPU: its APIC_BASE (MSR 0x1B) has the BSP flag, bit 8, set in every
    // such dump.
    for (MsrSection &sec : file.msr_sections) {
        if (sec.msrs.empty())
            continue;
        RawBlock *target = &file.blocks.front();
        if (sec.label != NO_LABEL) {
            auto it = std::find_if(file.blocks.begin(), file.blocks.end(),
                                   [&](const RawBlock &b) { return b.label == sec.label; });
            if (it == file.blocks.end())
                return fail_with(err, name_for_errors, -EINVAL, sec.line,
                                 strf("MSR section for logical CPU #%ld, but no CPUID "
                                      "block has that number",
                                      sec.label));
            target = &*it;
        }
        target->msrs.insert(target->msrs.end(), sec.msrs.begin(), sec.msrs.end());
    }

    // Every block is checked, whichever one was asked for, so that a file imports
    // either cleanly or not at all.
    const unsigned nr = static_cast<unsigned>(file.blocks.size());
    CpuDump chosen;
    for (unsigned i = 0; i < nr; ++i) {
        CpuDump dump;
        if (!build_block(file.blocks[i], dump, fail))
            return fail_with(err, name_for_errors, -EINVAL, fail.line, std::move(fail.what));
        if (i == cpu)
            chosen = std::move(dump);
    }
    if (cpu >= nr)
        return fail_with(err, name_for_errors, -ERANGE, 0,
                         strf("logical CPU %u requested, but the file has %u CPU block%s "
                              "(0..%u)",
                              cpu, nr, nr == 1 ? "" : "s", nr - 1));

    chosen.nr_cpus_in_file = nr;
    out = std::move(chosen);
    return 0;
}

namespace {

const char *file_type(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

} // namespace

int read_bounded_file(const std::string &path, size_t limit, std::string &text, std::string &why,
                      unsigned flags)
{
    const int saved_errno = errno;
    struct Restore {
        int e;
        ~Restore() { errno = e; }
    } restore{saved_errno};

    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; it is refused
    // below like every file that is not regular.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                      ((flags & READ_NOFOLLOW) ? O_NOFOLLOW : 0));
    if (fd < 0) {
        int e = errno ? errno : EIO;
        why = e == ELOOP && (flags & READ_NOFOLLOW) ? std::string("a symbolic link")
                                                    : strf("cannot open: %s", std::strerror(e));
        return -e;
    }
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } closer{fd};

    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int e = errno ? errno : EIO;
        why = strf("cannot stat: %s", std::strerror(e));
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        why = strf("not a regular file (%s)", file_type(st.st_mode));
        return -EINVAL;
    }
    if (static_cast<unsigned long long>(st.st_size) > limit) {
        why = strf("file has %llu bytes; the limit is %zu",
                   static_cast<unsigned long long>(st.st_size), limit);
        return -EFBIG;
    }
    auto grew = [&] { // past the limit since fstat: limit + 1 bytes read, and stopped
        why = strf("file has more than %zu bytes (the limit)", limit);
        return -EFBIG;
    };

    // Sized from fstat, and checked again while reading: the file may grow meanwhile.
    // One byte over the limit is enough to know it is too big.
    std::string buf;
    const size_t want = std::min(static_cast<size_t>(st.st_size) + 1, limit + 1);
    buf.resize(want);
    size_t got = 0;
    for (;;) {
        if (got == buf.size()) {
            if (buf.size() > limit)
                return grew();
            buf.resize(std::min(buf.size() * 2, limit + 1));
        }
        ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno ? errno : EIO;
            why = strf("cannot read: %s", std::strerror(e));
            return -e;
        }
        if (n == 0)
            break;
        got += static_cast<size_t>(n);
    }
    if (got > limit)
        return grew();
    buf.resize(got);
    text = std::move(buf);
    return 0;
}

int import_file(const std::string &path, unsigned cpu, CpuDump &out, ImportError &err)
{
    std::string text, why;
    if (int rc = read_bounded_file(path, MAX_DUMP_BYTES, text, why))
        return fail_with(err, path, rc, 0, std::move(why));
    return import_text(text, path, cpu, out, err);
}

#if CPUPOLICY_IMPORT_HAVE_CPUID
namespace {

struct Regs {
    uint32_t r[4];
};

Regs native_cpuid(uint32_t leaf, uint32_t subleaf)
{
    Regs x;
    __cpuid_count(leaf, subleaf, x.r[EAX], x.r[EBX], x.r[ECX], x.r[EDX]);
    return x;
}

// Every subleaf of one leaf, walked the way its manual describes (leaf_rules).
void enumerate_leaf(uint32_t leaf, std::vector<CpuidRecord> &out)
{
    auto emit = [&](uint32_t sub, const Regs &x) {
        out.push_back({leaf, sub, x.r[EAX], x.r[EBX], x.r[ECX], x.r[EDX]});
    };
    const Regs s0 = native_cpuid(leaf, 0);
    emit(0, s0);
    const LeafRule *rule = find_rule(leaf);
    if (!rule)
        return;

    // Walk subleaves from `first` up to and including the first whose output fails
    // `valid`: the terminating entry is recorded too, as `cpuid -r` and Xen's policy
    // do, since it is not all zeros everywhere (leaf 0xB's still echoes ECX and
    // carries the x2APIC ID).  A list whose subleaf 0 already terminates it is done.
    auto walk_until = [&](uint32_t first, auto valid) {
        if (first == 1 && !valid(s0))
            return;
        for (uint32_t sub = first; sub <= MAX_SUBLEAF; ++sub) {
            Regs x = native_cpuid(leaf, sub);
            emit(sub, x);
            if (!valid(x))
                break;
        }
    };

    // The terminator of the walks that have one (subleaves.hpp).
    auto describes = [walk = rule->walk](const Regs &x) {
        return subleaf_describes(walk, cpupolicy::Regs{x.r[EAX], x.r[EBX], x.r[ECX], x.r[EDX]});
    };

    switch (rule->walk) {
    case Walk::max_in_eax:
        for (uint32_t sub = 1; sub <= std::min(s0.r[EAX], MAX_SUBLEAF); ++sub)
            emit(sub, native_cpuid(leaf, sub));
        break;
    case Walk::until_cache_null:
    case Walk::until_level_null:
    case Walk::pconfig:
        walk_until(1, describes);
        break;
    case Walk::sgx:
        emit(1, native_cpuid(leaf, 1));
        walk_until(2, describes);
        break;
    case Walk::resid_bitmap: {
        const uint32_t bits = s0.r[static_cast<unsigned>(rule->bitmap_reg)] & rule->bitmap_mask;
        for (uint32_t n = 1; n < 32; ++n)
            if (bits & (1u << n))
                emit(n, native_cpuid(leaf, n));
        break;
    }
    case Walk::xsave: {
        const Regs s1 = native_cpuid(leaf, 1);
        emit(1, s1);
        const uint64_t components = ((static_cast<uint64_t>(s0.r[EDX]) << 32) | s0.r[EAX]) |
                                    ((static_cast<uint64_t>(s1.r[EDX]) << 32) | s1.r[ECX]);
        for (uint32_t n = 2; n < 64; ++n)
            if (components & (uint64_t{1} << n))
                emit(n, native_cpuid(leaf, n));
        break;
    }
    }
}

} // namespace

int import_native(CpuDump &out)
{
    CpuDump dump;
    const uint32_t max_basic = std::min(native_cpuid(0, 0).r[EAX], MAX_BASIC_LEAF);
    for (uint32_t leaf = 0; leaf <= max_basic; ++leaf)
        enumerate_leaf(leaf, dump.leaves);

    // A CPU without extended leaves answers 0x80000000 with some basic leaf's data
    // (SDM, CPUID, "If a value entered for CPUID.EAX is higher than the maximum input
    // value..."), so only trust a maximum in the extended range.
    const uint32_t max_ext = native_cpuid(0x80000000, 0).r[EAX];
    if (max_ext >= 0x80000000 && max_ext <= MAX_EXTENDED_LEAF)
        for (uint32_t leaf = 0x80000000; leaf <= max_ext; ++leaf)
            enumerate_leaf(leaf, dump.leaves);

    std::sort(dump.leaves.begin(), dump.leaves.end(),
              [](const CpuidRecord &x, const CpuidRecord &y) {
                  return x.leaf != y.leaf ? x.leaf < y.leaf : x.subleaf < y.subleaf;
              });
    correct_for_64bit_mode(dump, nullptr); // a no-op unless built as 32-bit code
    dump.nr_cpus_in_file = 1;
    out = std::move(dump);
    return 0;
}
#else
int import_native(CpuDump &)
{
    return -ENODEV;
}
#endif

std::string format_error(const ImportError &e)
{
    if (e.line == 0)
        return e.file + ": " + e.what;
    return e.file + ":" + std::to_string(e.line) + ": " + e.what;
}

} // namespace cpupolicy::import

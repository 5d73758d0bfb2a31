// Unit tests for the CPUID/MSR dump importer (libcpupolicy/import/import.{hpp,cpp}).
//
// Table-driven: every case is named after what it proves and prints expected against
// actual on failure.  The real dumps are read from $CPUPOLICY_DUMPS, by default
// tests/data/cpuid-dumps relative to the repository root (the working directory).
// The last line of output is "N passed, M failed"; the exit status is non-zero when
// anything failed.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "dump_policy.hpp"
#include "harness.hpp"
#include "import.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TEST_HAVE_CPUID 1
#else
#define TEST_HAVE_CPUID 0
#endif

namespace imp = cpupolicy::import;
using namespace unittest;

namespace {

std::string hex32(uint32_t v)
{
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%08X", v);
    return buf;
}

std::string show_regs(const imp::CpuidRecord *r)
{
    if (!r)
        return "(no such record)";
    return hex32(r->a) + "-" + hex32(r->b) + "-" + hex32(r->c) + "-" + hex32(r->d);
}

const imp::CpuidRecord *find_leaf(const imp::CpuDump &d, uint32_t leaf, uint32_t subleaf)
{
    for (const imp::CpuidRecord &r : d.leaves)
        if (r.leaf == leaf && r.subleaf == subleaf)
            return &r;
    return nullptr;
}

const imp::MsrRecord *find_msr(const imp::CpuDump &d, uint32_t index)
{
    for (const imp::MsrRecord &m : d.msrs)
        if (m.index == index)
            return &m;
    return nullptr;
}

void expect_record(int line, const imp::CpuDump &d, uint32_t leaf, uint32_t subleaf,
                   uint32_t a, uint32_t b, uint32_t c, uint32_t dd)
{
    const imp::CpuidRecord *r = find_leaf(d, leaf, subleaf);
    imp::CpuidRecord want{leaf, subleaf, a, b, c, dd};
    if (!r || r->a != a || r->b != b || r->c != c || r->d != dd)
        report(line, "leaf 0x" + hex32(leaf) + " subleaf " + std::to_string(subleaf),
               show_regs(&want), show_regs(r));
}

void expect_no_record(int line, const imp::CpuDump &d, uint32_t leaf, uint32_t subleaf)
{
    if (const imp::CpuidRecord *r = find_leaf(d, leaf, subleaf))
        report(line, "leaf 0x" + hex32(leaf) + " subleaf " + std::to_string(subleaf),
               "(no such record)", show_regs(r));
}

#define EXPECT_RECORD(d, leaf, sub, a, b, c, dd) expect_record(__LINE__, d, leaf, sub, a, b, c, dd)
#define EXPECT_NO_RECORD(d, leaf, sub) expect_no_record(__LINE__, d, leaf, sub)

// The importer's output contract: leaves strictly increasing by (leaf, subleaf),
// MSRs strictly increasing by index.
void expect_sorted_unique(int line, const imp::CpuDump &d)
{
    for (size_t i = 1; i < d.leaves.size(); ++i) {
        const imp::CpuidRecord &x = d.leaves[i - 1], &y = d.leaves[i];
        if (!(x.leaf < y.leaf || (x.leaf == y.leaf && x.subleaf < y.subleaf))) {
            report(line, "leaves sorted by (leaf, subleaf) without duplicates",
                   "record " + std::to_string(i) + " after record " + std::to_string(i - 1),
                   hex32(y.leaf) + "." + std::to_string(y.subleaf) + " after " +
                       hex32(x.leaf) + "." + std::to_string(x.subleaf));
            return;
        }
    }
    for (size_t i = 1; i < d.msrs.size(); ++i) {
        if (!(d.msrs[i - 1].index < d.msrs[i].index)) {
            report(line, "MSRs sorted by index without duplicates", "increasing",
                   hex32(d.msrs[i].index) + " after " + hex32(d.msrs[i - 1].index));
            return;
        }
    }
}

#define EXPECT_SORTED_UNIQUE(d) expect_sorted_unique(__LINE__, d)

bool same_leaves(const imp::CpuDump &x, const imp::CpuDump &y)
{
    if (x.leaves.size() != y.leaves.size() || x.msrs.size() != y.msrs.size())
        return false;
    for (size_t i = 0; i < x.leaves.size(); ++i) {
        const imp::CpuidRecord &p = x.leaves[i], &q = y.leaves[i];
        if (p.leaf != q.leaf || p.subleaf != q.subleaf || p.a != q.a || p.b != q.b ||
            p.c != q.c || p.d != q.d)
            return false;
    }
    for (size_t i = 0; i < x.msrs.size(); ++i)
        if (x.msrs[i].index != y.msrs[i].index || x.msrs[i].value != y.msrs[i].value)
            return false;
    return x.nr_cpus_in_file == y.nr_cpus_in_file;
}

// A CpuDump with contents no import produces, to prove failures leave `out` alone.
imp::CpuDump sentinel()
{
    imp::CpuDump d;
    d.leaves.push_back({0xdead, 0xbeef, 1, 2, 3, 4});
    d.msrs.push_back({0xfeed, 0x1234});
    d.nr_cpus_in_file = 77;
    return d;
}

bool is_sentinel(const imp::CpuDump &d)
{
    return d.nr_cpus_in_file == 77 && d.leaves.size() == 1 && d.leaves[0].leaf == 0xdead &&
           d.msrs.size() == 1 && d.msrs[0].index == 0xfeed;
}

bool read_text(const std::string &path, std::string &text)
{
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        return false;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
        text.append(buf, n);
    std::fclose(f);
    return true;
}

// Import cpu `cpu` of a real dump; reports (and returns false) if that fails.
bool load(int line, const char *file, unsigned cpu, imp::CpuDump &d)
{
    imp::ImportError err;
    int rc = imp::import_file(dump_path(file), cpu, d, err);
    if (rc != 0) {
        report(line, std::string("import_file(") + file + ", cpu " + std::to_string(cpu) + ")",
               "0", std::to_string(rc) + ": " + imp::format_error(err));
        return false;
    }
    return true;
}

#define LOAD(file, cpu, d) load(__LINE__, file, cpu, d)

uint32_t le32(const char *s)
{
    return static_cast<uint32_t>(static_cast<unsigned char>(s[0])) |
           static_cast<uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}

// ---------------------------------------------------------------------------------
// The twenty real dumps.  The file name is VENDOR + family/model/stepping (the
// 7 hex digits of leaf 1 EAX), so vendor and FMS are checked from the name itself.

constexpr uint32_t ABSENT = 0xffffffffu;
constexpr uint64_t NO_MSR = ~uint64_t{0};

struct DumpFacts {
    const char *file;
    uint32_t max_leaf;  // leaf 0 EAX
    uint32_t leaf7_ebx; // leaf 7 subleaf 0 EBX, or ABSENT
    uint64_t msr_ce;    // MSR_PLATFORM_INFO on CPU 0, or NO_MSR
    bool per_cpu_msrs;  // MSR sections per logical CPU (else CPU 0 only)
};

const DumpFacts dumps[] = {
    {"AuthenticAMD0100F80_K10_Istanbul.txt", 0x05, ABSENT, NO_MSR, false},
    {"AuthenticAMD0600F12_Interlagos.txt", 0x0d, 0x00000000, NO_MSR, false},
    {"AuthenticAMD0800F12_K17_Zen.txt", 0x0d, 0x209c01a9, NO_MSR, false},
    {"AuthenticAMD0830F10_K17_Rome.txt", 0x10, 0x219c91a9, NO_MSR, true},
    {"AuthenticAMD0A00F11_K19_Milan_02.txt", 0x10, 0x219c97a9, NO_MSR, true},
    {"AuthenticAMD0A10F11_K19_Genoa_01.txt", 0x10, 0xf1bf97a9, NO_MSR, true},
    {"AuthenticAMD0AA0F02_K19_Bergamo_04.txt", 0x10, 0xf1bf97a9, NO_MSR, true},
    {"AuthenticAMD0B00F21_K20_Turin_01.txt", 0x10, 0xf1bf97ab, NO_MSR, true},
    {"GenuineIntel00106A2_Nehalem-EP.txt", 0x0b, 0x00000000, 0x00000c000c001400, false},
    {"GenuineIntel00206D5_SandyBridgeEP.txt", 0x0d, 0x00000000, 0x00000c006c011a00, false},
    {"GenuineIntel00306E4_IvyBridgeEP.txt", 0x0d, 0x00000281, NO_MSR, false},
    {"GenuineIntel00306F2_HaswellEP.txt", 0x0f, 0x00003fbb, 0x00080c33fb811700, false},
    {"GenuineIntel00406F1_BroadwellE.txt", 0x14, 0x021cbfbb, 0x20080c3bf3812400, false},
    {"GenuineIntel0050654_SkylakeXeon.txt", 0x16, 0xd39ffffb, NO_MSR, false},
    {"GenuineIntel0050657_CascadeLakeXeon.txt", 0x16, 0xd39ffffb, NO_MSR, false},
    {"GenuineIntel00606A6_ICX_04.txt", 0x1b, 0xf3bfbfff, NO_MSR, false},
    {"GenuineIntel00806F8_SapphireRapids_05.txt", 0x20, 0xf3bfbffb, 0x0405082cf4811a00, true},
    {"GenuineIntel00A06D1_GraniteRapids_03.txt", 0x24, 0xf3bfbffb, 0x0405082cf0801e00, true},
    {"GenuineIntel00C06F2_EmeraldRapids_01.txt", 0x20, 0xf3bfbfff, 0x0005082cf4811600, true},
    {"HygonGenuine0900F02_Hygon.txt", 0x0d, 0x009c01a9, NO_MSR, false},
};

void check_dump(const DumpFacts &f, unsigned cpu)
{
    imp::CpuDump d;
    if (!LOAD(f.file, cpu, d))
        return;
    EXPECT_EQ(2u, d.nr_cpus_in_file);
    EXPECT_SORTED_UNIQUE(d);

    const char *vendor = f.file; // first 12 characters
    uint32_t fms = static_cast<uint32_t>(std::strtoul(std::string(f.file + 12, 7).c_str(),
                                                      nullptr, 16));
    EXPECT_RECORD(d, 0, 0, f.max_leaf, le32(vendor), le32(vendor + 8), le32(vendor + 4));
    const imp::CpuidRecord *l1 = find_leaf(d, 1, 0);
    EXPECT_EQ(fms, l1 ? l1->a : ABSENT);
    if (l1) // initial APIC ID: the two blocks are different logical CPUs
        EXPECT_TRUE((l1->b >> 24) != 0 || cpu == 0);

    const imp::CpuidRecord *l7 = find_leaf(d, 7, 0);
    EXPECT_EQ(f.leaf7_ebx, l7 ? l7->b : ABSENT);

    uint64_t want_ce = (cpu == 0 || f.per_cpu_msrs) ? f.msr_ce : NO_MSR;
    const imp::MsrRecord *ce = find_msr(d, 0xce);
    EXPECT_EQ(want_ce, ce ? ce->value : NO_MSR);
    if (cpu == 1 && !f.per_cpu_msrs)
        EXPECT_EQ(size_t{0}, d.msrs.size()); // an unnumbered MSR section is CPU 0's
}

void check_dump_cpu_out_of_range(const DumpFacts &f)
{
    imp::CpuDump d = sentinel();
    imp::ImportError err;
    EXPECT_EQ(-ERANGE, imp::import_file(dump_path(f.file), 2, d, err));
    EXPECT_TRUE(is_sentinel(d));
    EXPECT_EQ(0u, err.line);
    EXPECT_TRUE(err.what.find("2 CPU blocks") != std::string::npos);
}

// Removing every [SL nn] tag must not change what a tagged dump imports as: the
// subleaf inference for untagged dumps reproduces what the dump tool wrote down.
// The one known exception is a run that contains a line inference cannot place.
struct Ambiguous {
    const char *file;
    uint32_t leaf;
    const char *why;
};

const Ambiguous ambiguous_when_untagged[] = {
    // SL 09 is all zeros: by content it could be component 8 (PT, in IA32_XSS) or 9
    // (PKRU, in XCR0); the run is numbered 0, 1, 2... as documented.
    {"GenuineIntel0050654_SkylakeXeon.txt", 0xd, "all-zero component line"},
};

std::string strip_subleaf_tags(const std::string &s)
{
    std::string out;
    size_t i = 0;
    for (;;) {
        size_t p = s.find("[SL ", i);
        if (p == std::string::npos) {
            out.append(s, i, std::string::npos);
            return out;
        }
        size_t cut = (p > i && s[p - 1] == ' ') ? p - 1 : p;
        out.append(s, i, cut - i);
        i = s.find(']', p) + 1;
    }
}

void check_inference_matches_tags(const char *file)
{
    std::string text;
    if (!EXPECT_TRUE(read_text(dump_path(file), text)))
        return;
    const std::string untagged = strip_subleaf_tags(text);
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
        imp::CpuDump tagged, inferred;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, file, cpu, tagged, err)) ||
            !EXPECT_EQ(0, imp::import_text(untagged, file, cpu, inferred, err)))
            continue;
        EXPECT_SORTED_UNIQUE(inferred);
        for (const Ambiguous &a : ambiguous_when_untagged) {
            if (std::strcmp(a.file, file) != 0)
                continue;
            // The run is numbered in order; drop it from both sides before comparing.
            uint32_t expect_sub = 0;
            for (const imp::CpuidRecord &r : inferred.leaves)
                if (r.leaf == a.leaf)
                    EXPECT_EQ(expect_sub++, r.subleaf);
            std::erase_if(tagged.leaves, [&](const imp::CpuidRecord &r) { return r.leaf == a.leaf; });
            std::erase_if(inferred.leaves, [&](const imp::CpuidRecord &r) { return r.leaf == a.leaf; });
        }
        for (const imp::CpuidRecord &t : tagged.leaves) {
            const imp::CpuidRecord *r = find_leaf(inferred, t.leaf, t.subleaf);
            if (!r || r->a != t.a || r->b != t.b || r->c != t.c || r->d != t.d)
                report(__LINE__,
                       std::string(file) + " cpu " + std::to_string(cpu) + " leaf 0x" +
                           hex32(t.leaf) + " subleaf " + std::to_string(t.subleaf) +
                           " with tags stripped",
                       show_regs(&t), show_regs(r));
        }
        EXPECT_EQ(tagged.leaves.size(), inferred.leaves.size());
    }
}

// ---------------------------------------------------------------------------------
// Spot values that prove particular rules on real dumps.

struct Spot {
    const char *name;
    const char *file;
    unsigned cpu;
    uint32_t leaf, subleaf;
    bool present;
    uint32_t a, b, c, d;
};

const Spot spots[] = {
    {"untagged 0xD: the line after subleaf 0 is AVX component 2, not subleaf 1 (SandyBridge)",
     "GenuineIntel00206D5_SandyBridgeEP.txt", 0, 0xd, 2, true, 0x100, 0x240, 0, 0},
    {"untagged 0xD: no subleaf 1 is made up when the dump has none (SandyBridge)",
     "GenuineIntel00206D5_SandyBridgeEP.txt", 0, 0xd, 1, false, 0, 0, 0, 0},
    {"tab-separated untagged 0xD: AVX lands on component 2 (IvyBridge)",
     "GenuineIntel00306E4_IvyBridgeEP.txt", 1, 0xd, 2, true, 0x100, 0x240, 0, 0},
    {"tab-separated untagged 0xB: subleaf from ECX[7:0], per-CPU x2APIC ID kept (IvyBridge)",
     "GenuineIntel00306E4_IvyBridgeEP.txt", 1, 0xb, 1, true, 0x5, 0x18, 0x201, 0x1},
    {"untagged 0xD: subleaf 1 recognised by its flags and XSS bits (ICX)",
     "GenuineIntel00606A6_ICX_04.txt", 0, 0xd, 1, true, 0xf, 0xa00, 0x100, 0},
    {"untagged 0xD: AVX after subleaf 1 is component 2 (ICX)",
     "GenuineIntel00606A6_ICX_04.txt", 0, 0xd, 2, true, 0x100, 0x240, 0, 0},
    {"untagged 0x18: n-th line is subleaf n up to EAX of subleaf 0 (ICX)",
     "GenuineIntel00606A6_ICX_04.txt", 1, 0x18, 7, true, 0, 0x00080009, 0x80, 0x4043},
    {"untagged leaf 4: n-th line is subleaf n (Nehalem)",
     "GenuineIntel00106A2_Nehalem-EP.txt", 0, 4, 3, true, 0x1c03c163, 0x03c0003f, 0x1fff, 2},
    {"untagged AMD 0x8000001D: n-th line is subleaf n (Interlagos)",
     "AuthenticAMD0600F12_Interlagos.txt", 0, 0x8000001d, 3, true, 0x0001c163, 0x0bc0003f,
     0x7ff, 1},
    {"untagged 0xD with LWP in XCR0 high bits: AVX is component 2 (Interlagos)",
     "AuthenticAMD0600F12_Interlagos.txt", 0, 0xd, 2, true, 0x100, 0x240, 0, 0},
    {"tagged 0xD: [SL 0C] gives component 12, CET_S (Genoa)",
     "AuthenticAMD0A10F11_K19_Genoa_01.txt", 0, 0xd, 0xc, true, 0x18, 0, 1, 0},
    {"tagged 0x80000020: [SL 05] ABMC kept at subleaf 5 (Turin)",
     "AuthenticAMD0B00F21_K20_Turin_01.txt", 1, 0x80000020, 5, true, 0x14, 0x1f, 1, 0},
    {"tagged 0xD: [SL 12] is hex, AMX TILEDATA component 18 (SapphireRapids)",
     "GenuineIntel00806F8_SapphireRapids_05.txt", 0, 0xd, 18, true, 0x2000, 0xb00, 6, 0},
    {"tagged leaf 7 subleaf 1 (SapphireRapids)", "GenuineIntel00806F8_SapphireRapids_05.txt",
     0, 7, 1, true, 0x1c30, 0, 0, 0},
    {"annotations in brackets after the registers are ignored (Rome brand string)",
     "AuthenticAMD0830F10_K17_Rome.txt", 0, 0x80000002, 0, true, 0x20444d41, 0x43595045,
     0x34373720, 0x34362032},
    {"leaf outside the basic/extended ranges is kept as written (Istanbul 0x8FFFFFFF)",
     "AuthenticAMD0100F80_K10_Istanbul.txt", 0, 0x8fffffff, 0, true, 0, 0, 0, 0},
    {"leading blank lines and no headers: second block found at repeated leaf 0 (ICX)",
     "GenuineIntel00606A6_ICX_04.txt", 1, 1, 0, true, 0x000606a6, 0x01400800, 0x7ffefbff,
     0xbfebfbff},
};

void check_spot(const Spot &s)
{
    imp::CpuDump d;
    if (!LOAD(s.file, s.cpu, d))
        return;
    if (s.present)
        EXPECT_RECORD(d, s.leaf, s.subleaf, s.a, s.b, s.c, s.d);
    else
        EXPECT_NO_RECORD(d, s.leaf, s.subleaf);
}

struct MsrSpot {
    const char *name;
    const char *file;
    unsigned cpu;
    uint32_t index;
    uint64_t value; // NO_MSR: must be absent
};

const MsrSpot msr_spots[] = {
    {"MSR section for logical CPU #1 after all CPUID sections goes to CPU 1 (SPR APIC_BASE, "
     "BSP clear)",
     "GenuineIntel00806F8_SapphireRapids_05.txt", 1, 0x1b, 0xfee00c00},
    {"MSR section for logical CPU #0 goes to CPU 0 (SPR APIC_BASE, BSP set)",
     "GenuineIntel00806F8_SapphireRapids_05.txt", 0, 0x1b, 0xfee00d00},
    {"ARCH_CAPABILITIES read from a per-CPU MSR section (SPR)",
     "GenuineIntel00806F8_SapphireRapids_05.txt", 1, 0x10a, 0x28fdeb},
    {"an MSR that read as < FAILED > is absent, not zero (SPR MSR 0x49)",
     "GenuineIntel00806F8_SapphireRapids_05.txt", 0, 0x49, NO_MSR},
    {"MSR value with a trailing annotation (BroadwellE PLATFORM_INFO [eD = 0])",
     "GenuineIntel00406F1_BroadwellE.txt", 0, 0xce, 0x20080c3bf3812400},
    {"differing repeated readings of a live MSR: the first is kept (Interlagos COFVID_STATUS)",
     "AuthenticAMD0600F12_Interlagos.txt", 0, 0xc0010071, 0x52be009e3e025406},
    {"unnumbered MSR section is CPU 0's only (Istanbul APIC_BASE absent on CPU 1)",
     "AuthenticAMD0100F80_K10_Istanbul.txt", 1, 0x1b, NO_MSR},
    {"MSR sections holding only failed reads leave no MSRs (Turin)",
     "AuthenticAMD0B00F21_K20_Turin_01.txt", 0, 0x10b, NO_MSR},
};

void check_msr_spot(const MsrSpot &s)
{
    imp::CpuDump d;
    if (!LOAD(s.file, s.cpu, d))
        return;
    const imp::MsrRecord *m = find_msr(d, s.index);
    EXPECT_EQ(s.value, m ? m->value : NO_MSR);
}

// ---------------------------------------------------------------------------------
// Inline texts.

#define L0 "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n"

struct BadText {
    const char *name;
    const char *text;
    unsigned line;    // expected err.line
    const char *what; // expected to appear in err.what
};

const BadText bad_texts[] = {
    {"bad hex digit in a register is rejected with its line", L0
     "CPUID 00000001: 000306E4-0020080G-7FBEE3FF-BFEBFBFF\n",
     2, "bad hex digit 'G'"},
    {"bad hex in the leaf number is rejected", L0
     "CPUID 0000000X: 00000000-00000000-00000000-00000000\n",
     2, "not hexadecimal"},
    {"leaf number of the wrong width is rejected", L0
     "CPUID 0000001: 00000000-00000000-00000000-00000000\n",
     2, "expected 8"},
    {"three registers are rejected", L0 "CPUID 00000002: 76035A01-00F0B2FF-00000000\n", 2,
     "found 3"},
    {"five registers are rejected", L0
     "CPUID 00000002: 76035A01-00F0B2FF-00000000-00CA0000-00000000\n",
     2, "found 5"},
    {"a register with seven digits is rejected", L0
     "CPUID 00000002: 76035A01-00F0B2F-00000000-00CA0000\n",
     2, "7 hex digits"},
    {"three registers in the tab-separated format are rejected", L0
     "CPUID 00000001  \t000306E4-00200800-7FBEE3FF\n",
     2, "found 3"},
    {"a leaf line with no registers is rejected", L0 "CPUID 00000001:\n", 2, "register 1"},
    {"conflicting tagged duplicate is rejected at the later line", L0
     "CPUID 00000007: 00000000-00000281-00000000-00000000 [SL 00]\n"
     "CPUID 00000006: 00000077-00000002-00000009-00000000\n"
     "CPUID 00000007: 00000000-00000283-00000000-00000000 [SL 00]\n",
     4, "differ from line 2"},
    {"conflicting untagged duplicate (leaf repeated apart) is rejected at the later line", L0
     "CPUID 00000001: 000306E4-00200800-7FBEE3FF-BFEBFBFF\n"
     "CPUID 00000002: 76035A01-00F0B2FF-00000000-00CA0000\n"
     "CPUID 00000001: 000306E4-01200800-7FBEE3FF-BFEBFBFF\n",
     4, "values differ"},
    {"a plain leaf twice in a row with different values is refused (the later won before)", L0
     "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFF\n"
     "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFE\n",
     3, "leaf 0x00000001 is not subleaf-indexed (one answer whatever ECX), but its values "
        "differ from line 2"},
    {"a plain leaf tagged [SL 00] and [SL 01] with different values is refused", L0
     "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFF [SL 00]\n"
     "CPUID 00000006: 00000077-00000002-00000009-00000000 [SL 00]\n"
     "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFE [SL 01]\n",
     4, "differ from line 2"},
    {"a subleaf tagged twice with different values is refused", L0
     "CPUID 00000007: 00000001-00000281-00000000-00000000 [SL 00]\n"
     "CPUID 00000007: 00000000-00000001-00000000-00000000 [SL 01]\n"
     "CPUID 00000007: 00000000-00000002-00000000-00000000 [SL 01]\n",
     4, "leaf 0x00000007 subleaf 1: values differ from line 3"},
    {"blank-separated registers: five are refused", L0
     "CPUID 00000002: 76035A01 00F0B2FF 00000000 00CA0000 00000000\n",
     2, "expected 4 registers EAX EBX ECX EDX, found 5"},
    {"blank-separated registers: three are refused", L0 "CPUID 00000002 : 76035A01 00F0B2FF 00000000\n",
     2, "found 3"},
    {"separators mixed within one line are refused", L0
     "CPUID 00000002: 76035A01-00F0B2FF 00000000 00CA0000\n",
     2, "found 2"},
    {"malformed [SL] tag is rejected", L0
     "CPUID 00000007: 00000000-00000281-00000000-00000000 [SL XY]\n",
     2, "subleaf tag"},
    {"tags on some lines of a run but not others are rejected", L0
     "CPUID 00000004: 3C004121-01C0003F-0000003F-00000000 [SL 00]\n"
     "CPUID 00000004: 3C004122-01C0003F-0000003F-00000000\n",
     3, "no [SL nn] tag"},
    {"MSR value with three groups is rejected", L0 "MSR 000000CE: 2612-0C00-0311\n", 2,
     "12 hex digits"},
    {"MSR value with bad hex is rejected", L0 "MSR 000000CE: 2612-0C00-00Z0-0311\n", 2,
     "bad hex"},
    {"MSR value with too many digits is rejected", L0 "MSR 000000CE: 2612-0C00-0000-0311-0000\n",
     2, "expected 16"},
    {"cpuid -r line without edx is rejected", "CPU 0:\n"
     "   0x00000000 0x00: eax=0x00000020 ebx=0x756e6547 ecx=0x6c65746e\n",
     2, "edx="},
    {"cpuid -r line with bad hex is rejected", "CPU 0:\n"
     "   0x00000000 0x00: eax=0x00000020 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656eXX\n",
     2, "edx="},
    {"MSR section for a CPU number with no CPUID block is rejected at its header", L0
     "\n------[ MSR Registers / Logical CPU #3 ]------\n\nMSR 000000CE: 2612-0C00-0000-0311\n",
     3, "#3"},
    {"a CPUID record inside an MSR section is rejected", L0
     "------[ MSR Registers ]------\nCPUID 00000001: 000306E4-00200800-7FBEE3FF-BFEBFBFF\n",
     3, "inside an MSR section"},
    {"line numbers count Windows line endings once", "CPUID 00000000: "
     "0000000D-756E6547-6C65746E-49656E69\r\n\r\nCPUID 00000001: 000306E4-00200800-7FBEE3FF\r\n",
     3, "found 3"},
    {"text with no CPUID records is rejected", "hello\nCPUID Manufacturer : GenuineIntel\n", 0,
     "no CPUID records"},
    {"empty text is rejected", "", 0, "no CPUID records"},
};

void check_bad_text(const BadText &b)
{
    imp::CpuDump d = sentinel();
    imp::ImportError err;
    EXPECT_EQ(-EINVAL, imp::import_text(b.text, "inline.txt", 0, d, err));
    EXPECT_TRUE(is_sentinel(d)); // nothing half-imported
    EXPECT_EQ(std::string("inline.txt"), err.file);
    EXPECT_EQ(b.line, err.line);
    if (err.what.find(b.what) == std::string::npos)
        report(__LINE__, "err.what", std::string("... ") + b.what + " ...", err.what);
}

// The oldest layouts of the public InstLatx64 collection (github.com/InstLatx64/InstLatx64,
// commit 087af2c), first lines of three real dumps, register values as published:
//   AuthenticAMD/AuthenticAMD0010FF0_K8_Palermo_CPUID.txt       "CPUID xxxxxxxx: A B C D"
//   AuthenticAMD/AuthenticAMD0500F20_K14_Bobcat_CPUID.txt       "CPUID xxxxxxxx :A-B-C-D"
//   CentaurHauls/CentaurHauls000067A_C5C_Ezra_CPUID.txt         "CPUID xxxxxxxx : A B C D"
// (C5XL Nehemiah has Ezra's layout.)  Before, all four were refused at line 1 or 2.
struct OldLayout {
    const char *name;
    const char *text;
    uint32_t leaf, a, b, c, d; // a record the import must hold (CPU 0)
    unsigned nr_cpus;
};

const OldLayout old_layouts[] = {
    {"blank-separated registers after 'xxxxxxxx:' (K8 Palermo)",
     "CPUID 00000000: 00000001 68747541 444D4163 69746E65\n"
     "CPUID 00000001: 00010FF0 00000800 00000000 078BFBFF\n"
     "CPUID 80000000: 80000018 68747541 444D4163 69746E65\n"
     "CPUID 80000001: 00010FF0 00000886 00000001 E3D3FBFF\n",
     0x80000001, 0x00010ff0, 0x00000886, 0x00000001, 0xe3d3fbff, 1},
    {"blank before the colon, dashes, 'CPUID Registers (CPU #n):' lines (K14 Bobcat)",
     "CPUID Registers (CPU #1):\n"
     "CPUID 00000000 :00000006-68747541-444D4163-69746E65\n"
     "CPUID 00000001 :00500F20-00020800-00802209-178BFBFF\n"
     "CPUID 80000001 :00500F20-000012E9-000035FF-2FD3FBFF\n"
     "\n"
     "CPUID Registers (CPU #2):\n"
     "CPUID 00000000 :00000006-68747541-444D4163-69746E65\n"
     "CPUID 00000001 :00500F20-01020800-00802209-178BFBFF\n",
     0x80000001, 0x00500f20, 0x000012e9, 0x000035ff, 0x2fd3fbff, 2},
    {"' : ' and blank-separated registers (C5C Ezra)",
     "CPUID 00000000 : 00000001 746E6543 736C7561 48727561\n"
     "CPUID 00000001 : 0000067A 00000000 00000000 00803135\n"
     "CPUID 80000000 : 80000006 00000000 00000000 00000000\n"
     "CPUID 80000001 : 0000067A 00000000 00000000 80803135\n"
     "CPUID 80000002 : 20414956 61727A45 00000000 00000000\n",
     0x80000002, 0x20414956, 0x61727a45, 0, 0, 1},
};

void check_old_layout(const OldLayout &o)
{
    imp::CpuDump d;
    imp::ImportError err;
    if (!EXPECT_EQ(0, imp::import_text(o.text, "old.txt", 0, d, err))) {
        report(__LINE__, "error", "none", imp::format_error(err));
        return;
    }
    EXPECT_EQ(o.nr_cpus, d.nr_cpus_in_file);
    EXPECT_RECORD(d, o.leaf, 0, o.a, o.b, o.c, o.d);
    // The same records as the text rewritten in today's "xxxxxxxx: A-B-C-D" layout.
    std::string modern;
    std::string_view t = o.text;
    while (!t.empty()) {
        std::string_view line = t.substr(0, t.find('\n'));
        t.remove_prefix(std::min(t.size(), line.size() + 1));
        if (line.substr(0, 6) == "CPUID " && line.size() > 14 && line[6] != 'R') {
            std::string regs;
            std::string_view r = line.substr(line.find(':') + 1);
            for (char c : r)
                if (c != ' ')
                    regs += c == '-' ? "" : std::string(1, c);
            modern += std::string(line.substr(0, 14)) + ": " + regs.substr(0, 8) + "-" +
                      regs.substr(8, 8) + "-" + regs.substr(16, 8) + "-" + regs.substr(24, 8);
        } else {
            modern += line;
        }
        modern += '\n';
    }
    imp::CpuDump m;
    if (!EXPECT_EQ(0, imp::import_text(modern, "modern.txt", 0, m, err)))
        return;
    if (!same_leaves(d, m))
        report(__LINE__, "old layout vs the same values in today's layout", "same records",
               "different records");
}

// The 64-bit-mode corrections (docs/import.md "Corrections"), on the real dumps.
struct SyscallFact {
    const char *file;
    uint32_t edx;    // 0x80000001 EDX after import
    bool corrected;  // one note, SYSCALL set
};

const SyscallFact syscall_facts[] = {
    // Intel, dumped by a 32-bit process: SYSCALL clear beside LM (2C100000).
    {"GenuineIntel00806F8_SapphireRapids_05.txt", 0x2c100800, true},
    {"GenuineIntel00C06F2_EmeraldRapids_01.txt", 0x2c100800, true},
    {"GenuineIntel00A06D1_GraniteRapids_03.txt", 0x2c100800, true},
    // Intel, dumped by a 64-bit process: nothing to correct.
    {"GenuineIntel0050657_CascadeLakeXeon.txt", 0x2c100800, false},
    // AMD reports SYSCALL in every mode (APM Fn8000_0001_EDX[11]).
    {"AuthenticAMD0A10F11_K19_Genoa_01.txt", 0x2fd3fbff, false},
};

void check_syscall_fact(const SyscallFact &f)
{
    std::string text;
    if (!EXPECT_TRUE(read_text(dump_path(f.file), text)))
        return;
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
        imp::CpuDump d;
        if (!LOAD(f.file, cpu, d))
            return;
        const imp::CpuidRecord *r = find_leaf(d, 0x80000001, 0);
        EXPECT_EQ(f.edx, r ? r->d : 0u);
        if (!EXPECT_EQ(size_t{f.corrected}, d.notes.size()) || !f.corrected)
            continue;
        const imp::ImportNote &n = d.notes[0];
        EXPECT_EQ(0x80000001u, n.leaf);
        EXPECT_EQ(0u, n.subleaf);
        EXPECT_EQ(3u, unsigned{n.reg}); // EDX
        EXPECT_EQ(11u, unsigned{n.bit});
        EXPECT_TRUE(n.value);
        EXPECT_TRUE(std::strstr(n.why, "SDM") != nullptr);
        // The note's line is the dump's 0x80000001 line of that CPU, as written
        // (SYSCALL clear there).
        size_t pos = 0;
        for (unsigned l = 1; l < n.line && pos != std::string::npos; ++l)
            pos = text.find('\n', pos) + 1;
        std::string line = text.substr(pos, text.find('\n', pos) - pos);
        EXPECT_EQ(std::string("CPUID 80000001: 00000000-00000000-00000121-2C100000"),
                  line.substr(0, 51));
    }
}

struct SyscallText {
    const char *name;
    const char *text;
    uint32_t edx;
    size_t nr_notes;
};

const SyscallText syscall_texts[] = {
    {"Intel with LM and SYSCALL clear: SYSCALL set, one note", L0
     "CPUID 80000001: 00000000-00000000-00000121-2C100000\n", 0x2c100800, 1},
    {"Intel without LM (a 32-bit CPU): SYSCALL left clear, no note", L0
     "CPUID 80000001: 00000000-00000000-00000001-00100000\n", 0x00100000, 0},
    {"AMD with LM and SYSCALL clear: left as it is (AMD reports it in every mode)",
     "CPUID 00000000: 0000000D-68747541-444D4163-69746E65\n"
     "CPUID 80000001: 00000000-00000000-00000121-2C100000\n", 0x2c100000, 0},
};

// A capture of `cpuid -r` (Debian cpuid 20230120) on the machine these tests were
// written on, cut down to a few leaves per CPU.
const char cpuid_r_sample[] =
    "CPU 0:\n"
    "   0x00000000 0x00: eax=0x00000020 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n"
    "   0x00000001 0x00: eax=0x000806f8 ebx=0x00020800 ecx=0xfffa3203 edx=0x1f8bfbff\n"
    "   0x00000007 0x00: eax=0x00000002 ebx=0xf1bf27eb ecx=0x1b415fde edx=0xbfd14410\n"
    "   0x00000007 0x01: eax=0x00001c30 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n"
    "   0x0000000b 0x00: eax=0x00000000 ebx=0x00000001 ecx=0x00000100 edx=0x00000000\n"
    "   0x0000000b 0x01: eax=0x00000005 ebx=0x00000002 ecx=0x00000201 edx=0x00000000\n"
    "   0x0000000b 0x02: eax=0x00000000 ebx=0x00000000 ecx=0x00000002 edx=0x00000000\n"
    "   0x0000000d 0x00: eax=0x000602e7 ebx=0x00002b00 ecx=0x00002b00 edx=0x00000000\n"
    "   0x0000000d 0x01: eax=0x0000001f ebx=0x00002a00 ecx=0x00001800 edx=0x00000000\n"
    "   0x0000000d 0x02: eax=0x00000100 ebx=0x00000240 ecx=0x00000000 edx=0x00000000\n"
    "   0x0000000d 0x05: eax=0x00000040 ebx=0x00000440 ecx=0x00000000 edx=0x00000000\n"
    "   0x0000000d 0x06: eax=0x00000200 ebx=0x00000480 ecx=0x00000000 edx=0x00000000\n"
    "   0x80000000 0x00: eax=0x80000008 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n"
    "   0x80000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000121 edx=0x2c100800\n"
    "CPU 1:\n"
    "   0x00000000 0x00: eax=0x00000020 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n"
    "   0x00000001 0x00: eax=0x000806f8 ebx=0x01020800 ecx=0xfffa3203 edx=0x1f8bfbff\n"
    "   0x0000000b 0x00: eax=0x00000000 ebx=0x00000001 ecx=0x00000100 edx=0x00000001\n"
    "   0x0000000b 0x01: eax=0x00000005 ebx=0x00000002 ecx=0x00000201 edx=0x00000001\n"
    "   0x0000000b 0x02: eax=0x00000000 ebx=0x00000000 ecx=0x00000002 edx=0x00000001\n";

// ---------------------------------------------------------------------------------

void register_cases()
{
    for (const DumpFacts &f : dumps)
        for (unsigned cpu = 0; cpu < 2; ++cpu)
            cases().push_back({std::string("real dump imports with vendor, FMS, leaf 7 EBX and "
                                         "PLATFORM_INFO right: ") +
                                 f.file + " cpu " + std::to_string(cpu),
                             [&f, cpu] { check_dump(f, cpu); }});

    for (const DumpFacts &f : dumps)
        cases().push_back({std::string("cpu index beyond the file is -ERANGE, out untouched: ") +
                             f.file,
                         [&f] { check_dump_cpu_out_of_range(f); }});

    for (const DumpFacts &f : dumps) {
        std::string text;
        if (read_text(dump_path(f.file), text) && text.find("[SL ") == std::string::npos)
            continue; // untagged already; nothing to compare against
        cases().push_back({std::string("subleaf inference reproduces the [SL] tags: ") + f.file,
                         [&f] { check_inference_matches_tags(f.file); }});
    }

    for (const Spot &s : spots)
        cases().push_back({s.name, [&s] { check_spot(s); }});
    for (const MsrSpot &s : msr_spots)
        cases().push_back({s.name, [&s] { check_msr_spot(s); }});
    for (const BadText &b : bad_texts)
        cases().push_back({std::string("-EINVAL: ") + b.name, [&b] { check_bad_text(b); }});

    cases().push_back({"missing file is -ENOENT with the path and no line", [] {
        const std::string path = dumps_dir() + "/no-such-dump.txt";
        imp::CpuDump d = sentinel();
        imp::ImportError err;
        EXPECT_EQ(-ENOENT, imp::import_file(path, 0, d, err));
        EXPECT_TRUE(is_sentinel(d));
        EXPECT_EQ(path, err.file);
        EXPECT_EQ(0u, err.line);
        EXPECT_EQ(path + ": cannot open: " + std::strerror(ENOENT), imp::format_error(err));
    }});

    cases().push_back({"a directory is not a dump: -EINVAL naming it", [] {
        imp::CpuDump d = sentinel();
        imp::ImportError err;
        EXPECT_EQ(-EINVAL, imp::import_file(dumps_dir(), 0, d, err));
        EXPECT_TRUE(is_sentinel(d));
        EXPECT_EQ(dumps_dir() + ": not a regular file (a directory)", imp::format_error(err));
    }});

    for (const OldLayout &o : old_layouts)
        cases().push_back({std::string("old InstLatx64 layout imports: ") + o.name,
                           [&o] { check_old_layout(o); }});
    for (const SyscallFact &f : syscall_facts)
        cases().push_back({std::string("SYSCALL as a 64-bit hypervisor reads it, noted when "
                                       "corrected: ") + f.file,
                           [&f] { check_syscall_fact(f); }});
    for (const SyscallText &t : syscall_texts)
        cases().push_back({std::string("SYSCALL correction: ") + t.name, [&t] {
            imp::CpuDump d;
            imp::ImportError err;
            if (!EXPECT_EQ(0, imp::import_text(t.text, "syscall.txt", 0, d, err)))
                return;
            const imp::CpuidRecord *r = find_leaf(d, 0x80000001, 0);
            EXPECT_EQ(t.edx, r ? r->d : 0u);
            EXPECT_EQ(t.nr_notes, d.notes.size());
            if (!d.notes.empty())
                EXPECT_EQ(2u, d.notes[0].line);
        }});

    cases().push_back({"an identical repeat of a plain leaf stays accepted, tagged or not", [] {
        const char text[] = L0 "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFF [SL 00]\n"
                               "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFF [SL 01]\n"
                               "CPUID 00000001: 000306F2-00200800-7FFEFBFF-BFEBFBFF\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "repeat", 0, d, err)))
            return;
        EXPECT_EQ(size_t{2}, d.leaves.size());
        EXPECT_NO_RECORD(d, 1, 1);
    }});

    cases().push_back({"a leaf beyond the policy's ranges repeated keeps the position rule", [] {
        // 0x80000030 is not a leaf a policy holds: a future subleaf-indexed leaf still imports.
        const char text[] = L0 "CPUID 80000030: 00000001-00000000-00000000-00000000\n"
                               "CPUID 80000030: 00000002-00000000-00000000-00000000\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "future", 0, d, err)))
            return;
        EXPECT_RECORD(d, 0x80000030, 1, 2, 0, 0, 0);
    }});

    cases().push_back({"PCONFIG (0x1B) subleaf 1 does not overwrite the policy's one 0x1B slot", [] {
        // The importer walks 0x1B's subleaves; the policy holds 0x1B as one leaf, CPUID(0x1B, 0).
        const char text[] = "CPUID 00000000: 0000001B-756E6547-6C65746E-49656E69\n"
                            "CPUID 0000001B: 00000001-00000001-00000000-00000000 [SL 00]\n"
                            "CPUID 0000001B: 00000000-00000000-00000000-00000000 [SL 01]\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "pconfig", 0, d, err)))
            return;
        cpupolicy::Policy p{};
        EXPECT_EQ(1u, cpupolicy::policy_from_dump(p, d));
        int slot = cpupolicy::slot_exact(cpupolicy::Leaf{0x1b}, cpupolicy::kNoSubleaf);
        EXPECT_EQ((Regs{1, 1, 0, 0}), p.slot[slot]);
    }});

    cases().push_back({"read_bounded_file refuses what is not a regular file, errno kept", [] {
        char fifo[] = "/tmp/test_import_fifo_XXXXXX";
        int fd = mkstemp(fifo);
        if (fd >= 0) {
            ::close(fd);
            ::unlink(fifo);
        }
        EXPECT_EQ(0, ::mkfifo(fifo, 0600));
        struct {
            const char *path;
            const char *why;
        } const cases_[] = {
            {"/dev/zero", "not a regular file (a character device)"},
            {"/tmp", "not a regular file (a directory)"},
            {fifo, "not a regular file (a FIFO)"}, // and no wait for a writer
        };
        for (const auto &c : cases_) {
            std::string text = "untouched", why;
            errno = 1234;
            EXPECT_EQ(-EINVAL, imp::read_bounded_file(c.path, 1 << 20, text, why));
            EXPECT_EQ(1234, errno);
            EXPECT_EQ(std::string(c.why), why);
            EXPECT_EQ(std::string("untouched"), text);
        }
        ::unlink(fifo);
    }});

    cases().push_back({"read_bounded_file: a file over the limit is -EFBIG, at the limit reads", [] {
        char path[] = "/tmp/test_import_big_XXXXXX";
        int fd = mkstemp(path);
        if (!EXPECT_TRUE(fd >= 0))
            return;
        EXPECT_EQ(ssize_t{100}, ::write(fd, std::string(100, 'x').data(), 100));
        ::close(fd);
        std::string text = "untouched", why;
        EXPECT_EQ(-EFBIG, imp::read_bounded_file(path, 99, text, why));
        EXPECT_EQ(std::string("file has 100 bytes; the limit is 99"), why);
        EXPECT_EQ(std::string("untouched"), text);
        EXPECT_EQ(0, imp::read_bounded_file(path, 100, text, why));
        EXPECT_EQ(std::string(100, 'x'), text);
        // The dump importer's limit: a sparse 17 MiB file is refused before it is read.
        EXPECT_EQ(0, ::truncate(path, 17 << 20));
        imp::CpuDump d = sentinel();
        imp::ImportError err;
        EXPECT_EQ(-EFBIG, imp::import_file(path, 0, d, err));
        EXPECT_TRUE(is_sentinel(d));
        EXPECT_EQ(std::string(path) + ": file has 17825792 bytes; the limit is 16777216",
                  imp::format_error(err));
        ::unlink(path);
    }});

    cases().push_back({"import_file(/dev/zero) is refused at once, naming the file", [] {
        imp::CpuDump d = sentinel();
        imp::ImportError err;
        EXPECT_EQ(-EINVAL, imp::import_file("/dev/zero", 0, d, err));
        EXPECT_TRUE(is_sentinel(d));
        EXPECT_EQ(std::string("/dev/zero: not a regular file (a character device)"),
                  imp::format_error(err));
    }});

    cases().push_back({"format_error: FILE:LINE: what, or FILE: what for line 0", [] {
        EXPECT_EQ(std::string("a.txt:12: bad"), imp::format_error({"a.txt", 12, "bad"}));
        EXPECT_EQ(std::string("a.txt: bad"), imp::format_error({"a.txt", 0, "bad"}));
    }});

    cases().push_back({"cpuid -r output: CPU N: blocks, explicit subleaves, terminators kept", [] {
        imp::CpuDump d0, d1;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(cpuid_r_sample, "cpuid-r", 0, d0, err)) ||
            !EXPECT_EQ(0, imp::import_text(cpuid_r_sample, "cpuid-r", 1, d1, err)))
            return;
        EXPECT_EQ(2u, d0.nr_cpus_in_file);
        EXPECT_SORTED_UNIQUE(d0);
        EXPECT_EQ(size_t{14}, d0.leaves.size());
        EXPECT_RECORD(d0, 0, 0, 0x20, 0x756e6547, 0x6c65746e, 0x49656e69);
        EXPECT_RECORD(d0, 7, 1, 0x1c30, 0, 0, 0);
        EXPECT_RECORD(d0, 0xd, 5, 0x40, 0x440, 0, 0);
        EXPECT_RECORD(d0, 0xb, 2, 0, 0, 2, 0);
        EXPECT_RECORD(d0, 0x80000001, 0, 0, 0, 0x121, 0x2c100800);
        EXPECT_RECORD(d1, 0xb, 1, 5, 2, 0x201, 1);
        EXPECT_RECORD(d1, 1, 0, 0x000806f8, 0x01020800, 0xfffa3203, 0x1f8bfbff);
    }});

    cases().push_back({"cpuid -r -1 output: a single CPU: block", [] {
        std::string one = std::string("CPU:\n") + (std::strchr(cpuid_r_sample, '\n') + 1);
        one.resize(one.find("CPU 1:"));
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(one, "cpuid-r-1", 0, d, err)))
            return;
        EXPECT_EQ(1u, d.nr_cpus_in_file);
        EXPECT_RECORD(d, 0xd, 6, 0x200, 0x480, 0, 0);
    }});

    cases().push_back({"Windows line endings import exactly like Unix ones (real dumps)", [] {
        for (const char *file : {"GenuineIntel00306E4_IvyBridgeEP.txt",
                                 "AuthenticAMD0830F10_K17_Rome.txt",
                                 "GenuineIntel0050657_CascadeLakeXeon.txt"}) {
            std::string text, crlf;
            if (!EXPECT_TRUE(read_text(dump_path(file), text)))
                continue;
            for (char c : text) {
                if (c == '\n')
                    crlf += '\r';
                crlf += c;
            }
            for (unsigned cpu = 0; cpu < 2; ++cpu) {
                imp::CpuDump unix_d, win_d;
                imp::ImportError err;
                EXPECT_EQ(0, imp::import_text(text, file, cpu, unix_d, err));
                EXPECT_EQ(0, imp::import_text(crlf, file, cpu, win_d, err));
                if (!same_leaves(unix_d, win_d))
                    report(__LINE__, std::string(file) + " with CRLF", "same records",
                           "different records");
            }
        }
    }});

    cases().push_back({"identical duplicates are ignored, labels and BOM are not records", [] {
        const char text[] = "\xEF\xBB\xBF"
                            "CPUID Manufacturer: GenuineIntel\n"
                            "CPUID Revision     : 000306F2h\n"
                            "CPUID CPU Name     : Six-Core AMD Opteron(tm) Processor 2431\n" L0
                            "CPUID 00000001: 000306E4-00200800-7FBEE3FF-BFEBFBFF\n"
                            "CPUID 00000002: 76035A01-00F0B2FF-00000000-00CA0000\n"
                            "CPUID 00000001: 000306E4-00200800-7FBEE3FF-BFEBFBFF\n"
                            "MSR 000000CE: 2612-0C00-0000-0311\n"
                            "MSR 000000CE: 2612-0C00-0000-0311\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "dups", 0, d, err)))
            return;
        EXPECT_EQ(size_t{3}, d.leaves.size());
        EXPECT_EQ(size_t{1}, d.msrs.size());
        EXPECT_EQ(uint64_t{0x26120c0000000311}, d.msrs.empty() ? 0 : d.msrs[0].value);
    }});

    cases().push_back({"CPU#NNN headers start blocks; MSRs belong to the block they are in", [] {
        const char text[] = "CPU#000 AffMask: 0x0000000000000001\n" L0
                            "MSR 0000001B: 0000-0000-FEE0-0900\n"
                            "CPU#001 AffMask: 0x0000000000000002\n" L0
                            "MSR 0000001B: 0000-0000-FEE0-0800\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "affmask", 1, d, err)))
            return;
        EXPECT_EQ(2u, d.nr_cpus_in_file);
        EXPECT_EQ(uint64_t{0xfee00800}, d.msrs.empty() ? 0 : d.msrs[0].value);
    }});

    cases().push_back({"untagged 0x1F: subleaf comes from ECX[7:0], not from line order", [] {
        // A dump that left out level 1 (SMT): the die level still lands on subleaf 2.
        const char text[] = L0 "CPUID 0000001F: 00000001-00000002-00000100-00000000\n"
                               "CPUID 0000001F: 00000007-00000030-00000502-00000000\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "topo", 0, d, err)))
            return;
        EXPECT_RECORD(d, 0x1f, 2, 7, 0x30, 0x502, 0);
        EXPECT_NO_RECORD(d, 0x1f, 1);
    }});

    cases().push_back({"untagged 0xB with a repeated ECX[7:0] echo is numbered in order", [] {
        const char text[] = L0 "CPUID 0000000B: 00000001-00000002-00000100-00000000\n"
                               "CPUID 0000000B: 00000005-00000018-00000100-00000000\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "topo", 0, d, err)))
            return;
        EXPECT_RECORD(d, 0xb, 1, 5, 0x18, 0x100, 0);
    }});

    cases().push_back({"untagged bitmap leaf: line count matching the bitmap maps by bit", [] {
        // Leaf 0x10 subleaf 0 EBX = 0xA: ResIDs 1 (L3 CAT) and 3 (MBA).
        const char text[] = L0 "CPUID 00000010: 00000000-0000000A-00000000-00000000\n"
                               "CPUID 00000010: 0000000A-00000600-00000004-0000000F\n"
                               "CPUID 00000010: 00000059-00000000-00000004-00000007\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "rdt", 0, d, err)))
            return;
        EXPECT_RECORD(d, 0x10, 3, 0x59, 0, 4, 7);
        EXPECT_NO_RECORD(d, 0x10, 2);
    }});

    cases().push_back({"untagged bitmap leaf with fewer lines than bits is numbered in order", [] {
        const char text[] = L0 "CPUID 00000010: 00000000-0000000A-00000000-00000000\n"
                               "CPUID 00000010: 0000000A-00000600-00000004-0000000F\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "rdt", 0, d, err)))
            return;
        EXPECT_RECORD(d, 0x10, 1, 0xa, 0x600, 4, 0xf);
    }});

    cases().push_back({"untagged 0xD: components of the other kind (XCR0/XSS) are stepped over", [] {
        // Sapphire Rapids' leaf 0xD without its tags and without the user components
        // 5-7 and the supervisor ones 12-15: 0, 1, 2, PT (8), PKRU (9), PASID (10),
        // CET_U (11), TILECFG (17).  A user line cannot be a supervisor component and
        // vice versa, so the gaps are found.
        const char text[] = L0 "CPUID 0000000D: 000602E7-00002B00-00002B00-00000000\n"
                               "CPUID 0000000D: 0000001F-00002A80-0000DD00-00000000\n"
                               "CPUID 0000000D: 00000100-00000240-00000000-00000000\n"
                               "CPUID 0000000D: 00000080-00000000-00000001-00000000\n"
                               "CPUID 0000000D: 00000008-00000A80-00000000-00000000\n"
                               "CPUID 0000000D: 00000008-00000000-00000001-00000000\n"
                               "CPUID 0000000D: 00000010-00000000-00000001-00000000\n"
                               "CPUID 0000000D: 00000040-00000AC0-00000002-00000000\n";
        imp::CpuDump d;
        imp::ImportError err;
        if (!EXPECT_EQ(0, imp::import_text(text, "xsave", 0, d, err)))
            return;
        EXPECT_RECORD(d, 0xd, 1, 0x1f, 0x2a80, 0xdd00, 0);
        EXPECT_RECORD(d, 0xd, 8, 0x80, 0, 1, 0);
        EXPECT_RECORD(d, 0xd, 9, 8, 0xa80, 0, 0);
        EXPECT_RECORD(d, 0xd, 10, 8, 0, 1, 0);
        EXPECT_RECORD(d, 0xd, 11, 0x10, 0, 1, 0);
        EXPECT_RECORD(d, 0xd, 17, 0x40, 0xac0, 2, 0);
    }});

    cases().push_back({"import_native: leaf 0 equals __cpuid(0), walk is sorted and complete", [] {
        imp::CpuDump d = sentinel();
#if TEST_HAVE_CPUID
        if (!EXPECT_EQ(0, imp::import_native(d)))
            return;
        unsigned a, b, c, dd;
        __cpuid(0, a, b, c, dd);
        EXPECT_RECORD(d, 0, 0, a, b, c, dd);
        EXPECT_EQ(1u, d.nr_cpus_in_file);
        EXPECT_TRUE(d.msrs.empty());
        EXPECT_SORTED_UNIQUE(d);
        EXPECT_TRUE(find_leaf(d, a, 0) != nullptr); // max basic leaf is included
        if (a >= 7) {
            const imp::CpuidRecord *l7 = find_leaf(d, 7, 0);
            for (uint32_t s = 0; l7 && s <= l7->a && s < 64; ++s)
                EXPECT_TRUE(find_leaf(d, 7, s) != nullptr);
        }
        if (a >= 4 && find_leaf(d, 4, 0) && (find_leaf(d, 4, 0)->a & 0x1f) != 0) {
            // Leaf 4 is walked to and including its null (type 0) terminator.
            const imp::CpuidRecord *last = nullptr;
            for (const imp::CpuidRecord &r : d.leaves)
                if (r.leaf == 4)
                    last = &r;
            EXPECT_EQ(0u, last ? (last->a & 0x1f) : 0xffu);
        }
        if (a >= 0xd) {
            EXPECT_TRUE(find_leaf(d, 0xd, 1) != nullptr);
            const imp::CpuidRecord *x = find_leaf(d, 0xd, 0);
            if (x && (x->a & 4)) // AVX state supported: component 2 walked
                EXPECT_TRUE(find_leaf(d, 0xd, 2) != nullptr);
        }
        __cpuid(0x80000000, a, b, c, dd);
        if (a >= 0x80000000 && a <= 0x800000ff)
            EXPECT_TRUE(find_leaf(d, a, 0) != nullptr);
#else
        EXPECT_EQ(-ENODEV, imp::import_native(d));
        EXPECT_TRUE(is_sentinel(d));
#endif
    }});
}

} // namespace

int main()
{
    register_cases();
    return run_all("test_import.cpp");
}
